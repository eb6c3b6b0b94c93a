"""Deletes of the generic store: graceful deletion, finalizers, DELETE of a collection.

A delete passes mutating and validating admission with the stored object as the old
object. What a DELETE leaves behind — a deletionTimestamp with a grace period, the
garbage collector's ``orphan``/``foregroundDeletion`` finalizers — follows upstream.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

from apiserver.admission import Operation
from apiserver.api import errors, meta
from apiserver.registry.store.options import (
    DeleteOptions,
    DeleteResult,
    ListOptions,
    delete_options,
    order_object,
)
from apiserver.registry.store.writes import UnconfirmedState, WriteStore
from apiserver.storage.cache import CachedObject
from apiserver.storage.errors import (
    KeyNotFoundError,
    RevisionConflictError,
    StorageUnavailableError,
)

ORPHAN_FINALIZER = "orphan"
FOREGROUND_FINALIZER = "foregroundDeletion"


def deletion_finalizers(
    finalizers: list[str], opts: DeleteOptions, *, orphan_by_default: bool = False
) -> list[str]:
    """The finalizers a DELETE leaves on the object, as garbage collection wants them.

    ``orphanDependents`` wins over ``propagationPolicy``, which wins over an
    ``orphan`` / ``foregroundDeletion`` finalizer already present (the first of
    the two decides), which wins over the kind's default.  The result keeps
    every other finalizer; it is ``finalizers`` itself when the set is unchanged.
    """
    orphan = foreground = False
    if opts.orphan_dependents is not None:
        orphan = opts.orphan_dependents
    elif opts.propagation_policy is not None:
        orphan = opts.propagation_policy == "Orphan"
        foreground = opts.propagation_policy == "Foreground"
    else:
        present = [f for f in finalizers if f in (ORPHAN_FINALIZER, FOREGROUND_FINALIZER)]
        if present:
            orphan = present[0] == ORPHAN_FINALIZER
            foreground = not orphan
        else:
            orphan = orphan_by_default
    wanted = [f for f in finalizers if f not in (ORPHAN_FINALIZER, FOREGROUND_FINALIZER)]
    if orphan:
        wanted.append(ORPHAN_FINALIZER)
    if foreground:
        wanted.append(FOREGROUND_FINALIZER)
    return finalizers if set(wanted) == set(finalizers) else wanted


def _set_finalizers(md: dict[str, Any], old: list[str], new: list[str]) -> bool:
    """Store ``new`` as ``md``'s finalizers; whether that changed anything."""
    if new is old:
        return False
    if new:
        md["finalizers"] = new
    else:
        md.pop("finalizers", None)
    return True

class DeleteStore(WriteStore):
    """DELETE of one object or of a collection."""

    async def delete(
        self, namespace: str | None, name: str, opts: DeleteOptions
    ) -> DeleteResult:
        """Delete, gracefully or through finalizers where they apply."""
        key = self.key(namespace, name)
        fresh = False
        while True:
            # The watch cache's copy first, as for updates (upstream's Delete takes the
            # cacher's cachedExistingObject too); decisions on it are confirmed by the
            # revision compare of the write, or taken again on the stored state.
            cached, fresh = await self._starting_state(key, fresh)
            if cached is None:
                raise errors.not_found(self.info, name)
            try:
                return await self._delete_checked(key, namespace, name, cached, opts, fresh)
            except RevisionConflictError:
                if opts.precondition_resource_version is not None:
                    raise errors.conflict(self.info, name) from None
                fresh = True
            except KeyNotFoundError as exc:
                if fresh:
                    raise errors.not_found(self.info, name) from exc
                fresh = True
            except StorageUnavailableError as exc:
                raise errors.service_unavailable(str(exc)) from exc
            except (errors.ApiError, UnconfirmedState):
                if fresh:
                    raise
                fresh = True

    async def _delete_checked(
        self, key: str, namespace: str | None, name: str, cached: CachedObject,
        opts: DeleteOptions, fresh: bool,
    ) -> DeleteResult:
        """Preconditions, admission and one delete attempt against ``cached``."""
        obj = cached.obj
        md = obj["metadata"]
        if opts.precondition_uid is not None and opts.precondition_uid != md.get("uid"):
            raise errors.conflict(
                self.info,
                name,
                f"Precondition failed: UID in precondition: {opts.precondition_uid}, UID in "
                f"object meta: {md.get('uid')}",
            )
        if (
            opts.precondition_resource_version is not None
            and opts.precondition_resource_version != md.get("resourceVersion")
        ):
            raise errors.conflict(
                self.info,
                name,
                "Precondition failed: ResourceVersion in precondition: "
                f"{opts.precondition_resource_version}, ResourceVersion in object meta: "
                f"{md.get('resourceVersion')}",
            )
        attrs = self._attributes(Operation.DELETE, namespace, name, None, obj, None,
                                 opts.dry_run, delete_options(opts))
        await self._admit(attrs)
        await self._validate_admission(attrs)
        return await self._delete_attempt(key, cached, opts, fresh)

    async def _delete_attempt(
        self, key: str, cached: CachedObject, opts: DeleteOptions, fresh: bool = True
    ) -> DeleteResult:
        """One attempt; an answer that writes nothing (a dry run, an object already being
        deleted) needs ``cached`` read from storage (``fresh``), else UnconfirmedState."""
        if opts.dry_run and not fresh:
            raise UnconfirmedState
        obj = copy.deepcopy(cached.obj)
        md = obj["metadata"]
        revision = cached.revision
        marked = self.strategy.on_delete(obj)
        if marked is not None:
            marked_md = marked["metadata"]
            if marked_md.get("deletionTimestamp"):
                return _unchanged(cached, fresh)
            marked_md["deletionTimestamp"] = meta.rfc3339(self.clock())
            marked_md["deletionGracePeriodSeconds"] = 0
            return await self._mark(key, marked, revision, opts.dry_run)
        grace = self.strategy.grace_period(obj, opts.grace_period_seconds)
        finalizers = md.get("finalizers") or []
        wanted = deletion_finalizers(
            finalizers, opts, orphan_by_default=self.strategy.orphans_dependents_by_default
        )
        if md.get("deletionTimestamp"):
            current_grace = md.get("deletionGracePeriodSeconds") or 0
            if current_grace and grace >= current_grace:
                # Graceful deletion pending: neither grace nor finalizers change.
                return _unchanged(cached, fresh)
            if not wanted and (grace == 0 or not current_grace):
                return await self._remove(key, cached, opts.dry_run)
            changed = _set_finalizers(md, finalizers, wanted)
            if current_grace and grace < current_grace:
                md["deletionGracePeriodSeconds"] = grace
                md["deletionTimestamp"] = meta.rfc3339(self.clock() + timedelta(seconds=grace))
                changed = True
            if changed:
                return await self._mark(key, obj, revision, opts.dry_run)
            return _unchanged(cached, fresh)
        if grace > 0 or wanted:
            _set_finalizers(md, finalizers, wanted)
            md["deletionTimestamp"] = meta.rfc3339(self.clock() + timedelta(seconds=grace))
            md["deletionGracePeriodSeconds"] = grace
            if self.strategy.tracks_generation:
                md["generation"] = int(md.get("generation", 1)) + 1
            return await self._mark(key, obj, revision, opts.dry_run)
        return await self._remove(key, cached, opts.dry_run)

    async def _mark(
        self, key: str, obj: dict[str, Any], revision: int, dry_run: bool
    ) -> DeleteResult:
        ordered = order_object(obj)
        if dry_run:
            return DeleteResult(self._dry(key, ordered, str(revision)), False)
        value = self._encode_for_storage(ordered)
        new_rev = await self.storage.update(key, value, revision)
        return DeleteResult(self._result(key, value, new_rev), False)

    async def _remove(self, key: str, cached: CachedObject, dry_run: bool) -> DeleteResult:
        if dry_run:
            return DeleteResult(cached, True)
        revision = await self.storage.delete(key, cached.revision)
        await self.after_delete(cached.obj)
        final = self.decode(key, self._encode_for_storage(copy.deepcopy(cached.obj)), revision)
        return DeleteResult(final, True)

    async def delete_collection(
        self, opts: ListOptions, delete_opts: DeleteOptions
    ) -> list[CachedObject]:
        """Delete every matching object; done before it answers."""
        page = await self.list_objects(
            ListOptions(
                namespace=opts.namespace,
                label_selector=opts.label_selector,
                field_selector=opts.field_selector,
            )
        )
        deleted: list[CachedObject] = []
        for item in page.items:
            try:
                result = await self.delete(item.namespace or None, item.name, delete_opts)
            except errors.ApiError as exc:
                if exc.code == 404:
                    continue
                raise
            deleted.append(result.obj)
        return deleted


def _unchanged(cached: CachedObject, fresh: bool) -> DeleteResult:
    """The answer of a delete that writes nothing, once ``cached`` is known to be current."""
    if not fresh:
        raise UnconfirmedState
    return DeleteResult(cached, False)
