"""kube-proxy in userspace mode: real processes, real sockets, real traffic.

Each test runs an apiserver (service range on loopback), the endpoints
controller and ``python -m controllers.proxy --proxy-mode userspace`` as
subprocesses, starts real backend servers on loopback "pod IPs"
(a /24 of the session's address block), writes Services and pods (with ``/status``) over HTTP, and
checks what connections to the ClusterIP / NodePort / external / LB addresses
actually reach.
"""

from __future__ import annotations

import collections
import ipaddress
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from kubemu.addresses import Addresses
from tests.conftest import ApiServerFactory
from tests.support.apiserver import ApiServerProcess
from tests.support.proxy import (
    Api,
    Backends,
    Process,
    ask,
    ask_udp,
    eventually,
    free_tcp_port,
    random_pod_prefix,
    unique,
)


@dataclass
class Cluster:
    server: ApiServerProcess
    controller: Process
    proxy: Process
    healthz: int
    backends: Backends
    prefix: str
    api: Api
    addresses: Addresses

    @property
    def node_ip(self) -> str:
        """Where the proxy serves NodePorts, /healthz and /metrics."""
        return self.addresses.node_ip(1)

    def logs(self) -> str:
        return f"--- proxy ---\n{self.proxy.logs()[-4000:]}"


@pytest.fixture
def cluster(apiserver_factory: ApiServerFactory, tmp_path: Path,
            address_block: Addresses) -> Iterator[Cluster]:
    server = apiserver_factory("sqlite", ["--service-cluster-ip-range",
                                          str(address_block.service_range)])
    controller = Process(["-m", "controllers.endpoints", "--kubeconfig", str(server.kubeconfig),
                          "--workers", "2"], tmp_path / "endpoints.log").start()
    healthz = free_tcp_port()
    proxy = Process(["-m", "controllers.proxy", "--proxy-mode", "userspace", "--kubeconfig",
                     str(server.kubeconfig), "--hostname-override", "node-a",
                     "--min-sync-period", "0", "--healthz-bind-address",
                     f"{address_block.node_ip(1)}:{healthz}", "--metrics-bind-address", "",
                     "--nodeport-addresses", f"{address_block.node_ip(1)}/32"],
                    tmp_path / "proxy.log").start()
    backends = Backends()
    c = Cluster(server, controller, proxy, healthz, backends, random_pod_prefix(address_block),
                Api(server, unique("proxy")), address_block)
    try:
        yield c
    finally:
        proxy.stop()
        controller.stop()
        backends.close()


def pods(c: Cluster, app: str, count: int, port: int, udp: bool = False) -> list[str]:
    """Start ``count`` backends answering their pod name and write the pods; their IPs."""
    ips = []
    for i in range(count):
        name = f"{app}-{i}"
        ip = f"{c.prefix}.{len(c.backends._closers) + 10}"
        (c.backends.udp if udp else c.backends.tcp)(name, ip, port)
        c.api.pod(name, ip, {"app": app}, port)
        ips.append(ip)
    return ips


def answers(ip: str, port: int) -> Callable[[], str]:
    def check() -> str:
        try:
            return ask(ip, port, timeout=1.0)
        except OSError:
            return ""
    return check


def refused(ip: str, port: int) -> bool:
    try:
        return ask(ip, port, timeout=1.0) == ""
    except (ConnectionResetError, ConnectionRefusedError):
        return True


def test_round_robin_spread_not_ready_and_node_port(cluster: Cluster) -> None:
    c = cluster
    pods(c, "web", 3, 8080)
    svc = c.api.service("web", {"app": "web"}, [{"name": "http", "port": 8080,
                                                 "targetPort": 8080}], type="NodePort")
    ip, node_port = svc["spec"]["clusterIP"], svc["spec"]["ports"][0]["nodePort"]
    assert ipaddress.ip_address(ip) in c.addresses.service_range
    eventually(lambda: len(c.api.ready_ips("web")) == 3, what="3 ready endpoints")
    eventually(answers(ip, 8080), what="the ClusterIP answers\n" + c.logs())
    # All three endpoints programmed: the round robin visits every one in 3 connections.
    eventually(lambda: len({ask(ip, 8080) for _ in range(3)}) == 3, what="all 3 endpoints")

    counts = collections.Counter(ask(ip, 8080) for _ in range(300))
    assert set(counts) == {"web-0", "web-1", "web-2"}, counts
    for name, n in counts.items():
        assert 60 <= n <= 141, f"{name} got {n}/300: {counts}"

    # NodePort on the node address answers too.
    assert ask(c.node_ip, node_port) in {"web-0", "web-1", "web-2"}

    # A pod turned NotReady stops getting new connections.
    c.api.set_ready("web-1", False)
    eventually(lambda: "web-1" not in {ask(ip, 8080) for _ in range(6)},
               what="web-1 drained")
    counts = collections.Counter(ask(ip, 8080) for _ in range(60))
    assert set(counts) == {"web-0", "web-2"}, counts

    # /healthz answers upstream's JSON once rules are synced.
    r = httpx.get(f"http://{c.node_ip}:{c.healthz}/healthz", timeout=5)
    assert r.status_code == 200, r.text
    body = json.loads(r.text)
    assert r.headers["content-type"] == "application/json"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert set(body) == {"lastUpdated", "currentTime", "nodeEligible"}, body
    assert body["nodeEligible"] is True and body["lastUpdated"] == body["currentTime"]
    assert " +0000 UTC m=+" in body["currentTime"]
    livez = httpx.get(f"http://{c.node_ip}:{c.healthz}/livez", timeout=5)
    assert livez.status_code == 200 and set(livez.json()) == {"lastUpdated", "currentTime"}
    metrics = httpx.get(f"http://{c.node_ip}:{c.healthz}/metrics", timeout=5).text
    assert "kubeproxy_sync_proxy_rules_duration_seconds_count" in metrics
    assert "kubeproxy_network_programming_duration_seconds_bucket" in metrics


def test_client_ip_affinity_sticks_and_expires(cluster: Cluster) -> None:
    c = cluster
    pods(c, "sticky", 3, 8081)
    svc = c.api.service("sticky", {"app": "sticky"}, [{"port": 8081, "targetPort": 8081}],
                        sessionAffinity="ClientIP",
                        sessionAffinityConfig={"clientIP": {"timeoutSeconds": 1}})
    ip = svc["spec"]["clusterIP"]
    eventually(lambda: len(c.api.ready_ips("sticky")) == 3, what="3 ready endpoints")
    # Wait until all three are programmed (a fresh client IP per probe).
    eventually(lambda: len({ask(ip, 8081, source=f"127.0.{i}.{n}")
                            for i, n in enumerate(range(2, 8))}) == 3,
               what="all 3 endpoints programmed")
    first = ask(ip, 8081, source="127.0.99.1")
    for _ in range(20):
        assert ask(ip, 8081, source="127.0.99.1") == first
    # Different clients are balanced independently.
    others = {ask(ip, 8081, source=f"127.0.98.{n}") for n in range(1, 7)}
    assert len(others) >= 2, others
    # After timeoutSeconds without traffic the entry expires: the round robin moves on.
    time.sleep(1.3)
    after = [ask(ip, 8081, source="127.0.99.1") for _ in range(3)]
    assert after[0] == after[1] == after[2], after
    assert after[0] != first or len(others) == 3, (first, after)


def test_external_load_balancer_and_udp(cluster: Cluster) -> None:
    c = cluster
    # externalIPs may not be loopback (validation), so this one is not local: the proxy
    # cannot bind it and must say so (log + Event), not fail silently.
    external_ip, lb_ip = "192.0.2.10", str(c.addresses.lb_pool.network_address + 1)
    pods(c, "lb", 2, 8082)
    svc = c.api.service("lb", {"app": "lb"}, [{"port": 8082, "targetPort": 8082}],
                        type="LoadBalancer", externalIPs=[external_ip])
    svc["status"] = {"loadBalancer": {"ingress": [{"ip": lb_ip}]}}
    r = c.api.http.put(c.api.core("services", "lb") + "/status", json=svc)
    assert r.status_code == 200, r.text
    node_port = svc["spec"]["ports"][0]["nodePort"]
    names = {"lb-0", "lb-1"}
    for addr, port in ((svc["spec"]["clusterIP"], 8082), (lb_ip, 8082),
                       (c.node_ip, node_port)):
        assert eventually(answers(addr, port), what=f"{addr}:{port}\n{c.logs()}") in names

    # Not an address of the node: the proxy must not even try to bind it (any API client
    # could otherwise make it listen on the host's external addresses), and says so.
    def skip_event() -> list[str]:
        items = c.api.http.get(c.api.core("events"), params={
            "fieldSelector": "involvedObject.name=lb,reason=KubeProxyNonLocalIP"}).json()
        return [e["message"] for e in items["items"]
                if e["source"]["component"] == "kube-proxy" and e["type"] == "Warning"]

    messages = eventually(skip_event, what="KubeProxyNonLocalIP event")
    assert messages == ["192.0.2.10 in spec.externalIPs is not an address of this node "
                        "(neither loopback nor inside --nodeport-addresses): not proxied"]
    assert "192.0.2.10 in spec.externalIPs is not an address of this node" in c.proxy.logs()
    assert "cannot listen on 192.0.2.10" not in c.proxy.logs()

    pods(c, "dns", 2, 5353, udp=True)
    udp = c.api.service("dns", {"app": "dns"}, [{"port": 5353, "protocol": "UDP",
                                                 "targetPort": 5353}])
    uip = udp["spec"]["clusterIP"]

    def udp_answer() -> str:
        try:
            return ask_udp(uip, 5353, b"hello", timeout=0.5)
        except OSError:
            return ""

    reply = eventually(udp_answer, what=f"UDP answer\n{c.logs()}")
    assert reply.split(":", 1)[0] in {"dns-0", "dns-1"} and reply.endswith(":hello")


def test_zero_endpoints_refuses_immediately(cluster: Cluster) -> None:
    c = cluster
    pods(c, "gone", 1, 8083)
    svc = c.api.service("gone", {"app": "gone"}, [{"port": 8083, "targetPort": 8083}])
    ip = svc["spec"]["clusterIP"]
    assert eventually(answers(ip, 8083), what="answer") == "gone-0"
    c.api.delete("pods", "gone-0")
    eventually(lambda: refused(ip, 8083), what="refusal")
    start = time.monotonic()
    for _ in range(5):
        assert refused(ip, 8083)
    assert time.monotonic() - start < 1.0


def test_survives_apiserver_and_proxy_restarts(cluster: Cluster) -> None:
    c = cluster
    pods(c, "durable", 1, 8084)
    svc = c.api.service("durable", {"app": "durable"}, [{"port": 8084, "targetPort": 8084}])
    ip = svc["spec"]["clusterIP"]
    assert eventually(answers(ip, 8084), what="answer") == "durable-0"

    c.server.restart(kill=True)
    # Still serving from its maps while the apiserver was away.
    assert ask(ip, 8084) == "durable-0"
    # Changes after the restart are picked up (the informers relist/rewatch).
    c.backends.tcp("durable-1", f"{c.prefix}.200", 8084)
    c.api.pod("durable-1", f"{c.prefix}.200", {"app": "durable"}, 8084)
    eventually(lambda: "durable-1" in {ask(ip, 8084) for _ in range(4)}, timeout=20,
               what=f"new endpoint after apiserver restart\n{c.logs()}")

    c.proxy.kill()
    assert refused(ip, 8084)  # nothing listens while the proxy is down
    c.proxy.start()
    eventually(lambda: {ask(ip, 8084) for _ in range(4)} == {"durable-0", "durable-1"},
               timeout=15, what=f"service after proxy restart\n{c.logs()}")


def test_health_check_node_port(cluster: Cluster) -> None:
    """An externalTrafficPolicy: Local LoadBalancer's healthCheckNodePort answers as
    upstream's service health server: local ready endpoints, 200 only with some."""
    c = cluster
    svc = c.api.service("hc", {"app": "hc"}, [{"port": 8085, "targetPort": 8085}],
                        type="LoadBalancer", externalTrafficPolicy="Local")
    hc_port = svc["spec"]["healthCheckNodePort"]
    url = f"http://{c.node_ip}:{hc_port}/"

    def answer(code: int) -> httpx.Response | None:
        try:
            r = httpx.get(url, timeout=2)
        except httpx.HTTPError:
            return None
        return r if r.status_code == code else None

    r = eventually(lambda: answer(503), what=f"503 without endpoints\n{c.logs()}")
    assert r.headers["content-type"] == "application/json"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-load-balancing-endpoint-weight"] == "0"
    expected = ('{\n\t"service": {\n\t\t"namespace": "NS",\n\t\t"name": "hc"\n\t},'
                '\n\t"localEndpoints": 0,\n\t"serviceProxyHealthy": true\n}')
    assert r.text == expected.replace("NS", c.api.ns)
    # Two pods on this node (nodeName node-a), one elsewhere: two local endpoints.
    for i, node in enumerate(("node-a", "node-a", "node-b")):
        ip = f"{c.prefix}.{len(c.backends._closers) + 10}"
        c.backends.tcp(f"hc-{i}", ip, 8085)
        c.api.pod(f"hc-{i}", ip, {"app": "hc"}, 8085, node=node)
    r = eventually(lambda: (a := answer(200)) and a.json()["localEndpoints"] == 2 and a,
                   what=f"200 with 2 local endpoints\n{c.logs()}")
    assert r.json() == {"service": {"namespace": c.api.ns, "name": "hc"},
                        "localEndpoints": 2, "serviceProxyHealthy": True}
    assert r.headers["x-load-balancing-endpoint-weight"] == "2"
    # Back to Cluster policy: the health check port closes.
    c.api.http.patch(c.api.core("services", "hc"), json={"spec": {
        "externalTrafficPolicy": "Cluster"}},
        headers={"Content-Type": "application/merge-patch+json"}).raise_for_status()
    eventually(lambda: refused(c.node_ip, hc_port), what="health check port closed")


def test_healthz_reports_a_node_being_deleted_as_not_eligible(cluster: Cluster) -> None:
    """As upstream since KEP-3836: a Node with a deletionTimestamp or the cluster
    autoscaler's ToBeDeletedByClusterAutoscaler taint fails /healthz (so load balancers
    drain it) while /livez stays ok."""
    c = cluster
    r = c.api.http.post("/api/v1/nodes", json={"metadata": {
        "name": "node-a", "finalizers": ["kubemu.test/hold"]}})
    assert r.status_code == 201, r.text
    base = f"http://{c.node_ip}:{c.healthz}"

    def healthz(code: int) -> dict[str, object] | None:
        try:
            r = httpx.get(base + "/healthz", timeout=2)
        except httpx.HTTPError:
            return None
        return dict(r.json()) if r.status_code == code else None

    try:
        assert eventually(lambda: healthz(200), what="healthy")["nodeEligible"] is True
        merge = {"Content-Type": "application/merge-patch+json"}
        taint = {"key": "ToBeDeletedByClusterAutoscaler", "effect": "NoSchedule"}
        c.api.http.patch("/api/v1/nodes/node-a", json={"spec": {"taints": [taint]}},
                         headers=merge).raise_for_status()
        tainted = eventually(lambda: healthz(503), what="503 for a node the autoscaler drains")
        assert tainted["nodeEligible"] is False
        c.api.http.patch("/api/v1/nodes/node-a", json={"spec": {"taints": None}},
                         headers=merge).raise_for_status()
        assert eventually(lambda: healthz(200), what="eligible again")["nodeEligible"] is True
        c.api.http.delete("/api/v1/nodes/node-a").raise_for_status()
        body = eventually(lambda: healthz(503), what=f"503 for a node being deleted\n{c.logs()}")
        assert body["nodeEligible"] is False
        assert httpx.get(base + "/livez", timeout=2).status_code == 200
    finally:
        c.api.http.patch("/api/v1/nodes/node-a", json={"metadata": {"finalizers": None}},
                         headers={"Content-Type": "application/merge-patch+json"})


def test_kube_proxy_announces_its_start_on_its_node(cluster: Cluster) -> None:
    """``Starting`` (action ``StartKubeProxy``) on the Node it serves, from ``kube-proxy``,
    as ``kubectl describe node`` lists it."""
    def starting() -> list[dict[str, object]]:
        items = cluster.api.http.get("/api/v1/namespaces/default/events", params={
            "fieldSelector": "involvedObject.name=node-a,reason=Starting"}).json()["items"]
        return [e for e in items if e["source"]["component"] == "kube-proxy"]

    (event,) = eventually(starting, what="kube-proxy's Starting event")
    assert (event["involvedObject"]["kind"], event["action"], event["type"]) == (
        "Node", "StartKubeProxy", "Normal")
