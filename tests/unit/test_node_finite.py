"""Finite containers of the built-in node runtime: command, no ports → exit 0."""

from __future__ import annotations

import asyncio
from typing import Any

from controllers.node.runtime import PodRunner


def _pod(policy: str) -> dict[str, Any]:
    return {"metadata": {"name": "p", "uid": "u1"},
            "spec": {"restartPolicy": policy, "containers": [
                {"name": "c", "image": "busybox", "command": ["sh", "-c", "exit 0"]}]}}


async def _run(policy: str, wait: float) -> tuple[PodRunner, list[str]]:
    events: list[str] = []

    async def event(_t: str, reason: str, _m: str, _f: str) -> None:
        events.append(reason)

    pod = _pod(policy)
    runner = PodRunner(pod, "127.244.9.2", "127.0.0.1", False, lambda: None, event,
                       finite_seconds=0.05)
    await runner.start()
    assert runner.status(pod)["phase"] == "Running"
    await asyncio.sleep(wait)
    await runner.stop()
    return runner, events


def test_never_succeeds_with_completed_state() -> None:
    runner, events = asyncio.run(_run("Never", 0.3))
    status = runner.status(_pod("Never"))
    assert status["phase"] == "Succeeded"
    term = status["containerStatuses"][0]["state"]["terminated"]
    assert term["reason"] == "Completed" and term["exitCode"] == 0
    assert term["startedAt"] and term["finishedAt"]
    assert status["containerStatuses"][0]["ready"] is False
    assert "Completed" in events


def test_always_restarts() -> None:
    runner, _events = asyncio.run(_run("Always", 1.3))
    status = runner.status(_pod("Always"))
    assert status["phase"] == "Running"
    assert status["containerStatuses"][0]["restartCount"] >= 1
    assert status["containerStatuses"][0]["lastState"]["terminated"]["reason"] == "Completed"
