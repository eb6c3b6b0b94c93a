"""grpc probes: the kubelet-like prober against real grpc.aio servers, and the built-in
``grpc.health.v1.Health`` server that a container's grpc-probed port serves."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from controllers.node.grpchealth import go_duration, start_health_server
from controllers.node.probes import ProbeSpec, parse_probe, run_probe
from controllers.node.runtime import PodRunner
from kubemu.addresses import Addresses


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def _grpc(port: int, service: str = "", timeout: float = 1.0) -> ProbeSpec:
    return ProbeSpec("grpc", port, service=service, timeout=timeout)


def test_parse_grpc_probe_defaults_the_service() -> None:
    spec = parse_probe({"grpc": {"port": 9090}, "timeoutSeconds": 2}, {})
    assert spec == ProbeSpec("grpc", 9090, timeout=2.0)
    named = parse_probe({"grpc": {"port": 9090, "service": "liveness"}}, {})
    assert named is not None and named.service == "liveness"


def test_go_duration_spells_like_go() -> None:
    assert [go_duration(s) for s in (1, 1.5, 60, 90, 3600, 0.5)] == [
        "1s", "1.5s", "1m0s", "1m30s", "1h0m0s", "500ms"]


def test_probe_follows_the_servers_readiness() -> None:
    port = _free_port()
    ready = [True]
    lines: list[str] = []

    async def scenario() -> list[tuple[bool, str]]:
        server = await start_health_server("127.0.0.1", port, lambda _s: ready[0], {"app"},
                                           lines.append)
        try:
            results = []
            for service in ("", "app", "other"):
                result = await run_probe(_grpc(port, service), "127.0.0.1", False)
                results.append((result.ok, result.message))
            ready[0] = False
            result = await run_probe(_grpc(port), "127.0.0.1", False)
            results.append((result.ok, result.message))
            return results
        finally:
            await server.stop()

    results = asyncio.run(scenario())
    assert results == [
        (True, ""), (True, ""),
        (False, "error: health rpc probe failed: rpc error: code = NotFound desc = unknown "
                 "service"),
        (False, 'service unhealthy (responded with "NOT_SERVING")'),
    ]
    assert any("grpc.health.v1.Health/Check ''" in line and "SERVING" in line
               for line in lines)


def test_probe_of_a_server_without_the_health_service() -> None:
    port = _free_port()

    async def scenario() -> tuple[bool, str]:
        server = grpc.aio.server()
        server.add_insecure_port(f"127.0.0.1:{port}")
        await server.start()
        try:
            result = await run_probe(_grpc(port), "127.0.0.1", False)
            return result.ok, result.message
        finally:
            await server.stop(0)

    ok, message = asyncio.run(scenario())
    assert not ok
    assert message.startswith("error: this server does not implement the grpc health "
                              "protocol (grpc.health.v1.Health): ")


def test_probe_of_a_closed_port_times_out_connecting() -> None:
    port = _free_port()
    result = asyncio.run(run_probe(_grpc(port), "127.0.0.1", False))
    assert not result.ok
    assert result.message == (f'timeout: failed to connect service "127.0.0.1:{port}" '
                              "within 1s: context deadline exceeded")


def test_watch_streams_each_change() -> None:
    port = _free_port()
    ready = [True]

    async def scenario() -> list[int]:
        server = await start_health_server("127.0.0.1", port, lambda _s: ready[0], (),
                                           lambda _line: None)
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                stub = health_pb2_grpc.HealthStub(channel)
                call = stub.Watch(health_pb2.HealthCheckRequest(service=""))
                seen = [int((await call.read()).status)]
                ready[0] = False
                server.changed()
                seen.append(int((await call.read()).status))
                call.cancel()
                unknown = stub.Watch(health_pb2.HealthCheckRequest(service="nope"))
                seen.append(int((await unknown.read()).status))
                unknown.cancel()
                return seen
        finally:
            await server.stop()

    assert asyncio.run(scenario()) == [health_pb2.HealthCheckResponse.SERVING,
                                       health_pb2.HealthCheckResponse.NOT_SERVING,
                                       health_pb2.HealthCheckResponse.SERVICE_UNKNOWN]


def _grpc_pod(http_port: int, grpc_port: int) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "namespace": "default", "uid": "u1"},
        "spec": {"containers": [{
            "name": "web", "image": "agnhost",
            "ports": [{"containerPort": http_port, "name": "http"},
                      {"containerPort": grpc_port, "name": "grpc"}],
            "readinessProbe": {"grpc": {"port": grpc_port}, "periodSeconds": 1,
                               "failureThreshold": 1},
            "livenessProbe": {"grpc": {"port": grpc_port, "service": "live"},
                              "periodSeconds": 1, "failureThreshold": 1},
        }]},
    }


async def _until(check: Any) -> None:
    while not check():
        await asyncio.sleep(0.05)


def test_grpc_probes_of_a_builtin_container(address_block: Addresses) -> None:
    """The container serves gRPC health on the probed port: ready; not ready (and not
    restarted) after the readiness switch; restarted after the health switch — each with
    upstream's Unhealthy message.

    The pod IP is one of this session's own block: the restarted container binds its ports
    again, and a port picked on 127.0.0.1 may meanwhile be the local end of another test's
    connection (loopback connections take their source port from the same range)."""
    events: list[tuple[str, str, str]] = []
    pod_ip = str(ipaddress.ip_network(address_block.pod_cidr(1))[250])
    http_port, grpc_port = _free_port(pod_ip), _free_port(pod_ip)
    pod = _grpc_pod(http_port, grpc_port)

    async def event(type_: str, reason: str, message: str, _field: str) -> None:
        events.append((type_, reason, message))

    async def scenario() -> list[tuple[bool, int]]:
        runner = PodRunner(pod, pod_ip, "127.0.0.1", False, lambda: None, event)
        await runner.start()

        def state() -> tuple[bool, int]:
            status = runner.status(pod)["containerStatuses"][0]
            return bool(status["ready"]), int(status["restartCount"])

        seen = []
        try:
            await asyncio.wait_for(_until(lambda: state()[0]), 60)
            seen.append(state())
            async with httpx.AsyncClient(base_url=f"http://{pod_ip}:{http_port}") as client:
                resp = await client.post("/kubemu/ready?value=false")
                assert resp.status_code == 200
                await asyncio.wait_for(
                    _until(lambda: any(e[1] == "Unhealthy" for e in events)), 60)
                seen.append(state())
                resp = await client.post("/kubemu/healthy?value=false")
                assert resp.status_code == 200
            # The restarted container starts healthy and ready again.
            await asyncio.wait_for(_until(lambda: state() == (True, 1)), 60)
            seen.append(state())
            return seen
        finally:
            await runner.stop()

    assert asyncio.run(scenario()) == [(True, 0), (False, 0), (True, 1)]
    unhealthy = [e for e in events if e[1] == "Unhealthy"]
    assert unhealthy[0] == ("Warning", "Unhealthy", "Readiness probe failed: service "
                            'unhealthy (responded with "NOT_SERVING")')
    assert ("Warning", "Unhealthy", 'Liveness probe failed: service unhealthy (responded '
            'with "NOT_SERVING")') in events
    assert ("Normal", "Killing", "Container web failed liveness probe, will be restarted"
            ) in events
