"""The generic store's update preconditions, on memory storage (no HTTP)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from apiserver.api import errors
from apiserver.api.resources import CONFIGMAPS
from apiserver.registry.registry import Registry
from apiserver.registry.store import Store, now_utc
from apiserver.storage.cache import WatchCache
from apiserver.storage.memory import MemoryStorage


def _with_store(scenario: Callable[[Store], Awaitable[None]]) -> None:
    async def run() -> None:
        storage = MemoryStorage()
        await storage.start()
        cache = WatchCache(storage, 100)
        registry = Registry(storage, cache, now_utc)
        await registry.start()
        try:
            store = registry.store(CONFIGMAPS)
            await store.create("default", _cm("v0"))
            await scenario(store)
        finally:
            await registry.stop()
            await storage.close()

    asyncio.run(run())


def _cm(value: str, rv: str | None = None) -> dict[str, Any]:
    md: dict[str, Any] = {"name": "a", "namespace": "default"}
    if rv is not None:
        md["resourceVersion"] = rv
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md, "data": {"k": value}}


@pytest.mark.parametrize("rv", [None, "", "0", "00"])
def test_update_without_a_resource_version_is_unconditional(rv: str | None) -> None:
    async def scenario(store: Store) -> None:
        out, created = await store.update("default", "a", _cm("v1", rv))
        assert not created
        assert out.obj["data"] == {"k": "v1"}

    _with_store(scenario)


def test_update_with_a_stale_resource_version_conflicts() -> None:
    async def scenario(store: Store) -> None:
        current = await store.get("default", "a", None)
        await store.update("default", "a", _cm("v1", str(current.revision)))
        with pytest.raises(errors.ApiError) as caught:
            await store.update("default", "a", _cm("v2", str(current.revision)))
        assert caught.value.code == 409

    _with_store(scenario)
