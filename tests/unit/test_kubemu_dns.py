"""The cluster DNS add-on of ``kubemu up``: its command line, its port, its Service."""

from __future__ import annotations

import os
import socket
from dataclasses import replace
from pathlib import Path

import pytest

from kubemu import dns
from kubemu.addresses import Addresses
from kubemu.cli import main
from kubemu.components import LaunchContext, launch_plan
from kubemu.identities import identity, identity_names

ADDRESSES = Addresses.for_block(77)


def context(dns_port: int | None) -> LaunchContext:
    return LaunchContext(python="python", data_dir=Path("/d"), kubeconfig=Path("/k"),
                         bind_address="127.0.0.1", port=8080,
                         server_url="http://127.0.0.1:8080", storage="sqlite",
                         addresses=ADDRESSES, dns_port=dns_port)


def test_the_dns_process_listens_on_its_own_address_as_its_own_identity() -> None:
    ctx = replace(context(53), kubeconfigs={"dns": Path("/kc/dns.conf")})
    plan = {c.name: c for c in launch_plan(ctx)}
    argv = list(plan["dns"].args(ctx))
    assert argv[:3] == ["python", "-m", "controllers.dns"]
    assert ADDRESSES.dns_server_ip == "127.77.2.53"
    assert ADDRESSES.dns_ip == "127.77.64.10"
    flags = dict(zip(argv[3::2], argv[4::2], strict=True))
    assert flags == {"--kubeconfig": "/kc/dns.conf", "--cluster-domain": "cluster.local",
                     "--dns-address": "127.77.2.53", "--dns-port": "53",
                     "--metrics-bind-address": "127.77.2.53:9153"}
    assert plan["dns"].ready_url is not None
    assert plan["dns"].ready_url(ctx) == "http://127.77.2.53:9153/readyz"
    assert identity("dns") == ("system:kubemu:dns", ())
    assert "dns" in identity_names(list(plan))


def test_node_agents_get_the_cluster_dns_only_on_port_53() -> None:
    def node_argv(ctx: LaunchContext, disabled: tuple[str, ...] = ()) -> list[str]:
        plan = {c.name: c for c in launch_plan(ctx, disabled)}
        return list(plan["node-1"].args(ctx))

    argv = node_argv(context(53))
    at = argv.index("--cluster-dns")
    assert argv[at:at + 4] == ["--cluster-dns", "127.77.64.10", "--cluster-domain",
                               "cluster.local"]
    assert "--cluster-dns" not in node_argv(context(10053))
    # --disable dns: kubemu up leaves dns_port unset.
    assert "--cluster-dns" not in node_argv(context(None), ("dns",))
    assert "dns" not in {c.name for c in launch_plan(context(None), ("dns",))}


def test_manifests_are_kubeadms_without_a_selector() -> None:
    service, endpoints, endpoint_slice = dns.manifests(ADDRESSES, 53)
    assert service["metadata"] == {
        "name": "kube-dns", "namespace": "kube-system",
        "labels": {"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true",
                   "kubernetes.io/name": "CoreDNS"},
        "annotations": {"prometheus.io/port": "9153", "prometheus.io/scrape": "true"}}
    assert "selector" not in service["spec"]
    assert service["spec"]["clusterIP"] == "127.77.64.10"
    assert [(p["name"], p["port"], p["protocol"], p["targetPort"])
            for p in service["spec"]["ports"]] == [
        ("dns", 53, "UDP", 53), ("dns-tcp", 53, "TCP", 53), ("metrics", 9153, "TCP", 9153)]
    assert endpoints["subsets"][0]["addresses"] == [{"ip": "127.77.2.53"}]
    assert endpoints["metadata"]["labels"]["endpointslice.kubernetes.io/skip-mirror"] == "true"
    assert endpoint_slice["metadata"]["labels"]["kubernetes.io/service-name"] == "kube-dns"
    assert endpoint_slice["endpoints"] == [{"addresses": ["127.77.2.53"],
                                            "conditions": {"ready": True}}]
    high = dns.manifests(ADDRESSES, 10053)[0]["spec"]["ports"]
    assert [p["port"] for p in high] == [10053, 10053, 9153]
    assert dns.how_to_query(ADDRESSES, 53) == \
        "dig @127.77.64.10 -p 53 web.default.svc.cluster.local"


def test_port_choice() -> None:
    assert dns.choose_port("127.77.2.53", 5353) == (5353, None)
    if os.geteuid() == 0:
        assert dns.choose_port("127.77.2.53", None) == (53, None)
    else:
        port, why = dns.choose_port("127.77.2.53", None)
        assert port == dns.UNPRIVILEGED_PORT and why is not None and "--dns-port" in why
    # A port already taken is still chosen: the DNS process reports it when it starts.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.77.2.54", 0))
        assert dns.choose_port("127.77.2.54", taken.getsockname()[1])[0] == \
            taken.getsockname()[1]


def test_publish_dns_needs_ipv4_addresses(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["publish-dns", "--server", "http://127.0.0.1:1", "--cluster-ip", "kube-dns",
              "--dns-address", "127.77.2.53"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: kubemu publish-dns")
    assert "argument --cluster-ip: 'kube-dns' is not an IPv4 address" in err


def test_publish_dns_names_an_unreachable_apiserver(capsys: pytest.CaptureFixture[str]) -> None:
    # A bound socket that does not listen: connecting to it is refused.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        code = main(["publish-dns", "--server", url, "--cluster-ip", "127.77.64.10",
                     "--dns-address", "127.77.2.53"])
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith(f"kubemu publish-dns: {url}: ") and err.count("\n") == 1
