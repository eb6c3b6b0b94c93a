"""PodDisruptionBudget status math and the controller's sync over hand-filled stores."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from controllers.client.store import Store
from controllers.disruption.controller import SCALED, DisruptionController


class Recorder:
    def __init__(self) -> None:
        self.updated: list[dict[str, Any]] = []

    async def create(self, *args: Any) -> dict[str, Any]:
        raise AssertionError("no creates")

    async def update(self, info: Any, namespace: Any, obj: Any,
                     subresource: str | None = None) -> dict[str, Any]:
        assert subresource == "status"
        self.updated.append(dict(obj))
        return dict(obj)

    async def patch(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise AssertionError("no patches")

    async def delete(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise AssertionError("no deletes")


def pod(name: str, ready: bool = True, owner: dict[str, Any] | None = None) -> dict[str, Any]:
    refs = [{"controller": True, **owner}] if owner else []
    return {"metadata": {"name": name, "namespace": "ns", "labels": {"app": "web"},
                         "ownerReferences": refs},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


RS = {"kind": "ReplicaSet", "name": "rs", "uid": "rs-uid"}


def run(spec: dict[str, Any], pods: list[dict[str, Any]], status: dict[str, Any] | None = None,
        deployment_replicas: int | None = None) -> dict[str, Any]:
    pdbs, pod_store = Store(), Store()
    scaled = {kind: Store() for kind in SCALED}
    pdbs.add({"metadata": {"name": "pdb", "namespace": "ns", "generation": 3},
              "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec},
              "status": status or {}})
    for p in pods:
        pod_store.add(p)
    rs_refs = []
    if deployment_replicas is not None:
        scaled["Deployment"].add({"metadata": {"name": "d", "namespace": "ns", "uid": "d-uid"},
                                  "spec": {"replicas": deployment_replicas}})
        rs_refs = [{"controller": True, "kind": "Deployment", "name": "d", "uid": "d-uid"}]
    scaled["ReplicaSet"].add({"metadata": {"name": "rs", "namespace": "ns", "uid": "rs-uid",
                                           "ownerReferences": rs_refs},
                              "spec": {"replicas": 4}})
    writer = Recorder()
    controller = DisruptionController(pdbs, pod_store, scaled, writer, clock=lambda: 1.7e9)
    asyncio.run(controller.sync("ns/pdb"))
    return writer.updated[-1]["status"]


def test_min_available_int_counts_selected_pods() -> None:
    status = run({"minAvailable": 1}, [pod("a"), pod("b"), pod("c", ready=False)])
    assert (status["currentHealthy"], status["desiredHealthy"], status["expectedPods"],
            status["disruptionsAllowed"], status["observedGeneration"]) == (2, 1, 3, 1, 3)
    cond = status["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"]) == (
        "DisruptionAllowed", "True", "SufficientPods")


def test_min_available_percent_uses_controller_scale() -> None:
    status = run({"minAvailable": "50%"}, [pod("a", owner=RS), pod("b", owner=RS)])
    assert (status["expectedPods"], status["desiredHealthy"], status["disruptionsAllowed"]) == (
        4, 2, 0)
    assert status["conditions"][0]["reason"] == "InsufficientPods"


@pytest.mark.parametrize(("max_unavailable", "allowed"), [(1, 0), ("50%", 1)])
def test_max_unavailable_follows_replicaset_to_deployment(max_unavailable: Any,
                                                          allowed: int) -> None:
    pods = [pod("a", owner=RS), pod("b", owner=RS)]
    status = run({"maxUnavailable": max_unavailable}, pods, deployment_replicas=3)
    assert status["expectedPods"] == 3
    assert status["disruptionsAllowed"] == allowed


def test_pod_without_controller_fails_safe() -> None:
    status = run({"maxUnavailable": 1}, [pod("a")])
    assert status["disruptionsAllowed"] == 0
    assert status["conditions"][0]["reason"] == "SyncFailed"


def test_disrupted_pods_expire_after_two_minutes() -> None:
    recent = "2023-11-14T22:13:00Z"  # 20 s before the clock
    stale = "2023-11-14T22:00:00Z"
    status = run({"minAvailable": 1}, [pod("a"), pod("b")],
                 status={"disruptedPods": {"a": recent, "b": stale, "gone": recent}})
    assert status["disruptedPods"] == {"a": recent}
    assert status["currentHealthy"] == 1 and status["disruptionsAllowed"] == 0
