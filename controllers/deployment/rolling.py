"""The RollingUpdate strategy (upstream ``rolling.go``).

Each sync makes at most one kind of move: grow the new ReplicaSet within
``replicas + maxSurge``, or shrink old ones while at least ``replicas - maxUnavailable``
pods stay available (as the ReplicaSets' ``status.availableReplicas`` report); once
complete, old revisions beyond the history limit are deleted.
"""

from __future__ import annotations

from collections.abc import Sequence

from controllers.deployment.history import cleanup
from controllers.deployment.progress import deployment_complete
from controllers.deployment.sync import REPLICASETS, Rollout
from controllers.deployment.util import (
    Obj,
    active,
    available,
    by_creation,
    max_unavailable,
    spec_replicas,
    total_spec,
    total_status,
)

__all__ = ["delete_rs", "rollout_rolling"]


async def delete_rs(rollout: Rollout, rs: Obj) -> None:
    """Delete an old ReplicaSet (its pods follow by garbage collection)."""
    await rollout.writer.delete(REPLICASETS, rollout.namespace, rs["metadata"]["name"])


async def rollout_rolling(rollout: Rollout, rses: Sequence[Obj]) -> None:
    """One step of a rolling update, then the rollout status."""
    new_rs, olds = await rollout.new_and_old(rses, create=True)
    all_rses: list[Obj | None] = [*olds, new_rs]
    if new_rs is not None and await _reconcile_new(rollout, all_rses, new_rs):
        await rollout.sync_rollout_status(all_rses, new_rs)
        return
    if new_rs is not None and await _reconcile_old(rollout, all_rses, active(olds), new_rs):
        await rollout.sync_rollout_status(all_rses, new_rs)
        return
    if deployment_complete(rollout.d, rollout.d.get("status") or {}):
        await cleanup(rollout.d, olds, lambda rs: delete_rs(rollout, rs))
    await rollout.sync_rollout_status(all_rses, new_rs)


async def _reconcile_new(rollout: Rollout, all_rses: list[Obj | None], new_rs: Obj) -> bool:
    """Scale the new ReplicaSet toward ``replicas``; whether it was scaled."""
    if spec_replicas(new_rs) == rollout.replicas:
        return False
    target = rollout.replicas if spec_replicas(new_rs) > rollout.replicas \
        else rollout.new_rs_replicas(all_rses, new_rs)
    scaled, updated = await rollout.scale_rs(new_rs, target)
    _replace(all_rses, new_rs, updated)
    return scaled


async def _reconcile_old(rollout: Rollout, all_rses: list[Obj | None], olds: list[Obj],
                         new_rs: Obj) -> bool:
    """Scale old ReplicaSets down as far as availability allows; whether any were."""
    if total_spec(olds) == 0:
        return False
    min_available = rollout.replicas - max_unavailable(rollout.d)
    new_unavailable = spec_replicas(new_rs) - available(new_rs)
    most = total_spec(all_rses) - min_available - new_unavailable
    if most <= 0:
        return False
    cleaned = await _cleanup_unhealthy(rollout, all_rses, olds, most)
    return cleaned + await _scale_down_old(rollout, all_rses, olds) > 0


async def _cleanup_unhealthy(rollout: Rollout, all_rses: list[Obj | None], olds: list[Obj],
                             most: int) -> int:
    """First drop old replicas that are not available anyway (oldest ReplicaSets first)."""
    olds.sort(key=by_creation)
    done = 0
    for i, rs in enumerate(olds):
        if done >= most:
            break
        unhealthy = spec_replicas(rs) - available(rs)
        if spec_replicas(rs) == 0 or unhealthy <= 0:
            continue
        count = min(most - done, unhealthy)
        _, updated = await rollout.scale_rs(rs, spec_replicas(rs) - count)
        _replace(all_rses, rs, updated)
        olds[i] = updated
        done += count
    return done


async def _scale_down_old(rollout: Rollout, all_rses: list[Obj | None],
                          olds: list[Obj]) -> int:
    """Then scale available old replicas down to what ``maxUnavailable`` allows."""
    min_available = rollout.replicas - max_unavailable(rollout.d)
    free = total_status(all_rses, "availableReplicas") - min_available
    if free <= 0:
        return 0
    olds.sort(key=by_creation)
    done = 0
    for i, rs in enumerate(olds):
        if done >= free:
            break
        if spec_replicas(rs) == 0:
            continue
        count = min(spec_replicas(rs), free - done)
        _, updated = await rollout.scale_rs(rs, spec_replicas(rs) - count)
        _replace(all_rses, rs, updated)
        olds[i] = updated
        done += count
    return done


def _replace(rses: list[Obj | None], old: Obj, new: Obj) -> None:
    for i, rs in enumerate(rses):
        if rs is old:
            rses[i] = new
