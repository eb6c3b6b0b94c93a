"""Cluster DNS under ``kubemu up``: the ``kube-dns`` Service, queries through kube-proxy, and
host-command pods resolving Services through their ``resolv.conf``.

One ``kubemu up --allow-host-commands`` serves the module. Every query goes to the
``kube-dns`` ClusterIP (the tenth address of the instance's service range), so it crosses
node 1's userspace kube-proxy to the DNS process on the instance's DNS server address, over
UDP and over TCP, with dnspython as the client. As root the DNS is on port 53 and pods get
the cluster DNS in their ``resolv.conf``; without root it falls back to port 10053, and
kubemu up says so.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.reversename
import httpx
import pytest
import yaml

from kubemu.addresses import DNS_METRICS_PORT
from tests.support.kubemu_up import Kubemu, start_kubemu, stop_kubemu, wait_for
from tests.support.namespaced import NamespacedApi

pytestmark = pytest.mark.timeout(300)

ZONE = "cluster.local"
ROOT = os.geteuid() == 0
PORT = 53 if ROOT else 10053
#: The issue's bound: an Endpoints change is answered within this many seconds of the
#: write's acknowledgement.
UPDATE_DEADLINE = 1.0
POLL = 0.05


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kubemu]:
    cluster = start_kubemu(tmp_path_factory.mktemp("dns") / "data", 1, "--allow-host-commands")
    try:
        wait_for("the default ServiceAccount",
                 lambda: cluster.get("/api/v1/namespaces/default/serviceaccounts/default"))
        yield cluster
    finally:
        stop_kubemu(cluster)


class Client(NamespacedApi):
    """Objects in a fresh namespace of ``up``, and queries to its kube-dns ClusterIP."""

    def __init__(self, up: Kubemu) -> None:
        super().__init__(up.url, "dns", up.verify)
        self.up = up
        self.server = up.addresses.dns_ip

    def slice_path(self, name: str = "") -> str:
        path = f"/apis/discovery.k8s.io/v1/namespaces/{self.ns}/endpointslices"
        return f"{path}/{name}" if name else path

    def endpoint_slice(self, svc: str, endpoints: list[dict[str, Any]]) -> None:
        self.post(self.slice_path(), {
            "metadata": {"name": f"{svc}-x", "labels": {"kubernetes.io/service-name": svc}},
            "addressType": "IPv4", "endpoints": endpoints,
            "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}]})

    def ask(self, name: str, rdtype: str = "A", tcp: bool = False,
            timeout: float = 5.0) -> dns.message.Message:
        query = dns.message.make_query(name, rdtype)
        if tcp:
            return dns.query.tcp(query, self.server, timeout=timeout, port=PORT)
        return dns.query.udp(query, self.server, timeout=timeout, port=PORT)

    def name(self, *labels: str) -> str:
        return ".".join([*labels, self.ns, "svc", ZONE]) + "."


def quietly(check: Callable[[], Any]) -> Callable[[], Any]:
    """``check`` for :func:`wait_for`, a lost query (or a TCP connection kube-proxy resets
    before it has the endpoints) counting as a falsy answer."""
    def run() -> Any:
        try:
            return check()
        except (dns.exception.Timeout, OSError):
            return None
    return run


def pod_ips(up: Kubemu, *hosts: int) -> list[str]:
    """Addresses of the cluster's pod range (host numbers within it)."""
    return [str(up.addresses.cluster_cidr.network_address + h) for h in hosts]


def texts(resp: dns.message.Message, section: str = "answer") -> list[str]:
    return sorted(f"{rrset.name} {dns.rdatatype.to_text(rrset.rdtype)} {rd}"
                  for rrset in getattr(resp, section) for rd in rrset)


def test_kube_dns_service_as_kubeadm_makes_it(up: Kubemu) -> None:
    svc = up.get("/api/v1/namespaces/kube-system/services/kube-dns")
    assert svc["metadata"]["labels"] == {"k8s-app": "kube-dns",
                                         "kubernetes.io/cluster-service": "true",
                                         "kubernetes.io/name": "CoreDNS"}
    spec = svc["spec"]
    assert spec["clusterIP"] == up.addresses.dns_ip
    assert str(up.addresses.service_range.network_address + 10) == up.addresses.dns_ip
    assert "selector" not in spec  # the DNS process is no pod: kubemu up writes endpoints
    assert [(p["name"], p["port"], p["protocol"]) for p in spec["ports"]] == [
        ("dns", PORT, "UDP"), ("dns-tcp", PORT, "TCP"), ("metrics", DNS_METRICS_PORT, "TCP")]
    server = up.addresses.dns_server_ip
    slices = up.get("/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices"
                    "?labelSelector=kubernetes.io/service-name=kube-dns")["items"]
    assert [ep["addresses"] for s in slices for ep in s["endpoints"]] == [[server]]
    endpoints = up.get("/api/v1/namespaces/kube-system/endpoints/kube-dns")
    assert endpoints["subsets"][0]["addresses"] == [{"ip": server}]
    log = up.log.read_text(errors="replace")
    assert f"cluster DNS: dig @{up.addresses.dns_ip} -p {PORT} web.default.svc.{ZONE}" in log
    if not ROOT:
        assert "port 53 needs root or CAP_NET_BIND_SERVICE" in log
    # The metrics port of the Service reaches the DNS process's /metrics (once kube-proxy,
    # which syncs at most once a second, has the endpoints).
    url = f"http://{up.addresses.dns_ip}:{DNS_METRICS_PORT}/metrics"
    wait_for("metrics through the ClusterIP",
             lambda: "coredns_dns_requests_total" in httpx.get(url, timeout=5).text)


def test_records_through_the_cluster_ip(up: Kubemu) -> None:
    c = Client(up)
    web = c.service("web", ports=[{"name": "http", "port": 80, "protocol": "TCP"}])
    ip = web["spec"]["clusterIP"]
    c.service("db", clusterIP="None", ports=[{"name": "pg", "port": 5432}])
    c.service("empty", clusterIP="None", ports=[{"name": "pg", "port": 5432}])
    c.service("alias", type="ExternalName", externalName=c.name("ext").rstrip("."))
    c.service("ext", type="ExternalName", externalName=c.name("web").rstrip("."))
    named_ip, pod_ip, unready_ip = pod_ips(up, 200, 201, 202)
    c.endpoint_slice("db", [
        {"addresses": [named_ip], "hostname": "db-0", "conditions": {"ready": True}},
        {"addresses": [pod_ip], "conditions": {"ready": True}},
        {"addresses": [unready_ip], "conditions": {"ready": False}},
    ])
    wait_for("db answered", quietly(lambda: len(texts(c.ask(c.name("db"), timeout=1))) == 2))

    for tcp in (False, True):
        resp = c.ask(c.name("web"), tcp=tcp)
        assert texts(resp) == [f"{c.name('web')} A {ip}"]
        assert resp.answer[0].ttl == 5
    assert texts(c.ask(c.name("db"))) == sorted([f"{c.name('db')} A {named_ip}",
                                                 f"{c.name('db')} A {pod_ip}"])
    assert texts(c.ask(c.name("db-0", "db"))) == [f"{c.name('db-0', 'db')} A {named_ip}"]
    # SRV: the Service name for a ClusterIP Service, each endpoint's name for a headless
    # one, with the targets' addresses in the additional section.
    srv = c.ask(c.name("_http", "_tcp", "web"), "SRV")
    assert texts(srv) == [f"{c.name('_http', '_tcp', 'web')} SRV 0 100 80 {c.name('web')}"]
    assert texts(srv, "additional") == [f"{c.name('web')} A {ip}"]
    dashed = pod_ip.replace(".", "-")
    srv = c.ask(c.name("_pg", "_tcp", "db"), "SRV", tcp=True)
    assert texts(srv) == sorted(
        f"{c.name('_pg', '_tcp', 'db')} SRV 0 50 5432 {target}"
        for target in (c.name("db-0", "db"), c.name(dashed, "db")))
    assert texts(srv, "additional") == sorted([f"{c.name('db-0', 'db')} A {named_ip}",
                                               f"{c.name(dashed, 'db')} A {pod_ip}"])
    # ExternalName: a CNAME chain followed inside the zone, in one answer.
    assert texts(c.ask(c.name("alias"))) == [f"{c.name('alias')} CNAME {c.name('ext')}",
                                             f"{c.name('ext')} CNAME {c.name('web')}",
                                             f"{c.name('web')} A {ip}"]
    # PTR of a Service IP and of a pod IP; pod A records.
    for addr, target in ((ip, c.name("web")), (named_ip, c.name("db-0", "db")),
                         (pod_ip, c.name(dashed, "db"))):
        rev = dns.reversename.from_address(addr)
        assert texts(c.ask(rev.to_text(), "PTR")) == [f"{rev} PTR {target}"]
    pod_name = f"{dashed}.{c.ns}.pod.{ZONE}."
    assert texts(c.ask(pod_name)) == [f"{pod_name} A {pod_ip}"]
    assert texts(c.ask(f"dns-version.{ZONE}.", "TXT")) == [f'dns-version.{ZONE}. TXT "1.1.0"']
    assert [r.rdtype for r in c.ask(f"{ZONE}.", "SOA").answer] == [dns.rdatatype.SOA]

    # NODATA (the name exists without records of the type, a headless Service without
    # ready endpoints) and NXDOMAIN (unknown Service or namespace): both with the SOA.
    for name, rdtype in ((c.name("web"), "AAAA"), (c.name("empty"), "A"),
                         (c.name("empty"), "SRV"), (f"{c.ns}.svc.{ZONE}.", "A")):
        resp = c.ask(name, rdtype)
        assert (resp.rcode(), resp.answer) == (dns.rcode.NOERROR, []), (name, rdtype)
        assert [r.rdtype for r in resp.authority] == [dns.rdatatype.SOA], name
    for name in (c.name("nope"), f"web.no-such-{c.ns}.svc.{ZONE}.", c.name("db-9", "db")):
        resp = c.ask(name, tcp=True)
        assert resp.rcode() == dns.rcode.NXDOMAIN, name
        assert [r.rdtype for r in resp.authority] == [dns.rdatatype.SOA], name


def answered_within(deadline: float, check: Callable[[], bool]) -> float:
    """Seconds until ``check()`` holds, polling every :data:`POLL` from now; fails when it
    does not hold after ``deadline`` seconds. A query lost on the way counts as not yet."""
    start = time.monotonic()
    while True:
        try:
            if check():
                return time.monotonic() - start
        except dns.exception.Timeout:
            pass
        elapsed = time.monotonic() - start
        assert elapsed <= deadline, f"not answered within {deadline}s"
        time.sleep(POLL)


def test_endpoint_changes_are_answered_within_a_second(up: Kubemu) -> None:
    c = Client(up)
    first, second = pod_ips(up, 210, 211)
    c.service("db", clusterIP="None", ports=[{"name": "pg", "port": 5432}])
    c.endpoint_slice("db", [{"addresses": [first], "conditions": {"ready": True}}])
    wait_for("db answered", quietly(lambda: len(c.ask(c.name("db"), timeout=1).answer) == 1))

    def replace(endpoints: list[dict[str, Any]]) -> None:
        current = c.http.get(c.slice_path("db-x")).json()
        current["endpoints"] = endpoints
        r = c.http.put(c.slice_path("db-x"), json=current)
        assert r.status_code == 200, r.text  # acknowledged: the clock starts now

    def addresses() -> list[str]:
        return [line.split()[-1] for line in texts(c.ask(c.name("db"), timeout=POLL * 4))]

    replace([{"addresses": [first], "conditions": {"ready": True}},
             {"addresses": [second], "conditions": {"ready": True}}])
    answered_within(UPDATE_DEADLINE, lambda: addresses() == sorted([first, second]))
    replace([{"addresses": [second], "conditions": {"ready": False}}])
    answered_within(UPDATE_DEADLINE, lambda: addresses() == [])


def test_endpoints_changes_are_answered_within_a_second(up: Kubemu) -> None:
    """Through the v1 Endpoints of a Service without a selector, which the mirroring
    controller copies into an EndpointSlice."""
    c = Client(up)
    first, second = pod_ips(up, 220, 221)
    c.service("legacy", clusterIP="None", ports=[{"port": 5432}])
    path = f"/api/v1/namespaces/{c.ns}/endpoints"

    def subsets(ip: str) -> list[dict[str, Any]]:
        return [{"addresses": [{"ip": ip}], "ports": [{"port": 5432}]}]

    c.post(path, {"metadata": {"name": "legacy"}, "subsets": subsets(first)})

    def addresses() -> list[str]:
        resp = c.ask(c.name("legacy"), timeout=POLL * 4)
        return [line.split()[-1] for line in texts(resp)]

    wait_for("legacy answered", quietly(lambda: addresses() == [first]))
    current = c.http.get(f"{path}/legacy").json()
    current["subsets"] = subsets(second)
    r = c.http.put(f"{path}/legacy", json=current)
    assert r.status_code == 200, r.text  # acknowledged: the clock starts now
    answered_within(UPDATE_DEADLINE, lambda: addresses() == [second])


POD = """
apiVersion: v1
kind: Pod
metadata: {name: NAME}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox
    command: [sh, -c, "cat /etc/resolv.conf; echo ---; getent hosts web"]
"""


def run_pod(up: Kubemu, ns: str, name: str, **spec: Any) -> str:
    """Run a host-command pod to completion in ``ns``; its log."""
    doc = yaml.safe_load(POD.replace("NAME", name))
    doc["spec"].update(spec)
    up.kubectl("-n", ns, "apply", "-f", "-", stdin=yaml.safe_dump(doc))
    wait_for(f"{name} finished", lambda: up.get(
        f"/api/v1/namespaces/{ns}/pods/{name}")["status"]["phase"] in ("Succeeded", "Failed"),
        timeout=60)
    return up.kubectl("-n", ns, "logs", name)


@pytest.mark.skipif(not ROOT, reason="a pod's resolv.conf needs a mount namespace (root)")
def test_host_command_pod_resolves_web_through_its_resolv_conf(up: Kubemu) -> None:
    c = Client(up)
    wait_for("the default ServiceAccount",
             lambda: up.get(f"/api/v1/namespaces/{c.ns}/serviceaccounts/default"))
    ip = c.service("web", ports=[{"port": 80}])["spec"]["clusterIP"]
    log = run_pod(up, c.ns, "client")
    resolv, _, hosts = log.partition("---\n")
    assert resolv == (f"search {c.ns}.svc.{ZONE} svc.{ZONE} {ZONE}\n"
                      f"nameserver {up.addresses.dns_ip}\noptions ndots:5\n")
    assert hosts.split() == [ip, f"web.{c.ns}.svc.{ZONE}"]
    # dnsConfig is appended (options by name, the pod's value winning), as the kubelet does.
    log = run_pod(up, c.ns, "tuned", dnsConfig={
        "searches": ["example.test"], "options": [{"name": "ndots", "value": "2"},
                                                  {"name": "edns0"}]})
    assert log.partition("---\n")[0] == (
        f"search {c.ns}.svc.{ZONE} svc.{ZONE} {ZONE} example.test\n"
        f"nameserver {up.addresses.dns_ip}\noptions ndots:2 edns0\n")


def test_disable_dns_runs_no_dns(tmp_path: Path) -> None:
    """``--disable dns``: no DNS process, no kube-dns Service, the node agents get no
    cluster DNS (a ClusterFirst pod falls back to the host's resolvers with a warning)."""
    up = start_kubemu(tmp_path / "data", 1, "--allow-host-commands", "--disable", "dns",
                      *(arg for name in ("endpoints", "service-lb", "kube-proxy")
                        for arg in ("--disable", name)))
    try:
        with pytest.raises(httpx.HTTPStatusError):
            up.get("/api/v1/namespaces/kube-system/services/kube-dns")
        log = up.log.read_text(errors="replace")
        assert "cluster DNS" not in log and "--cluster-dns" not in log
        if ROOT:
            wait_for("the default ServiceAccount",
                     lambda: up.get("/api/v1/namespaces/default/serviceaccounts/default"))
            out = run_pod(up, "default", "client")
            host = Path("/etc/resolv.conf").read_text()
            first = next(line for line in host.splitlines() if line.startswith("nameserver"))
            assert first in out.partition("---\n")[0]
            events = up.get("/api/v1/namespaces/default/events")["items"]
            assert any(e["reason"] == "MissingClusterDNS" for e in events)
    finally:
        stop_kubemu(up)


def test_a_high_port_on_restart_corrects_the_service(tmp_path: Path) -> None:
    """``--dns-port`` chooses the port; a restart with another one corrects the kube-dns
    Service and its endpoints, and queries reach the DNS through the ClusterIP on it. The
    node agents get no cluster DNS then (a resolv.conf names no port)."""
    data = tmp_path / "data"
    only = [arg for name in ("endpoints", "controller-manager", "service-lb", "scheduler")
            for arg in ("--disable", name)]
    first = start_kubemu(data, 1, *only)
    stop_kubemu(first)
    up = start_kubemu(data, 1, *only, "--dns-port", "10053")
    try:
        svc = up.get("/api/v1/namespaces/kube-system/services/kube-dns")
        assert [p["port"] for p in svc["spec"]["ports"]] == [10053, 10053, DNS_METRICS_PORT]
        slices = up.get("/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices/"
                        "kube-dns")
        assert [p["port"] for p in slices["ports"]] == [10053, 10053, DNS_METRICS_PORT]
        query = dns.message.make_query(f"kubernetes.default.svc.{ZONE}.", "A")
        for send in (dns.query.udp, dns.query.tcp):
            answer = wait_for("kubernetes resolved on 10053", quietly(lambda send=send: send(
                query, up.addresses.dns_ip, timeout=2, port=10053).answer))
            assert [str(rd) for rrset in answer for rd in rrset] == [up.addresses.kubernetes_ip]
        restart = up.log.read_text(errors="replace").rpartition("addresses: block")[2]
        assert f"dig @{up.addresses.dns_ip} -p 10053" in restart
        assert "--cluster-dns" not in restart
    finally:
        stop_kubemu(up)
