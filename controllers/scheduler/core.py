"""Scheduling decisions, pure functions of a pod, the nodes and the pods bound to them.

One scheduling cycle as kube-scheduler runs it:

1. PreFilter: NodeAffinity narrows the candidates to the nodes named by ``matchFields
   metadata.name`` (the others are "node(s) didn't satisfy plugin(s) [NodeAffinity]"),
   or rejects the pod when those names conflict; VolumeBinding rejects a pod whose
   PersistentVolumeClaim is missing, being deleted or lost
   (:mod:`controllers.scheduler.volumes`).
2. Filter: every candidate node through :mod:`controllers.scheduler.filters`, with the
   pods nominated to it (by an earlier preemption, not bound yet) of at least the pod's
   priority counted there first (upstream's ``RunFilterPluginsWithNominatedPods``), so
   that the room freed for them is not taken by others.
3. A pod nominated to a node that now fits goes there (upstream evaluates the nominated
   node first). Otherwise score the feasible nodes: NodeAffinity's preferred terms
   (upstream weight 2, each node's summed term weights normalized to 0-100 against the
   best node), then spreading by the fewest pods on the node, then the node name.
   kubemu's spreading stands in for upstream's resource-based scores (LeastAllocated,
   BalancedAllocation) and the scores of PodTopologySpread and InterPodAffinity (their
   filters are implemented).
4. With no feasible node: the DefaultPreemption PostFilter
   (:mod:`controllers.scheduler.preemption`) picks a node and the lower-priority pods to
   evict there, or explains why it cannot, in upstream's FitError message
   (:mod:`controllers.scheduler.fiterror`). The decision carries the victims; the
   controller evicts them and nominates the pod to the node.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from controllers.scheduler import nodeaffinity, volumes
from controllers.scheduler.filters import (
    Code,
    PodInfo,
    Status,
    node_ready,
    run_filters_with_nominated,
)
from controllers.scheduler.fiterror import fit_error_message
from controllers.scheduler.nodeinfo import TERMINAL_PHASES, NodeInfo, holds_resources, snapshot
from controllers.scheduler.preemption import Preemption, postfilter

__all__ = [
    "DEFAULT_SCHEDULER",
    "NO_NODES",
    "Decision",
    "needs_scheduling",
    "node_ready",
    "pods_per_node",
    "schedule",
]

DEFAULT_SCHEDULER = "default-scheduler"
#: ``ErrNoNodesAvailable`` (no FitError, hence no preemption part).
NO_NODES = "no nodes available to schedule pods"
#: Upstream's default weight of the NodeAffinity score plugin.
NODE_AFFINITY_WEIGHT = 2
MAX_NODE_SCORE = 100


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class Decision:
    """A node to bind to, or ``None`` and the FailedScheduling message. With ``select``,
    the node is not bound yet: those ``WaitForFirstConsumer`` claims get it first; with
    ``waiting``, the pod waits for such claims to be bound (no message). Without a node,
    ``preemption`` is the PostFilter's outcome: the victims to evict and the pod's new
    nomination (see :class:`~controllers.scheduler.preemption.Preemption`)."""

    node: str | None
    message: str = ""
    select: tuple[tuple[str, str], ...] = ()
    waiting: bool = False
    preemption: Preemption | None = None


def needs_scheduling(pod: Mapping[str, Any], scheduler_name: str = DEFAULT_SCHEDULER) -> bool:
    """Unbound, ours, not being deleted, not gated and not finished."""
    spec = _m(pod.get("spec"))
    if spec.get("nodeName") or _m(pod.get("metadata")).get("deletionTimestamp"):
        return False
    if (spec.get("schedulerName") or DEFAULT_SCHEDULER) != scheduler_name:
        return False
    if spec.get("schedulingGates"):
        return False
    return _m(pod.get("status")).get("phase") not in TERMINAL_PHASES


def pods_per_node(pods: Iterable[Mapping[str, Any]]) -> Counter[str]:
    """Non-terminal pods bound to each node."""
    return Counter(str(_m(p.get("spec")).get("nodeName")) for p in pods if holds_resources(p))


def _affinity_scores(pod: Mapping[str, Any], nodes: Sequence[NodeInfo]) -> dict[str, int]:
    """NodeAffinity's weighted, normalized score per node (``DefaultNormalizeScore``)."""
    raw = {n.name: nodeaffinity.preferred_score(pod, n.node) for n in nodes}
    best = max(raw.values(), default=0)
    if best <= 0:
        return dict.fromkeys(raw, 0)
    return {name: NODE_AFFINITY_WEIGHT * (MAX_NODE_SCORE * score // best)
            for name, score in raw.items()}


def _same_pod(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    ma, mb = _m(a.get("metadata")), _m(b.get("metadata"))
    if ma.get("uid") and mb.get("uid"):
        return bool(ma.get("uid") == mb.get("uid"))
    return (ma.get("namespace"), ma.get("name")) == (mb.get("namespace"), mb.get("name"))


def _nominated_by_node(pod: Mapping[str, Any], nominated: Iterable[tuple[Mapping[str, Any], str]]
                       ) -> dict[str, list[Mapping[str, Any]]]:
    """The other pods nominated to each node (upstream's nominator)."""
    out: dict[str, list[Mapping[str, Any]]] = {}
    for other, node in nominated:
        if node and not _same_pod(pod, other):
            out.setdefault(node, []).append(other)
    return out


def _pick(pod: Mapping[str, Any], feasible: Sequence[NodeInfo]) -> str:
    nominated = _m(pod.get("status")).get("nominatedNodeName")
    if nominated and any(n.name == nominated for n in feasible):
        return str(nominated)
    scores = _affinity_scores(pod, feasible)
    best = min(feasible, key=lambda n: (-scores[n.name], len(n.pods), n.name))
    return best.name


def schedule(
    pod: Mapping[str, Any], nodes: Iterable[Mapping[str, Any]],
    pods: Iterable[Mapping[str, Any]] = (),
    assumed: Iterable[tuple[Mapping[str, Any], str]] = (),
    namespaces: Mapping[str, Mapping[str, str]] | None = None,
    claims: volumes.ClaimLookup | None = None,
    binding_mode: Callable[[str], str] = lambda _class: "Immediate",
    persistent_volume: Callable[[str], Mapping[str, Any] | None] = lambda _name: None,
    nominated: Iterable[tuple[Mapping[str, Any], str]] = (),
    pdbs: Sequence[Mapping[str, Any]] = (),
) -> Decision:
    """Pick a node for ``pod`` or explain why none fits.

    ``pods`` are all the pods known (those bound to a node and not terminal use its
    resources); ``assumed`` are ``(pod, node)`` bindings made but not yet observed;
    ``namespaces`` maps each namespace to its labels (pod affinity's
    ``namespaceSelector``); ``claims`` finds PersistentVolumeClaims and ``binding_mode``
    names a StorageClass's ``volumeBindingMode`` and ``persistent_volume`` finds a
    PersistentVolume (VolumeBinding; None: not checked); ``nominated`` holds
    ``(pod, node)`` of the unbound pods nominated to a node (``pod`` itself may be among
    them); ``pdbs`` are the PodDisruptionBudgets preemption respects.
    """
    infos = snapshot(nodes, pods, assumed)
    if not infos:
        return Decision(None, NO_NODES)
    info = PodInfo.of(pod, infos, namespaces)
    total = len(infos)
    by_node = _nominated_by_node(pod, nominated)

    def rejected_by_prefilter(message: str) -> Decision:
        preemption = postfilter(info, infos, {}, pdbs, by_node)
        return Decision(None, fit_error_message(
            total, {}, Status.of(Code.UNRESOLVABLE, message), prefilter=message,
            postfilter=preemption.message), preemption=preemption)

    names = nodeaffinity.required_node_names(pod)
    if names is not None and not names:
        return rejected_by_prefilter(nodeaffinity.CONFLICT_REASON)
    check = volumes.check_claims(pod, claims, binding_mode) if claims is not None \
        else volumes.ClaimCheck()
    if check.error:
        return rejected_by_prefilter(check.error)
    if check.selected and not check.to_select:
        return Decision(None, waiting=True)
    if claims is not None:
        info = replace(info, volume_affinity=volumes.volume_affinity(
            pod, claims, persistent_volume))
    candidates = infos if names is None else [n for n in infos if n.name in names]
    # Upstream's status for the nodes the PreFilter left out.
    absent = Status.of(Code.UNRESOLVABLE, "node(s) didn't satisfy plugin(s) [NodeAffinity]")
    statuses: dict[str, Status] = {}
    feasible: list[NodeInfo] = []
    for node in candidates:
        status = run_filters_with_nominated(info, node, infos, by_node.get(node.name, ()))
        if status is None:
            feasible.append(node)
        else:
            statuses[node.name] = status
    if feasible:
        return Decision(_pick(pod, feasible), select=check.to_select)
    preemption = postfilter(info, infos, statuses, pdbs, by_node)
    return Decision(None, fit_error_message(total, statuses, absent,
                                            postfilter=preemption.message),
                    preemption=preemption)
