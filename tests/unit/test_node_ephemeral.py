"""Ephemeral containers on the built-in node runtime: started once, never restarted, their
statuses and Events."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

from controllers.node.podlogs import LogSettings
from controllers.node.runtime import PodRunner

Event = tuple[str, str]  # (reason, fieldPath)


def _pod(*ephemeral: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {"restartPolicy": "Always", "containers": [
        {"name": "web", "image": "busybox", "command": ["sleep", "30"]}]}
    if ephemeral:
        spec["ephemeralContainers"] = list(ephemeral)
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u1"}, "spec": spec}


def _debug(name: str, script: str) -> dict[str, Any]:
    return {"name": name, "image": "busybox", "command": ["sh", "-c", script]}


def _runner(host: bool, events: list[Event], tmp_path: Path) -> PodRunner:
    async def event(_t: str, reason: str, _m: str, field_path: str) -> None:
        events.append((reason, field_path))

    return PodRunner(_pod(), "127.244.9.3", "127.0.0.1", host, lambda: None, event,
                     finite_seconds=0.05, logs=LogSettings(tmp_path))


async def _until(check: Any, seconds: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


def test_a_new_ephemeral_container_runs_once_and_is_reported(tmp_path: Path) -> None:
    events: list[Event] = []

    async def scenario() -> dict[str, Any]:
        runner = _runner(True, events, tmp_path)
        await runner.start(_pod())
        pod = _pod(_debug("dbg", "echo from-debug; exit 3"))
        try:
            assert await runner.ephemeral.sync(pod)
            found = runner.container("dbg")
            assert found is not None
            await _until(lambda: found.terminated is not None)
            # Syncing the same spec again starts nothing: never restarted, even with a
            # non-zero exit under restartPolicy Always.
            assert not await runner.ephemeral.sync(copy.deepcopy(pod))
            await asyncio.sleep(0.3)
            return runner.status(pod)
        finally:
            await runner.stop()

    status = asyncio.run(scenario())
    assert status["phase"] == "Running"
    assert [c["name"] for c in status["containerStatuses"]] == ["web"]
    (debug,) = status["ephemeralContainerStatuses"]
    assert debug["name"] == "dbg" and debug["restartCount"] == 0
    assert debug["ready"] is False and "started" not in debug
    assert debug["state"]["terminated"]["exitCode"] == 3
    assert debug["lastState"] == {}
    path = "spec.ephemeralContainers{dbg}"
    assert [e for e in events if e[1] == path] == [
        ("Pulled", path), ("Created", path), ("Started", path)]
    log = (tmp_path / "ns_p_u1" / "dbg" / "0.log").read_text()
    assert " stdout F from-debug" in log


def test_statuses_follow_spec_order_and_the_pod_start(tmp_path: Path) -> None:
    events: list[Event] = []

    async def scenario() -> dict[str, Any]:
        runner = _runner(True, events, tmp_path)
        pod = _pod(_debug("b", "sleep 5"), _debug("a", "sleep 5"))
        await runner.start(pod)  # a pod that already has some when the agent starts it
        try:
            await _until(lambda: all(c.running for c in runner.ephemeral.items))
            return runner.status(pod)
        finally:
            await runner.stop()

    status = asyncio.run(scenario())
    names = [(c["name"], list(c["state"])) for c in status["ephemeralContainerStatuses"]]
    assert names == [("b", ["running"]), ("a", ["running"])]


def test_without_host_commands_it_exits_0_and_says_why(tmp_path: Path) -> None:
    events: list[Event] = []

    async def scenario() -> dict[str, Any]:
        runner = _runner(False, events, tmp_path)
        await runner.start(_pod())
        pod = _pod(_debug("dbg", "echo hi"))
        try:
            await runner.ephemeral.sync(pod)
            found = runner.ephemeral.find("dbg")
            assert found is not None
            await _until(lambda: found.terminated is not None)
            return runner.status(pod)
        finally:
            await runner.stop()

    status = asyncio.run(scenario())
    term = status["ephemeralContainerStatuses"][0]["state"]["terminated"]
    assert term["exitCode"] == 0 and term["reason"] == "Completed"
    assert ("HostCommandsDisabled", "spec.ephemeralContainers{dbg}") in events


def test_an_adopted_terminated_container_is_not_started_again(tmp_path: Path) -> None:
    events: list[Event] = []
    done = {"exitCode": 0, "reason": "Completed", "startedAt": "2025-01-01T00:00:00Z",
            "finishedAt": "2025-01-01T00:00:01Z", "containerID": "kubemu://x"}

    async def scenario() -> dict[str, Any]:
        runner = _runner(True, events, tmp_path)
        pod = _pod(_debug("dbg", "echo again"))
        pod["status"] = {"ephemeralContainerStatuses": [
            {"name": "dbg", "state": {"terminated": done}, "containerID": "kubemu://x",
             "restartCount": 0}]}
        runner.adopt(pod)
        await runner.start(pod)
        try:
            return runner.status(pod)
        finally:
            await runner.stop()

    status = asyncio.run(scenario())
    assert status["ephemeralContainerStatuses"][0]["state"] == {"terminated": done}
    assert not [e for e in events if e[1] == "spec.ephemeralContainers{dbg}"]
