"""The daemonset controller's sync over hand-filled stores and a recording writer."""

from __future__ import annotations

import asyncio
from typing import Any

from controllers.client.store import Store
from controllers.daemonset.controller import DaemonSetsController
from controllers.daemonset.history import HASH_LABEL
from controllers.daemonset.placement import should_run
from controllers.daemonset.rolling import plan_rolling_update, strategy_limits


class Recorder:
    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []
        self.deleted: list[str] = []
        self.updated: list[tuple[dict[str, Any], str | None]] = []
        self.events: list[tuple[str, str]] = []

    async def create(self, info: Any, namespace: Any, obj: Any) -> dict[str, Any]:
        if info.plural == "events":
            self.events.append((obj["reason"], obj["message"]))
            return dict(obj)
        out = {**obj, "metadata": {**obj["metadata"], "name": f"p{len(self.created)}"}}
        self.created.append(out)
        return out

    async def update(self, info: Any, namespace: Any, obj: Any,
                     subresource: str | None = None) -> dict[str, Any]:
        self.updated.append((dict(obj), subresource))
        return dict(obj)

    async def patch(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise AssertionError("no patches")

    async def delete(self, info: Any, namespace: Any, name: str, **_: Any) -> dict[str, Any]:
        self.deleted.append(name)
        return {}


def node(name: str, labels: dict[str, str] | None = None,
         taints: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels or {}},
            "spec": {"taints": taints or []}}


def daemonset(spec: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": "ds", "namespace": "ns", "uid": "u1", "generation": 1},
            "spec": {"selector": {"matchLabels": {"a": "b"}},
                     "template": {"metadata": {"labels": {"a": "b"}},
                                  "spec": {"containers": [{"name": "c", "image": "x"}],
                                           **(spec or {})}}}}


def setup(*nodes: dict[str, Any], spec: dict[str, Any] | None = None) -> tuple[
        DaemonSetsController, Recorder, Store]:
    stores = [Store() for _ in range(4)]
    stores[0].add(daemonset(spec))
    for n in nodes:
        stores[2].add(n)
    writer = Recorder()
    controller = DaemonSetsController(*stores, writer, clock=lambda: 1000.0)
    return controller, writer, stores[1]


def test_placement_selector_affinity_taints() -> None:
    template = daemonset({"nodeSelector": {"disk": "ssd"}})["spec"]["template"]
    assert should_run(template, node("a", {"disk": "ssd"})) == (True, True)
    assert should_run(template, node("b")) == (False, False)
    noschedule = node("c", {"disk": "ssd"}, [{"key": "k", "effect": "NoSchedule"}])
    assert should_run(template, noschedule) == (False, True)
    noexecute = node("c", {"disk": "ssd"}, [{"key": "k", "effect": "NoExecute"}])
    assert should_run(template, noexecute) == (False, False)
    # Default tolerations: an unschedulable or not-ready node still runs daemon pods.
    cordoned = node("d", {"disk": "ssd"}, [
        {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}])
    assert should_run(template, cordoned) == (True, True)
    affinity = {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [
            {"key": "zone", "operator": "In", "values": ["z1"]}]}]}}}}
    template = daemonset(affinity)["spec"]["template"]
    assert should_run(template, node("e", {"zone": "z1"}))[0]
    assert not should_run(template, node("f", {"zone": "z2"}))[0]


def test_creates_one_pod_per_eligible_node_and_status() -> None:
    controller, writer, _pods = setup(node("a"), node("b"), node("c", taints=[
        {"key": "k", "effect": "NoSchedule"}]))
    asyncio.run(controller.sync("ns/ds"))
    pods = [p for p in writer.created if p["kind"] == "Pod"]
    assert sorted(p["spec"]["nodeName"] for p in pods) == ["a", "b"]
    pod = pods[0]
    assert pod["metadata"]["labels"][HASH_LABEL]
    assert pod["metadata"]["labels"]["pod-template-generation"] == "1"
    term = pod["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
    assert term["matchFields"][0]["values"] == [pod["spec"]["nodeName"]]
    keys = {t["key"] for t in pod["spec"]["tolerations"]}
    assert "node.kubernetes.io/unreachable" in keys
    assert "node.kubernetes.io/network-unavailable" not in keys
    assert any(p["kind"] == "ControllerRevision" for p in writer.created)
    status = writer.updated[-1][0]["status"]
    assert writer.updated[-1][1] == "status"
    assert status["desiredNumberScheduled"] == 2 and status["currentNumberScheduled"] == 0
    # Unseen creates hold placement back: no second round of pods.
    asyncio.run(controller.sync("ns/ds"))
    assert len([p for p in writer.created if p["kind"] == "Pod"]) == 2
    assert sorted(writer.events) == [("SuccessfulCreate", f"Created pod: {p['metadata']['name']}")
                                     for p in sorted(pods, key=lambda p: p["metadata"]["name"])]


def owned_pod(name: str, node_name: str, digest: str, ready: bool = True,
              created: str = "2024-01-01T00:00:00Z") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns", "creationTimestamp": created,
                         "labels": {HASH_LABEL: digest},
                         "ownerReferences": [{"controller": True, "uid": "u1",
                                              "kind": "DaemonSet", "name": "ds"}]},
            "spec": {"nodeName": node_name},
            "status": {"phase": "Running", "conditions": [
                {"type": "Ready", "status": "True" if ready else "False"}]}}


def test_deletes_misscheduled_and_extra_pods() -> None:
    controller, writer, pods = setup(node("a"), node("b", {"x": "y"}),
                                     spec={"nodeSelector": {"x": "y"}})
    pods.add(owned_pod("on-a", "a", "h"))
    pods.add(owned_pod("b1", "b", "h"))
    pods.add(owned_pod("b2", "b", "h", created="2024-02-01T00:00:00Z"))
    asyncio.run(controller.sync("ns/ds"))
    # a is no longer selected: its pod must go; b keeps its oldest pod.
    assert sorted(writer.deleted) == ["b2", "on-a"]
    assert writer.updated[-1][0]["status"]["numberMisscheduled"] == 1


def test_rolling_update_respects_max_unavailable() -> None:
    controller, writer, pods = setup(node("a"), node("b"), node("c"))
    for n in "abc":
        pods.add(owned_pod(f"old-{n}", n, "oldhash"))
    asyncio.run(controller.sync("ns/ds"))
    # Default maxUnavailable 1: one old pod goes per step.
    assert writer.deleted == ["old-a"]
    assert not [p for p in writer.created if p["kind"] == "Pod"]


def test_rolling_plan_surge_and_unavailable() -> None:
    nodes = {"a": [owned_pod("o", "a", "old")], "b": [owned_pod("o2", "b", "old", ready=False)]}
    plan = plan_rolling_update(nodes, "new", 0, 1, lambda p: bool(
        p["status"]["conditions"][0]["status"] == "True"))
    assert [p["metadata"]["name"] for p in plan.delete] == ["o2"]
    plan = plan_rolling_update(nodes, "new", 1, 0, lambda p: bool(
        p["status"]["conditions"][0]["status"] == "True"))
    assert plan.create == ["b"]
    assert strategy_limits({"spec": {"updateStrategy": {"rollingUpdate": {
        "maxUnavailable": "50%"}}}}, 3) == (0, 2)


def test_on_delete_never_replaces_old_pods() -> None:
    controller, writer, pods = setup(node("a"), spec={})
    controller.daemonsets.list()[0]["spec"]["updateStrategy"] = {"type": "OnDelete"}
    pods.add(owned_pod("old-a", "a", "oldhash"))
    asyncio.run(controller.sync("ns/ds"))
    assert writer.deleted == []
