"""A host-command container whose program is not there: a StartError exit that restarts
through the back-off without holding up whoever started the pod."""

from __future__ import annotations

import asyncio
from typing import Any

from controllers.node.runtime import PodRunner


def _pod() -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
            "spec": {"restartPolicy": "Always", "containers": [
                {"name": "c", "image": "busybox", "command": ["kubemu-no-such-program"]}]}}


def test_start_returns_and_the_container_backs_off() -> None:
    async def scenario() -> tuple[float, dict[str, Any], list[str]]:
        reasons: list[str] = []

        async def event(_type: str, reason: str, _message: str, _field: str) -> None:
            reasons.append(reason)

        runner = PodRunner(_pod(), "127.244.9.3", "127.0.0.1", True, lambda: None, event)
        loop = asyncio.get_running_loop()
        began = loop.time()
        await asyncio.wait_for(runner.start(), 5)
        took = loop.time() - began
        await asyncio.sleep(1.6)  # the first restart is immediate (after 1 s), then back-off
        status = runner.status(_pod())
        await runner.stop()
        return took, status, reasons

    took, status, reasons = asyncio.run(scenario())
    assert took < 1.0
    cs = status["containerStatuses"][0]
    assert cs["restartCount"] == 1
    assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    last = cs["lastState"]["terminated"]
    assert (last["reason"], last["exitCode"]) == ("StartError", 128)
    assert reasons.count("Failed") == 2 and reasons.count("BackOff") == 1
