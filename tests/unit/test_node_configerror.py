"""CreateContainerConfigError: a container whose ConfigMap or Secret references cannot be
resolved waits, says why in the kubelet's words, and starts once they can."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Mapping
from typing import Any

import pytest

from controllers.node import podenv, startfailure
from controllers.node.runtime import PodRunner, StartChecks

NS = "shop"


def _pod(env: list[dict[str, Any]], env_from: list[dict[str, Any]] | None = None
         ) -> dict[str, Any]:
    return {"metadata": {"name": "web", "namespace": NS, "uid": "u1"},
            "spec": {"containers": [{"name": "c", "image": "nginx", "env": env,
                                     "envFrom": env_from or []}]}}


def _check(objects: Mapping[tuple[str, str], Mapping[str, Any]], pod: dict[str, Any]
           ) -> str | None:
    async def fetch(kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        assert namespace == NS
        return objects.get((kind, name))
    return asyncio.run(podenv.config_error(pod, pod["spec"]["containers"][0], fetch))


def key_ref(kind: str, name: str, key: str, optional: bool = False) -> dict[str, Any]:
    return {"name": "V", "valueFrom": {kind: {"name": name, "key": key,
                                              "optional": optional}}}


def test_the_kubelets_messages_for_each_missing_reference() -> None:
    cm = {("configmaps", "cfg"): {"data": {"mode": "fast"}}}
    secret = {("secrets", "creds"): {"data": {"pw": base64.b64encode(b"x").decode()}}}
    assert _check({}, _pod([], [{"configMapRef": {"name": "nothere"}}])) == (
        'configmap "nothere" not found')
    assert _check({}, _pod([], [{"secretRef": {"name": "nothere"}}])) == (
        'secret "nothere" not found')
    assert _check({}, _pod([], [{"secretRef": {"name": "n", "optional": True}}])) is None
    assert _check(cm, _pod([key_ref("configMapKeyRef", "cfg", "nokey")])) == (
        "couldn't find key nokey in ConfigMap shop/cfg")
    assert _check(secret, _pod([key_ref("secretKeyRef", "creds", "user")])) == (
        "couldn't find key user in Secret shop/creds")
    assert _check({}, _pod([key_ref("secretKeyRef", "creds", "pw")])) == (
        'secret "creds" not found')
    assert _check(cm, _pod([key_ref("configMapKeyRef", "cfg", "nokey", True)])) is None
    assert _check({**cm, **secret}, _pod([key_ref("configMapKeyRef", "cfg", "mode"),
                                          key_ref("secretKeyRef", "creds", "pw")])) is None


def test_the_container_waits_with_create_container_config_error_then_starts(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(startfailure, "CONFIG_RETRY_SECONDS", 0.05)
    events: list[tuple[str, str, str, str]] = []
    answers = ['configmap "nothere" not found', None]

    async def event(*args: str) -> None:
        events.append((args[0], args[1], args[2], args[3]))

    async def no_volume_error(_runner: PodRunner) -> str | None:
        return None

    async def check(_runner: PodRunner, _spec: Mapping[str, Any]) -> str | None:
        return answers.pop(0) if len(answers) > 1 else answers[0]

    async def run() -> tuple[dict[str, Any], dict[str, Any]]:
        pod = _pod([], [{"configMapRef": {"name": "nothere"}}])
        pod["spec"]["containers"][0]["ports"] = [{"containerPort": 8080}]
        runner = PodRunner(pod, "127.244.9.3", "127.0.0.1", False, lambda: None, event,
                           checks=StartChecks(no_volume_error, check))
        await runner.start()
        waiting = runner.status(pod)["containerStatuses"][0]
        for _ in range(100):
            await asyncio.sleep(0.02)
            if runner.containers[0].running:
                break
        running = runner.status(pod)["containerStatuses"][0]
        await runner.stop()
        return waiting, running

    waiting, running = asyncio.run(run())
    assert waiting["state"] == {"waiting": {"reason": "CreateContainerConfigError",
                                            "message": 'configmap "nothere" not found'}}
    assert "containerID" not in waiting and waiting["restartCount"] == 0
    failed = [e for e in events if e[1] == "Failed"]
    assert failed == [("Warning", "Failed", 'Error: configmap "nothere" not found',
                       "spec.containers{c}")]
    assert [e[1] for e in events].index("Pulled") < [e[1] for e in events].index("Failed")
    assert "running" in running["state"] and running["restartCount"] == 0
