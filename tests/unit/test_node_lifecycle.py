"""Decisions of the node lifecycle controllers with a fake clock and hand-filled stores:
node health and taints (``nodelifecycle``), eviction timing (``taint-eviction-controller``)
and pod garbage collection (``pod-garbage-collector``)."""

from __future__ import annotations

import asyncio
from typing import Any

from controllers.client.store import Store
from controllers.nodelifecycle.lifecycle import NodeLifecycleController
from controllers.nodelifecycle.podgc import PodGC
from controllers.nodelifecycle.tainteviction import TaintEvictionController
from controllers.nodelifecycle.util import format_time, min_toleration_seconds

T0 = 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class Recorder:
    """A Writer that records calls and applies status updates and taint patches to
    the given stores."""

    def __init__(self, nodes: Store) -> None:
        self.nodes = nodes
        self.calls: list[tuple[str, str, Any]] = []

    async def create(self, info: Any, namespace: str | None, obj: Any) -> dict[str, Any]:
        raise AssertionError("unexpected create")

    async def update(self, info: Any, namespace: str | None, obj: Any,
                     subresource: str | None = None) -> dict[str, Any]:
        self.calls.append(("update", obj["metadata"]["name"], subresource))
        self.nodes.add(obj)
        return dict(obj)

    async def patch(self, info: Any, namespace: str | None, name: str, patch: Any,
                    **options: Any) -> dict[str, Any]:
        self.calls.append(("patch", f"{info.plural}/{name}", patch))
        if info.plural == "nodes":
            node = dict(self.nodes.get(None, name) or {})
            node["spec"] = {**node.get("spec", {}), "taints": patch["spec"]["taints"] or []}
            self.nodes.add(node)
            return node
        return {}

    async def delete(self, info: Any, namespace: str | None, name: str,
                     **options: Any) -> dict[str, Any]:
        self.calls.append(("delete", f"{namespace}/{name}", options))
        return {}


def node(name: str, ready: str | None = "True", heartbeat: float = T0,
         unschedulable: bool = False, created: float = T0 - 1000) -> dict[str, Any]:
    conditions = [] if ready is None else [
        {"type": t, "status": s, "lastHeartbeatTime": format_time(heartbeat)}
        for t, s in (("MemoryPressure", "False"), ("Ready", ready))
    ]
    return {"metadata": {"name": name, "resourceVersion": "1",
                         "creationTimestamp": format_time(created)},
            "spec": {"unschedulable": unschedulable} if unschedulable else {},
            "status": {"conditions": conditions}}


def lease(name: str, renew: float) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "kube-node-lease"},
            "spec": {"renewTime": format_time(renew).replace("Z", ".000000Z")}}


def pod(name: str, node_name: str = "a", tolerations: list[Any] | None = None,
        **extra: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}",
                         "creationTimestamp": extra.pop("created", format_time(T0))},
            "spec": {"nodeName": node_name, "tolerations": tolerations or []},
            "status": extra.pop("status", {"conditions": [{"type": "Ready", "status": "True"}]}),
            **extra}


def lifecycle() -> tuple[NodeLifecycleController, Store, Store, Store, Recorder, Clock]:
    nodes, leases, pods = Store(), Store(), Store()
    clock = Clock()
    writer = Recorder(nodes)
    ctl = NodeLifecycleController(nodes, leases, pods, writer, clock=clock)
    return ctl, nodes, leases, pods, writer, clock


def conditions(nodes: Store, name: str) -> dict[str, tuple[str, str]]:
    n = nodes.get(None, name)
    assert n is not None
    return {c["type"]: (c["status"], c.get("reason", "")) for c in n["status"]["conditions"]}


def taints(nodes: Store, name: str) -> set[tuple[str, str]]:
    n = nodes.get(None, name)
    assert n is not None
    return {(t["key"], t["effect"]) for t in n["spec"].get("taints") or []}


def test_node_goes_unknown_after_grace_and_is_tainted_and_its_pods_not_ready() -> None:
    ctl, nodes, leases, pods, writer, clock = lifecycle()
    nodes.add(node("a"))
    leases.add(lease("a", T0))
    pods.add(pod("p"))
    asyncio.run(ctl.sync("a"))
    assert writer.calls == [] and taints(nodes, "a") == set()
    clock.now = T0 + 30
    leases.add(lease("a", T0 + 30))  # the Lease alone keeps the node healthy
    asyncio.run(ctl.sync("a"))
    clock.now = T0 + 79
    asyncio.run(ctl.sync("a"))
    assert writer.calls == []
    clock.now = T0 + 81
    asyncio.run(ctl.sync("a"))
    assert conditions(nodes, "a") == {
        "Ready": ("Unknown", "NodeStatusUnknown"),
        "MemoryPressure": ("Unknown", "NodeStatusUnknown"),
        "DiskPressure": ("Unknown", "NodeStatusNeverUpdated"),
        "PIDPressure": ("Unknown", "NodeStatusNeverUpdated"),
    }
    ready = next(c for c in nodes.get(None, "a")["status"]["conditions"]
                 if c["type"] == "Ready")
    assert ready["message"] == "Kubelet stopped posting node status."
    assert ready["lastHeartbeatTime"] == format_time(T0)
    assert taints(nodes, "a") == {("node.kubernetes.io/unreachable", "NoExecute"),
                                  ("node.kubernetes.io/unreachable", "NoSchedule")}
    pod_patches = [c for c in writer.calls if c[1] == "pods/p"]
    assert pod_patches[0][2]["status"]["conditions"][0]["status"] == "False"
    # Nothing more to do on the next pass.
    count = len(writer.calls)
    clock.now += 5
    asyncio.run(ctl.sync("a"))
    assert len(writer.calls) == count


def test_taints_follow_ready_false_and_go_when_the_node_recovers() -> None:
    ctl, nodes, _leases, _pods, _writer, clock = lifecycle()
    nodes.add(node("a", ready="False"))
    asyncio.run(ctl.sync("a"))
    assert taints(nodes, "a") == {("node.kubernetes.io/not-ready", "NoExecute"),
                                  ("node.kubernetes.io/not-ready", "NoSchedule")}
    keep = {"key": "dedicated", "value": "x", "effect": "NoSchedule"}
    recovered = node("a", ready="True", heartbeat=T0 + 10)
    recovered["spec"]["taints"] = [*nodes.get(None, "a")["spec"]["taints"], keep]
    nodes.add(recovered)
    clock.now = T0 + 10
    asyncio.run(ctl.sync("a"))
    assert taints(nodes, "a") == {("dedicated", "NoSchedule")}


def test_unschedulable_node_gets_the_noschedule_taint() -> None:
    ctl, nodes, *_ = lifecycle()
    nodes.add(node("a", unschedulable=True))
    asyncio.run(ctl.sync("a"))
    assert taints(nodes, "a") == {("node.kubernetes.io/unschedulable", "NoSchedule")}


def test_node_that_never_reported_is_unknown_after_the_startup_grace() -> None:
    ctl, nodes, _leases, _pods, writer, clock = lifecycle()
    nodes.add(node("new", ready=None, created=T0))
    clock.now = T0 + 59
    asyncio.run(ctl.sync("new"))
    assert writer.calls == []
    clock.now = T0 + 61
    asyncio.run(ctl.sync("new"))
    assert conditions(nodes, "new")["Ready"] == ("Unknown", "NodeStatusNeverUpdated")
    assert set(conditions(nodes, "new")) == {"Ready", "MemoryPressure", "DiskPressure",
                                             "PIDPressure"}
    assert ("node.kubernetes.io/unreachable", "NoExecute") in taints(nodes, "new")


UNREACHABLE_2S = [{"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                   "effect": "NoExecute", "tolerationSeconds": 2}]
UNREACHABLE_TAINT = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}


def test_min_toleration_seconds() -> None:
    taint = [UNREACHABLE_TAINT]
    assert min_toleration_seconds(pod("p"), taint) is False
    assert min_toleration_seconds(pod("p", tolerations=UNREACHABLE_2S), taint) == 2
    forever = [{"operator": "Exists"}]
    assert min_toleration_seconds(pod("p", tolerations=forever), taint) is None
    assert min_toleration_seconds(pod("p"), []) is None


def eviction() -> tuple[TaintEvictionController, Store, Store, Recorder, Clock]:
    nodes, pods = Store(), Store()
    clock = Clock()
    writer = Recorder(nodes)
    return TaintEvictionController(nodes, pods, writer, clock=clock), nodes, pods, writer, clock


def test_untolerated_noexecute_taint_evicts_at_once() -> None:
    ctl, nodes, pods, writer, _clock = eviction()
    tainted = node("a")
    tainted["spec"]["taints"] = [UNREACHABLE_TAINT]
    nodes.add(tainted)
    pods.add(pod("p"))

    async def run() -> None:
        await ctl.sync("default/p")

    asyncio.run(run())
    assert [c[0] for c in writer.calls] == ["patch", "delete"]
    condition = writer.calls[0][2]["status"]["conditions"][0]
    assert condition["type"] == "DisruptionTarget"
    assert condition["reason"] == "DeletionByTaintManager"
    assert writer.calls[1][2] == {"preconditions": {"uid": "uid-p"}}


def test_tolerated_taint_evicts_after_toleration_seconds_unless_it_goes() -> None:
    ctl, nodes, pods, writer, clock = eviction()
    tainted = node("a")
    tainted["spec"]["taints"] = [UNREACHABLE_TAINT]
    nodes.add(tainted)
    pods.add(pod("p", tolerations=UNREACHABLE_2S))
    pods.add(pod("q", tolerations=UNREACHABLE_2S))

    async def run() -> None:
        await ctl.sync("default/p")
        await ctl.sync("default/q")
        assert writer.calls == [] and set(ctl.started) == {"default/p", "default/q"}
        clock.now = T0 + 1
        await ctl.sync("default/p")  # an update meanwhile does not restart the clock
        assert writer.calls == []
        # The taint goes for q's sake: nodes synced without taints cancel the timer.
        clock.now = T0 + 2
        await ctl.sync("default/p")
        assert [c[1] for c in writer.calls] == ["pods/p", "default/p"]
        nodes.add(node("a"))
        await ctl.sync("default/q")
        assert "default/q" not in ctl.started and not ctl._timers

    asyncio.run(run())


def test_pod_tolerating_forever_stays() -> None:
    ctl, nodes, pods, writer, clock = eviction()
    tainted = node("a")
    tainted["spec"]["taints"] = [UNREACHABLE_TAINT]
    nodes.add(tainted)
    pods.add(pod("p", tolerations=[{"operator": "Exists"}]))
    clock.now = T0 + 10_000
    asyncio.run(ctl.sync("default/p"))
    assert writer.calls == [] and ctl.due("default/p") is None


def gc(threshold: int = 2) -> tuple[PodGC, Store, Store, Recorder, Clock, set[str]]:
    nodes, pods = Store(), Store()
    clock = Clock()
    writer = Recorder(nodes)
    existing: set[str] = set()

    async def exists(name: str) -> bool:
        return name in existing

    ctl = PodGC(nodes, pods, writer, exists, threshold=threshold, clock=clock)
    return ctl, nodes, pods, writer, clock, existing


def test_podgc_deletes_surplus_terminated_pods_evicted_then_oldest_first() -> None:
    ctl, nodes, pods, _writer, _clock, _existing = gc(threshold=2)
    nodes.add(node("a"))
    for i, phase in enumerate(("Succeeded", "Failed", "Succeeded", "Running")):
        pods.add(pod(f"t{i}", status={"phase": phase}, created=format_time(T0 + i)))
    pods.add(pod("ev", status={"phase": "Failed", "reason": "Evicted"},
                 created=format_time(T0 + 9)))
    assert ctl.choose().terminated == ["default/ev", "default/t0"]


def test_podgc_orphans_after_quarantine_and_confirmation() -> None:
    ctl, nodes, pods, writer, clock, existing = gc()
    nodes.add(node("a"))
    pods.add(pod("on-a"))
    pods.add(pod("orphan", node_name="gone"))
    pods.add(pod("racing", node_name="new"))
    pods.add(pod("pending", node_name=""))
    unscheduled = pod("unsched", node_name="")
    unscheduled["metadata"]["deletionTimestamp"] = format_time(T0)
    pods.add(unscheduled)
    assert ctl.choose().orphaned == {}
    clock.now = T0 + 41
    existing.add("new")  # in the apiserver, just not in the cache yet

    async def run() -> None:
        choice = ctl.choose()
        assert choice.orphaned == {"default/orphan": "gone", "default/racing": "new"}
        assert choice.unscheduled == ["default/unsched"]
        await ctl.gc()
        keys = set()
        while len(ctl.queue):
            key = await ctl.queue.get()
            keys.add(key)
            await ctl.sync(key)
            ctl.queue.done(key)
        assert keys == {"default/orphan", "default/unsched"}

    asyncio.run(run())
    mark = next(c for c in writer.calls if c[1] == "pods/orphan")[2]["status"]
    assert mark["phase"] == "Failed"
    assert mark["conditions"][0]["reason"] == "DeletionByPodGC"
    deletes = [c for c in writer.calls if c[0] == "delete"]
    assert {c[1] for c in deletes} == {"default/orphan", "default/unsched"}
    assert all(c[2]["grace_period_seconds"] == 0 for c in deletes)
