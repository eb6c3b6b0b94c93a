"""Cluster DNS (``python -m controllers.dns``) against a real apiserver, queried with dnspython.

The DNS process runs on a free port of 127.0.0.1 (UDP and TCP on one port, read from its
log); objects are created over HTTP in a fresh namespace, EndpointSlices by hand so the
test decides readiness. Names outside the zone go to a trivial dnspython responder run by
the test, which answers every A query with 192.0.2.1.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.reversename
import httpx
import pytest

from tests.support.apiserver import ApiServerProcess, free_port
from tests.support.namespaced import NamespacedApi
from tests.support.process import Process

ZONE = "cluster.local"
START_TIMEOUT = 30.0
UPDATE_DEADLINE = 1.0


@pytest.fixture
def upstream() -> Iterator[int]:
    """A trivial UDP responder: A 192.0.2.1 for every name; yields its port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, addr = sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(data)
            resp = dns.message.make_response(query)
            resp.answer.append(dns.rrset.from_text(query.question[0].name, 60, "IN", "A",
                                                   "192.0.2.1"))
            sock.sendto(resp.to_wire(), addr)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(sock.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        sock.close()


def dns_port(process: Process) -> int:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        found = re.search(r"serving DNS on 127\.0\.0\.1:(\d+)", process.logs())
        if found:
            return int(found.group(1))
        assert process.running(), process.logs()
        time.sleep(0.05)
    raise AssertionError(f"the DNS server did not start:\n{process.logs()}")


class Cluster(NamespacedApi):
    """A namespace on the apiserver and a DNS server to ask."""

    def __init__(self, server: ApiServerProcess, port: int) -> None:
        super().__init__(server.url, "dns")
        self.port = port

    def slice_body(self, svc: str, endpoints: list[dict[str, Any]]) -> dict[str, Any]:
        return {"metadata": {"name": f"{svc}-x", "labels":
                             {"kubernetes.io/service-name": svc}},
                "addressType": "IPv4", "endpoints": endpoints,
                "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}]}

    def endpoint_slice(self, svc: str, endpoints: list[dict[str, Any]]) -> None:
        self.post(f"/apis/discovery.k8s.io/v1/namespaces/{self.ns}/endpointslices",
                    self.slice_body(svc, endpoints))

    def replace_slice(self, svc: str, endpoints: list[dict[str, Any]]) -> None:
        path = f"/apis/discovery.k8s.io/v1/namespaces/{self.ns}/endpointslices/{svc}-x"
        current = self.http.get(path).json()
        body = self.slice_body(svc, endpoints)
        body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        r = self.http.put(path, json=body)
        assert r.status_code == 200, r.text

    def ask(self, name: str, rdtype: str = "A", tcp: bool = False,
            timeout: float = 5.0) -> dns.message.Message:
        query = dns.message.make_query(name, rdtype)
        send = dns.query.tcp if tcp else dns.query.udp
        return send(query, "127.0.0.1", timeout=timeout, port=self.port)

    def name(self, *labels: str) -> str:
        return ".".join([*labels, self.ns, "svc", ZONE]) + "."

    def wait(self, check: Callable[[], bool], timeout: float = START_TIMEOUT) -> None:
        """Poll ``check`` every 20 ms until it holds (a lost query counts as not yet);
        fail when ``timeout`` seconds (monotonic) passed first."""
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(dns.exception.Timeout):
                if check():
                    return
            assert time.monotonic() < deadline, "not answered in time"
            time.sleep(0.02)


def texts(resp: dns.message.Message, section: str = "answer") -> list[str]:
    return sorted(f"{rrset.name} {dns.rdatatype.to_text(rrset.rdtype)} {rd}"
                  for rrset in getattr(resp, section) for rd in rrset)


def start_dns(procs: Callable[..., Process], server: ApiServerProcess,
              *flags: str) -> int:
    process = procs(server, "controllers.dns", "--dns-port", "0", *flags)
    return dns_port(process)


def test_records_of_every_kind(apiserver: ApiServerProcess, procs: Callable[..., Process],
                               upstream: int) -> None:
    metrics = free_port()
    port = start_dns(procs, apiserver, "--upstream", f"127.0.0.1:{upstream}",
                     "--metrics-bind-address", f"127.0.0.1:{metrics}")
    c = Cluster(apiserver, port)
    web = c.service("web", ports=[{"name": "http", "port": 80, "protocol": "TCP"}])
    ip = web["spec"]["clusterIP"]
    c.service("db", clusterIP="None", ports=[{"name": "pg", "port": 5432}])
    c.service("empty", clusterIP="None", ports=[{"name": "pg", "port": 5432}])
    c.service("ext", type="ExternalName", externalName=f"web.{c.ns}.svc.{ZONE}")
    c.service("far", type="ExternalName", externalName="example.com")
    c.endpoint_slice("db", [
        {"addresses": ["10.244.9.5"], "hostname": "db-0", "conditions": {"ready": True}},
        {"addresses": ["10.244.9.6"], "conditions": {"ready": False}},
    ])
    c.wait(lambda: c.ask(c.name("ext")).rcode() == dns.rcode.NOERROR
           and len(c.ask(c.name("db")).answer) == 1)

    for tcp in (False, True):
        assert texts(c.ask(c.name("web"), tcp=tcp)) == [f"{c.name('web')} A {ip}"]
    assert texts(c.ask(c.name("db"))) == [f"{c.name('db')} A 10.244.9.5"]
    assert texts(c.ask(c.name("db-0", "db"))) == [f"{c.name('db-0', 'db')} A 10.244.9.5"]
    srv = c.ask(c.name("_http", "_tcp", "web"), "SRV")
    assert texts(srv) == [f"{c.name('_http', '_tcp', 'web')} SRV 0 100 80 {c.name('web')}"]
    assert texts(srv, "additional") == [f"{c.name('web')} A {ip}"]
    assert texts(c.ask(c.name("_pg", "_tcp", "db"), "SRV")) == [
        f"{c.name('_pg', '_tcp', 'db')} SRV 0 100 5432 {c.name('db-0', 'db')}"]
    assert texts(c.ask(c.name("ext"))) == [f"{c.name('ext')} CNAME {c.name('web')}",
                                           f"{c.name('web')} A {ip}"]
    pod = f"10-244-9-5.{c.ns}.pod.{ZONE}."
    assert texts(c.ask(pod)) == [f"{pod} A 10.244.9.5"]
    for addr, target in ((ip, c.name("web")), ("10.244.9.5", c.name("db-0", "db"))):
        rev = dns.reversename.from_address(addr)
        assert texts(c.ask(rev.to_text(), "PTR")) == [f"{rev} PTR {target}"]

    # NODATA: the name exists (a headless Service without ready endpoints too);
    # NXDOMAIN: it does not. Both with the SOA.
    for name, rdtype in ((c.name("web"), "AAAA"), (f"{c.ns}.svc.{ZONE}.", "A"),
                         (c.name("empty"), "A")):
        resp = c.ask(name, rdtype)
        assert (resp.rcode(), resp.answer) == (dns.rcode.NOERROR, []), name
        assert [r.rdtype for r in resp.authority] == [dns.rdatatype.SOA], name
    for name in (c.name("nope"), f"web.no-such-ns-{c.ns}.svc.{ZONE}.", c.name("db-1", "db")):
        resp = c.ask(name)
        assert resp.rcode() == dns.rcode.NXDOMAIN, name
        assert [r.rdtype for r in resp.authority] == [dns.rdatatype.SOA], name

    # Other names go upstream, and so does a CNAME leaving the zone.
    assert texts(c.ask("example.com.")) == ["example.com. A 192.0.2.1"]
    assert texts(c.ask(c.name("far"))) == ["example.com. A 192.0.2.1",
                                           f"{c.name('far')} CNAME example.com."]

    assert httpx.get(f"http://127.0.0.1:{metrics}/readyz").text == "ok"
    text = httpx.get(f"http://127.0.0.1:{metrics}/metrics").text
    assert 'coredns_dns_requests_total{server="dns://127.0.0.1:' in text
    assert 'rcode="NXDOMAIN"' in text


def test_endpoint_changes_are_answered_within_a_second(
    apiserver: ApiServerProcess, procs: Callable[..., Process], upstream: int
) -> None:
    port = start_dns(procs, apiserver, "--upstream", f"127.0.0.1:{upstream}")
    c = Cluster(apiserver, port)
    c.service("db", clusterIP="None", ports=[{"name": "pg", "port": 5432}])
    c.endpoint_slice("db", [{"addresses": ["10.244.8.5"], "conditions": {"ready": True}}])
    c.wait(lambda: len(c.ask(c.name("db")).answer) == 1)

    # Each deadline runs from the write's acknowledgement (replace_slice returns then).
    c.replace_slice("db", [{"addresses": ["10.244.8.5"], "conditions": {"ready": True}},
                           {"addresses": ["10.244.8.6"], "conditions": {"ready": True}}])
    c.wait(lambda: len(texts(c.ask(c.name("db"), timeout=0.2))) == 2, UPDATE_DEADLINE)
    c.replace_slice("db", [{"addresses": ["10.244.8.6"], "conditions": {"ready": False}}])
    c.wait(lambda: c.ask(c.name("db"), timeout=0.2).answer == [], UPDATE_DEADLINE)


def test_forwarding_off_refuses_other_names(
    apiserver: ApiServerProcess, procs: Callable[..., Process]
) -> None:
    port = start_dns(procs, apiserver, "--forward=false")
    c = Cluster(apiserver, port)
    c.wait(lambda: c.ask(f"{c.ns}.svc.{ZONE}.").rcode() == dns.rcode.NOERROR)
    assert c.ask("example.com.").rcode() == dns.rcode.REFUSED
    assert c.ask("example.com.", tcp=True).rcode() == dns.rcode.REFUSED
