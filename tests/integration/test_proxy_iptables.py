"""kube-proxy in iptables mode, as root, inside network namespaces we create.

Topology: a "node" namespace (a veth "uplink" to the host carrying the node
address 192.168.77.1 and a default route, so service IPs are routable and the
proxy reaches the apiserver) and one namespace per pod joined to
the node by a veth pair with a /32 route per pod. The apiserver and endpoints
controller run on the host; ``python -m controllers.proxy --proxy-mode
iptables`` runs inside the node namespace and programs its tables; clients
connect from the node namespace, and real backends in the pod namespaces
answer with their pod name.

Skipped only when not root and ``CI`` is unset; under CI a missing tool fails.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from pathlib import Path

import pytest

from controllers.proxy.iptables import port_proto_hash
from tests.conftest import ApiServerFactory
from tests.support.apiserver import ApiServerProcess
from tests.support.proxy import (
    Api,
    Netns,
    Process,
    check_hairpin,
    check_health_check_node_port_and_external_ips,
    eventually,
    make_netns,
    netns_cluster,
    require_root_and_tools,
    start_netns_cluster,
    unique,
)

TOOLS = ("ip", "iptables", "iptables-restore", "iptables-save")


@pytest.fixture
def netns() -> Iterator[Netns]:
    require_root_and_tools(TOOLS)
    with make_netns() as n:
        yield n


def start_cluster(apiserver_factory: ApiServerFactory, tmp_path: Path, net: Netns,
                  mode: str) -> tuple[ApiServerProcess, list[Process]]:
    return start_netns_cluster(apiserver_factory, tmp_path, net, mode)


def test_iptables_cluster_ip_node_port_affinity_and_removal(
    netns: Netns, apiserver_factory: ApiServerFactory, tmp_path: Path
) -> None:
    server, procs = start_cluster(apiserver_factory, tmp_path, netns, "iptables")
    try:
        api = Api(server, unique("ipt"))
        for i in range(3):
            ip = netns.add_pod(f"web-{i}", i, 8080)
            api.pod(f"web-{i}", ip, {"app": "web"}, 8080)
        svc = api.service("web", {"app": "web"}, [{"name": "http", "port": 80,
                                                   "targetPort": 8080}], type="NodePort")
        cip, node_port = svc["spec"]["clusterIP"], svc["spec"]["ports"][0]["nodePort"]
        chain = "KUBE-SVC-" + port_proto_hash(f"{api.ns}/web:http", "TCP")
        eventually(lambda: netns.nat().count(f"-A {chain} ") >= 4, timeout=15,
                   what=f"{chain} programmed\n{procs[1].logs()[-3000:]}")
        nat = netns.nat()
        # iptables-save prints the probabilities with 11 decimals.
        assert "--probability 0.33333333349" in nat and "--probability 0.50000000000" in nat

        counts = collections.Counter(netns.ask(cip, 80, 90))
        assert set(counts) == {"web-0", "web-1", "web-2"}, counts
        counts = collections.Counter(netns.ask(netns.node_ip, node_port, 30))
        assert set(counts) <= {"web-0", "web-1", "web-2"} and len(counts) >= 2, counts

        # ClientIP affinity: every connection of this client lands on one pod.
        sticky = api.service("sticky", {"app": "web"}, [{"port": 81, "targetPort": 8080}],
                             sessionAffinity="ClientIP")
        eventually(lambda: "--rcheck --seconds 10800 --reap" in netns.nat(), timeout=15,
                   what="affinity rules")
        answers = set(netns.ask(sticky["spec"]["clusterIP"], 81, 20))
        assert len(answers) == 1 and answers <= {"web-0", "web-1", "web-2"}, answers
        # A pod picked for its own connection to a Service is masqueraded (hairpin).
        check_hairpin(netns, api, procs[1].logs)

        # Deleting the Service removes its rules.
        api.delete("services", "web")
        eventually(lambda: chain not in netns.nat(), timeout=15, what="rules removed")
        assert f"KUBE-EXT-{chain[9:]}" not in netns.nat()
    finally:
        for p in procs:
            p.stop()


def test_iptables_health_check_node_port_and_external_ips(
    netns: Netns, apiserver_factory: ApiServerFactory, tmp_path: Path
) -> None:
    with netns_cluster(apiserver_factory, tmp_path, netns, "iptables") as (api, proxy):
        check_health_check_node_port_and_external_ips(netns, api, netns.nat, proxy.logs)
