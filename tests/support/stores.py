"""A generic store on memory storage (no HTTP) with one ConfigMap ``default/a``, and the
means to make its watch cache stale: for the store's update and delete tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from apiserver.api.resources import CONFIGMAPS
from apiserver.registry.registry import Registry
from apiserver.registry.store import Store, now_utc
from apiserver.storage.cache import CachedObject, WatchCache
from apiserver.storage.memory import MemoryStorage


def with_store(scenario: Callable[[Store], Awaitable[None]]) -> None:
    """Run ``scenario`` against the ConfigMap store, ``default/a`` (``k: v0``) created."""

    async def run() -> None:
        storage = MemoryStorage()
        await storage.start()
        cache = WatchCache(storage, 100)
        registry = Registry(storage, cache, now_utc)
        await registry.start()
        try:
            store = registry.store(CONFIGMAPS)
            await store.create("default", configmap("v0"))
            await scenario(store)
        finally:
            await registry.stop()
            await storage.close()

    asyncio.run(run())


def configmap(value: str, rv: str | None = None) -> dict[str, Any]:
    """ConfigMap ``default/a`` with ``data.k = value`` (and ``resourceVersion`` ``rv``)."""
    md: dict[str, Any] = {"name": "a", "namespace": "default"}
    if rv is not None:
        md["resourceVersion"] = rv
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md, "data": {"k": value}}


class CountingReads:
    """Counts the store's storage reads (``get``) while it wraps the storage."""

    def __init__(self, store: Store) -> None:
        self.reads = 0
        original = store.storage.get

        async def get(key: str) -> Any:
            self.reads += 1
            return await original(key)

        store.storage.get = get  # type: ignore[method-assign]


def stale_cache(store: Store) -> None:
    """Freeze the cache's copy of ``default/a`` at its current state: later writes reach
    storage but the store keeps being offered the old copy, as a cache behind another
    apiserver's writes would."""
    key = store.key("default", "a")
    frozen = store.cache.get(key)
    real_get = store.cache.get

    def get(wanted: str) -> CachedObject | None:
        return frozen if wanted == key else real_get(wanted)

    store.cache.get = get  # type: ignore[method-assign,assignment]
