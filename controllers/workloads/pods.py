"""Pure pod helpers of the workload controllers (upstream ``controller_utils.go``).

Objects are JSON dicts as the API serves them. Nothing here touches the network; the
functions that write (:func:`slow_start_batch`) take the write as a callable.
"""

from __future__ import annotations

import asyncio
import copy
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from controllers.runtime.objects import is_ready, parse_time, ready_condition

__all__ = [
    "DELETION_COST_ANNOTATION",
    "controller_ref",
    "deletion_order",
    "is_active",
    "is_available",
    "is_ready",
    "owner_reference",
    "pod_from_template",
    "pod_key",
    "pods_to_delete",
    "slow_start_batch",
]

Obj = Mapping[str, Any]

#: Pods with a lower cost (this annotation, an integer) are deleted first.
DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"
_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def pod_key(pod: Obj) -> str:
    """``namespace/name``."""
    md = _m(pod.get("metadata"))
    return f"{md.get('namespace', '')}/{md.get('name', '')}"


def controller_ref(obj: Obj) -> Mapping[str, Any] | None:
    """The owner reference with ``controller: true``, if any."""
    for ref in _m(obj.get("metadata")).get("ownerReferences") or []:
        if isinstance(ref, Mapping) and ref.get("controller") is True:
            return ref
    return None


def owner_reference(owner: Obj) -> dict[str, Any]:
    """A controller reference to ``owner`` (``controller`` and ``blockOwnerDeletion`` true)."""
    md = _m(owner.get("metadata"))
    return {"apiVersion": owner.get("apiVersion"), "kind": owner.get("kind"),
            "name": md.get("name"), "uid": md.get("uid"),
            "controller": True, "blockOwnerDeletion": True}


def is_active(pod: Obj) -> bool:
    """Upstream ``IsPodActive``: not Succeeded/Failed and not being deleted."""
    phase = _m(pod.get("status")).get("phase")
    return phase not in ("Succeeded", "Failed") and not _m(pod.get("metadata")).get(
        "deletionTimestamp")


def _ready_condition(pod: Obj) -> Mapping[str, Any] | None:
    return ready_condition(pod)


def is_available(pod: Obj, min_ready_seconds: int, now: datetime) -> bool:
    """Ready, and ready for at least ``min_ready_seconds`` at ``now``."""
    cond = _ready_condition(pod)
    if cond is None or cond.get("status") != "True":
        return False
    if min_ready_seconds <= 0:
        return True
    since = parse_time(cond.get("lastTransitionTime"))
    return since is not None and (now - since).total_seconds() >= min_ready_seconds


def pod_from_template(owner: Obj, template: Obj) -> dict[str, Any]:
    """A new pod for ``owner``: the template's labels, annotations, finalizers and spec,
    ``generateName: <owner>-`` and a controller reference to the owner."""
    md = _m(owner.get("metadata"))
    tmd = _m(template.get("metadata"))
    meta: dict[str, Any] = {
        "generateName": f"{md.get('name')}-", "namespace": md.get("namespace"),
        "labels": dict(_m(tmd.get("labels"))), "ownerReferences": [owner_reference(owner)],
    }
    if tmd.get("annotations"):
        meta["annotations"] = dict(_m(tmd.get("annotations")))
    if tmd.get("finalizers"):
        meta["finalizers"] = list(tmd["finalizers"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": copy.deepcopy(dict(_m(template.get("spec"))))}


def _log_bucket(since: datetime | None, now: datetime) -> int:
    """Upstream's logarithmic scale-down comparison: durations in the same power-of-two
    second bucket compare equal; an unset time sorts before every set one."""
    if since is None:
        return -1
    seconds = max((now - since).total_seconds(), 0.0)
    return math.floor(math.log2(seconds)) + 1 if seconds >= 1 else 0


def _restarts(pod: Obj) -> int:
    counts = [int(cs.get("restartCount") or 0)
              for cs in _m(pod.get("status")).get("containerStatuses") or []
              if isinstance(cs, Mapping)]
    return max(counts, default=0)


def _deletion_cost(pod: Obj) -> int:
    raw = _m(_m(pod.get("metadata")).get("annotations")).get(DELETION_COST_ANNOTATION)
    try:
        return int(raw) if raw is not None else 0
    except (TypeError, ValueError):
        return 0


def deletion_order(pod: Obj, rank: int, now: datetime) -> tuple[Any, ...]:
    """Sort key of upstream ``ActivePodsWithRanks``; the smallest is deleted first.

    Unassigned before assigned; Pending before Unknown before Running; not ready before
    ready; lower deletion cost first; more pods of the same owner on its node (``rank``)
    first; ready for a shorter time first; more restarts first; newer first. Durations
    compare on a logarithmic scale.
    """
    md, spec = _m(pod.get("metadata")), _m(pod.get("spec"))
    phase = _PHASE_RANK.get(str(_m(pod.get("status")).get("phase")), 3)
    ready = is_ready(pod)
    ready_for = 0
    if ready:
        cond = _ready_condition(pod) or {}
        ready_for = _log_bucket(parse_time(cond.get("lastTransitionTime")), now)
    created = parse_time(md.get("creationTimestamp"))
    age = _log_bucket(created, now)
    return (bool(spec.get("nodeName")), phase, ready, _deletion_cost(pod), -rank,
            ready_for, -_restarts(pod), age)


def pods_to_delete(pods: Sequence[Obj], related: Sequence[Obj], count: int,
                   now: datetime) -> list[Obj]:
    """The ``count`` pods of ``pods`` to delete first; ``related`` (the owner's active pods,
    and for a Deployment its siblings') ranks pods sharing a node with more of them first."""
    if count >= len(pods):
        return list(pods)
    per_node: dict[str, int] = {}
    for pod in related:
        node = _m(pod.get("spec")).get("nodeName")
        if node:
            per_node[str(node)] = per_node.get(str(node), 0) + 1
    ranked = sorted(pods, key=lambda p: deletion_order(
        p, per_node.get(str(_m(p.get("spec")).get("nodeName") or ""), 0), now))
    return ranked[:count]


async def slow_start_batch(count: int, initial: int,
                           fn: Callable[[], Awaitable[None]]) -> tuple[int, BaseException | None]:
    """Call ``fn`` ``count`` times in batches of ``initial``, then twice the last batch, and
    so on, all calls of a batch concurrently; stop after the first batch with a failure.

    Returns ``(successes, first error)``: a quota or admission failure costs one call, not
    ``count``.
    """
    done = 0
    batch = min(count, initial)
    while batch > 0:
        results = await asyncio.gather(*(fn() for _ in range(batch)), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        done += batch - len(errors)
        if errors:
            return done, errors[0]
        remaining = count - done
        batch = min(2 * batch, remaining)
    return done, None
