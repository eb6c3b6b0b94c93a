"""The resourcequota controller's sync and replenishment over informer stores (no HTTP)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from controllers.client.store import Store
from controllers.resourcequota.controller import WATCHED, ResourceQuotaController


class Recorder:
    """Records /status updates (the controller writes nothing else)."""

    def __init__(self) -> None:
        self.updated: list[dict[str, Any]] = []

    async def update(self, info: Any, namespace: Any, obj: Any,
                     subresource: str | None = None) -> dict[str, Any]:
        assert subresource == "status" and info.plural == "resourcequotas"
        self.updated.append(obj)
        return dict(obj)


def _controller(*objects: dict[str, Any]) -> tuple[ResourceQuotaController, Recorder,
                                                    dict[str, Store]]:
    stores = {info.plural: Store() for info in WATCHED}
    for obj in objects:
        stores[obj.pop("plural")].add(obj)
    writer = Recorder()
    controller = ResourceQuotaController(
        stores["resourcequotas"], {("", p): s for p, s in stores.items()}, writer,
        clock=lambda: datetime(2026, 1, 1, tzinfo=UTC), sync_period=0)
    return controller, writer, stores


def _pod(name: str, cpu: str, phase: str = "Running") -> dict[str, Any]:
    return {"plural": "pods", "metadata": {"name": name, "namespace": "ns"},
            "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]},
            "status": {"phase": phase}}


QUOTA = {"plural": "resourcequotas", "metadata": {"name": "q", "namespace": "ns"},
         "spec": {"hard": {"pods": "10", "requests.cpu": "2", "configmaps": "5",
                           "requests.memory": "1.5Gi"}}}


def test_sync_sets_hard_from_spec_and_counts_used() -> None:
    controller, writer, _ = _controller(
        dict(QUOTA), _pod("a", "250m"), _pod("b", "500m"), _pod("done", "1", "Succeeded"),
        {"plural": "configmaps", "metadata": {"name": "c", "namespace": "ns"}},
        {"plural": "configmaps", "metadata": {"name": "elsewhere", "namespace": "other"}})
    asyncio.run(controller.sync("ns/q"))
    assert writer.updated[-1]["status"] == {
        "hard": {"configmaps": "5", "pods": "10", "requests.cpu": "2",
                 "requests.memory": "1536Mi"},
        "used": {"configmaps": "1", "pods": "2", "requests.cpu": "750m",
                 "requests.memory": "0"}}
    # Nothing changed: nothing is written.
    controller.quotas.add({**writer.updated[-1]})
    asyncio.run(controller.sync("ns/q"))
    assert len(writer.updated) == 1


def test_replenishment_triggers() -> None:
    controller, _, _ = _controller(dict(QUOTA))
    running = _pod("a", "1")
    controller.on_pod_update(running, running)
    assert len(controller.queue) == 0
    controller.on_pod_update(running, {**running, "status": {"phase": "Failed"}})
    controller.on_object({"metadata": {"name": "x", "namespace": "ns"}})
    assert len(controller.queue) == 1  # one key, deduplicated
    controller.on_quota_update(QUOTA, {**QUOTA, "status": {"used": {}}})
    controller.on_service_update({"spec": {"type": "ClusterIP"}},
                                 {"metadata": {"namespace": "other"},
                                  "spec": {"type": "NodePort"}})
    assert len(controller.queue) == 1
