"""Deployment status and conditions (upstream ``sync.go`` status part and ``progress.go``).

Pure functions: :func:`calculate_status` derives the status from the ReplicaSets and
:func:`rollout_status` adds the Progressing condition ``kubectl rollout status`` reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from controllers.deployment.util import (
    Obj,
    get_condition,
    has_progress_deadline,
    max_unavailable,
    new_condition,
    remove_condition,
    set_condition,
    spec_replicas,
    total_spec,
    total_status,
)
from controllers.runtime.objects import parse_time

__all__ = [
    "AVAILABLE", "FAILED_RS_CREATE", "FOUND_NEW_RS", "NEW_RS_CREATED", "PROGRESSING",
    "calculate_status", "deployment_complete", "paused_condition", "requeue_after",
    "rollout_status",
]

AVAILABLE = "Available"
PROGRESSING = "Progressing"
REPLICA_FAILURE = "ReplicaFailure"
# Reasons of the Progressing condition.
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
RS_UPDATED = "ReplicaSetUpdated"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
FAILED_RS_CREATE = "ReplicaSetCreateError"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"


def calculate_status(all_rses: Sequence[Obj | None], new_rs: Obj | None,
                     deployment: Mapping[str, Any]) -> Obj:
    """The status the ReplicaSets imply: counts, observedGeneration, the kept
    collisionCount and conditions, and the Available condition refreshed."""
    old = deployment.get("status") or {}
    available_count = total_status(all_rses, "availableReplicas")
    unavailable = max(total_spec(all_rses) - available_count, 0)
    status: Obj = {
        "observedGeneration": deployment["metadata"].get("generation", 0),
        "replicas": total_status(all_rses, "replicas"),
        "updatedReplicas": total_status([new_rs], "replicas"),
        "readyReplicas": total_status(all_rses, "readyReplicas"),
        "availableReplicas": available_count,
        "unavailableReplicas": unavailable,
    }
    if old.get("collisionCount") is not None:
        status["collisionCount"] = old["collisionCount"]
    if old.get("conditions"):
        status["conditions"] = [dict(c) for c in old["conditions"]]
    if available_count >= spec_replicas(deployment) - max_unavailable(deployment):
        cond = new_condition(AVAILABLE, "True", "MinimumReplicasAvailable",
                             "Deployment has minimum availability.")
    else:
        cond = new_condition(AVAILABLE, "False", "MinimumReplicasUnavailable",
                             "Deployment does not have minimum availability.")
    set_condition(status, cond)
    return _drop_zeros(status)


def _drop_zeros(status: Obj) -> Obj:
    # Zero counts are omitted on the wire (omitempty), so compare like the apiserver stores.
    return {k: v for k, v in status.items() if v not in (0, None) or k == "observedGeneration"}


def deployment_complete(deployment: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
    """All replicas updated and available, none old, and the generation observed."""
    want = spec_replicas(deployment)
    return (int(status.get("updatedReplicas") or 0) == want
            and int(status.get("replicas") or 0) == want
            and int(status.get("availableReplicas") or 0) == want
            and int(status.get("observedGeneration") or 0)
            >= int(deployment["metadata"].get("generation") or 0))


def _progressing(deployment: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    old = deployment.get("status") or {}

    def n(status: Mapping[str, Any], key: str) -> int:
        return int(status.get(key) or 0)

    old_old = n(old, "replicas") - n(old, "updatedReplicas")
    new_old = n(new, "replicas") - n(new, "updatedReplicas")
    return (n(new, "updatedReplicas") > n(old, "updatedReplicas") or new_old < old_old
            or n(new, "readyReplicas") > n(old, "readyReplicas")
            or n(new, "availableReplicas") > n(old, "availableReplicas"))


def _timed_out(deployment: Mapping[str, Any], status: Mapping[str, Any],
               at: datetime | None = None) -> bool:
    if not has_progress_deadline(deployment):
        return False
    cond = get_condition(status, PROGRESSING)
    if cond is None or cond.get("reason") == NEW_RS_AVAILABLE:
        return False
    if cond.get("reason") == TIMED_OUT:
        return True
    since = parse_time(cond.get("lastUpdateTime"))
    if since is None:  # a condition written without a time cannot have run out
        return False
    deadline = timedelta(seconds=int(deployment["spec"]["progressDeadlineSeconds"]))
    return since + deadline < (at or datetime.now(UTC))


def rollout_status(all_rses: Sequence[Obj | None], new_rs: Obj | None,
                   deployment: Mapping[str, Any]) -> Obj:
    """:func:`calculate_status` plus the Progressing condition (complete, progressing or
    timed out, messages as upstream) and the ReplicaFailure condition of the new RS."""
    status = calculate_status(all_rses, new_rs, deployment)
    name = deployment["metadata"]["name"]
    subject = f'ReplicaSet "{new_rs["metadata"]["name"]}"' if new_rs else f'Deployment "{name}"'
    if not has_progress_deadline(deployment):
        remove_condition(status, PROGRESSING)
    current = get_condition(deployment.get("status") or {}, PROGRESSING)
    complete = (status.get("replicas") == status.get("updatedReplicas")
                and current is not None and current.get("reason") == NEW_RS_AVAILABLE)
    if has_progress_deadline(deployment) and not complete:
        if deployment_complete(deployment, status):
            set_condition(status, new_condition(
                PROGRESSING, "True", NEW_RS_AVAILABLE, f"{subject} has successfully progressed."))
        elif _progressing(deployment, status):
            cond = new_condition(PROGRESSING, "True", RS_UPDATED, f"{subject} is progressing.")
            if current is not None:
                if current.get("status") == "True":
                    cond["lastTransitionTime"] = current.get("lastTransitionTime")
                remove_condition(status, PROGRESSING)
            set_condition(status, cond)
        elif _timed_out(deployment, status):
            set_condition(status, new_condition(
                PROGRESSING, "False", TIMED_OUT, f"{subject} has timed out progressing."))
    failure = get_condition((new_rs or {}).get("status") or {}, REPLICA_FAILURE) \
        if new_rs else None
    if failure is not None and failure.get("status") == "True":
        set_condition(status, new_condition(REPLICA_FAILURE, "True",
                                            str(failure.get("reason", "")),
                                            str(failure.get("message", ""))))
    else:
        remove_condition(status, REPLICA_FAILURE)
    return status


def requeue_after(deployment: Mapping[str, Any], status: Mapping[str, Any],
                  at: datetime | None = None) -> float | None:
    """Seconds until the progress deadline of a stuck rollout must be checked, or None."""
    cond = get_condition(status, PROGRESSING)
    if not has_progress_deadline(deployment) or cond is None:
        return None
    if deployment_complete(deployment, status) or cond.get("reason") == TIMED_OUT:
        return None
    since = parse_time(cond.get("lastUpdateTime"))
    if since is None:
        return None
    deadline = timedelta(seconds=int(deployment["spec"]["progressDeadlineSeconds"]))
    left = (since + deadline - (at or datetime.now(UTC))).total_seconds()
    return 0.0 if left < 1 else left + 1


def paused_condition(deployment: Mapping[str, Any]) -> Obj | None:
    """The Progressing condition to set when ``spec.paused`` flipped, or None."""
    if not has_progress_deadline(deployment):
        return None
    cond = get_condition(deployment.get("status") or {}, PROGRESSING)
    if cond is not None and cond.get("reason") == TIMED_OUT:
        return None
    paused_set = cond is not None and cond.get("reason") == PAUSED
    if deployment["spec"].get("paused") and not paused_set:
        return new_condition(PROGRESSING, "Unknown", PAUSED, "Deployment is paused")
    if not deployment["spec"].get("paused") and paused_set:
        return new_condition(PROGRESSING, "Unknown", RESUMED, "Deployment is resumed")
    return None

