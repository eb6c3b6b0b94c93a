"""The part of the generic store every operation shares: keys, encoding, admission.

:class:`StoreCore` owns the resource's watch cache registration and turns stored bytes
into :class:`~apiserver.storage.cache.CachedObject` (:meth:`StoreCore.decode`); a write
hands the cache the object it encoded (:meth:`StoreCore._write`) so the cache does not
parse those bytes again. It also holds the admission steps and the hooks a kind's store
overrides (upstream ``BeginCreate``/``BeginUpdate``/``AfterDelete``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import orjson

from apiserver.admission import AdmissionAttributes, AdmissionChain, Operation
from apiserver.api import errors
from apiserver.api.fields import object_fields
from apiserver.api.resources import ResourceInfo
from apiserver.registry.defaults import apply_defaults
from apiserver.registry.managedfields import Scope
from apiserver.registry.store.options import Clock, Finisher, order_object
from apiserver.registry.strategy import Strategy
from apiserver.storage.cache import CachedObject, FrameEncoder, ResourceCache, WatchCache
from apiserver.storage.interface import Storage


class StoreCore:
    """Keys, encoding, admission and hooks of one resource's store."""

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
        self._scopes: dict[str, tuple[ResourceInfo, Scope]] = {}
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
        the object they were encoded from is taken instead, once, when the bytes the
        storage hands back are those bytes (the same object, or equal ones after an
        encryption round trip or an etcd watch), and its JSON is those bytes with the
        revision stamped in. A custom resource read from storage gets its schema's
        defaults, as upstream defaults on read.
        """
        fresh = self._fresh.get(key)
        raw: bytes | None = None
        if fresh is not None and (fresh[0] is value or fresh[0] == value):
            del self._fresh[key]
            obj = fresh[1]
            if not self.info.custom:
                raw = _stamped(value, revision)
        else:
            obj = orjson.loads(value)
        if self.info.custom and obj.get("apiVersion") == (
                self.info.storage_api_version or self.info.api_version):
            # Custom resources are defaulted when read from storage too (by the schema
            # of the version they are stored as).
            self.strategy.default(obj)
        md = obj["metadata"]
        md["resourceVersion"] = str(revision)
        return self._cached(key, obj, revision, raw)

    def _cached(self, key: str, obj: dict[str, Any], revision: int,
                raw: bytes | None = None) -> CachedObject:
        """``obj`` as a cached object; ``raw``, when given, must be ``obj``'s JSON."""
        md = obj["metadata"]
        return CachedObject(
            key=key,
            namespace=md.get("namespace", ""),
            name=md.get("name", ""),
            revision=revision,
            obj=obj,
            raw=orjson.dumps(obj) if raw is None else raw,
            labels=md.get("labels") or {},
            fields=object_fields(self.info, obj),
        )

    async def _write(
        self, key: str, value: bytes, obj: dict[str, Any], expected_revision: int | None,
        *, copied: bool = False,
    ) -> int:
        """Create (``expected_revision`` None) or update ``key`` with ``value``, the bytes
        :meth:`_encode_for_storage` made of ``obj``; the watch cache takes (a reordered copy
        of the top of) ``obj`` instead of parsing ``value`` again, so nothing may change
        ``obj``'s nested values afterwards. With ``copied``, ``obj`` is already such a copy,
        in order, that nobody else changes: the cache takes it as it is."""
        self._fresh[key] = (value, obj if copied else order_object(obj))
        try:
            if expected_revision is None:
                return await self.storage.create(key, value)
            return await self.storage.update(key, value, expected_revision)
        finally:
            fresh = self._fresh.get(key)
            if fresh is not None and fresh[0] is value:  # not taken (a failed write)
                del self._fresh[key]

    @staticmethod
    def _encode_for_storage(obj: dict[str, Any]) -> bytes:
        # The revision is stamped on read; an empty placeholder keeps the key
        # at its upstream position in metadata.
        obj["metadata"]["resourceVersion"] = ""
        return orjson.dumps(order_object(obj))

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
        """The managed-fields scope of a write to this resource (or a subresource); one
        (immutable) scope per subresource while :attr:`info` stays the same."""
        info = self.info
        kept = self._scopes.get(subresource or "")
        if kept is not None and kept[0] is info:
            return kept[1]
        has_status = any(sub.name == "status" for sub in info.subresources)
        scope = Scope(
            schema_ref=info.schema_ref,
            api_version=info.api_version,
            subresource=subresource or "",
            status_path=("f:status",) if has_status else None,
            now=self.clock,
        )
        self._scopes[subresource or ""] = (info, scope)
        return scope

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



_PLACEHOLDER = b'"resourceVersion":""'


def _stamped(value: bytes, revision: int) -> bytes | None:
    """``value`` (as :meth:`StoreCore._encode_for_storage` wrote it) with ``revision`` in
    its ``metadata.resourceVersion`` placeholder, or None when the placeholder cannot be
    told apart for sure.

    Outside strings the placeholder's quotes are structural (a string escapes its quotes),
    and kind, apiVersion and the metadata fields before resourceVersion are strings: the
    first placeholder is metadata's when exactly two braces, the top level's and
    metadata's, open before it.
    """
    at = value.find(_PLACEHOLDER)
    if at < 0 or value.count(b"{", 0, at) != 2 or value.find(b'"metadata":{', 0, at) < 0:
        return None
    end = at + len(_PLACEHOLDER) - 1
    return b"".join((value[:end], str(revision).encode(), value[end:]))
