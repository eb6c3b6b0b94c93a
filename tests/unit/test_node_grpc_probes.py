"""grpc probes: the kubelet-like prober against real grpc.aio servers, and the built-in
``grpc.health.v1.Health`` server that a container's grpc-probed port serves."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from controllers.node.grpchealth import go_duration, start_health_server
from controllers.node.probes import ProbeSpec, parse_probe, run_probe
from controllers.node.runtime import PodRunner


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
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
    assert [go_duration(s) for s in (1, 1.5, 60, 90, 3600)] == ["1s", "1.5s", "1m0s",
                                                               "1m30s", "1h0m0s"]


def test_probe_follows_the_servers_readiness() -> None:
    port = _free_port()
    ready = [True]
    lines: list[str] = []

    async def scenario() -> list[tuple[bool, str]]:
        server = await start_health_server("127.0.0.1", port, lambda: ready[0], {"app"},
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
        server = await start_health_server("127.0.0.1", port, lambda: ready[0], (),
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


def test_grpc_readiness_probe_of_a_builtin_container() -> None:
    """The container serves gRPC health on the probed port: ready, then not ready after
    the HTTP readiness switch, with upstream's Unhealthy message."""
    events: list[tuple[str, str, str]] = []
    http_port, grpc_port = _free_port(), _free_port()
    pod: dict[str, Any] = {
        "metadata": {"name": "p", "namespace": "default", "uid": "u1"},
        "spec": {"containers": [{
            "name": "web", "image": "agnhost",
            "ports": [{"containerPort": http_port, "name": "http"},
                      {"containerPort": grpc_port, "name": "grpc"}],
            "readinessProbe": {"grpc": {"port": grpc_port}, "periodSeconds": 1,
                               "failureThreshold": 1},
        }]},
    }

    async def event(type_: str, reason: str, message: str, _field: str) -> None:
        events.append((type_, reason, message))

    async def wait_for(check: Any) -> None:
        while not check():
            await asyncio.sleep(0.05)

    async def scenario() -> tuple[bool, bool]:
        runner = PodRunner(pod, "127.0.0.1", "127.0.0.1", False, lambda: None, event)
        await runner.start()
        try:
            def ready() -> bool:
                return bool(runner.status(pod)["containerStatuses"][0]["ready"])

            await asyncio.wait_for(wait_for(ready), 60)
            was_ready = ready()
            async with httpx.AsyncClient() as client:
                resp = await client.post(
                    f"http://127.0.0.1:{http_port}/kubemu/ready?value=false")
                assert resp.status_code == 200
            await asyncio.wait_for(wait_for(lambda: any(e[1] == "Unhealthy" for e in events)),
                                   60)
            return was_ready, ready()
        finally:
            await runner.stop()

    was_ready, now_ready = asyncio.run(scenario())
    assert was_ready and not now_ready
    assert ("Warning", "Unhealthy",
            'Readiness probe failed: service unhealthy (responded with "NOT_SERVING")') in events
