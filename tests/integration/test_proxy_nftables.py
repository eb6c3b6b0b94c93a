"""kube-proxy in nftables mode, as root, inside network namespaces we create.

Same topology as the iptables test (helpers in ``tests/support/proxy.py``): the
apiserver and endpoints controller on the host, ``python -m controllers.proxy
--proxy-mode nftables`` in the node namespace programming ``table ip
kube-proxy`` with ``nft -f``, real backends in pod namespaces answering with
their pod name. Skipped only when not root and ``CI`` is unset; under CI a
missing ``nft`` fails.
"""

from __future__ import annotations

import collections
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from controllers.proxy.nftables import NFTablesConfig, NFTablesRenderer, chain_base
from controllers.proxy.types import Endpoint, ServicePort, ServicePortName
from tests.conftest import ApiServerFactory
from tests.support.proxy import (
    Api,
    Netns,
    check_hairpin,
    check_health_check_node_port_and_external_ips,
    eventually,
    make_netns,
    netns_cluster,
    require_root_and_tools,
    sh,
    start_netns_cluster,
    unique,
)

TOOLS = ("ip", "nft")


def picks(table: str, chain: str) -> list[str]:
    """The DNAT rules of ``chain`` in ``nft list table`` output."""
    m = re.search(rf"chain {re.escape(chain)} {{([^}}]*)}}", table)
    return [r.strip() for r in m.group(1).splitlines() if "dnat to" in r] if m else []


@pytest.fixture
def netns() -> Iterator[Netns]:
    require_root_and_tools(TOOLS)
    with make_netns() as n:
        yield n


def test_nftables_cluster_ip_node_port_affinity_no_endpoints_and_removal(
    netns: Netns, apiserver_factory: ApiServerFactory, tmp_path: Path
) -> None:
    server, procs = start_netns_cluster(apiserver_factory, tmp_path, netns, "nftables")
    try:
        api = Api(server, unique("nft"))
        for i in range(3):
            ip = netns.add_pod(f"web-{i}", i, 8080)
            api.pod(f"web-{i}", ip, {"app": "web"}, 8080)
        svc = api.service("web", {"app": "web"}, [{"name": "http", "port": 80,
                                                   "targetPort": 8080}], type="NodePort")
        cip, node_port = svc["spec"]["clusterIP"], svc["spec"]["ports"][0]["nodePort"]
        chain = "service-" + chain_base(ServicePortName(api.ns, "web", "http"), "TCP")
        eventually(lambda: len(picks(netns.nft(), chain)) == 3, timeout=15,
                   what=f"{chain} programmed\n{procs[1].logs()[-3000:]}")
        table = netns.nft()
        # The service chain's ladder DNATs itself: no endpoint chains without affinity.
        ladder = picks(table, chain)
        assert ladder[0].startswith("numgen random mod 3 0 meta l4proto tcp dnat to 10.244.1.")
        assert ladder[2].startswith("meta l4proto tcp dnat to 10.244.1.")
        assert "chain endpoint-" not in table
        assert f"{cip} . tcp . 80 : goto {chain}" in table
        assert f"tcp . {node_port} : goto external-{chain[8:]}" in table

        counts = collections.Counter(netns.ask(cip, 80, 90))
        assert set(counts) == {"web-0", "web-1", "web-2"}, counts
        counts = collections.Counter(netns.ask(netns.node_ip, node_port, 30))
        assert set(counts) <= {"web-0", "web-1", "web-2"} and len(counts) >= 2, counts

        # ClientIP affinity: a dynamic set per endpoint keeps this client on one pod.
        sticky = api.service("sticky", {"app": "web"}, [{"port": 81, "targetPort": 8080}],
                             sessionAffinity="ClientIP",
                             sessionAffinityConfig={"clientIP": {"timeoutSeconds": 600}})
        eventually(lambda: "update @affinity-" in netns.nft(), timeout=15,
                   what="affinity rules")
        assert "timeout 10m" in netns.nft()
        answers = set(netns.ask(sticky["spec"]["clusterIP"], 81, 20))
        assert len(answers) == 1 and answers <= {"web-0", "web-1", "web-2"}, answers
        # A pod picked for its own connection to a Service is masqueraded (hairpin).
        check_hairpin(netns, api, procs[1].logs)
        assert "ct status dnat ip saddr . ip daddr @hairpin-endpoints" in netns.nft()

        # No endpoints: the no-endpoint-services map rejects (connection refused).
        empty = api.service("empty", {"app": "nothing"}, [{"port": 82, "targetPort": 8080}])
        eip = empty["spec"]["clusterIP"]
        eventually(lambda: f"{eip} . tcp . 82 comment" in netns.nft(), timeout=15,
                   what="no-endpoint element")
        assert netns.ask(eip, 82, 1) == ["ERR ConnectionRefusedError"]

        # A pod turned NotReady leaves the load-balancing ladder (partial sync).
        api.set_ready("web-2", False)
        eventually(lambda: len(picks(netns.nft(), chain)) == 2, timeout=15,
                   what="endpoint removed")
        assert set(netns.ask(cip, 80, 30)) == {"web-0", "web-1"}

        # Deleting the Service removes its map elements and empties its chains (as
        # upstream, they are deleted by a later full sync).
        api.delete("services", "web")
        eventually(lambda: f"{cip} . tcp . 80" not in netns.nft(), timeout=15,
                   what="rules removed")
        table = netns.nft()
        assert f"tcp . {node_port} :" not in table
        web_chains = re.findall(rf"chain (\S+-{re.escape(api.ns)}/web/tcp/http\S*) {{([^}}]*)}}",
                                table)
        assert web_chains and all(not body.strip() for _, body in web_chains), web_chains
        assert "sticky" in table  # the other Services are untouched
    finally:
        for p in procs:
            p.stop()


def test_nftables_health_check_node_port_and_external_ips(
    netns: Netns, apiserver_factory: ApiServerFactory, tmp_path: Path
) -> None:
    with netns_cluster(apiserver_factory, tmp_path, netns, "nftables") as (api, proxy):
        check_health_check_node_port_and_external_ips(netns, api, netns.nft, proxy.logs)


def test_nftables_hairpin_connections_are_masqueraded_by_the_pair_set(netns: Netns) -> None:
    """The ruleset alone (no apiserver): a pod picked for its own connection to a Service
    is answered because ``hairpin-endpoints`` holds ``POD . POD``; with the set flushed,
    the same connection gets no answer (the control: the pod sees a packet from its own
    address, and its answer never reaches the node to be un-NATed)."""
    ip = netns.add_pod("loop", 0, 8080)
    netns.add_pod("other", 1, 8080)
    spn = ServicePortName("ns", "loop", "", "TCP")
    rendered = NFTablesRenderer(NFTablesConfig(cluster_cidr="10.244.0.0/16")).render(
        {spn: ServicePort(spn, "10.96.0.10", 83)}, {spn: (Endpoint(ip, 8080),)})
    done = subprocess.run(["ip", "netns", "exec", netns.node, "nft", "-f", "-"],
                          input=rendered.text, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert netns.ask("10.96.0.10", 83, 2, pod="other") == ["loop"] * 2
    assert netns.ask("10.96.0.10", 83, 3, pod="loop") == ["loop"] * 3
    sh("nft", "flush", "set", "ip", "kube-proxy", "hairpin-endpoints", ns=netns.node)
    assert netns.ask("10.96.0.10", 83, 1, pod="loop") == ["ERR TimeoutError"]
    assert netns.ask("10.96.0.10", 83, 1, pod="other") == ["loop"]
