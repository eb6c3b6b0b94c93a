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
from apiserver.storage.cache import CachedObject, WatchCache
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


class _CountingReads:
    """Counts the store's storage reads (``get``) while it wraps the storage."""

    def __init__(self, store: Store) -> None:
        self.reads = 0
        original = store.storage.get

        async def get(key: str) -> Any:
            self.reads += 1
            return await original(key)

        store.storage.get = get  # type: ignore[method-assign]


def _stale_cache(store: Store) -> None:
    """Freeze the cache's copy of ``default/a`` at its current state: later writes reach
    storage but the store keeps being offered the old copy, as a cache behind another
    apiserver's writes would."""
    key = store.key("default", "a")
    frozen = store.cache.get(key)
    real_get = store.cache.get

    def get(wanted: str) -> CachedObject | None:
        return frozen if wanted == key else real_get(wanted)

    store.cache.get = get  # type: ignore[method-assign,assignment]


def test_an_update_starts_from_the_cache_without_reading_storage() -> None:
    async def scenario(store: Store) -> None:
        reads = _CountingReads(store)
        await store.update("default", "a", _cm("v1"))
        out, _ = await store.guaranteed_update(
            "default", "a", lambda obj: {**obj, "data": {"k": "v2"}})
        assert out.obj["data"] == {"k": "v2"}
        assert reads.reads == 0

    _with_store(scenario)


def test_a_patch_from_a_stale_cached_copy_is_retried_on_the_stored_state() -> None:
    async def scenario(store: Store) -> None:
        _stale_cache(store)
        await store.update("default", "a", _cm("v1"))
        seen: list[dict[str, str]] = []

        def mutate(obj: dict[str, Any]) -> dict[str, Any]:
            seen.append(dict(obj["data"]))
            obj["data"]["other"] = "x"
            return obj

        out, _ = await store.guaranteed_update("default", "a", mutate)
        # The first attempt saw the stale copy and lost the compare; the second the
        # stored state, which the write kept.
        assert seen == [{"k": "v0"}, {"k": "v1"}]
        assert out.obj["data"] == {"k": "v1", "other": "x"}

    _with_store(scenario)


def test_a_precondition_met_by_the_stored_state_passes_despite_a_stale_cache() -> None:
    async def scenario(store: Store) -> None:
        _stale_cache(store)
        written, _ = await store.update("default", "a", _cm("v1"))
        out, _ = await store.update("default", "a", _cm("v2", str(written.revision)))
        assert out.obj["data"] == {"k": "v2"}

        def with_rv(obj: dict[str, Any]) -> dict[str, Any]:
            obj["metadata"]["resourceVersion"] = str(out.revision)
            obj["data"] = {"k": "v3"}
            return obj

        patched, _ = await store.guaranteed_update("default", "a", with_rv)
        assert patched.obj["data"] == {"k": "v3"}

    _with_store(scenario)


def test_a_no_op_from_a_stale_cache_answers_the_stored_state() -> None:
    async def scenario(store: Store) -> None:
        _stale_cache(store)
        written, _ = await store.update("default", "a", _cm("v1"))
        # The stale copy holds v0: "set k to v0" looks like a no-op there but is a change.
        out, _ = await store.guaranteed_update(
            "default", "a", lambda obj: {**obj, "data": {"k": "v0"}})
        assert out.obj["data"] == {"k": "v0"}
        assert out.revision > written.revision
        # A real no-op keeps the stored revision, not the stale copy's.
        again, _ = await store.guaranteed_update("default", "a", lambda obj: obj)
        assert again.revision == out.revision

    _with_store(scenario)


def test_a_deleted_object_missing_from_a_stale_cache_is_not_found() -> None:
    async def scenario(store: Store) -> None:
        _stale_cache(store)
        await store.storage.delete(store.key("default", "a"))
        with pytest.raises(errors.ApiError) as caught:
            await store.guaranteed_update("default", "a", lambda obj: obj)
        assert caught.value.code == 404

    _with_store(scenario)
