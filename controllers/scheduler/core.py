"""Scheduling decisions, pure functions of a pod, the nodes and their pod counts.

The filters follow kube-scheduler's default plugins in order (NodeUnschedulable,
TaintToleration with the node lifecycle's ``not-ready``/``unreachable`` taints,
NodeAffinity for ``nodeSelector``); the first failing filter is a node's reason.
Scoring spreads: the feasible node with the fewest pods wins (ties by name).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_SCHEDULER",
    "Decision",
    "filter_reason",
    "needs_scheduling",
    "node_ready",
    "pods_per_node",
    "schedule",
]

DEFAULT_SCHEDULER = "default-scheduler"
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
NO_NODES = "no nodes available to schedule pods"


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class Decision:
    """A node to bind to, or ``None`` and the FailedScheduling message."""

    node: str | None
    message: str = ""


def needs_scheduling(pod: Mapping[str, Any], scheduler_name: str = DEFAULT_SCHEDULER) -> bool:
    """Unbound, ours, not being deleted and not finished."""
    spec = _m(pod.get("spec"))
    if spec.get("nodeName") or _m(pod.get("metadata")).get("deletionTimestamp"):
        return False
    if (spec.get("schedulerName") or DEFAULT_SCHEDULER) != scheduler_name:
        return False
    if spec.get("schedulingGates"):
        return False
    return _m(pod.get("status")).get("phase") not in ("Succeeded", "Failed")


def node_ready(node: Mapping[str, Any]) -> bool | None:
    """The Ready condition: True, False, or None when unknown/absent."""
    for cond in _m(node.get("status")).get("conditions") or []:
        if _m(cond).get("type") == "Ready":
            status = _m(cond).get("status")
            return True if status == "True" else False if status == "False" else None
    return None


def _tolerates(pod: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    for tol in _m(pod.get("spec")).get("tolerations") or []:
        tol = _m(tol)
        if tol.get("effect") and tol.get("effect") != taint.get("effect"):
            continue
        key = tol.get("key") or ""
        if tol.get("operator") == "Exists":
            if not key or key == taint.get("key"):
                return True
        elif key == taint.get("key") and (tol.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def _taints(node: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    taints = [_m(t) for t in _m(node.get("spec")).get("taints") or []]
    ready = node_ready(node)
    keys = {t.get("key") for t in taints}
    # What the node lifecycle controller would add for a node that is not Ready.
    if ready is False and NOT_READY_TAINT not in keys:
        taints.append({"key": NOT_READY_TAINT, "effect": "NoSchedule"})
    elif ready is None and UNREACHABLE_TAINT not in keys:
        taints.append({"key": UNREACHABLE_TAINT, "effect": "NoSchedule"})
    return taints


def filter_reason(pod: Mapping[str, Any], node: Mapping[str, Any]) -> str | None:
    """Why ``node`` cannot run ``pod`` (upstream's per-plugin reason), or ``None``."""
    spec = _m(node.get("spec"))
    if spec.get("unschedulable") is True and not _tolerates(
        pod, {"key": UNSCHEDULABLE_TAINT, "effect": "NoSchedule"}
    ):
        return "node(s) were unschedulable"
    for taint in _taints(node):
        if taint.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        if not _tolerates(pod, taint):
            return (f"node(s) had untolerated taint {{{taint.get('key', '')}: "
                    f"{taint.get('value') or ''}}}")
    selector = _m(_m(pod.get("spec")).get("nodeSelector"))
    labels = _m(_m(node.get("metadata")).get("labels"))
    if any(labels.get(k) != v for k, v in selector.items()):
        return "node(s) didn't match Pod's node affinity/selector"
    return None


def pods_per_node(pods: Iterable[Mapping[str, Any]]) -> Counter[str]:
    """Non-terminal pods bound to each node."""
    counts: Counter[str] = Counter()
    for pod in pods:
        node = _m(pod.get("spec")).get("nodeName")
        if node and _m(pod.get("status")).get("phase") not in ("Succeeded", "Failed"):
            counts[str(node)] += 1
    return counts


def schedule(
    pod: Mapping[str, Any], nodes: Iterable[Mapping[str, Any]], counts: Mapping[str, int]
) -> Decision:
    """Pick the feasible node with the fewest pods, or explain why none fits."""
    node_list = sorted(nodes, key=lambda n: str(_m(n.get("metadata")).get("name") or ""))
    if not node_list:
        return Decision(None, NO_NODES)
    reasons: Counter[str] = Counter()
    feasible: list[str] = []
    for node in node_list:
        reason = filter_reason(pod, node)
        name = str(_m(node.get("metadata")).get("name") or "")
        if reason is None:
            feasible.append(name)
        else:
            reasons[reason] += 1
    if feasible:
        return Decision(min(feasible, key=lambda n: (counts.get(n, 0), n)))
    total = len(node_list)
    parts = sorted(f"{count} {reason}" for reason, count in reasons.items())
    message = (f"0/{total} nodes are available: {', '.join(parts)}. preemption: 0/{total} "
               f"nodes are available: {total} Preemption is not helpful for scheduling.")
    return Decision(None, message)
