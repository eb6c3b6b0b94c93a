"""The Recreate strategy (upstream ``recreate.go``): scale every old ReplicaSet to zero,
wait until none of their pods is left running, then scale the new one up at once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from controllers.deployment.history import cleanup
from controllers.deployment.progress import deployment_complete
from controllers.deployment.rolling import delete_rs
from controllers.deployment.sync import Rollout
from controllers.deployment.util import Obj, active, total_status

__all__ = ["old_pods_running", "rollout_recreate"]


def old_pods_running(new_rs: Obj | None, olds: Sequence[Obj],
                     pods_by_rs: Mapping[str, Sequence[Obj]]) -> bool:
    """Whether old ReplicaSets still report replicas or still own a pod that has not
    finished (``pods_by_rs`` maps ReplicaSet uid → its pods)."""
    if total_status(olds, "replicas") > 0:
        return True
    new_uid = (new_rs or {}).get("metadata", {}).get("uid")
    for uid, pods in pods_by_rs.items():
        if new_uid is not None and uid == new_uid:
            continue
        for pod in pods:
            if (pod.get("status") or {}).get("phase") not in ("Failed", "Succeeded"):
                return True
    return False


async def rollout_recreate(rollout: Rollout, rses: Sequence[Obj],
                           pods_by_rs: Mapping[str, Sequence[Obj]]) -> None:
    """One step of a Recreate rollout, then the rollout status."""
    new_rs, olds = await rollout.new_and_old(rses, create=False)
    all_rses: list[Obj | None] = [*olds, new_rs]
    scaled = False
    for i, rs in enumerate(olds):
        if rs in active([rs]):
            changed, olds[i] = await rollout.scale_rs(rs, 0)
            scaled = scaled or changed
    all_rses = [*olds, new_rs]
    if scaled or old_pods_running(new_rs, olds, pods_by_rs):
        await rollout.sync_rollout_status(all_rses, new_rs)
        return
    if new_rs is None:
        new_rs, olds = await rollout.new_and_old(rses, create=True)
        all_rses = [*olds, new_rs]
    if new_rs is not None:
        _, new_rs = await rollout.scale_rs(new_rs, rollout.replicas)
        all_rses = [*olds, new_rs]
    if deployment_complete(rollout.d, rollout.d.get("status") or {}):
        await cleanup(rollout.d, olds, lambda rs: delete_rs(rollout, rs))
    await rollout.sync_rollout_status(all_rses, new_rs)
