"""DefaultPreemption, kube-scheduler's PostFilter: which lower-priority pods to evict, where.

Pure functions of the pod, the scheduling cycle's :class:`NodeInfo` snapshot, its filter
verdicts, the PodDisruptionBudgets and the nominated pods; the evictions themselves are
made by :mod:`controllers.scheduler.eviction`. Upstream's
``framework/preemption/preemption.go`` and ``plugins/defaultpreemption``:

1. ``PodEligibleToPreemptOthers``: not a pod with ``preemptionPolicy: Never``, nor one
   already nominated to a node (rejected there only with a resolvable status) where a
   lower-priority pod is still terminating because the scheduler preempted it — its
   earlier preemption is still under way.
2. ``DryRunPreemption``: on every node rejected with a resolvable status (``UNSCHEDULABLE``:
   ports, resources, spreading skew, anti-affinity), ``SelectVictimsOnNode``: remove every
   lower-priority pod; unless the pod then fits ("No preemption victims found for incoming
   pod" when there is none), give pods back, most important first (priority, then the
   earliest ``status.startTime``) and those whose eviction would violate a
   PodDisruptionBudget before the others, keeping each one the pod still fits with. The
   rest are the node's victims.
3. ``pickOneNodeForPreemption`` among the nodes with victims: fewest PDB violations, lowest
   highest-victim priority, smallest sum of victim priorities, fewest victims, latest
   start time of the highest-priority victims, then the first (by name: upstream's is
   Go's random map order, and it starts the dry run at a random node).

With a node chosen the message is ``""`` (upstream's successful PostFilter adds nothing
to the FitError) and the pod is nominated to it; with none, ``"preemption: "`` and a
FitError over the nodes tried (the others "Preemption is not helpful for scheduling"),
and the pod's nomination is cleared.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from apiserver.api.labels.selector import SelectorError, selector_from_label_selector_object
from controllers.scheduler.filters import (
    Code,
    PodInfo,
    Status,
    priority,
    run_filters_with_nominated,
)
from controllers.scheduler.fiterror import fit_error_message
from controllers.scheduler.nodeinfo import NodeInfo

__all__ = [
    "DISRUPTION_TARGET",
    "NEVER",
    "NOT_HELPFUL",
    "NO_VICTIMS",
    "PREEMPTION_BY_SCHEDULER",
    "TERMINATING",
    "Candidate",
    "Preemption",
    "ineligible",
    "pick_one_node",
    "postfilter",
    "select_victims_on_node",
    "split_by_pdb_violation",
]

NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"
NEVER = "not eligible due to preemptionPolicy=Never."
TERMINATING = "not eligible due to a terminating pod on the nominated node."
#: The condition the scheduler gives its victims, and its reason.
DISRUPTION_TARGET = "DisruptionTarget"
PREEMPTION_BY_SCHEDULER = "PreemptionByScheduler"
#: ``DefaultPreemptionArgs`` defaults: dry-run nodes until this many candidates (or this
#: share of the nodes, if more) are found, one of them violating no budget.
MIN_CANDIDATE_NODES_PERCENTAGE = 10
MIN_CANDIDATE_NODES_ABSOLUTE = 100

Pod = Mapping[str, Any]


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class Candidate:
    """A node and the pods to evict there, most important first; ``pdb_violations`` of
    them are evicted against a PodDisruptionBudget."""

    node: str
    victims: tuple[Pod, ...]
    pdb_violations: int = 0


@dataclass(frozen=True)
class Preemption:
    """The PostFilter's outcome.

    ``message`` is the FailedScheduling message's preemption part (``""`` when a node
    was chosen); ``candidate`` the node and its victims; ``nominate`` the pod's new
    ``status.nominatedNodeName`` (``""``: clear it; ``None``: leave it as it is, as
    upstream does for a pod not eligible to preempt); ``lower_nominated`` the pods of
    lower priority nominated to the chosen node, whose nomination is cleared (they may
    no longer fit there)."""

    message: str
    candidate: Candidate | None = None
    nominate: str | None = None
    lower_nominated: tuple[Pod, ...] = ()


def start_time(pod: Pod) -> float:
    """``status.startTime`` as a timestamp; a pod not started yet counts as starting now,
    later than every started pod (upstream's ``GetPodStartTime``)."""
    value = _m(pod.get("status")).get("startTime")
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    return math.inf


def _importance(pod: Pod) -> tuple[int, float]:
    """Sort key, most important first (upstream's ``MoreImportantPod``): the higher
    priority, then the longer running."""
    return -priority(pod), start_time(pod)


def _terminating_by_preemption(pod: Pod) -> bool:
    if not _m(pod.get("metadata")).get("deletionTimestamp"):
        return False
    for condition in _m(pod.get("status")).get("conditions") or []:
        if _m(condition).get("type") == DISRUPTION_TARGET:
            return bool(condition.get("status") == "True"
                        and condition.get("reason") == PREEMPTION_BY_SCHEDULER)
    return False


def ineligible(pod: Pod, statuses: Mapping[str, Status], nodes: Sequence[NodeInfo]) -> str:
    """Upstream ``PodEligibleToPreemptOthers``: why ``pod`` may not preempt, or ``""``.

    ``statuses`` are the filter verdicts; a nominated node missing from them was excluded
    by a PreFilter (or is gone), an unresolvable rejection: the pod may preempt again."""
    if _m(pod.get("spec")).get("preemptionPolicy") == "Never":
        return NEVER
    nominated = _m(pod.get("status")).get("nominatedNodeName")
    status = statuses.get(str(nominated)) if nominated else None
    if status is None or status.code is Code.UNRESOLVABLE:
        return ""
    wanted = priority(pod)
    for node in nodes:
        if node.name == nominated and any(
                priority(p) < wanted and _terminating_by_preemption(p) for p in node.pods):
            return TERMINATING
    return ""


def _budget_selector(pdb: Pod) -> Callable[[Mapping[str, str]], bool] | None:
    """The budget's selector; None for a nil, empty or invalid one, which select nothing
    here (unlike the disruption controller's)."""
    try:
        selector = selector_from_label_selector_object(
            _m(_m(pdb.get("spec")).get("selector")) or None)
    except (SelectorError, TypeError, AttributeError, ValueError):
        return None
    if selector.empty or selector.matches_nothing:
        return None
    return selector.matches


def split_by_pdb_violation(pods: Sequence[Pod], pdbs: Sequence[Pod]
                           ) -> tuple[list[Pod], list[Pod]]:
    """Upstream ``filterPodsWithPDBViolation``: ``(violating, non_violating)``, each in
    the order of ``pods``. Each pod takes one disruption from every matching budget of
    its namespace (unless the budget's ``status.disruptedPods`` already lists it); it is
    violating when that takes some budget's ``disruptionsAllowed`` below 0."""
    budgets = [(pdb, _budget_selector(pdb)) for pdb in pdbs]
    allowed = [int(_m(pdb.get("status")).get("disruptionsAllowed") or 0) for pdb in pdbs]
    violating: list[Pod] = []
    non_violating: list[Pod] = []
    for pod in pods:
        meta = _m(pod.get("metadata"))
        labels = _m(meta.get("labels"))
        violated = False
        for i, (pdb, matches) in enumerate(budgets):
            pdb_meta = _m(pdb.get("metadata"))
            if (not labels or matches is None or pdb_meta.get("namespace") != meta.get(
                    "namespace") or not matches(labels)):
                continue
            if meta.get("name") in _m(_m(pdb.get("status")).get("disruptedPods")):
                continue  # the apiserver already counted this eviction
            allowed[i] -= 1
            violated = violated or allowed[i] < 0
        (violating if violated else non_violating).append(pod)
    return violating, non_violating


def _replaced(nodes: Sequence[NodeInfo], old: NodeInfo, new: NodeInfo) -> list[NodeInfo]:
    return [new if n is old else n for n in nodes]


def select_victims_on_node(pod: PodInfo, node: NodeInfo, nodes: Sequence[NodeInfo],
                           pdbs: Sequence[Pod] = (), nominated: Sequence[Pod] = (),
                           ) -> Candidate | Status:
    """Upstream ``SelectVictimsOnNode``: the fewest lower-priority pods of ``node`` whose
    eviction lets ``pod`` fit (see the module docstring), or the node's status when it
    cannot. ``nodes`` are all the nodes (``node`` among them) for the PreFilter state;
    ``nominated`` the other pods nominated to ``node``."""
    wanted = priority(pod.pod)
    potential = sorted((p for p in node.pods if priority(p) < wanted), key=_importance)
    if not potential:
        return Status.of(Code.UNRESOLVABLE, NO_VICTIMS)
    current = node.without(potential)
    views = _replaced(nodes, node, current)
    # Upstream does not try to keep victims the pod has affinity to: if it does not fit
    # without all of them, the node is not a candidate.
    status = run_filters_with_nominated(pod.recount(views), current, views, nominated)
    if status is not None:
        return status
    violating, non_violating = split_by_pdb_violation(potential, pdbs)
    victims: list[Pod] = []
    violations = 0
    for group in (violating, non_violating):
        for victim in group:
            trial = NodeInfo(node.node, [*current.pods, victim])
            views = _replaced(nodes, node, trial)
            if run_filters_with_nominated(pod.recount(views), trial, views,
                                          nominated) is None:
                current = trial  # reprieved
            else:
                victims.append(victim)
                if group is violating:
                    violations += 1
    if not victims:  # it fits with every pod: the node should not have been rejected
        return Status.of(Code.UNSCHEDULABLE,
                         f'expected at least one victim pod on node "{node.name}"')
    victims.sort(key=_importance)
    return Candidate(node.name, tuple(victims), violations)


def _earliest_start_of_highest(victims: Sequence[Pod]) -> float:
    """Upstream ``GetEarliestPodStartTime``: among the highest-priority victims."""
    top = max(priority(p) for p in victims)
    return min(start_time(p) for p in victims if priority(p) == top)


#: ``pickOneNodeForPreemption``'s scores, the highest wins; each breaks the ties of the
#: ones before it.
_SCORES: tuple[Callable[[Candidate], float], ...] = (
    lambda c: -c.pdb_violations,
    lambda c: -priority(c.victims[0]),
    # Shifted so that every priority counts positively: two victims of priority -5 weigh
    # more than one.
    lambda c: -sum(priority(p) + 2**31 for p in c.victims),
    lambda c: -len(c.victims),
    lambda c: _earliest_start_of_highest(c.victims),
)


def pick_one_node(candidates: Sequence[Candidate]) -> Candidate:
    """Upstream ``pickOneNodeForPreemption`` (see the module docstring); ``candidates``
    must not be empty."""
    remaining = list(candidates)
    for score in _SCORES:
        if len(remaining) == 1:
            break
        best = max(score(c) for c in remaining)
        remaining = [c for c in remaining if score(c) == best]
    return remaining[0]


def _wanted_candidates(num_nodes: int) -> int:
    """Upstream ``calculateNumCandidates``."""
    wanted = max(num_nodes * MIN_CANDIDATE_NODES_PERCENTAGE // 100,
                 MIN_CANDIDATE_NODES_ABSOLUTE)
    return min(wanted, num_nodes)


def postfilter(pod: PodInfo, nodes: Sequence[NodeInfo], statuses: Mapping[str, Status],
               pdbs: Sequence[Pod] = (),
               nominated: Mapping[str, Sequence[Pod]] | None = None) -> Preemption:
    """Upstream ``DefaultPreemption.PostFilter`` for a pod that fits nowhere.

    ``nodes`` are all the nodes; ``statuses`` the filter verdicts (nodes missing from it
    were excluded by a PreFilter, an unresolvable rejection); ``pdbs`` every
    PodDisruptionBudget; ``nominated`` maps node names to the other unbound pods
    nominated to them (not ``pod`` itself)."""
    nominated = nominated or {}
    reason = ineligible(pod.pod, statuses, nodes)
    if reason:
        return Preemption(f"preemption: {reason}")
    potential = [n for n in nodes if (s := statuses.get(n.name)) is not None
                 and s.code is Code.UNSCHEDULABLE]
    wanted = _wanted_candidates(len(potential))
    fitting: list[Candidate] = []
    violating: list[Candidate] = []
    tried: dict[str, Status] = {}
    for node in potential:
        found = select_victims_on_node(pod, node, nodes, pdbs, nominated.get(node.name, ()))
        if isinstance(found, Status):
            tried[node.name] = found
            continue
        (violating if found.pdb_violations else fitting).append(found)
        if fitting and len(fitting) + len(violating) >= wanted:
            break
    candidates = fitting + violating
    if not candidates:
        absent = Status.of(Code.UNRESOLVABLE, NOT_HELPFUL)
        return Preemption(f"preemption: {fit_error_message(len(nodes), tried, absent)}",
                          nominate="")
    best = pick_one_node(candidates)
    lower = tuple(p for p in nominated.get(best.node, ()) if priority(p) < priority(pod.pod))
    return Preemption("", best, best.node, lower)
