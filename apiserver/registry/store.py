"""The generic registry store: CRUD semantics for any resource.

Like upstream's ``genericregistry.Store``, it handles everything that is the
same for all kinds — keys, optimistic concurrency, metadata, preconditions,
graceful deletion and finalizers, dry runs — and asks the resource's
:class:`~apiserver.registry.strategy.Strategy` for the rest. Storage errors
become API errors here and nowhere else.

Reads come from the watch cache; the object a write returns is decoded from
exactly the bytes its watch event carries.

Every write passes the admission chain (:mod:`apiserver.admission`) as upstream's store
and handlers run it: mutating admission once the object is decoded and defaulted (before
a generated name is chosen), validating admission once the kind's validation passed and
just before storage; deletes pass both with the stored object as the old object.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import orjson

from apiserver.admission import AdmissionAttributes, AdmissionChain, Operation
from apiserver.api import errors, meta, resourceversion
from apiserver.api.fields import FieldSelector, object_fields
from apiserver.api.labels import LabelSelector
from apiserver.api.resources import NAMESPACES, ResourceInfo
from apiserver.registry.defaults import apply_defaults
from apiserver.registry.managedfields import Scope, record_update
from apiserver.registry.strategy import Strategy
from apiserver.registry.validation import validate_object_meta
from apiserver.storage.cache import (
    DELETED,
    CachedObject,
    FrameEncoder,
    ResourceCache,
    TooOldResourceVersionError,
    WatchCache,
)
from apiserver.storage.errors import (
    KeyExistsError,
    KeyNotFoundError,
    RevisionConflictError,
    StorageUnavailableError,
)
from apiserver.storage.interface import Storage

Clock = Callable[[], datetime]


class Finisher(Protocol):
    """What a ``begin_create``/``begin_update`` hook returns (upstream ``FinishFunc``)."""

    async def commit(self) -> None: ...

    async def revert(self) -> None: ...

#: Top-level and metadata field order of upstream's Go structs, so objects
#: read like kube-apiserver's.
_TOP_ORDER = ("kind", "apiVersion", "metadata", "spec", "status")
_META_ORDER = (
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
)
_MAX_GENERATE_ATTEMPTS = 8
_CONSISTENT_READ_TIMEOUT = 3.0


@dataclass(frozen=True, slots=True)
class ListOptions:
    """Query options of a list (already parsed and validated)."""

    namespace: str | None = None
    label_selector: LabelSelector | None = None
    field_selector: FieldSelector | None = None
    limit: int = 0
    continue_token: str | None = None
    resource_version: str | None = None
    resource_version_match: str | None = None


def write_options(kind: str, dry_run: bool, manager: str | None) -> dict[str, Any]:
    """The ``CreateOptions``/``UpdateOptions`` of a write, as admission sees them."""
    out: dict[str, Any] = {"kind": kind, "apiVersion": "meta.k8s.io/v1"}
    if dry_run:
        out["dryRun"] = ["All"]
    if manager:
        out["fieldManager"] = manager
    return out


@dataclass(frozen=True, slots=True)
class ListResult:
    """One page of a list."""

    items: list[CachedObject]
    resource_version: int
    continue_token: str | None
    remaining: int | None


@dataclass(frozen=True, slots=True)
class DeleteOptions:
    """The parts of ``DeleteOptions`` the store acts on."""

    grace_period_seconds: int | None = None
    precondition_uid: str | None = None
    precondition_resource_version: str | None = None
    propagation_policy: str | None = None
    orphan_dependents: bool | None = None
    dry_run: bool = False


def delete_options(opts: DeleteOptions) -> dict[str, Any]:
    """The ``DeleteOptions`` of a delete, as admission sees them."""
    out: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "meta.k8s.io/v1"}
    if opts.grace_period_seconds is not None:
        out["gracePeriodSeconds"] = opts.grace_period_seconds
    preconditions = {k: v for k, v in (("uid", opts.precondition_uid),
                                       ("resourceVersion", opts.precondition_resource_version))
                     if v is not None}
    if preconditions:
        out["preconditions"] = preconditions
    if opts.orphan_dependents is not None:
        out["orphanDependents"] = opts.orphan_dependents
    if opts.propagation_policy is not None:
        out["propagationPolicy"] = opts.propagation_policy
    if opts.dry_run:
        out["dryRun"] = ["All"]
    return out


@dataclass(frozen=True, slots=True)
class DeleteResult:
    """``obj`` is the final (or marked) object; ``deleted`` whether it is gone."""

    obj: CachedObject
    deleted: bool


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


def order_object(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj`` with top-level and metadata keys in upstream's order."""
    out: dict[str, Any] = {k: obj[k] for k in _TOP_ORDER if k in obj}
    for k, v in obj.items():
        if k not in out:
            out[k] = v
    md = out.get("metadata")
    if isinstance(md, dict):
        ordered = {k: md[k] for k in _META_ORDER if k in md}
        for k, v in md.items():
            if k not in ordered:
                ordered[k] = v
        out["metadata"] = ordered
    return out


def encode_continue(revision: int, last_key: str) -> str:
    """Upstream's continue token: base64url JSON of {v, rv, start}."""
    body = orjson.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": last_key + "\x00"})
    return base64.urlsafe_b64encode(body).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, str]:
    """(revision, start key) of a continue token; raises 400 when malformed."""
    try:
        padded = token + "=" * (-len(token) % 4)
        body = orjson.loads(base64.urlsafe_b64decode(padded))
        if body.get("v") != "meta.k8s.io/v1":
            raise ValueError("version")
        return int(body["rv"]), str(body["start"])
    except (ValueError, KeyError, TypeError, AttributeError, orjson.JSONDecodeError) as exc:
        raise errors.bad_request(f"continue key is not valid: {exc}") from exc


class Store:
    """CRUD for one resource over storage and its watch cache."""

    def __init__(
        self,
        info: ResourceInfo,
        strategy: Strategy,
        storage: Storage,
        watch_cache: WatchCache,
        clock: Clock,
        admission: AdmissionChain | None = None,
        *, at_run_time: bool = False,
    ) -> None:
        """With ``at_run_time`` (a custom resource, added while the server runs) the store
        is usable once :meth:`attach_cache` returned; otherwise it registers its prefix
        with the watch cache before the cache starts."""
        self.info = info
        self.strategy = strategy
        self.storage = storage
        self.watch_cache = watch_cache
        self.clock = clock
        #: The admission chain every write passes (None: no admission, for tests).
        self.admission = admission
        #: Writes in flight: key → (the bytes being stored, the object they encode).
        self._fresh: dict[str, tuple[bytes, dict[str, Any]]] = {}
        if not at_run_time:
            self.cache: ResourceCache = watch_cache.register(info.storage_prefix, self.decode)

    async def attach_cache(self) -> None:
        """Load this run-time resource's watch cache (see ``at_run_time``)."""
        self.cache = await self.watch_cache.add_resource(self.info.storage_prefix, self.decode)

    # -- encoding --------------------------------------------------------------

    def key(self, namespace: str | None, name: str) -> str:
        """Storage key of an object."""
        if self.info.namespaced:
            return f"{self.info.storage_prefix}{namespace}/{name}"
        return f"{self.info.storage_prefix}{name}"

    def decode(self, key: str, value: bytes, revision: int) -> CachedObject:
        """Stored bytes → :class:`CachedObject` stamped with ``revision``.

        Bytes this store is writing right now (see :meth:`_write`) are not parsed again:
        the object they were encoded from is taken instead (the same bytes object, by
        identity, proves it is that write). A custom resource read from storage gets its
        schema's defaults, as upstream defaults on read.
        """
        fresh = self._fresh.get(key)
        if fresh is not None and fresh[0] is value:
            obj = fresh[1]
        else:
            obj = orjson.loads(value)
            if self.info.custom and obj.get("apiVersion") == (
                    self.info.storage_api_version or self.info.api_version):
                # Custom resources are defaulted when read from storage too (by the schema
                # of the version they are stored as).
                self.strategy.default(obj)
        md = obj["metadata"]
        md["resourceVersion"] = str(revision)
        return self._cached(key, obj, revision)

    def _cached(self, key: str, obj: dict[str, Any], revision: int) -> CachedObject:
        md = obj["metadata"]
        return CachedObject(
            key=key,
            namespace=md.get("namespace", ""),
            name=md.get("name", ""),
            revision=revision,
            obj=obj,
            raw=orjson.dumps(obj),
            labels=md.get("labels") or {},
            fields=object_fields(self.info, obj),
        )

    async def _write(
        self, key: str, value: bytes, obj: dict[str, Any], expected_revision: int | None
    ) -> int:
        """Create (``expected_revision`` None) or update ``key`` with ``value``, the bytes
        :meth:`_encode_for_storage` made of ``obj``; the watch cache takes (a reordered copy
        of the top of) ``obj`` instead of parsing ``value`` again, so nothing may change
        ``obj``'s nested values afterwards."""
        self._fresh[key] = (value, order_object(obj))
        try:
            if expected_revision is None:
                return await self.storage.create(key, value)
            return await self.storage.update(key, value, expected_revision)
        finally:
            fresh = self._fresh.get(key)
            if fresh is not None and fresh[0] is value:
                del self._fresh[key]

    @staticmethod
    def _encode_for_storage(obj: dict[str, Any]) -> bytes:
        # The revision is stamped on read; an empty placeholder keeps the key
        # at its upstream position in metadata.
        obj["metadata"]["resourceVersion"] = ""
        return orjson.dumps(order_object(obj))

    # -- reads -----------------------------------------------------------------

    async def _consistent(self, resource_version: str | None) -> None:
        """Make the cache at least as new as the read asks for."""
        if resource_version == "0":
            return
        if resource_version:
            wanted = resourceversion.parse_query(resource_version)
            if not await self.watch_cache.wait_for_revision(wanted, _CONSISTENT_READ_TIMEOUT):
                raise errors.timeout(
                    f"Too large resource version: {wanted}, current: {self.watch_cache.revision}",
                    "ResourceVersionTooLarge",
                )
            return
        if not await self.watch_cache.wait_fresh(_CONSISTENT_READ_TIMEOUT):
            raise errors.timeout("resource cache is not up to date")

    async def get(
        self, namespace: str | None, name: str, resource_version: str | None = None
    ) -> CachedObject:
        """The object, or 404."""
        await self._consistent(resource_version)
        found = self.cache.get(self.key(namespace, name))
        if found is None:
            raise errors.not_found(self.info, name)
        return found

    def matches(
        self,
        namespace: str | None,
        labels: LabelSelector | None,
        fields: FieldSelector | None,
    ) -> Callable[[CachedObject], bool]:
        """The predicate of a namespace + selectors filter."""

        def predicate(obj: CachedObject) -> bool:
            if namespace and obj.namespace != namespace:
                return False
            if labels is not None and not labels.matches(obj.labels):
                return False
            return fields is None or fields.matches(obj.fields)

        return predicate

    async def list_objects(self, opts: ListOptions) -> ListResult:
        """A page of objects, served from the watch cache (upstream semantics)."""
        predicate = self.matches(opts.namespace, opts.label_selector, opts.field_selector)
        start_key = ""
        rv = opts.resource_version
        snapshot_rev: int | None = None
        if opts.continue_token:
            snapshot_rev, start_key = decode_continue(opts.continue_token)
        elif rv and rv != "0" and (
            opts.resource_version_match == "Exact"
            or (opts.limit and opts.resource_version_match is None)
        ):
            snapshot_rev = resourceversion.parse_query(rv)
            await self._consistent(rv)
        else:
            await self._consistent(rv)
        if snapshot_rev is not None and snapshot_rev < self.watch_cache.revision:
            try:
                await self.watch_cache.ensure_available(snapshot_rev)
                objects = self._snapshot(snapshot_rev)
            except TooOldResourceVersionError as exc:
                if opts.continue_token:
                    raise errors.expired(
                        "The provided continue parameter is too old to display a consistent "
                        "list result. You can start a new list without the continue parameter."
                    ) from exc
                raise errors.expired(
                    f"too old resource version: {snapshot_rev} ({exc.oldest})"
                ) from exc
            list_rev = snapshot_rev
        else:
            objects = list(self.cache.objects())
            list_rev = self.watch_cache.revision
            if snapshot_rev is not None:
                list_rev = max(snapshot_rev, list_rev) if opts.continue_token else list_rev
        selected = sorted(
            (o for o in objects if o.key > start_key and predicate(o)), key=lambda o: o.key
        )
        limit = opts.limit
        if rv == "0" and not opts.continue_token:
            limit = 0  # the cache ignores limit for resourceVersion=0, as upstream
        if limit and len(selected) > limit:
            page = selected[:limit]
            token = encode_continue(list_rev, page[-1].key)
            remaining: int | None = None
            if opts.label_selector is None and opts.field_selector is None:
                remaining = len(selected) - limit
            return ListResult(page, list_rev, token, remaining)
        return ListResult(selected, list_rev, None, None)

    def _snapshot(self, revision: int) -> list[CachedObject]:
        """The objects as of ``revision``, rebuilt by undoing newer events."""
        state = dict(self.cache.store)
        newer = self.cache.events_after(revision)
        for event in reversed(newer):
            if event.prev is None:
                state.pop(event.obj.key, None)
            else:
                state[event.obj.key] = event.prev
        return list(state.values())

    # -- writes ----------------------------------------------------------------

    def _attributes(
        self, operation: Operation, namespace: str | None, name: str,
        obj: dict[str, Any] | None, old: dict[str, Any] | None, subresource: str | None,
        dry_run: bool, options: dict[str, Any] | None = None,
    ) -> AdmissionAttributes:
        return AdmissionAttributes(
            info=self.info, operation=operation, namespace=namespace or "", name=name,
            object=obj, old_object=old, subresource=subresource or "", dry_run=dry_run,
            options=options,
        )

    async def _admit(self, attrs: AdmissionAttributes) -> None:
        """Mutating admission (after decoding and defaulting, before validation); an object
        a webhook patched is decoded again: pruned where the kind prunes, defaulted."""
        if self.admission is not None:
            await self.admission.admit(attrs)
            if attrs.patched and attrs.object is not None:
                self.strategy.redecode(attrs.object)
                apply_defaults(self.info, attrs.object)
                self.strategy.default(attrs.object)

    async def _validate_admission(self, attrs: AdmissionAttributes) -> None:
        """Validating admission (after validation, before storage)."""
        if self.admission is not None:
            await self.admission.validate(attrs)

    def _result(self, key: str, value: bytes, revision: int) -> CachedObject:
        cached = self.cache.get(key)
        if cached is not None and cached.revision == revision:
            return cached
        return self.decode(key, value, revision)

    def _dry(self, key: str, obj: dict[str, Any], revision: str = "") -> CachedObject:
        obj = order_object(obj)
        md = obj["metadata"]
        if revision:
            md["resourceVersion"] = revision
        else:
            md.pop("resourceVersion", None)
        return self._cached(key, obj, int(revision or 0))

    def _invalid_unless_valid(self, obj: dict[str, Any], causes: list[dict[str, str]]) -> None:
        if causes:
            name = (obj.get("metadata") or {}).get("name") or ""
            raise errors.invalid(self.info, name, causes)

    # -- hooks (upstream BeginCreate / BeginUpdate / AfterDelete) ------------------

    async def begin_create(self, obj: dict[str, Any], dry_run: bool) -> Finisher | None:
        """Called once a create is prepared and defaulted, before it is validated."""
        return None

    async def begin_update(
        self, new: dict[str, Any], old: dict[str, Any], dry_run: bool
    ) -> Finisher | None:
        """Called once an update attempt is prepared and defaulted, before validation."""
        return None

    async def after_delete(self, obj: dict[str, Any]) -> None:
        """Called after an object was removed from storage."""

    def field_scope(self, subresource: str | None = None) -> Scope:
        """The managed-fields scope of a write to this resource (or a subresource)."""
        has_status = any(sub.name == "status" for sub in self.info.subresources)
        return Scope(
            schema_ref=self.info.schema_ref,
            api_version=self.info.api_version,
            subresource=subresource or "",
            status_path=("f:status",) if has_status else None,
            now=self.clock,
        )

    async def create(
        self, namespace: str | None, obj: dict[str, Any], *, dry_run: bool = False,
        manager: str | None = None,
    ) -> CachedObject:
        """Create ``obj`` (already decoded; kind/apiVersion checked by the caller).

        ``manager`` records the write in ``metadata.managedFields`` (``None``: the
        caller already did, or an internal write).
        """
        finishers: list[Finisher] = []
        try:
            created = await self._create(namespace, obj, dry_run, finishers, manager)
        except BaseException:
            for finisher in finishers:
                await finisher.revert()
            raise
        for finisher in finishers:
            await finisher.commit()
        return created

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
            ordered = order_object(obj)
            if dry_run:
                if self.cache.get(key) is not None:
                    raise errors.already_exists(self.info, name)
                return self._dry(key, ordered)
            value = self._encode_for_storage(ordered)
            try:
                revision = await self._write(key, value, ordered, None)
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
        while True:
            current = await self.storage.get(key)
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
            if requested_rv:
                if requested_rv != current.mod_revision:
                    raise errors.conflict(self.info, name)
            elif not self.strategy.allow_unconditional_update:
                raise errors.invalid(
                    self.info,
                    name,
                    [errors.invalid_value("metadata.resourceVersion", "0x0",
                                          "must be specified for an update")],
                )
            old = self.decode(key, current.value, current.mod_revision).obj
            new = copy.deepcopy(obj)
            try:
                return await self._write_update(
                    key, namespace, name, new, old, current.mod_revision, subresource, dry_run,
                    manager,
                ), False
            except RevisionConflictError:
                if requested_rv:
                    raise errors.conflict(self.info, name) from None
                continue

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
    ) -> CachedObject:
        """Prepare, validate and store one update attempt against ``old``."""
        finishers: list[Finisher] = []
        try:
            written = await self._update_attempt(
                key, namespace, name, new, old, revision, subresource, dry_run, finishers,
                manager,
            )
        except BaseException:
            for finisher in finishers:
                await finisher.revert()
            raise
        for finisher in finishers:
            await finisher.commit()
        return written

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
    ) -> CachedObject:
        new_md = meta.metadata(new)
        old_md = old["metadata"]
        if subresource == "status":
            self.strategy.prepare_for_status_update(new, old)
        elif subresource is not None:
            pass  # other subresources (namespaces/finalize) arrive prepared by their caller
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
        if subresource != "status":
            causes += self.strategy.validate_update(new, old)
        else:
            causes += self.strategy.validate_status_update(new, old)
        self._invalid_unless_valid(new, causes)
        await self._validate_admission(attrs)
        new_md["resourceVersion"] = old_md.get("resourceVersion", "")
        ordered = order_object(new)
        if dry_run or (_same(ordered, old) and not self.storage.needs_rewrite(key)):
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
        while True:
            current = await self.storage.get(key)
            if current is None:
                if create_if_missing is not None and subresource is None:
                    obj = create_if_missing()
                    return await self.create(namespace, obj, dry_run=dry_run,
                                             manager=manager), True
                raise errors.not_found(self.info, name)
            old = self.decode(key, current.value, current.mod_revision).obj
            new = mutate(copy.deepcopy(old))
            new_md = meta.metadata(new)
            rv = resourceversion.parse_object(_rv_text(new_md))
            if rv and rv != current.mod_revision:
                raise errors.conflict(self.info, name)
            if new_md.get("name", name) != name:
                raise errors.bad_request(
                    f"the name of the object ({new_md.get('name')}) does not match the name on "
                    f"the URL ({name})"
                )
            new_md["name"] = name
            try:
                obj_out = await self._write_update(
                    key, namespace, name, new, old, current.mod_revision, subresource, dry_run,
                    manager,
                )
                return obj_out, False
            except RevisionConflictError:
                continue

    async def delete(
        self, namespace: str | None, name: str, opts: DeleteOptions
    ) -> DeleteResult:
        """Delete, gracefully or through finalizers where they apply."""
        key = self.key(namespace, name)
        while True:
            current = await self.storage.get(key)
            if current is None:
                raise errors.not_found(self.info, name)
            cached = self.decode(key, current.value, current.mod_revision)
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
            try:
                return await self._delete_attempt(key, cached, opts)
            except RevisionConflictError:
                if opts.precondition_resource_version is not None:
                    raise errors.conflict(self.info, name) from None
                continue
            except KeyNotFoundError as exc:
                raise errors.not_found(self.info, name) from exc
            except StorageUnavailableError as exc:
                raise errors.service_unavailable(str(exc)) from exc

    async def _delete_attempt(
        self, key: str, cached: CachedObject, opts: DeleteOptions
    ) -> DeleteResult:
        obj = copy.deepcopy(cached.obj)
        md = obj["metadata"]
        revision = cached.revision
        marked = self.strategy.on_delete(obj)
        if marked is not None:
            marked_md = marked["metadata"]
            if marked_md.get("deletionTimestamp"):
                return DeleteResult(cached, False)
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
                return DeleteResult(cached, False)
            if not wanted and (grace == 0 or not current_grace):
                return await self._remove(key, cached, opts.dry_run)
            changed = _set_finalizers(md, finalizers, wanted)
            if current_grace and grace < current_grace:
                md["deletionGracePeriodSeconds"] = grace
                md["deletionTimestamp"] = meta.rfc3339(self.clock() + timedelta(seconds=grace))
                changed = True
            if changed:
                return await self._mark(key, obj, revision, opts.dry_run)
            return DeleteResult(cached, False)
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

    # -- watch -----------------------------------------------------------------

    #: Whether what this store serves must be converted from what it stores (watch
    #: frames are then encoded as JSON and turned into the client's format by
    #: :meth:`present_frames`).
    converts = False

    async def present_frames(self, frames: list[bytes],
                             encoder: FrameEncoder | None = None) -> list[bytes]:
        """Watch frames as this store shows them; a store that converts overrides it and
        encodes the converted events with ``encoder`` (a Table watch) when given."""
        return frames

    def initial_objects(
        self, predicate: Callable[[CachedObject], bool]
    ) -> Iterable[CachedObject]:
        """Current objects for the synthetic ADDED events of a watch, by key."""
        return sorted((o for o in self.cache.objects() if predicate(o)), key=lambda o: o.key)


def _rv_text(md: dict[str, Any]) -> str:
    """``metadata.resourceVersion`` as text (a non-string is malformed, as for Go's decoder,
    which rejected it earlier with a type error)."""
    value = md.get("resourceVersion")
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _same(new: dict[str, Any], old: dict[str, Any]) -> bool:
    return new == old


def now_utc() -> datetime:
    """The default clock."""
    return datetime.now(UTC)


__all__ = [
    "DELETED",
    "DeleteOptions",
    "DeleteResult",
    "ListOptions",
    "ListResult",
    "Store",
    "now_utc",
    "order_object",
]
