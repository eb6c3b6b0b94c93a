"""Cluster DNS answers (controllers.dns.answer) over in-memory caches, as CoreDNS answers."""

from __future__ import annotations

from typing import Any

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.reversename
import pytest

from controllers.client.store import Store
from controllers.dns.answer import answer
from controllers.dns.backend import Backend
from controllers.dns.names import InvalidName, Request, parse, pod_ip, reverse_ip

Obj = dict[str, Any]


def svc(ns: str, name: str, **spec: Any) -> Obj:
    return {"metadata": {"namespace": ns, "name": name}, "spec": spec}


def eps(ns: str, svc_name: str, name: str, endpoints: list[Obj], ports: list[Obj]) -> Obj:
    return {"metadata": {"namespace": ns, "name": name,
                         "labels": {"kubernetes.io/service-name": svc_name}},
            "addressType": "IPv4", "endpoints": endpoints, "ports": ports}


@pytest.fixture
def backend() -> Backend:
    namespaces, services, slices = Store(), Store(), Store()
    b = Backend("cluster.local", namespaces, services, slices)
    for ns in ("default", "other"):
        namespaces.add({"metadata": {"name": ns}})
    services.add(svc("default", "web", type="ClusterIP", clusterIP="10.96.0.20",
                     clusterIPs=["10.96.0.20", "fd00::20"],
                     ports=[{"name": "http", "port": 80, "protocol": "TCP"},
                            {"name": "dns", "port": 53, "protocol": "UDP"}]))
    services.add(svc("default", "db", clusterIP="None", clusterIPs=["None"]))
    services.add(svc("default", "empty", clusterIP="None", clusterIPs=["None"]))
    services.add(svc("default", "all", clusterIP="None", publishNotReadyAddresses=True))
    services.add(svc("default", "ext", type="ExternalName", externalName="web.default.svc."
                     "cluster.local"))
    services.add(svc("default", "far", type="ExternalName", externalName="example.com"))
    services.add(svc("default", "ipext", type="ExternalName", externalName="192.0.2.1"))
    db_endpoints = [
        {"addresses": ["10.244.0.5"], "hostname": "db-0", "conditions": {"ready": True}},
        {"addresses": ["10.244.0.6"], "conditions": {}},
        {"addresses": ["10.244.0.7"], "conditions": {"ready": False}},
    ]
    port = [{"name": "pg", "port": 5432, "protocol": "TCP"}]
    slices.add(eps("default", "db", "db-abc", db_endpoints, port))
    slices.add(eps("default", "all", "all-abc", db_endpoints, port))
    slices.add(eps("default", "empty", "empty-abc", db_endpoints[2:], port))
    return b


def ask(b: Backend, name: str, rdtype: str = "A") -> dns.message.Message:
    resp = answer(b, dns.message.make_query(name, rdtype), 5)
    assert resp is not None
    return resp


def records(resp: dns.message.Message, section: str = "answer") -> list[str]:
    return sorted(f"{rrset.name} {rrset.ttl} {dns.rdatatype.to_text(rrset.rdtype)} {rd}"
                  for rrset in getattr(resp, section) for rd in rrset)


def test_parse_forms() -> None:
    assert parse(["web", "default", "svc"]) == Request("svc", "default", "web")
    assert parse(["db-0", "db", "default", "svc"]) == Request("svc", "default", "db", "db-0")
    assert parse(["_http", "_tcp", "web", "default", "svc"]) == Request(
        "svc", "default", "web", port="http", protocol="tcp")
    with pytest.raises(InvalidName):
        parse(["web", "default", "nope"])
    with pytest.raises(InvalidName):
        parse(["a", "b", "c", "web", "default", "svc"])
    assert pod_ip("10-244-0-5") == "10.244.0.5"
    assert pod_ip("fd00--1") == "fd00::1"
    assert pod_ip("not-an-ip") is None
    assert reverse_ip(dns.reversename.from_address("10.96.0.20").to_text()) == "10.96.0.20"
    assert reverse_ip(dns.reversename.from_address("fd00::20").to_text()) == "fd00::20"


def test_cluster_ip_service(backend: Backend) -> None:
    resp = ask(backend, "web.default.svc.cluster.local")
    assert resp.flags & dns.flags.AA
    assert records(resp) == ["web.default.svc.cluster.local. 5 A 10.96.0.20"]
    assert records(ask(backend, "web.default.svc.cluster.local", "AAAA")) == [
        "web.default.svc.cluster.local. 5 AAAA fd00::20"]


def test_headless_ready_and_publish_not_ready(backend: Backend) -> None:
    assert records(ask(backend, "db.default.svc.cluster.local")) == [
        "db.default.svc.cluster.local. 5 A 10.244.0.5",
        "db.default.svc.cluster.local. 5 A 10.244.0.6"]
    assert len(records(ask(backend, "all.default.svc.cluster.local"))) == 3
    assert records(ask(backend, "db-0.db.default.svc.cluster.local")) == [
        "db-0.db.default.svc.cluster.local. 5 A 10.244.0.5"]
    assert records(ask(backend, "10-244-0-6.db.default.svc.cluster.local")) == [
        "10-244-0-6.db.default.svc.cluster.local. 5 A 10.244.0.6"]


def test_nodata_and_nxdomain_carry_the_soa(backend: Backend) -> None:
    nodata = [("web.default.svc.cluster.local", "TXT"),
              ("default.svc.cluster.local", "A"), ("svc.cluster.local", "A"),
              ("cluster.local", "A"), ("db.default.svc.cluster.local", "AAAA"),
              # a headless Service without ready endpoints exists: NODATA (CoreDNS
              # answers NXDOMAIN)
              ("empty.default.svc.cluster.local", "A"),
              ("empty.default.svc.cluster.local", "SRV")]
    for name, rdtype in nodata:
        resp = ask(backend, name, rdtype)
        assert (resp.rcode(), resp.answer) == (dns.rcode.NOERROR, []), name
        assert records(resp, "authority")[0].startswith("cluster.local. 5 SOA ns.dns."
                                                         "cluster.local. hostmaster."
                                                         "cluster.local. "), name
    for name in ("_pg._tcp.empty.default.svc.cluster.local",
                 "nope.default.svc.cluster.local", "web.missing.svc.cluster.local",
                 "web.default.nope.cluster.local", "a.b.c.web.default.svc.cluster.local",
                 "db-9.db.default.svc.cluster.local", "10-244-0-7.db.default.svc.cluster.local",
                 "ipext.default.svc.cluster.local", "_x._tcp.web.default.svc.cluster.local"):
        resp = ask(backend, name)
        assert resp.rcode() == dns.rcode.NXDOMAIN, name
        assert len(resp.authority) == 1 and resp.authority[0].rdtype == dns.rdatatype.SOA


def test_srv(backend: Backend) -> None:
    # Two families make two entries of one target: CoreDNS weighs before it drops the
    # duplicate, so the one record left has weight 50.
    resp = ask(backend, "_http._tcp.web.default.svc.cluster.local", "SRV")
    assert records(resp) == ["_http._tcp.web.default.svc.cluster.local. 5 SRV "
                             "0 50 80 web.default.svc.cluster.local."]
    assert records(resp, "additional") == ["web.default.svc.cluster.local. 5 A 10.96.0.20",
                                           "web.default.svc.cluster.local. 5 AAAA fd00::20"]
    resp = ask(backend, "web.default.svc.cluster.local", "SRV")
    assert [r.split()[-2:] for r in records(resp)] == [
        ["53", "web.default.svc.cluster.local."], ["80", "web.default.svc.cluster.local."]]
    resp = ask(backend, "_pg._tcp.db.default.svc.cluster.local", "SRV")
    assert records(resp) == [
        "_pg._tcp.db.default.svc.cluster.local. 5 SRV 0 50 5432 10-244-0-6.db.default.svc."
        "cluster.local.",
        "_pg._tcp.db.default.svc.cluster.local. 5 SRV 0 50 5432 db-0.db.default.svc."
        "cluster.local."]
    assert ask(backend, "ext.default.svc.cluster.local", "SRV").answer == []


def test_external_name_chain(backend: Backend) -> None:
    assert records(ask(backend, "ext.default.svc.cluster.local")) == [
        "ext.default.svc.cluster.local. 5 CNAME web.default.svc.cluster.local.",
        "web.default.svc.cluster.local. 5 A 10.96.0.20"]
    assert records(ask(backend, "far.default.svc.cluster.local", "CNAME")) == [
        "far.default.svc.cluster.local. 5 CNAME example.com."]


def test_pods_ptr_and_others(backend: Backend) -> None:
    assert records(ask(backend, "10-244-1-9.default.pod.cluster.local")) == [
        "10-244-1-9.default.pod.cluster.local. 5 A 10.244.1.9"]
    assert ask(backend, "10-244-1-9.missing.pod.cluster.local").rcode() == dns.rcode.NXDOMAIN
    ptr = dns.reversename.from_address
    assert records(ask(backend, ptr("10.96.0.20").to_text(), "PTR"))[0].endswith(
        "PTR web.default.svc.cluster.local.")
    # An endpoint address of two Services names both.
    assert [r.split()[-1] for r in records(ask(backend, ptr("10.244.0.5").to_text(), "PTR"))] \
        == ["db-0.all.default.svc.cluster.local.", "db-0.db.default.svc.cluster.local."]
    # Without a hostname the endpoint is named by its dashed address.
    assert [r.split()[-1] for r in records(ask(backend, ptr("10.244.0.6").to_text(), "PTR"))] \
        == ["10-244-0-6.all.default.svc.cluster.local.",
            "10-244-0-6.db.default.svc.cluster.local."]
    assert answer(backend, dns.message.make_query(ptr("192.0.2.9"), "PTR"), 5) is None
    assert answer(backend, dns.message.make_query("example.com", "A"), 5) is None
    assert ask(backend, "cluster.local", "AXFR").rcode() == dns.rcode.REFUSED
    assert records(ask(backend, "dns-version.cluster.local", "TXT")) == [
        'dns-version.cluster.local. 28800 TXT "1.1.0"']
