"""The FailedScheduling message (upstream's FitError with its preemption part), whole
scheduling decisions, and the scheduler's retries when resources are freed."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from controllers.client.informer import SharedInformerFactory
from controllers.client.store import DeletedFinalStateUnknown, Store
from controllers.scheduler.controller import Scheduler
from controllers.scheduler.core import schedule
from controllers.scheduler.filters import Code, Status
from controllers.scheduler.fiterror import fit_error_message
from tests.unit.test_scheduler_filters import affinity, container, expr, node, pod

NOT_HELPFUL = "Preemption is not helpful for scheduling"


def test_histogram_is_sorted_as_strings_and_counts_absent_nodes() -> None:
    statuses = {f"n{i}": Status.of(Code.UNSCHEDULABLE, "b") for i in range(10)}
    statuses |= {"x": Status.of(Code.UNSCHEDULABLE, "a"), "y": Status.of(Code.UNSCHEDULABLE, "a")}
    absent = Status.of(Code.UNRESOLVABLE, "c")
    # Go's sort.Strings on "<count> <reason>": "10 b" < "2 a" < "3 c".
    assert fit_error_message(15, statuses, absent, postfilter="preemption: x.") == (
        "0/15 nodes are available: 10 b, 2 a, 3 c. preemption: x.")
    assert fit_error_message(2, {}, absent, prefilter="pod affinity terms conflict") == (
        "0/2 nodes are available: pod affinity terms conflict.")


def test_insufficient_resources_on_every_node_finds_no_preemption_victims() -> None:
    nodes = [node("n1"), node("n2")]
    big = pod(container({"cpu": "64", "memory": "1Ti"}))
    decision = schedule(big, nodes, [pod(node_name="n1")])
    assert decision.node is None
    assert decision.message == (
        "0/2 nodes are available: 2 Insufficient cpu, 2 Insufficient memory. "
        "preemption: 0/2 nodes are available: "
        "2 No preemption victims found for incoming pod.")


def test_only_resolvable_rejections_are_tried_by_preemption() -> None:
    tainted = node("n2")
    tainted["spec"] = {"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]}
    web = container({"cpu": "3"}, ports=[{"containerPort": 1, "hostPort": 80}])
    decision = schedule(pod(web), [node("n1"), tainted, node("n3")],
                        [pod(container(ports=[{"containerPort": 1, "hostPort": 80}]),
                             node_name="n3")])
    assert decision.message == (
        "0/3 nodes are available: 1 Insufficient cpu, 1 node(s) didn't have free ports for "
        "the requested pod ports, 1 node(s) had untolerated taint {dedicated: gpu}. "
        f"preemption: 0/3 nodes are available: 1 {NOT_HELPFUL}, "
        "2 No preemption victims found for incoming pod.")


def test_affinity_mismatch_is_not_helped_by_preemption() -> None:
    p = pod(affinity=affinity({"matchExpressions": [expr("zone", "In", "b")]}))
    assert schedule(p, [node("n1"), node("n2")]).message == (
        "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. "
        f"preemption: 0/2 nodes are available: 2 {NOT_HELPFUL}.")


def test_preemption_policy_never() -> None:
    p = pod(container({"cpu": "64"}), preemptionPolicy="Never")
    assert schedule(p, [node("n1")]).message == (
        "0/1 nodes are available: 1 Insufficient cpu. "
        "preemption: not eligible due to preemptionPolicy=Never.")


def test_lower_priority_pods_are_possible_victims() -> None:
    low = pod(container({"cpu": "1500m"}), node_name="n1", priority=-5)
    wanted = pod(container({"cpu": "1"}))
    # Evicting the lower-priority pod makes room: it is preempted, and the message has
    # no preemption part.
    decision = schedule(wanted, [node("n1")], [low])
    assert decision.message == "0/1 nodes are available: 1 Insufficient cpu."
    assert decision.preemption is not None and decision.preemption.candidate is not None
    assert decision.preemption.candidate.victims == (low,)
    # Still too big without it: the node's verdict after the what-if is reported.
    assert schedule(pod(container({"cpu": "3"})), [node("n1")], [low]).message == (
        "0/1 nodes are available: 1 Insufficient cpu. "
        "preemption: 0/1 nodes are available: 1 Insufficient cpu.")


def test_match_fields_narrow_the_candidates() -> None:
    pinned = pod(affinity=affinity({"matchFields": [expr("metadata.name", "In", "n2")]}))
    nodes = [node("n1"), node("n2"), node("n3")]
    assert schedule(pinned, nodes, [pod(node_name="n2")] * 3).node == "n2"
    big = pinned | {"spec": pinned["spec"] | {"containers": [container({"cpu": "64"})]}}
    assert schedule(big, nodes).message == (
        "0/3 nodes are available: 1 Insufficient cpu, "
        "2 node(s) didn't satisfy plugin(s) [NodeAffinity]. preemption: 0/3 nodes are "
        f"available: 1 No preemption victims found for incoming pod, 2 {NOT_HELPFUL}.")
    conflict = pod(affinity=affinity({"matchFields": [expr("metadata.name", "In", "n1"),
                                                      expr("metadata.name", "In", "n2")]}))
    assert schedule(conflict, nodes).message == (
        "0/3 nodes are available: pod affinity terms conflict. "
        f"preemption: 0/3 nodes are available: 3 {NOT_HELPFUL}.")


def test_required_affinity_picks_the_matching_node() -> None:
    nodes = [node("n1", {"zone": "a"}), node("n2", {"zone": "b"})]
    p = pod(affinity=affinity({"matchExpressions": [expr("zone", "In", "b")]}))
    assert schedule(p, nodes, [pod(node_name="n2")] * 5).node == "n2"


def test_preferred_affinity_outweighs_spreading() -> None:
    nodes = [node("n1", {"zone": "a"}), node("n2", {"zone": "b"}), node("n3", {"zone": "c"})]
    busy_b = [pod(node_name="n2")] * 5
    prefers_b = pod(affinity=affinity(preferred=[
        {"weight": 1, "preference": {"matchExpressions": [expr("zone", "In", "b")]}}]))
    assert schedule(prefers_b, nodes, busy_b).node == "n2"
    assert schedule(pod(), nodes, busy_b).node == "n1"
    # Weights decide between preferred nodes; spreading breaks the ties.
    ranked = pod(affinity=affinity(preferred=[
        {"weight": 10, "preference": {"matchExpressions": [expr("zone", "In", "b", "c")]}},
        {"weight": 5, "preference": {"matchExpressions": [expr("zone", "In", "c")]}}]))
    assert schedule(ranked, nodes).node == "n3"
    equal = pod(affinity=affinity(preferred=[
        {"weight": 10, "preference": {"matchExpressions": [expr("zone", "In", "b", "c")]}}]))
    assert schedule(equal, nodes, busy_b).node == "n3"


# -- retries ------------------------------------------------------------------------------


class _Informer:
    def __init__(self) -> None:
        self.store = Store()

    def add_event_handler(self, *handlers: Any) -> None:
        self.handlers = handlers


class _Factory:
    def __init__(self) -> None:
        self.informers: dict[str, _Informer] = {}

    def informer_for(self, info: Any) -> _Informer:
        return self.informers.setdefault(info.plural, _Informer())


def _named(body: dict[str, Any], name: str) -> dict[str, Any]:
    return body | {"metadata": {"name": name, "namespace": "d"}}


def test_freed_resources_requeue_pending_pods() -> None:
    async def run() -> None:
        factory = _Factory()
        scheduler = Scheduler(None, cast(SharedInformerFactory, factory))
        pods = factory.informers["pods"].store
        pending = _named(pod(container({"cpu": "1"})), "pending")
        running = _named(pod(node_name="n1") | {"status": {"phase": "Running"}}, "running")
        unbound = _named(pod(), "other-pending")
        for obj in (pending, running):
            pods.add(obj)
        # The pending pod was tried and fit nowhere (as sync records it).
        scheduler._reported["d/pending"] = ("0/1 nodes are available: 1 Insufficient cpu.", 0.0)

        assert len(scheduler.queue) == 0
        # A deleted pending pod frees nothing.
        scheduler._on_pod_delete(unbound)
        assert len(scheduler.queue) == 0
        # A bound pod that finishes frees its resources: the pending pod is retried.
        done = running | {"status": {"phase": "Succeeded"}}
        scheduler._on_pod_update(running, done)
        assert len(scheduler.queue) == 1
        key = await scheduler.queue.get()
        assert key == "d/pending"
        scheduler.queue.done(key)
        # So does a bound pod deleted, even when only a relist noticed it.
        scheduler._on_pod_delete(DeletedFinalStateUnknown("d/running", running))
        assert len(scheduler.queue) == 1

    asyncio.run(run())
