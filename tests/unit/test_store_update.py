"""The generic store's updates: preconditions, and starting from the watch cache's copy
(memory storage, no HTTP)."""

from __future__ import annotations

from typing import Any

import pytest

from apiserver.api import errors
from apiserver.registry.store import Store
from tests.support.stores import CountingReads, configmap, stale_cache, with_store


@pytest.mark.parametrize("rv", [None, "", "0", "00"])
def test_update_without_a_resource_version_is_unconditional(rv: str | None) -> None:
    async def scenario(store: Store) -> None:
        out, created = await store.update("default", "a", configmap("v1", rv))
        assert not created
        assert out.obj["data"] == {"k": "v1"}

    with_store(scenario)


def test_update_with_a_stale_resource_version_conflicts() -> None:
    async def scenario(store: Store) -> None:
        current = await store.get("default", "a", None)
        await store.update("default", "a", configmap("v1", str(current.revision)))
        with pytest.raises(errors.ApiError) as caught:
            await store.update("default", "a", configmap("v2", str(current.revision)))
        assert caught.value.code == 409

    with_store(scenario)


def test_an_update_starts_from_the_cache_without_reading_storage() -> None:
    async def scenario(store: Store) -> None:
        reads = CountingReads(store)
        await store.update("default", "a", configmap("v1"))
        out, _ = await store.guaranteed_update(
            "default", "a", lambda obj: {**obj, "data": {"k": "v2"}})
        assert out.obj["data"] == {"k": "v2"}
        assert reads.reads == 0

    with_store(scenario)


def test_a_patch_from_a_stale_cached_copy_is_retried_on_the_stored_state() -> None:
    async def scenario(store: Store) -> None:
        stale_cache(store)
        await store.update("default", "a", configmap("v1"))
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

    with_store(scenario)


def test_a_precondition_met_by_the_stored_state_passes_despite_astale_cache() -> None:
    async def scenario(store: Store) -> None:
        stale_cache(store)
        written, _ = await store.update("default", "a", configmap("v1"))
        out, _ = await store.update("default", "a", configmap("v2", str(written.revision)))
        assert out.obj["data"] == {"k": "v2"}

        def with_rv(obj: dict[str, Any]) -> dict[str, Any]:
            obj["metadata"]["resourceVersion"] = str(out.revision)
            obj["data"] = {"k": "v3"}
            return obj

        patched, _ = await store.guaranteed_update("default", "a", with_rv)
        assert patched.obj["data"] == {"k": "v3"}

    with_store(scenario)


def test_a_no_op_from_a_stale_cache_answers_the_stored_state() -> None:
    async def scenario(store: Store) -> None:
        stale_cache(store)
        written, _ = await store.update("default", "a", configmap("v1"))
        # The stale copy holds v0: "set k to v0" looks like a no-op there but is a change.
        out, _ = await store.guaranteed_update(
            "default", "a", lambda obj: {**obj, "data": {"k": "v0"}})
        assert out.obj["data"] == {"k": "v0"}
        assert out.revision > written.revision
        # A real no-op keeps the stored revision, not the stale copy's.
        again, _ = await store.guaranteed_update("default", "a", lambda obj: obj)
        assert again.revision == out.revision

    with_store(scenario)


def test_a_deleted_object_missing_from_a_stale_cache_is_not_found() -> None:
    async def scenario(store: Store) -> None:
        stale_cache(store)
        await store.storage.delete(store.key("default", "a"))
        with pytest.raises(errors.ApiError) as caught:
            await store.guaranteed_update("default", "a", lambda obj: obj)
        assert caught.value.code == 404

    with_store(scenario)
