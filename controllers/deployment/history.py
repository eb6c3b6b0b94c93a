"""Revisions: ReplicaSet annotations and the cleanup of old revisions (upstream
``SetNewReplicaSetAnnotations``, ``SetReplicasAnnotations`` and ``cleanupDeployment``).

A rollback needs nothing special here: ``kubectl rollout undo`` puts an old template back
on the Deployment, the sync finds the ReplicaSet with that template as the new one, and
:func:`set_new_rs_annotations` moves its revision to max+1 (the old number goes into
``deployment.kubernetes.io/revision-history``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from controllers.deployment.util import (
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    NOT_COPIED,
    REVISION,
    REVISION_HISTORY,
    Obj,
    annotations_of,
    by_revision,
    max_surge,
    spec_replicas,
    status_int,
)

__all__ = ["cleanup", "set_new_rs_annotations", "set_replicas_annotations"]

log = logging.getLogger(__name__)

#: Longest ``revision-history`` annotation kept (upstream's default limit).
MAX_HISTORY_CHARS = 2000


def copy_annotations(deployment: Obj, rs: Obj) -> bool:
    """Copy the Deployment's annotations (``kubernetes.io/change-cause`` among them) onto
    ``rs``, except the controller's own; whether anything changed."""
    changed = False
    theirs = (deployment["metadata"].get("annotations") or {})
    for key, value in theirs.items():
        if key in NOT_COPIED or annotations_of(rs).get(key) == value:
            continue
        annotations_of(rs)[key] = value
        changed = True
    return changed


def set_replicas_annotations(rs: Obj, desired: int, most: int) -> bool:
    """Stamp ``desired-replicas`` and ``max-replicas``; whether they changed."""
    notes = annotations_of(rs)
    changed = False
    for key, value in ((DESIRED_REPLICAS, str(desired)), (MAX_REPLICAS, str(most))):
        if notes.get(key) != value:
            notes[key] = value
            changed = True
    return changed


def set_new_rs_annotations(deployment: Obj, rs: Obj, new_revision: str, exists: bool) -> bool:
    """Bring the new ReplicaSet's annotations up to date: copied ones, the revision raised
    to ``new_revision`` (never lowered; the replaced number appended to the history) and,
    for a ReplicaSet about to be created, the replica annotations. Whether any changed."""
    changed = copy_annotations(deployment, rs)
    notes = annotations_of(rs)
    old = notes.get(REVISION, "")
    try:
        old_number = int(old) if old else 0
    except ValueError:
        return False
    if old_number < int(new_revision):
        notes[REVISION] = new_revision
        changed = True
        if old:
            history = [h for h in notes.get(REVISION_HISTORY, "").split(",") if h]
            history.append(old)
            text = ",".join(history)
            while len(text) > MAX_HISTORY_CHARS and len(history) > 1:
                history.pop(0)
                text = ",".join(history)
            notes[REVISION_HISTORY] = text
    replicas = spec_replicas(deployment)
    if not exists and set_replicas_annotations(rs, replicas, replicas + max_surge(deployment)):
        changed = True
    return changed


async def cleanup(deployment: Obj, olds: Sequence[Obj],
                  delete: Callable[[Obj], Awaitable[Any]]) -> int:
    """Delete the oldest revisions beyond ``revisionHistoryLimit``: only ReplicaSets with
    no replicas wanted or left, whose status is current and not already being deleted.
    Returns how many were deleted."""
    limit = deployment["spec"].get("revisionHistoryLimit")
    if limit is None:
        return 0
    alive = sorted((rs for rs in olds if not rs["metadata"].get("deletionTimestamp")),
                   key=by_revision)
    excess = len(alive) - int(limit)
    deleted = 0
    for rs in alive[:max(excess, 0)]:
        generation = int(rs["metadata"].get("generation") or 0)
        if status_int(rs, "replicas") or spec_replicas(rs) \
                or generation > status_int(rs, "observedGeneration"):
            continue
        log.info("deleting old replica set %s", rs["metadata"]["name"])
        await delete(rs)
        deleted += 1
    return deleted
