"""The registry as admission plugins see it (:class:`~apiserver.admission.ObjectSource`).

Upstream plugins read through informers and write through a loopback client; here they
read the watch cache (``cached``), make consistent reads (``live``) and update a status
with a resourceVersion precondition (``update_status``) through the stores — so the
admission layer never imports the registry.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from apiserver.api import errors
from apiserver.api.resources import ResourceInfo
from apiserver.registry.store import Store

StoreKey = tuple[str, str, str]


class RegistrySource:
    """Object access for admission over ``stores`` (filled in after construction)."""

    def __init__(self, stores: Mapping[StoreKey, Store]) -> None:
        self.stores = stores

    def _store(self, info: ResourceInfo) -> Store | None:
        return self.stores.get((info.group, info.version, info.plural))

    def cached(self, info: ResourceInfo, namespace: str, name: str) -> dict[str, Any] | None:
        store = self._store(info)
        if store is None:
            return None
        found = store.cache.get(store.key(namespace or None, name))
        return found.obj if found is not None else None

    def cached_list(self, info: ResourceInfo, namespace: str) -> Sequence[dict[str, Any]]:
        store = self._store(info)
        if store is None:
            return []
        return [o.obj for o in store.cache.objects() if not namespace or o.namespace == namespace]

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
