"""DefaultPreemption: victim selection and reprieve (with PodDisruptionBudgets), node
picking, eligibility, nominated pods, the messages, and the controller's evictions."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from controllers.client.informer import SharedInformerFactory
from controllers.scheduler.controller import Scheduler
from controllers.scheduler.core import schedule
from controllers.scheduler.filters import PodInfo, Status
from controllers.scheduler.nodeinfo import snapshot
from controllers.scheduler.preemption import (
    NO_VICTIMS,
    Candidate,
    pick_one_node,
    select_victims_on_node,
    split_by_pdb_violation,
)
from tests.unit.test_scheduler_filters import container, node, pod
from tests.unit.test_scheduler_message import _Factory


def running(name: str, cpu: str = "1", prio: int = 0, node_name: str = "n1",
            started: str = "2024-01-01T00:00:00Z", **labels: str) -> dict[str, Any]:
    """A pod bound to ``node_name`` and running since ``started``."""
    body = pod(container({"cpu": cpu}), node_name=node_name, phase="Running", priority=prio)
    body["metadata"] = {"name": name, "namespace": "d", "uid": f"uid-{name}",
                        "labels": labels}
    body["status"]["startTime"] = started
    return body


def pending(name: str, cpu: str = "1", prio: int = 0, nominated: str = "",
            **spec: Any) -> dict[str, Any]:
    body = pod(container({"cpu": cpu}), priority=prio, **spec)
    body["metadata"] = {"name": name, "namespace": "d", "uid": f"uid-{name}"}
    if nominated:
        body["status"]["nominatedNodeName"] = nominated
    return body


def pdb(name: str, allowed: int, namespace: str = "d", disrupted: tuple[str, ...] = (),
        **match: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace},
            "spec": {"selector": {"matchLabels": match}},
            "status": {"disruptionsAllowed": allowed,
                       "disruptedPods": dict.fromkeys(disrupted, "2024-01-01T00:00:00Z")}}


def victims_on(preemptor: dict[str, Any], pods: list[dict[str, Any]],
               pdbs: tuple[dict[str, Any], ...] = ()) -> Candidate | Status:
    infos = snapshot([node("n1")], pods)
    return select_victims_on_node(PodInfo.of(preemptor, infos), infos[0], infos, pdbs)


def names(found: Candidate | Status) -> list[str]:
    assert isinstance(found, Candidate), found
    return [p["metadata"]["name"] for p in found.victims]


# -- SelectVictimsOnNode --------------------------------------------------------------------


def test_the_most_important_lower_pods_are_reprieved_first() -> None:
    pods = [running("low", prio=1), running("mid", prio=5)]
    assert names(victims_on(pending("high", prio=10), pods)) == ["low"]
    # Needing the whole node: both go, most important first.
    both = victims_on(pending("big", "2", prio=10), pods)
    assert names(both) == ["mid", "low"]
    # Equal priority: the longer-running pod is more important and kept.
    old = running("old", started="2024-01-01T00:00:00Z")
    new = running("new", started="2024-06-01T00:00:00Z")
    assert names(victims_on(pending("high", prio=1), [new, old])) == ["new"]
    # A pod not started yet counts as starting now: it goes first.
    unstarted = running("unstarted")
    del unstarted["status"]["startTime"]
    assert names(victims_on(pending("high", prio=1), [unstarted, old])) == ["unstarted"]


def test_no_lower_priority_pod_or_no_fit_without_them() -> None:
    pods = [running("same", prio=10), running("higher", prio=20)]
    status = victims_on(pending("p", prio=10), pods)
    assert isinstance(status, Status) and status.reasons == (NO_VICTIMS,)
    # Still too big without the one lower pod: the filters' verdict on the emptied node.
    status = victims_on(pending("p", "2", prio=15), pods)
    assert isinstance(status, Status) and status.reasons == ("Insufficient cpu",)


def test_pdb_violating_victims_are_reprieved_first() -> None:
    guarded = running("guarded", prio=1, started="2024-06-01T00:00:00Z", app="db")
    plain = running("plain", prio=1, started="2024-01-01T00:00:00Z", app="web")
    # Without budgets the newer pod goes.
    assert names(victims_on(pending("p", prio=5), [guarded, plain])) == ["guarded"]
    # A budget with no disruption left protects it: the other one goes, no violation.
    found = victims_on(pending("p", prio=5), [guarded, plain], (pdb("db", 0, app="db"),))
    assert names(found) == ["plain"]
    assert isinstance(found, Candidate) and found.pdb_violations == 0
    # When both must go, the guarded one is a violation.
    found = victims_on(pending("p", "2", prio=5), [guarded, plain], (pdb("db", 0, app="db"),))
    assert isinstance(found, Candidate) and found.pdb_violations == 1
    assert names(found) == ["plain", "guarded"]  # sorted by importance again


def test_split_by_pdb_violation_counts_each_budget_down() -> None:
    a, b = running("a", app="x"), running("b", app="x")
    c = running("c", app="x")
    c["metadata"]["namespace"] = "other"
    nolabels = running("n")
    budgets = [pdb("one-left", 1, app="x")]
    violating, fine = split_by_pdb_violation([a, b, c, nolabels], budgets)
    assert [p["metadata"]["name"] for p in violating] == ["b"]
    assert [p["metadata"]["name"] for p in fine] == ["a", "c", "n"]
    # A pod the apiserver already counted as disrupted takes nothing from the budget.
    violating, _ = split_by_pdb_violation([a, b], [pdb("x", 0, disrupted=("a",), app="x")])
    assert [p["metadata"]["name"] for p in violating] == ["b"]
    # An empty selector matches nothing here.
    empty = pdb("all", 0)
    assert split_by_pdb_violation([a], [empty]) == ([], [a])


# -- pickOneNodeForPreemption ----------------------------------------------------------------


def test_pick_one_node_in_upstream_order() -> None:
    def cand(node_name: str, *victims: dict[str, Any], violations: int = 0) -> Candidate:
        return Candidate(node_name, victims, violations)

    low, mid = running("low", prio=1), running("mid", prio=5)
    assert pick_one_node([cand("a", low, violations=1), cand("b", mid)]).node == "b"
    assert pick_one_node([cand("a", mid), cand("b", low)]).node == "b"
    low2 = running("low2", prio=1)
    neg = running("neg", prio=-5)
    # Lowest highest priority ties (1); the sum decides: {1} beats {1, -5}.
    assert pick_one_node([cand("a", low, neg), cand("b", low2)]).node == "b"
    # Shifted, equal sums mean equal counts (barring extreme priorities): fewer wins.
    assert pick_one_node([cand("a", low, low2), cand("b", low)]).node == "b"
    # Then the latest start of the highest-priority victims; then the first.
    old = running("old", prio=1, started="2024-01-01T00:00:00Z")
    new = running("new", prio=1, started="2024-06-01T00:00:00Z")
    assert pick_one_node([cand("a", old), cand("b", new)]).node == "b"
    assert pick_one_node([cand("a", new), cand("b", new)]).node == "a"


# -- whole decisions --------------------------------------------------------------------------


def test_preemption_decision_nominates_the_node_and_has_no_preemption_part() -> None:
    nodes = [node("n1"), node("n2")]
    pods = [running("a1", prio=5, node_name="n1"), running("a2", prio=5, node_name="n1"),
            running("b1", prio=1, node_name="n2"), running("b2", prio=1, node_name="n2")]
    waiting = pending("nominated-low", prio=0, nominated="n2")
    decision = schedule(pending("high", prio=10), nodes, pods, nominated=[(waiting, "n2")])
    assert decision.node is None
    assert decision.message == "0/2 nodes are available: 2 Insufficient cpu."
    preemption = decision.preemption
    assert preemption is not None and preemption.candidate is not None
    assert preemption.nominate == preemption.candidate.node == "n2"
    # b1 and b2 tie on priority and start time: b1, first, is given back first.
    assert names(preemption.candidate) == ["b2"]
    assert [p["metadata"]["name"] for p in preemption.lower_nominated] == ["nominated-low"]


def test_failed_preemption_clears_the_nomination_and_never_keeps_it() -> None:
    nodes = [node("n1")]
    pods = [running("a", "2", prio=50)]
    decision = schedule(pending("p", prio=10, nominated="n1"), nodes, pods)
    assert decision.message == (
        "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are "
        f"available: 1 {NO_VICTIMS}.")
    assert decision.preemption is not None and decision.preemption.nominate == ""
    never = pending("p", prio=100, preemptionPolicy="Never", nominated="n1")
    decision = schedule(never, nodes, pods)
    assert decision.message.endswith("preemption: not eligible due to preemptionPolicy=Never.")
    assert decision.preemption is not None and decision.preemption.nominate is None


def test_no_second_preemption_while_the_victims_terminate() -> None:
    victim = running("v", "2", prio=1)
    victim["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    victim["status"]["conditions"] = [{"type": "DisruptionTarget", "status": "True",
                                       "reason": "PreemptionByScheduler"}]
    other = running("w", "2", prio=1, node_name="n2")
    decision = schedule(pending("p", prio=10, nominated="n1"), [node("n1"), node("n2")],
                        [victim, other])
    assert decision.message == (
        "0/2 nodes are available: 2 Insufficient cpu. "
        "preemption: not eligible due to a terminating pod on the nominated node.")
    assert decision.preemption is not None and decision.preemption.candidate is None
    assert decision.preemption.nominate is None
    # A pod deleted by someone else does not hold the preemptor back.
    victim["status"]["conditions"] = []
    decision = schedule(pending("p", prio=10, nominated="n1"), [node("n1"), node("n2")],
                        [victim, other])
    assert decision.preemption is not None and decision.preemption.candidate is not None


# -- nominated pods ---------------------------------------------------------------------------


def test_nominated_pods_keep_their_room_from_lower_or_equal_pods() -> None:
    nodes = [node("n1")]
    pods = [running("a", "1", prio=0)]
    nominated = [(pending("waiting", "1", prio=10, nominated="n1"), "n1")]
    blocked = schedule(pending("low", "1", prio=5), nodes, pods, nominated=nominated)
    assert blocked.node is None
    assert blocked.message.startswith("0/1 nodes are available: 1 Insufficient cpu.")
    same = schedule(pending("same", "1", prio=10), nodes, pods, nominated=nominated)
    assert same.node is None
    # A higher pod is not held back by a lower nomination, nor the nominated pod by itself.
    assert schedule(pending("higher", "1", prio=20), nodes, pods,
                    nominated=nominated).node == "n1"
    assert schedule(nominated[0][0], nodes, pods, nominated=nominated).node == "n1"


def test_a_nominated_pod_goes_to_its_node_when_it_fits() -> None:
    nodes = [node("n1"), node("n2")]
    pods = [running("a", "1", node_name="n2")]
    assert schedule(pending("p", "1", nominated="n2"), nodes, pods).node == "n2"
    assert schedule(pending("p", "1"), nodes, pods).node == "n1"
    # Its nominated node full: scheduled elsewhere as usual.
    assert schedule(pending("p", "2", nominated="n2"), nodes, pods).node == "n1"


# -- the controller ---------------------------------------------------------------------------


class _Writer:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    async def patch(self, info: Any, namespace: str, name: str, body: Any,
                    **options: Any) -> dict[str, Any]:
        self.calls.append(("patch", info.plural, name, body, options.get("subresource")))
        return {}

    async def delete(self, info: Any, namespace: str, name: str,
                     **options: Any) -> dict[str, Any]:
        self.calls.append(("delete", info.plural, name, options))
        return {}

    async def create(self, info: Any, namespace: str, body: Any) -> dict[str, Any]:
        self.calls.append(("create", info.plural, body["involvedObject"]["name"],
                           body["reason"], body["message"], body.get("action")))
        return body

    async def request(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("request", *args, kwargs))
        return {}


def test_the_controller_evicts_the_victims_and_nominates_the_pod() -> None:
    async def run() -> None:
        factory = _Factory()
        writer = _Writer()
        scheduler = Scheduler(writer, cast(SharedInformerFactory, factory))
        informers = factory.informers
        informers["nodes"].store.add(node("n1"))
        victim = running("victim", "2", prio=1)
        lower = pending("lower", "2", prio=0, nominated="n1")
        high = pending("high", "1", prio=10)
        for obj in (victim, lower, high):
            informers["pods"].store.add(obj)

        await scheduler.sync("d/high")
        condition = {"type": "DisruptionTarget", "status": "True",
                     "reason": "PreemptionByScheduler",
                     "message": "default-scheduler: preempting to accommodate a higher "
                                "priority pod"}
        patched = writer.calls[0]
        assert patched[:3] == ("patch", "pods", "victim") and patched[4] == "status"
        assert {k: v for k, v in patched[3]["status"]["conditions"][0].items()
                if k != "lastTransitionTime"} == condition
        assert writer.calls[1] == ("delete", "pods", "victim",
                                   {"preconditions": {"uid": "uid-victim"}})
        assert writer.calls[2] == ("create", "events", "victim", "Preempted",
                                   "Preempted by pod uid-high on node n1", "Preempting")
        assert writer.calls[3] == ("patch", "pods", "lower",
                                   {"status": {"nominatedNodeName": None}}, "status")
        status = writer.calls[4][3]["status"]
        assert writer.calls[4][2] == "high" and status["nominatedNodeName"] == "n1"
        assert status["conditions"][0]["message"] == (
            "0/1 nodes are available: 1 Insufficient cpu.")
        assert writer.calls[5][2:4] == ("high", "FailedScheduling")
        assert scheduler.nominations == {"d/high": "n1", "d/lower": ""}
        # The cleared pod was requeued; a status-only change of the waiting pod is not.
        assert await scheduler.queue.get() == "d/lower"
        scheduler.queue.done("d/lower")
        nominated = high | {"status": {"phase": "Pending", "nominatedNodeName": "n1"}}
        scheduler._on_pod_update(high, nominated)
        assert len(scheduler.queue) == 0 and scheduler.nominations == {"d/lower": ""}
        informers["pods"].store.add(nominated)

        # While the victim terminates no new preemption starts, and lower pods are kept
        # out of the room it leaves.
        gone = victim | {"metadata": victim["metadata"] | {
            "deletionTimestamp": "2024-01-01T00:00:00Z"}}
        gone["status"] = victim["status"] | {"conditions": [condition]}
        informers["pods"].store.add(gone)
        writer.calls.clear()
        await scheduler.sync("d/high")
        assert [c[0] for c in writer.calls] == ["patch", "create"]
        assert writer.calls[0][3]["status"]["conditions"][0]["message"].endswith(
            "preemption: not eligible due to a terminating pod on the nominated node.")
        informers["pods"].store.delete(gone)
        writer.calls.clear()
        await scheduler.sync("d/lower")
        assert writer.calls[0][0] == "patch" and writer.calls[0][2] == "lower"
        await scheduler.sync("d/high")
        assert writer.calls[-2][0] == "request" and writer.calls[-2][2].endswith(
            "/pods/high/binding")
        assert writer.calls[-2][3]["body"]["target"]["name"] == "n1"

    asyncio.run(run())


def test_victims_counted_by_pod_anti_affinity_are_found_with_the_prefilter_updated() -> None:
    web = running("web", "100m", prio=1, app="web")
    other = running("other", "100m", prio=1, app="db")
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "web"}},
         "topologyKey": "kubernetes.io/hostname"}]}}
    labelled = node("n1", {"kubernetes.io/hostname": "n1"})
    decision = schedule(pending("p", "100m", prio=10, affinity=anti), [labelled], [web, other])
    assert decision.message == (
        "0/1 nodes are available: 1 node(s) didn't match pod anti-affinity rules.")
    assert decision.preemption is not None and decision.preemption.candidate is not None
    assert names(decision.preemption.candidate) == ["web"]
