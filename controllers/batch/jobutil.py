"""Pure helpers of the job controller: pod classification, indexes, backoff, conditions.

Nothing here talks to the apiserver; :mod:`controllers.batch.job` composes these.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from controllers.runtime.objects import is_ready, parse_time

__all__ = [
    "COMPLETION_INDEX",
    "DEFAULT_BACKOFF",
    "MAX_BACKOFF",
    "TRACKING_FINALIZER",
    "Clock",
    "backoff_delay",
    "finish_time",
    "format_indexes",
    "get_condition",
    "is_ready",
    "owner_job",
    "parse_indexes",
    "parse_time",
    "pod_index",
    "pod_outcome",
    "rfc3339",
    "set_condition",
    "utcnow",
]

#: The finalizer that keeps a Job's pod until the controller counted it.
TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
#: Annotation and label carrying an Indexed Job pod's completion index.
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
#: Delay before re-creating a pod after the first failure; doubles per further failure.
DEFAULT_BACKOFF = 10.0
#: The cap of the failure backoff: ten minutes, as upstream's ``MaxJobPodFailureBackOff``
#: (the Job documentation still says six).
MAX_BACKOFF = 600.0


#: Where the batch controllers read the time (tests pass a fake).
Clock = Callable[[], datetime]


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def rfc3339(when: datetime) -> str:
    """``when`` as Kubernetes writes times (UTC, whole seconds)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod_index(pod: Mapping[str, Any]) -> int | None:
    """An Indexed Job pod's completion index (annotation first, then label)."""
    md = _m(pod.get("metadata"))
    for source in (_m(md.get("annotations")), _m(md.get("labels"))):
        value = source.get(COMPLETION_INDEX)
        if isinstance(value, str) and value.isdigit():
            return int(value)
    return None


def parse_indexes(text: str | None) -> set[int]:
    """``"0-2,4"`` → {0, 1, 2, 4}; malformed parts are skipped."""
    out: set[int] = set()
    for part in (text or "").split(","):
        lo, _, hi = part.strip().partition("-")
        if lo.isdigit() and (not hi or hi.isdigit()):
            out.update(range(int(lo), int(hi or lo) + 1))
    return out


def format_indexes(indexes: Iterable[int]) -> str:
    """{0, 1, 2, 4} → ``"0-2,4"`` (ascending runs)."""
    ordered = sorted(set(indexes))
    runs: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        runs.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(runs)


def finish_time(pod: Mapping[str, Any], fallback: datetime) -> datetime:
    """When a finished pod finished: its containers' latest ``finishedAt``, else the
    deletion timestamp, else ``fallback``."""
    latest: datetime | None = None
    for cs in _m(pod.get("status")).get("containerStatuses") or []:
        t = parse_time(_m(_m(_m(cs).get("state")).get("terminated")).get("finishedAt"))
        if t is not None and (latest is None or t > latest):
            latest = t
    if latest is None:
        latest = parse_time(_m(pod.get("metadata")).get("deletionTimestamp"))
    return latest or fallback


def backoff_delay(failures: int) -> timedelta:
    """The delay before re-creating a pod after ``failures`` consecutive failures:
    10 s, 20 s, 40 s … capped at :data:`MAX_BACKOFF` (0 without failures)."""
    if failures <= 0:
        return timedelta(0)
    return timedelta(seconds=min(DEFAULT_BACKOFF * 2 ** min(failures - 1, 32), MAX_BACKOFF))


def get_condition(status: Mapping[str, Any], ctype: str) -> Mapping[str, Any] | None:
    """The condition of type ``ctype`` that is True (None otherwise)."""
    for cond in status.get("conditions") or []:
        if _m(cond).get("type") == ctype and _m(cond).get("status") == "True":
            return _m(cond)
    return None


def set_condition(status: dict[str, Any], ctype: str, cstatus: str, reason: str,
                  message: str, now: datetime) -> bool:
    """Add or update a condition; True when something changed. The transition time moves
    only when the status changes (probe time is always refreshed on change)."""
    conditions: list[dict[str, Any]] = [dict(c) for c in status.get("conditions") or []]
    stamp = rfc3339(now)
    for cond in conditions:
        if cond.get("type") != ctype:
            continue
        if (cond.get("status"), cond.get("reason"), cond.get("message")) == (
                cstatus, reason, message):
            return False
        if cond.get("status") != cstatus:
            cond["lastTransitionTime"] = stamp
        cond.update(status=cstatus, reason=reason, message=message, lastProbeTime=stamp)
        status["conditions"] = conditions
        return True
    conditions.append({"type": ctype, "status": cstatus, "reason": reason, "message": message,
                       "lastProbeTime": stamp, "lastTransitionTime": stamp})
    status["conditions"] = conditions
    return True


def utcnow() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


def owner_job(pod: Mapping[str, Any]) -> str | None:
    """``namespace/name`` of the Job controlling ``pod`` (None when none does)."""
    md = _m(pod.get("metadata"))
    for ref in md.get("ownerReferences") or []:
        ref = _m(ref)
        if ref.get("controller") and ref.get("kind") == "Job" and \
                str(ref.get("apiVersion", "")).startswith("batch/"):
            return f"{md.get('namespace')}/{ref.get('name')}"
    return None


def pod_outcome(pod: Mapping[str, Any]) -> str | None:
    """``succeeded``/``failed`` for a finished pod (a deleted unfinished pod failed)."""
    phase = _m(pod.get("status")).get("phase")
    if phase == "Succeeded":
        return "succeeded"
    if phase == "Failed" or _m(pod.get("metadata")).get("deletionTimestamp"):
        return "failed"
    return None


def pod_for(job: Mapping[str, Any], index: int | None) -> dict[str, Any]:
    """The pod the Job's template describes (for completion ``index`` when Indexed)."""
    md = _m(job.get("metadata"))
    template = _m(_m(job.get("spec")).get("template"))
    tmd = _m(template.get("metadata"))
    labels = dict(_m(tmd.get("labels")))
    annotations = dict(_m(tmd.get("annotations")))
    pod_spec = copy.deepcopy(dict(_m(template.get("spec"))))
    prefix = f"{md.get('name')}-"
    if index is not None:
        labels[COMPLETION_INDEX] = annotations[COMPLETION_INDEX] = str(index)
        pod_spec.setdefault("hostname", f"{md.get('name')}-{index}")
        prefix = f"{md.get('name')}-{index}-"
    meta: dict[str, Any] = {
        "generateName": prefix, "namespace": md.get("namespace"), "labels": labels,
        "finalizers": [TRACKING_FINALIZER],
        "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job",
                             "name": md.get("name"), "uid": md.get("uid"),
                             "controller": True, "blockOwnerDeletion": True}]}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": pod_spec}


def restarts(job: Mapping[str, Any], active: list[dict[str, Any]]) -> int:
    """Container restarts of the active pods, which count as failures under
    ``restartPolicy: OnFailure`` (0 otherwise)."""
    template = _m(_m(job.get("spec")).get("template"))
    if _m(template.get("spec")).get("restartPolicy") != "OnFailure":
        return 0
    return sum(int(_m(cs).get("restartCount") or 0) for p in active
               for cs in _m(p.get("status")).get("containerStatuses") or [])
