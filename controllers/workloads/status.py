"""The status a ReplicaSet or ReplicationController reports (upstream ``calculateStatus``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from controllers.workloads.pods import is_available, is_ready

__all__ = ["REPLICA_FAILURE", "compute_status", "format_time", "status_changed"]

#: The condition type set while creating or deleting pods fails.
REPLICA_FAILURE = "ReplicaFailure"
_FIELDS = ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas",
           "observedGeneration", "conditions")


def format_time(when: datetime) -> str:
    """RFC 3339 in UTC, seconds precision (as ``metav1.Time``)."""
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def compute_status(owner: Mapping[str, Any], pods: Sequence[Mapping[str, Any]],
                   manage_err: BaseException | None, diff: int,
                   now: datetime) -> dict[str, Any]:
    """The owner's new status from its claimed active ``pods``.

    ``fullyLabeledReplicas`` counts pods carrying every template label; ``availableReplicas``
    pods ready for ``minReadySeconds``. A ``manage_err`` sets ``ReplicaFailure``
    (``FailedCreate`` when pods were missing, else ``FailedDelete``) unless one is already
    set; success removes it. Other conditions are kept.
    """
    spec = owner.get("spec") or {}
    old = owner.get("status") or {}
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    min_ready = int(spec.get("minReadySeconds") or 0)
    labeled = ready = available = 0
    for pod in pods:
        labels = (pod.get("metadata") or {}).get("labels") or {}
        if all(labels.get(k) == v for k, v in template_labels.items()):
            labeled += 1
        if is_ready(pod):
            ready += 1
            if is_available(pod, min_ready, now):
                available += 1
    conditions = [dict(c) for c in old.get("conditions") or []]
    failing = [c for c in conditions if c.get("type") == REPLICA_FAILURE]
    if manage_err is not None and not failing:
        conditions.append({
            "type": REPLICA_FAILURE, "status": "True",
            "lastTransitionTime": format_time(now),
            "reason": "FailedCreate" if diff < 0 else "FailedDelete",
            "message": str(manage_err),
        })
    elif manage_err is None and failing:
        conditions = [c for c in conditions if c.get("type") != REPLICA_FAILURE]
    status: dict[str, Any] = {
        "replicas": len(pods), "fullyLabeledReplicas": labeled, "readyReplicas": ready,
        "availableReplicas": available,
        "observedGeneration": (owner.get("metadata") or {}).get("generation", 0),
    }
    if conditions:
        status["conditions"] = conditions
    return status


def status_changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether writing ``new`` changes anything (absent counts read as 0)."""
    for name in _FIELDS:
        empty: Any = [] if name == "conditions" else 0
        if (old.get(name) or empty) != (new.get(name) or empty):
            return True
    return False
