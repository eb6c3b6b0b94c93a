"""kube-proxy's node-address policy for external IPs and its health answers."""

from __future__ import annotations

import json
import time

from controllers.proxy.addresses import NodeAddresses
from controllers.proxy.health import ServiceHealthServer, local_ready_endpoints, proxier_routes
from controllers.proxy.metrics import ProxyMetrics
from controllers.proxy.types import Endpoint, ServicePort, ServicePortName

SPN = ServicePortName("ns", "web", "http")


def test_only_loopback_nodeport_addresses_and_host_addresses_are_proxied() -> None:
    userspace = NodeAddresses("", all_host_addresses=False, local=lambda: ["10.0.0.5"])
    assert userspace.allowed("127.98.0.1") and not userspace.allowed("10.0.0.5")
    rules = NodeAddresses("", all_host_addresses=True, local=lambda: ["10.0.0.5"])
    assert rules.allowed("10.0.0.5") and not rules.allowed("192.0.2.10")
    listed = NodeAddresses("192.168.1.0/24", all_host_addresses=True, local=lambda: ["10.0.0.5"])
    assert listed.allowed("192.168.1.7") and not listed.allowed("10.0.0.5")
    assert not listed.allowed("not-an-ip")


def test_filter_drops_foreign_ips_and_reports_each_once() -> None:
    policy = NodeAddresses("", all_host_addresses=False, local=lambda: [])
    sp = ServicePort(SPN, "127.96.0.10", 80, external_ips=("192.0.2.10", "127.0.0.9"),
                     load_balancer_ips=("198.51.100.1",))
    reports: list[str] = []
    for _ in range(2):
        out = policy.filter({SPN: sp}, lambda _spn, msg: reports.append(msg))
    assert out[SPN].external_ips == ("127.0.0.9",)
    assert out[SPN].load_balancer_ips == ()
    assert reports == [
        "192.0.2.10 in spec.externalIPs is not an address of this node (neither loopback nor "
        "inside --nodeport-addresses): not proxied",
        "198.51.100.1 in status.loadBalancer.ingress is not an address of this node (neither "
        "loopback nor inside --nodeport-addresses): not proxied",
    ]


def test_local_ready_endpoints_count_ips_once() -> None:
    other = ServicePortName("ns", "web", "https")
    eps = {SPN: (Endpoint("10.0.0.1", 80, is_local=True), Endpoint("10.0.0.2", 80),
                 Endpoint("10.0.0.3", 80, ready=False, is_local=True)),
           other: (Endpoint("10.0.0.1", 443, is_local=True),)}
    assert local_ready_endpoints(eps) == {("ns", "web"): 1}


def test_service_health_answer_as_upstream() -> None:
    server = ServiceHealthServer("node-a", [], lambda: True, lambda _s, _m: None)
    server.endpoints = {("ns", "web"): 2}
    ok = server.answer(("ns", "web"))
    assert ok.code == 200 and ok.content_type == "application/json"
    assert ok.body == ('{\n\t"service": {\n\t\t"namespace": "ns",\n\t\t"name": "web"\n\t},\n'
                       '\t"localEndpoints": 2,\n\t"serviceProxyHealthy": true\n}')
    assert dict(ok.headers) == {"X-Content-Type-Options": "nosniff",
                                "X-Load-Balancing-Endpoint-Weight": "2"}
    none = server.answer(("ns", "other"))
    assert none.code == 503 and json.loads(none.body)["localEndpoints"] == 0
    unhealthy = ServiceHealthServer("node-a", [], lambda: False, lambda _s, _m: None)
    unhealthy.endpoints = {("ns", "web"): 1}
    assert unhealthy.answer(("ns", "web")).code == 503


def test_proxier_healthz_and_livez() -> None:
    metrics = ProxyMetrics()
    table = proxier_routes(metrics, 60.0, lambda: True)
    assert table["/healthz"]().code == 200  # healthy while starting up, as upstream
    metrics.pending_since = time.time() - 61  # a change waited past the timeout
    late = table["/healthz"]()
    assert late.code == 503 and table["/livez"]().code == 503
    assert json.loads(late.body)["lastUpdated"] == "0001-01-01 00:00:00 +0000 UTC"
    metrics.record_sync(0.01)
    after = table["/healthz"]()
    body = json.loads(after.body)
    assert after.code == 200 and body["nodeEligible"] is True
    assert body["lastUpdated"] == body["currentTime"] and " +0000 UTC m=+" in body["currentTime"]
    assert set(json.loads(table["/livez"]().body)) == {"lastUpdated", "currentTime"}
    ineligible = proxier_routes(metrics, 60.0, lambda: False)
    assert ineligible["/healthz"]().code == 503 and ineligible["/livez"]().code == 200


def test_filtered_copy_is_reused_while_the_service_port_is_the_same() -> None:
    policy = NodeAddresses("", all_host_addresses=False, local=lambda: [])
    sp = ServicePort(SPN, "127.96.0.10", 80, external_ips=("192.0.2.10",))
    first = policy.filter({SPN: sp}, lambda _s, _m: None)[SPN]
    assert policy.filter({SPN: sp}, lambda _s, _m: None)[SPN] is first
    other = ServicePort(SPN, "127.96.0.10", 81, external_ips=("192.0.2.10",))
    assert policy.filter({SPN: other}, lambda _s, _m: None)[SPN].port == 81


def test_health_check_port_taken_is_reported_once() -> None:
    import asyncio
    import socket

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    errors: list[str] = []
    server = ServiceHealthServer("node-a", ["127.0.0.1"], lambda: True,
                                 lambda _spn, msg: errors.append(msg))
    sp = ServicePort(SPN, "127.96.0.10", 80, node_port=30001, external_policy_local=True,
                     health_check_node_port=port)

    async def scenario() -> None:
        await server.sync({SPN: sp}, {})
        await server.sync({SPN: sp}, {})
        await server.close()

    try:
        asyncio.run(scenario())
    finally:
        holder.close()
    assert len(errors) == 1
    assert errors[0].startswith(f'node node-a failed to start healthcheck "ns/web" on port '
                                f"{port}: ")
