"""Writes of the generic store: create, update (PUT) and read-modify-write (PATCH).

Every write passes the admission chain as upstream's store and handlers run it:
mutating admission once the object is decoded and defaulted (before a generated name is
chosen), validating admission once the kind's validation passed and just before storage.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from apiserver.admission import Operation
from apiserver.api import errors, meta, resourceversion
from apiserver.api.resources import NAMESPACES
from apiserver.registry.defaults import apply_defaults
from apiserver.registry.managedfields import record_update
from apiserver.registry.store.options import Finisher, order_object, write_options
from apiserver.registry.store.reads import ReadStore
from apiserver.registry.validation import validate_object_meta
from apiserver.storage.cache import CachedObject
from apiserver.storage.errors import (
    KeyExistsError,
    KeyNotFoundError,
    RevisionConflictError,
    StorageUnavailableError,
)

_MAX_GENERATE_ATTEMPTS = 8


class UnconfirmedState(Exception):
    """A write attempt would answer without writing, from a state not read from storage
    (see :meth:`WriteStore._starting_state`): the caller decides again on the stored one."""


class WriteStore(ReadStore):
    """Create, update and guaranteed update of one resource."""

    #: Whether updates and deletes start from the watch cache's copy (see
    #: :meth:`_starting_state`).
    suggest_from_cache = True

    async def create(
        self, namespace: str | None, obj: dict[str, Any], *, dry_run: bool = False,
        manager: str | None = None,
    ) -> CachedObject:
        """Create ``obj`` (already decoded; kind/apiVersion checked by the caller).

        ``manager`` records the write in ``metadata.managedFields`` (``None``: the
        caller already did, or an internal write).
        """
        return await _finishing(
            lambda finishers: self._create(namespace, obj, dry_run, finishers, manager))

    async def _create(
        self, namespace: str | None, obj: dict[str, Any], dry_run: bool,
        finishers: list[Finisher], manager: str | None = None,
    ) -> CachedObject:
        md = meta.metadata(obj)
        if self.info.namespaced:
            if md.get("namespace") and namespace and md["namespace"] != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request"
                )
            if namespace:
                md["namespace"] = namespace
        else:
            md.pop("namespace", None)
        self.strategy.prepare_for_create(obj)
        apply_defaults(self.info, obj)
        self.strategy.default(obj)
        if manager is not None:
            record_update(None, obj, manager, self.field_scope())
        attrs = self._attributes(Operation.CREATE, namespace, md.get("name") or "", obj, None,
                                 None, dry_run, write_options("CreateOptions", dry_run, manager))
        await self._admit(attrs)
        self.strategy.after_admission(obj)
        md = meta.metadata(obj)
        now = meta.rfc3339(self.clock())
        for field in ("deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            md.pop(field, None)
        md.pop("resourceVersion", None)
        md["uid"] = meta.new_uid()
        md["creationTimestamp"] = now
        generate = not md.get("name") and md.get("generateName")
        attempts = _MAX_GENERATE_ATTEMPTS if generate else 1
        if generate:
            md["name"] = meta.generate_name(str(md["generateName"]))
        self.strategy.authorize_write(obj, None)
        hook = await self.begin_create(obj, dry_run)
        if hook is not None:
            finishers.append(hook)
        for attempt in range(attempts):
            if generate and attempt:
                md["name"] = meta.generate_name(str(md["generateName"]))
            name = md.get("name") or ""
            causes = validate_object_meta(obj, self.strategy, self.info.namespaced)
            causes += self.strategy.validate(obj)
            self._invalid_unless_valid(obj, causes)
            if not attempt:
                attrs.name = name
                await self._validate_admission(attrs)
            key = self.key(namespace, name)
            if dry_run:
                if self.cache.get(key) is not None:
                    raise errors.already_exists(self.info, name)
                return self._dry(key, obj)
            # The revision placeholder set before ordering lands at its upstream place, so
            # the ordered copy is encoded as it is and handed to the cache without another
            # copy (nothing touches it afterwards; a retry orders ``obj`` afresh).
            md["resourceVersion"] = ""
            ordered = order_object(obj)
            value = orjson.dumps(ordered)
            try:
                revision = await self._write(key, value, ordered, None, copied=True)
            except KeyExistsError as exc:
                if generate and attempt + 1 < attempts:
                    continue
                raise errors.already_exists(self.info, name) from exc
            except StorageUnavailableError as exc:
                raise errors.service_unavailable(str(exc)) from exc
            return self._result(key, value, revision)
        raise AssertionError("unreachable")

    async def update(
        self,
        namespace: str | None,
        name: str,
        obj: dict[str, Any],
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        force_allow_create: bool = False,
        manager: str | None = None,
    ) -> tuple[CachedObject, bool]:
        """Replace an object (PUT); returns (object, created)."""
        md = meta.metadata(obj)
        if md.get("name") and md["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({md['name']}) does not match the name on the URL "
                f"({name})"
            )
        if self.info.namespaced and md.get("namespace") and md["namespace"] != namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the "
                "request"
            )
        md["name"] = name
        # "", "0" (any spelling of zero) and no resourceVersion all mean "no precondition",
        # as upstream's versioner reads them: an unconditional update where allowed.
        requested_rv = resourceversion.parse_object(_rv_text(md))
        key = self.key(namespace, name)
        fresh = False
        while True:
            current, fresh = await self._starting_state(key, fresh)
            if current is None:
                if subresource is None and (
                    self.strategy.allow_create_on_update or force_allow_create
                ):
                    if requested_rv:
                        raise errors.not_found(self.info, name)
                    created = await self.create(namespace, obj, dry_run=dry_run,
                                                manager=manager)
                    return created, True
                raise errors.not_found(self.info, name)
            if not requested_rv and not self.strategy.allow_unconditional_update:
                raise errors.invalid(
                    self.info,
                    name,
                    [errors.invalid_value("metadata.resourceVersion", "0x0",
                                          "must be specified for an update")],
                )
            try:
                if requested_rv and requested_rv != current.revision:
                    raise errors.conflict(self.info, name)
                return await self._write_update(
                    key, namespace, name, copy.deepcopy(obj), current.obj, current.revision,
                    subresource, dry_run, manager, fresh=fresh,
                ), False
            except RevisionConflictError:
                if requested_rv:
                    raise errors.conflict(self.info, name) from None
                fresh = True
            except (errors.ApiError, UnconfirmedState):
                if fresh:
                    raise
                fresh = True  # the cached state may be stale: decide on the stored one

    async def _write_update(
        self,
        key: str,
        namespace: str | None,
        name: str,
        new: dict[str, Any],
        old: dict[str, Any],
        revision: int,
        subresource: str | None,
        dry_run: bool,
        manager: str | None = None,
        *,
        fresh: bool = True,
    ) -> CachedObject:
        """Prepare, validate and store one update attempt against ``old`` (``fresh``: read
        from storage, see :meth:`_starting_state`)."""
        return await _finishing(lambda finishers: self._update_attempt(
            key, namespace, name, new, old, revision, subresource, dry_run, finishers,
            manager, fresh,
        ))

    async def _update_attempt(
        self,
        key: str,
        namespace: str | None,
        name: str,
        new: dict[str, Any],
        old: dict[str, Any],
        revision: int,
        subresource: str | None,
        dry_run: bool,
        finishers: list[Finisher],
        manager: str | None = None,
        fresh: bool = True,
    ) -> CachedObject:
        new_md = meta.metadata(new)
        old_md = old["metadata"]
        if subresource is not None:
            if subresource in self.strategy.defaulted_subresources:
                apply_defaults(self.info, new)
                self.strategy.default(new)
            self.strategy.prepare_for_subresource_update(subresource, new, old)
        else:
            self.strategy.prepare_for_update(new, old)
            apply_defaults(self.info, new)
            self.strategy.default(new)
            self.strategy.authorize_write(new, old)
            hook = await self.begin_update(new, old, dry_run)
            if hook is not None:
                finishers.append(hook)
            # Fields a client can never change through an update.
            for field in ("uid", "creationTimestamp", "deletionTimestamp",
                          "deletionGracePeriodSeconds", "generateName", "namespace"):
                if field in old_md:
                    new_md[field] = old_md[field]
                else:
                    new_md.pop(field, None)
        new_md.pop("selfLink", None)
        if manager is not None:
            record_update(old, new, manager, self.field_scope(subresource))
        elif not new_md.get("managedFields") and old_md.get("managedFields"):
            new_md["managedFields"] = old_md["managedFields"]
        attrs = self._attributes(Operation.UPDATE, namespace, name, new, old, subresource,
                                 dry_run, write_options("UpdateOptions", dry_run, manager))
        await self._admit(attrs)
        new_md = meta.metadata(new)
        causes = validate_object_meta(new, self.strategy, self.info.namespaced)
        if subresource is None:
            causes += self.strategy.validate_update(new, old)
        else:
            causes += self.strategy.validate_subresource_update(subresource, new, old)
        self._invalid_unless_valid(new, causes)
        await self._validate_admission(attrs)
        new_md["resourceVersion"] = old_md.get("resourceVersion", "")
        ordered = order_object(new)
        if dry_run or (_same(ordered, old) and not self.storage.needs_rewrite(key)):
            if not fresh:
                raise UnconfirmedState  # nothing is written: no revision check proves ``old``
            # A no-op update writes nothing and keeps the resourceVersion (unless its stored
            # bytes are stale, e.g. encrypted with a key that is no longer the first one).
            return self._dry(key, ordered, str(revision))
        finishing = bool(new_md.get("deletionTimestamp")) and not new_md.get("finalizers")
        try:
            if finishing and self._can_finish(ordered):
                final_rev = await self.storage.delete(key, revision)
                await self.after_delete(ordered)
                return self.decode(key, self._encode_for_storage(ordered), final_rev)
            value = self._encode_for_storage(ordered)
            new_rev = await self._write(key, value, ordered, revision)
        except KeyNotFoundError as exc:
            raise errors.not_found(self.info, name) from exc
        except StorageUnavailableError as exc:
            raise errors.service_unavailable(str(exc)) from exc
        return self._result(key, value, new_rev)

    def _can_finish(self, obj: dict[str, Any]) -> bool:
        """Whether a marked object with no finalizers left may be removed now.

        Graceful pods wait for the zero-grace delete of their node; namespaces
        wait for ``spec.finalizers`` to empty.
        """
        md = obj["metadata"]
        if self.info is NAMESPACES:
            return not (obj.get("spec") or {}).get("finalizers")
        return not md.get("deletionGracePeriodSeconds")

    async def guaranteed_update(
        self,
        namespace: str | None,
        name: str,
        mutate: Callable[[dict[str, Any]], dict[str, Any]],
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        create_if_missing: Callable[[], dict[str, Any]] | None = None,
        manager: str | None = None,
    ) -> tuple[CachedObject, bool]:
        """Read, ``mutate`` a copy, write; retried on conflicts (used by PATCH).

        ``mutate`` may raise :class:`ApiError`; a ``metadata.resourceVersion``
        it leaves different from the stored one is a precondition (409).
        """
        key = self.key(namespace, name)
        fresh = False
        while True:
            current, fresh = await self._starting_state(key, fresh)
            if current is None:
                if create_if_missing is not None and subresource is None:
                    obj = create_if_missing()
                    return await self.create(namespace, obj, dry_run=dry_run,
                                             manager=manager), True
                raise errors.not_found(self.info, name)
            old = current.obj
            try:
                new = mutate(copy.deepcopy(old))
                new_md = meta.metadata(new)
                rv = resourceversion.parse_object(_rv_text(new_md))
                if rv and rv != current.revision:
                    raise errors.conflict(self.info, name)
                if new_md.get("name", name) != name:
                    raise errors.bad_request(
                        f"the name of the object ({new_md.get('name')}) does not match the "
                        f"name on the URL ({name})"
                    )
                new_md["name"] = name
                obj_out = await self._write_update(
                    key, namespace, name, new, old, current.revision, subresource, dry_run,
                    manager, fresh=fresh,
                )
                return obj_out, False
            except RevisionConflictError:
                fresh = True
            except (errors.ApiError, UnconfirmedState):
                if fresh:
                    raise
                fresh = True  # the cached state may be stale: decide on the stored one

    async def _starting_state(self, key: str, fresh: bool) -> tuple[CachedObject | None, bool]:
        """The state an update or a delete starts from, and whether it was read from storage.

        As upstream's ``GuaranteedUpdate`` with the watch cache's copy as
        ``cachedExistingObject``: the first attempt starts from the cache, which saves a
        storage read (a round trip on etcd); the write compares the revision, so a stale
        copy only costs a conflict and a retry from storage. A missing copy, an error, a
        no-op or a dry run decided on a copy that was not read from storage is decided
        again on the stored state (``fresh``), since staleness could have caused it.
        """
        if not fresh and self.suggest_from_cache:
            cached = self.cache.get(key)
            if cached is not None:
                return cached, False
        current = await self.storage.get(key)
        if current is None:
            return None, True
        return self.decode(key, current.value, current.mod_revision), True


def _rv_text(md: dict[str, Any]) -> str:
    """``metadata.resourceVersion`` as text (a non-string is malformed, as for Go's decoder,
    which rejected it earlier with a type error)."""
    value = md.get("resourceVersion")
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _same(new: dict[str, Any], old: dict[str, Any]) -> bool:
    return new == old


async def _finishing(
    write: Callable[[list[Finisher]], Awaitable[CachedObject]],
) -> CachedObject:
    """Run ``write`` with a list its hooks append :class:`Finisher` objects to; commit them
    all when it succeeds, revert them all when it fails (upstream's ``FinishFunc``)."""
    finishers: list[Finisher] = []
    try:
        written = await write(finishers)
    except BaseException:
        for finisher in finishers:
            await finisher.revert()
        raise
    for finisher in finishers:
        await finisher.commit()
    return written
