"""Exec probes on a node agent that runs no host commands: they fail, and say why."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from controllers.node.probes import EXEC_NOT_ALLOWED, ProbeSpec, run_probe
from controllers.node.runtime import PodRunner


def test_exec_probe_not_allowed_fails_with_the_reason() -> None:
    result = asyncio.run(run_probe(ProbeSpec("exec", command=("true",)), "127.0.0.1", False))
    assert not result.ok
    assert result.message == EXEC_NOT_ALLOWED
    assert "--allow-host-commands" in result.message


def test_exec_probe_allowed_runs_the_command() -> None:
    ok = asyncio.run(run_probe(ProbeSpec("exec", command=("true",)), "127.0.0.1", True))
    bad = asyncio.run(run_probe(ProbeSpec("exec", command=("false",)), "127.0.0.1", True))
    assert ok.ok and not bad.ok


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_exec_readiness_probe_not_allowed_keeps_the_container_unready() -> None:
    events: list[tuple[str, str, str]] = []
    port = _free_port()
    pod: dict[str, Any] = {
        "metadata": {"name": "p", "namespace": "default", "uid": "u1"},
        "spec": {"containers": [{
            "name": "web", "image": "agnhost", "ports": [{"containerPort": port}],
            "readinessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 1},
        }]},
    }

    async def event(type_: str, reason: str, message: str, _field: str) -> None:
        events.append((type_, reason, message))

    async def scenario() -> dict[str, Any]:
        runner = PodRunner(pod, "127.0.0.1", "127.0.0.1", False, lambda: None, event)
        await runner.start()
        try:
            for _ in range(50):
                if any(e[1] == "Unhealthy" for e in events):
                    break
                await asyncio.sleep(0.05)
            return runner.status(pod)
        finally:
            await runner.stop()

    status = asyncio.run(scenario())
    assert status["containerStatuses"][0]["ready"] is False
    ready = {c["type"]: c["status"] for c in status["conditions"]}["Ready"]
    assert ready == "False"
    assert ("Warning", "Unhealthy", f"Readiness probe failed: {EXEC_NOT_ALLOWED}") in events


def test_a_refused_http_probe_reads_as_the_kubelets() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends
    spec = ProbeSpec("http", port=port, path="/healthz")
    result = asyncio.run(run_probe(spec, "127.0.0.1", False))
    assert (result.ok, result.message) == (
        False, f'Get "http://127.0.0.1:{port}/healthz": dial tcp 127.0.0.1:{port}: connect: '
               "connection refused")
