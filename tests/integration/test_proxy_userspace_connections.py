"""Per-endpoint connection counts of the userspace kube-proxy on its ``/metrics``.

Real processes as in :mod:`tests.integration.test_proxy_userspace` (its ``cluster``
fixture): real TCP connections to a ClusterIP reach backends that keep them open until
the client closes, and the scrapes are parsed with ``prometheus-client``'s text parser.
"""

from __future__ import annotations

import collections
import socket

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.integration import test_proxy_userspace as userspace
from tests.integration.test_proxy_userspace import Cluster
from tests.support.proxy import ask_udp, eventually

cluster = userspace.cluster

ACTIVE = "kubemu_userspace_proxy_endpoint_connections_active"
TOTAL = "kubemu_userspace_proxy_endpoint_connections_total"


def metrics(c: Cluster) -> str:
    """The proxy's ``/metrics`` (OSError while it does not listen yet)."""
    try:
        return httpx.get(f"http://{c.node_ip}:{c.healthz}/metrics", timeout=5).text
    except httpx.TransportError as exc:
        raise OSError(f"/metrics: {exc}") from exc


def scrape(c: Cluster, name: str, service: str) -> dict[str, float]:
    """``endpoint -> value`` of the samples ``name`` of ``service`` (in the test's
    namespace), checking the labels of each."""
    text = metrics(c)
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if sample.name != name or labels.get("service") != service \
                    or labels.get("namespace") != c.api.ns:
                continue
            assert set(labels) == {"namespace", "service", "port", "protocol", "endpoint"}
            out[labels["endpoint"]] = sample.value
    return out


def labelled(c: Cluster, service: str) -> set[tuple[str, str]]:
    """(port, protocol) label pairs of ``service``'s total series."""
    text = metrics(c)
    return {(s.labels["port"], s.labels["protocol"])
            for family in text_string_to_metric_families(text) for s in family.samples
            if s.name == TOTAL and s.labels.get("service") == service
            and s.labels.get("namespace") == c.api.ns}


def holding_pods(c: Cluster, app: str, count: int, port: int) -> dict[str, str]:
    """``count`` backends that keep connections open, and their pods: name -> IP:port."""
    out = {}
    for i in range(count):
        name = f"{app}-{i}"
        ip = f"{c.prefix}.{len(c.backends._closers) + 10}"
        c.backends.tcp(name, ip, port, hold=True)
        c.api.pod(name, ip, {"app": app}, port)
        out[name] = f"{ip}:{port}"
    return out


def connect(ip: str, port: int, source: str | None = None) -> tuple[socket.socket, str]:
    """An open connection through the proxy and the name of the pod that answered."""
    sock = socket.create_connection((ip, port), timeout=3,
                                    source_address=(source, 0) if source else None)
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(100)
        assert chunk, "closed before the backend answered"
        data += chunk
    return sock, data.decode().strip()


def once(ip: str, port: int, source: str | None = None) -> str:
    sock, name = connect(ip, port, source)
    sock.close()
    return name


def test_round_robin_spreads_totals_and_closing_drops_active(cluster: Cluster) -> None:
    c = cluster
    endpoints = holding_pods(c, "count", 3, 8090)
    svc = c.api.service("count", {"app": "count"}, [{"name": "web", "port": 8090,
                                                     "targetPort": 8090}])
    ip = svc["spec"]["clusterIP"]
    eventually(lambda: set(scrape(c, TOTAL, "count")) == set(endpoints.values()),
               timeout=15, what=f"a series per endpoint\n{c.logs()}")
    eventually(lambda: len({once(ip, 8090) for _ in range(3)}) == 3, timeout=15,
               what=f"all 3 endpoints answer\n{c.logs()}")
    assert labelled(c, "count") == {("web", "TCP")}

    # Round robin: 30 connections in a row are 10 per endpoint.
    before = scrape(c, TOTAL, "count")
    answered = collections.Counter(once(ip, 8090) for _ in range(30))
    after = scrape(c, TOTAL, "count")
    assert {endpoints[name]: n for name, n in answered.items()} == {
        ep: after[ep] - before[ep] for ep in endpoints.values()}
    assert set(answered.values()) == {10}, answered

    # Open connections are active until closed.
    held = [connect(ip, 8090) for _ in range(4)]
    expected = collections.Counter(endpoints[name] for _, name in held)
    eventually(lambda: {ep: n for ep, n in scrape(c, ACTIVE, "count").items() if n}
               == expected, what="4 active connections")
    for sock, _ in held:
        sock.close()
    eventually(lambda: set(scrape(c, ACTIVE, "count").values()) == {0.0},
               what="no active connection once closed")

    # An endpoint that leaves the Service takes its series along.
    c.api.set_ready("count-2", False)
    eventually(lambda: set(scrape(c, TOTAL, "count")) == {endpoints["count-0"],
                                                          endpoints["count-1"]},
               what="count-2's series gone")
    assert set(scrape(c, ACTIVE, "count")) == {endpoints["count-0"], endpoints["count-1"]}


def test_client_ip_affinity_concentrates_totals_and_udp_sessions(cluster: Cluster) -> None:
    c = cluster
    endpoints = holding_pods(c, "aff", 3, 8091)
    svc = c.api.service("aff", {"app": "aff"}, [{"port": 8091, "targetPort": 8091}],
                        sessionAffinity="ClientIP")
    ip = svc["spec"]["clusterIP"]
    eventually(lambda: set(scrape(c, TOTAL, "aff")) == set(endpoints.values()),
               timeout=15, what=f"a series per endpoint\n{c.logs()}")
    assert labelled(c, "aff") == {("", "TCP")}
    eventually(lambda: once(ip, 8091, source="127.0.97.1"), timeout=15,
               what=f"the ClusterIP answers\n{c.logs()}")

    before = scrape(c, TOTAL, "aff")
    names = {once(ip, 8091, source="127.0.97.2") for _ in range(12)}
    after = scrape(c, TOTAL, "aff")
    assert len(names) == 1, names
    sticky = endpoints[names.pop()]
    assert {ep: after[ep] - before[ep] for ep in endpoints.values()} == {
        ep: 12.0 if ep == sticky else 0.0 for ep in endpoints.values()}

    # UDP: a live session is active until it idles out (--udp-timeout, 250 ms).
    port = 5354
    udp_ip = f"{c.prefix}.{len(c.backends._closers) + 10}"
    c.backends.udp("echo-0", udp_ip, port)
    c.api.pod("echo-0", udp_ip, {"app": "echo"}, port)
    udp = c.api.service("echo", {"app": "echo"}, [{"name": "dns", "port": port,
                                                   "protocol": "UDP", "targetPort": port}])

    def answer() -> str:
        try:
            return ask_udp(udp["spec"]["clusterIP"], port, b"hi", timeout=0.5)
        except OSError:
            return ""

    assert eventually(answer, timeout=15, what=f"UDP answer\n{c.logs()}") == "echo-0:hi"
    assert labelled(c, "echo") == {("dns", "UDP")}
    assert scrape(c, TOTAL, "echo")[f"{udp_ip}:{port}"] >= 1
    eventually(lambda: scrape(c, ACTIVE, "echo") == {f"{udp_ip}:{port}": 0.0},
               what="the UDP session idled out")
