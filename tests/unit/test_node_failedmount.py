"""A host-command container whose volume cannot be set up waits in ContainerCreating."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from typing import Any

import pytest

from controllers.node import container
from controllers.node.mountns import HostEnv
from controllers.node.runtime import PodRunner
from controllers.node.volumes import VolumeSetupError

POD = {"metadata": {"name": "p", "uid": "u1"},
       "spec": {"restartPolicy": "Never", "containers": [
           {"name": "c", "image": "busybox", "command": ["sh", "-c", "exit 0"]}]}}
MESSAGE = ('MountVolume.SetUp failed for volume "kube-api-access-x" : '
           'configmap "kube-root-ca.crt" not found')


def test_failed_mount_then_the_container_starts_once_it_mounts(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(container, "RESTART_DELAY", 0.05)
    events: list[tuple[str, str, str, str]] = []
    attempts: list[int] = []

    async def event(*args: str) -> None:
        events.append((args[0], args[1], args[2], args[3]))

    async def env(_runner: PodRunner, _spec: Mapping[str, Any]) -> HostEnv:
        attempts.append(1)
        if len(attempts) < 3:
            raise VolumeSetupError(MESSAGE)
        return HostEnv(dict(os.environ), None)

    async def run() -> tuple[dict[str, Any], dict[str, Any]]:
        runner = PodRunner(POD, "127.244.9.2", "127.0.0.1", True, lambda: None, event,
                           env=env)
        await runner.start()
        waiting = runner.status(POD)["containerStatuses"][0]
        for _ in range(100):
            await asyncio.sleep(0.05)
            if runner.phase() == "Succeeded":
                break
        done = runner.status(POD)["containerStatuses"][0]
        await runner.stop()
        return waiting, done

    waiting, done = asyncio.run(run())
    assert waiting["state"] == {"waiting": {"reason": "ContainerCreating"}}
    assert waiting["restartCount"] == 0 and "containerID" not in waiting
    assert events[:2] == [("Warning", "FailedMount", MESSAGE, "")] * 2
    assert [e[1] for e in events[2:]][:2] == ["Pulled", "Created"]
    assert done["state"]["terminated"]["exitCode"] == 0 and done["restartCount"] == 0
