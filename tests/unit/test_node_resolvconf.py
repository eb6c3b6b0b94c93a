"""A pod's resolv.conf as the kubelet forms it, for each dnsPolicy, with dnsConfig merged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from controllers.node.resolvconf import ClusterDNS, parse_resolv_conf, pod_dns

HOST = "# host\nnameserver 10.0.0.2\nnameserver 10.0.0.3\nsearch corp.example. lab\n" \
       "options timeout:2\n"
CLUSTER = ("10.96.0.10",)


def pod(ns: str = "web", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": ns}, "spec": spec}


def test_parse_keeps_every_nameserver_and_the_last_search_and_options() -> None:
    text = HOST + "search other\noptions ndots:1 rotate\nnameserver\n"
    assert parse_resolv_conf(text) == (["10.0.0.2", "10.0.0.3"], ["other"],
                                       ["ndots:1", "rotate"])


def test_cluster_first_uses_the_cluster_dns_and_the_host_search_list() -> None:
    dns = pod_dns(pod(), CLUSTER, "cluster.local", HOST)
    assert dns.render() == ("search web.svc.cluster.local svc.cluster.local cluster.local "
                            "corp.example lab\nnameserver 10.96.0.10\noptions ndots:5\n")
    assert dns.warnings == []
    # The default policy is ClusterFirst; ClusterFirstWithHostNet is too on the host network.
    assert pod_dns(pod(dnsPolicy="ClusterFirst"), CLUSTER, "cluster.local", HOST) == dns
    assert pod_dns(pod(dnsPolicy="ClusterFirstWithHostNet", hostNetwork=True), CLUSTER,
                   "cluster.local", HOST) == dns


def test_host_network_and_default_use_the_host_configuration() -> None:
    host = ("search corp.example lab\nnameserver 10.0.0.2\nnameserver 10.0.0.3\n"
            "options timeout:2\n")
    for spec in ({"hostNetwork": True}, {"dnsPolicy": "Default"}):
        dns = pod_dns(pod(**spec), CLUSTER, "cluster.local", HOST)
        assert (dns.render(), dns.warnings) == (host, [])
    # No --resolv-conf: the local resolver.
    assert pod_dns(pod(dnsPolicy="Default"), CLUSTER, "cluster.local", None).render() == \
        "search .\nnameserver 127.0.0.1\n"


def test_cluster_first_without_cluster_dns_falls_back_with_a_warning() -> None:
    dns = pod_dns(pod(), (), "cluster.local", HOST)
    assert dns.nameservers == ["10.0.0.2", "10.0.0.3"]
    assert [reason for reason, _ in dns.warnings] == ["MissingClusterDNS"]


def test_none_takes_only_dns_config_and_dns_config_is_merged() -> None:
    config = {"nameservers": ["1.1.1.1"], "searches": ["a.example"],
              "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}
    assert pod_dns(pod(dnsPolicy="None", dnsConfig=config), CLUSTER, "cluster.local",
                   HOST).render() == \
        "search a.example\nnameserver 1.1.1.1\noptions ndots:2 edns0\n"
    config["searches"] = ["a.example", "svc.cluster.local"]
    dns = pod_dns(pod(dnsConfig=config), CLUSTER, "cluster.local", "")
    assert dns.render() == ("search web.svc.cluster.local svc.cluster.local cluster.local "
                            "a.example\nnameserver 10.96.0.10\nnameserver 1.1.1.1\n"
                            "options ndots:2 edns0\n")


def test_limits_cut_nameservers_and_search_paths_with_warnings() -> None:
    config = {"nameservers": ["1.1.1.1", "1.1.1.2", "1.1.1.3"],
              "searches": [f"d{i}.example" for i in range(40)] + ["x" * 254]}
    dns = pod_dns(pod(dnsConfig=config), CLUSTER, "cluster.local", "")
    assert dns.nameservers == ["10.96.0.10", "1.1.1.1", "1.1.1.2"]
    assert len(dns.searches) == 32 and dns.searches[:3] == [
        "web.svc.cluster.local", "svc.cluster.local", "cluster.local"]
    assert [reason for reason, _ in dns.warnings] == ["DNSConfigForming", "DNSConfigForming"]
    long = pod_dns(pod(dnsConfig={"searches": [f"{i:02d}" + "y" * 200 for i in range(12)]}),
                   CLUSTER, "cluster.local", "")
    assert len(" ".join(long.searches)) <= 2048 and len(long.searches) < 15


def test_cluster_dns_writes_the_file(tmp_path: Path) -> None:
    host = tmp_path / "host.conf"
    host.write_text(HOST)
    target = tmp_path / "resolv.conf"
    written = ClusterDNS(CLUSTER, "cluster.local", str(host)).write(pod(), target)
    assert target.read_text() == written.render()
    assert target.stat().st_mode & 0o777 == 0o644
    # An unreadable host file counts as empty.
    missing = ClusterDNS((), "cluster.local", str(tmp_path / "nope")).write(pod(), target)
    assert target.read_text() == "" and missing.warnings[0][0] == "MissingClusterDNS"
