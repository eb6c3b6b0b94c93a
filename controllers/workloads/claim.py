"""Claiming pods through controller references (upstream ``PodControllerRefManager``).

An owner keeps the pods whose controller reference names it and whose labels its selector
still matches; it adopts orphans the selector matches and releases owned pods it no longer
matches, both by strategic merge patches on ``metadata.ownerReferences`` that carry the pod's
``uid`` (so a recreated pod of the same name is never touched). Pods controlled by another
object are never touched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from apiserver.api.labels import LabelSelector
from apiserver.api.resources import PODS, ResourceInfo
from controllers.client.errors import ApiError, is_not_found
from controllers.runtime.writer import Writer
from controllers.workloads.pods import controller_ref, owner_reference

__all__ = ["STRATEGIC_MERGE_PATCH", "claim_pods"]

STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"

Obj = dict[str, Any]


def _md(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    md = obj.get("metadata")
    return md if isinstance(md, Mapping) else {}


class _AdoptionCheck:
    """Upstream ``RecheckDeletionTimestamp``: before the first adoption of a sync, read the
    owner from the apiserver (not the cache) and refuse when it is gone, replaced (another
    uid) or being deleted."""

    def __init__(self, info: ResourceInfo, owner: Obj, reader: Any) -> None:
        self.info, self.owner, self.reader = info, owner, reader
        self.verdict: bool | None = None

    async def allowed(self) -> bool:
        if self.verdict is None:
            fresh: Mapping[str, Any] = self.owner
            if self.reader is not None:
                md = _md(self.owner)
                try:
                    fresh = await self.reader.get(self.info, md.get("namespace"), md.get("name"))
                except ApiError as exc:
                    if not is_not_found(exc):
                        raise
                    self.verdict = False
                    return False
            self.verdict = (_md(fresh).get("uid") == _md(self.owner).get("uid")
                            and not _md(fresh).get("deletionTimestamp"))
        return self.verdict


async def claim_pods(info: ResourceInfo, owner: Obj, selector: LabelSelector,
                     pods: Sequence[Obj], writer: Writer, reader: Any = None) -> list[Obj]:
    """The pods of ``pods`` that ``owner`` controls after adopting and releasing.

    ``reader`` (a REST client, or ``None`` to trust the cache) backs the adoption check. A
    pod that vanished meanwhile is skipped; other write errors propagate.
    """
    uid = _md(owner).get("uid")
    owner_deleting = bool(_md(owner).get("deletionTimestamp"))
    check = _AdoptionCheck(info, owner, reader)
    claimed: list[Obj] = []
    for pod in pods:
        md = _md(pod)
        labels = md.get("labels") or {}
        matches = not selector.empty and selector.matches(labels)
        ref = controller_ref(pod)
        if ref is not None:
            if ref.get("uid") != uid:
                continue
            if matches:
                claimed.append(pod)
            elif not owner_deleting:
                await _patch(writer, pod, {"metadata": {
                    "ownerReferences": [{"$patch": "delete", "uid": uid}],
                    "uid": md.get("uid")}}, release=True)
            continue
        if not matches or owner_deleting or md.get("deletionTimestamp"):
            continue
        if not await check.allowed():
            continue
        adopted = await _patch(writer, pod, {"metadata": {
            "ownerReferences": [owner_reference(owner)], "uid": md.get("uid")}})
        if adopted is not None:
            claimed.append(adopted)
    return claimed


async def _patch(writer: Writer, pod: Mapping[str, Any], body: Obj,
                 release: bool = False) -> Obj | None:
    md = _md(pod)
    try:
        result: Obj = await writer.patch(PODS, str(md.get("namespace")), str(md.get("name")),
                                         body, content_type=STRATEGIC_MERGE_PATCH)
        return result
    except ApiError as exc:
        # Gone already, or (on release) the reference is gone already: nothing to do.
        if is_not_found(exc) or (release and exc.code == 422):
            return None
        raise
