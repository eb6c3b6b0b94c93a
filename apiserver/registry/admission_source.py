"""The registry as admission plugins see it (:class:`~apiserver.admission.ObjectSource`).

Upstream plugins read through informers and write through a loopback client; here they
read the watch cache (``cached``), make consistent reads (``live``) and update a status
with a resourceVersion precondition (``update_status``) through the stores — so the
admission layer never imports the registry.

The watch cache keeps objects encoded (:class:`~apiserver.storage.cached.CachedObject`),
so ``cached``/``cached_list`` remember the decoded form of the objects they last served,
per cached revision (:data:`DECODED_LIMIT` of them): a pod create reads its namespace and
ServiceAccount once per revision of each, not once per request. What they return is
shared between requests and must be treated as read-only (the admission plugins only
read it; :meth:`RegistrySource.live` returns a private copy for callers that change it).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from apiserver.api import errors
from apiserver.api.resources import ResourceInfo
from apiserver.registry.store import Store
from apiserver.storage.cached import CachedObject

StoreKey = tuple[str, str, str]

#: How many decoded objects :class:`RegistrySource` keeps (the memo starts over when full).
DECODED_LIMIT = 4096


class RegistrySource:
    """Object access for admission over ``stores`` (filled in after construction)."""

    def __init__(self, stores: Mapping[StoreKey, Store]) -> None:
        self.stores = stores
        self._decoded: dict[tuple[str, str], tuple[CachedObject, dict[str, Any]]] = {}

    def _obj(self, info: ResourceInfo, found: CachedObject) -> dict[str, Any]:
        """``found``'s decoded object, decoded once per cached revision (read-only)."""
        key = (info.version, found.key)
        memo = self._decoded.get(key)
        if memo is not None and memo[0] is found:
            return memo[1]
        obj = found.obj
        if len(self._decoded) >= DECODED_LIMIT:
            self._decoded.clear()
        self._decoded[key] = (found, obj)
        return obj

    def _store(self, info: ResourceInfo) -> Store | None:
        return self.stores.get((info.group, info.version, info.plural))

    def cached(self, info: ResourceInfo, namespace: str, name: str) -> dict[str, Any] | None:
        store = self._store(info)
        if store is None:
            return None
        found = store.cache.get(store.key(namespace or None, name))
        return self._obj(info, found) if found is not None else None

    def cached_list(self, info: ResourceInfo, namespace: str) -> Sequence[dict[str, Any]]:
        store = self._store(info)
        if store is None:
            return []
        return [self._obj(info, o) for o in store.cache.objects()
                if not namespace or o.namespace == namespace]

    def populated(self, info: ResourceInfo) -> bool:
        store = self._store(info)
        return store is not None and bool(store.cache.store)

    def generation(self, info: ResourceInfo) -> int:
        store = self._store(info)
        return store.cache.generation if store is not None else -1

    async def live(self, info: ResourceInfo, namespace: str, name: str) \
            -> dict[str, Any] | None:
        store = self._store(info)
        if store is None:
            return None
        try:
            found = await store.get(namespace or None, name)
        except errors.ApiError as exc:
            if exc.code == 404:
                return None
            raise
        # Callers may change what they read; the cached object must stay as stored.
        return copy.deepcopy(found.obj)

    async def update_status(self, info: ResourceInfo, obj: dict[str, Any]) -> dict[str, Any]:
        store = self._store(info)
        if store is None:
            raise errors.internal(f"no store for {info.plural}")
        md = obj["metadata"]
        updated, _ = await store.update(md.get("namespace") or None, md["name"], obj,
                                        subresource="status")
        return updated.obj

    async def convert(self, obj: dict[str, Any], info: ResourceInfo) -> dict[str, Any]:
        if obj.get("apiVersion") == info.api_version:
            return obj
        converters = [getattr(s, "converter", None) for s in self.stores.values()
                      if s.info.group == info.group and s.info.plural == info.plural]
        converter = next((c for c in converters if c is not None), None)
        if converter is None:
            return {**obj, "apiVersion": info.api_version}
        (out,) = await converter.convert([obj], info.api_version)
        return dict(out)
