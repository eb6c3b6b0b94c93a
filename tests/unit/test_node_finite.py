"""Finite containers of the built-in node runtime: command, no ports → exit 0."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from controllers.node.podlogs import LogSettings
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
    # The kubelet records no Event when a container exits.
    assert events[-3:] == ["Pulled", "Created", "Started"]


def test_always_restarts_at_once_then_backs_off() -> None:
    runner, events = asyncio.run(_run("Always", 1.6))
    status = runner.status(_pod("Always"))
    assert status["phase"] == "Running"
    cs = status["containerStatuses"][0]
    # The first exit restarts at once; the second waits the kubelet's first back-off.
    assert cs["restartCount"] == 1
    assert cs["lastState"]["terminated"]["reason"] == "Completed"
    assert cs["state"] == {"waiting": {
        "reason": "CrashLoopBackOff",
        "message": "back-off 10s restarting failed container=c pod=p_default(u1)"}}
    assert cs["ready"] is False
    assert events.count("BackOff") == 1


def test_the_log_says_why_the_command_did_not_run(tmp_path: Path) -> None:
    async def run() -> PodRunner:
        async def event(*_args: str) -> None:
            return None

        runner = PodRunner(_pod("Never"), "127.244.9.2", "127.0.0.1", False, lambda: None,
                           event, finite_seconds=0.05, logs=LogSettings(tmp_path))
        await runner.start()
        await runner.stop()
        return runner

    runner = asyncio.run(run())
    assert runner.log_dir is not None
    text = (runner.log_dir / "c" / "0.log").read_text()
    assert text.rstrip("\n").endswith(" stdout F the command is not run (the node agent runs "
                                      "without --allow-host-commands); exiting 0 after 0.05s")


def test_conditions_the_kubelet_does_not_own_are_kept() -> None:
    disruption = {"type": "DisruptionTarget", "status": "True",
                  "reason": "PreemptionByScheduler", "lastTransitionTime": "2026-12-05T00:00:00Z"}
    pod = {**_pod("Never"), "status": {"conditions": [
        disruption, {"type": "Ready", "status": "Unknown"}]}}
    runner = PodRunner(pod, "127.244.9.2", "127.0.0.1", False, lambda: None,
                       _no_event, finite_seconds=0.05)
    conditions = runner.status(pod)["conditions"]
    assert disruption in conditions
    assert [c["status"] for c in conditions if c["type"] == "Ready"] == ["False"]


async def _no_event(_t: str, _r: str, _m: str, _f: str) -> None:
    return None


def test_a_shell_image_without_a_command_exits_unless_it_has_stdin() -> None:
    async def scenario(spec: dict[str, Any], host: bool) -> tuple[bool, bool]:
        pod = {"metadata": {"name": "t", "uid": "u2"},
               "spec": {"restartPolicy": "Never", "containers": [spec]}}
        runner = PodRunner(pod, "127.244.9.3", "127.0.0.1", host, lambda: None, _no_event,
                           finite_seconds=0.05)
        container = runner.containers[0]
        return container.finite, container.default_command_exits

    busybox = {"name": "c", "image": "busybox"}
    assert asyncio.run(scenario(busybox, False)) == (True, True)
    assert asyncio.run(scenario(busybox, True)) == (True, True)  # no process to run either
    assert asyncio.run(scenario({**busybox, "stdin": True}, False)) == (False, False)
    assert asyncio.run(scenario({**busybox, "tty": True}, False)) == (False, False)
    # Declared ports are served by the built-in servers, whatever the image.
    assert asyncio.run(scenario({**busybox, "ports": [{"containerPort": 9000}]}, False)) == (
        False, False)
    assert asyncio.run(scenario({**busybox, "args": ["sleep", "9"]}, True))[0] is False
    assert asyncio.run(scenario({"name": "c", "image": "nginx"}, False)) == (False, False)


def test_a_shell_image_crash_loops_at_once_naming_its_last_container() -> None:
    async def scenario() -> dict[str, Any]:
        pod = {"metadata": {"name": "p", "uid": "u3"},
               "spec": {"restartPolicy": "Always",
                        "containers": [{"name": "c", "image": "busybox"}]}}
        runner = PodRunner(pod, "127.244.9.4", "127.0.0.1", False, lambda: None, _no_event,
                           finite_seconds=30)  # not waited for: the shell exits at once
        await runner.start()
        await asyncio.sleep(1.6)  # out at once, restarted at once, out again: back-off
        status = runner.status(pod)["containerStatuses"][0]
        await runner.stop()
        return status

    cs = asyncio.run(scenario())
    assert cs["restartCount"] == 1 and cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert cs["lastState"]["terminated"]["exitCode"] == 0
    assert cs["containerID"] == cs["lastState"]["terminated"]["containerID"]
