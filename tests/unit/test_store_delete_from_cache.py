"""Deletes start from the watch cache's copy, as updates do; a stale copy never decides the
answer (memory storage, no HTTP)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from apiserver.api import errors
from apiserver.registry.store import Store
from apiserver.registry.store.options import DeleteOptions
from tests.support.stores import CountingReads, configmap, stale_cache, with_store


def _finalizers(*names: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A guaranteed_update mutation setting ``metadata.finalizers`` to ``names``."""

    def mutate(obj: dict[str, Any]) -> dict[str, Any]:
        obj["metadata"]["finalizers"] = list(names)
        return obj

    return mutate


def test_a_delete_with_a_current_cache_reads_no_storage() -> None:
    async def scenario(store: Store) -> None:
        reads = CountingReads(store)
        result = await store.delete("default", "a", DeleteOptions())
        assert result.deleted
        assert reads.reads == 0

    with_store(scenario)


def test_a_precondition_met_by_the_stored_state_passes_despite_astale_cache() -> None:
    async def scenario(store: Store) -> None:
        stale_cache(store)
        written, _ = await store.update("default", "a", configmap("v1"))
        result = await store.delete(
            "default", "a", DeleteOptions(precondition_resource_version=str(written.revision)))
        assert result.deleted
        assert await store.storage.get(store.key("default", "a")) is None

    with_store(scenario)


def test_a_finalizer_added_behind_a_stale_cache_is_honoured() -> None:
    async def scenario(store: Store) -> None:
        stale_cache(store)

        await store.guaranteed_update("default", "a", _finalizers("example.com/keep"))
        # The frozen copy has no finalizer and would be removed at once; the stored one
        # is only marked.
        result = await store.delete("default", "a", DeleteOptions())
        assert not result.deleted
        md = result.obj.obj["metadata"]
        assert md["finalizers"] == ["example.com/keep"]
        assert md["deletionTimestamp"]
        assert await store.storage.get(store.key("default", "a")) is not None

    with_store(scenario)


def test_an_object_already_marked_behind_a_stale_cache_answers_its_stored_state() -> None:
    async def scenario(store: Store) -> None:
        await store.guaranteed_update("default", "a", _finalizers("example.com/keep"))
        stale_cache(store)
        marked = await store.delete("default", "a", DeleteOptions())
        # The frozen copy is unmarked; deleting again must answer the marked object, not
        # write a second mark.
        again = await store.delete("default", "a", DeleteOptions())
        assert not again.deleted
        assert again.obj.revision == marked.obj.revision
        assert again.obj.obj["metadata"]["deletionTimestamp"]

    with_store(scenario)


def test_a_dry_run_delete_answers_the_stored_state() -> None:
    async def scenario(store: Store) -> None:
        stale_cache(store)
        written, _ = await store.update("default", "a", configmap("v1"))
        result = await store.delete("default", "a", DeleteOptions(dry_run=True))
        assert result.deleted
        assert result.obj.revision == written.revision
        assert result.obj.obj["data"] == {"k": "v1"}
        assert await store.storage.get(store.key("default", "a")) is not None

    with_store(scenario)


def test_an_object_gone_behind_a_stale_cache_is_not_found() -> None:
    async def scenario(store: Store) -> None:
        stale_cache(store)
        await store.storage.delete(store.key("default", "a"))
        with pytest.raises(errors.ApiError) as caught:
            await store.delete("default", "a", DeleteOptions())
        assert caught.value.code == 404

    with_store(scenario)


def test_a_marked_object_finished_behind_a_stale_cache_is_not_found() -> None:
    async def scenario(store: Store) -> None:

        await store.guaranteed_update("default", "a", _finalizers("example.com/keep"))
        await store.delete("default", "a", DeleteOptions())
        stale_cache(store)
        # Dropping the last finalizer of a marked object removes it from storage; the
        # frozen copy still shows it marked, which alone would answer "being deleted".
        await store.guaranteed_update("default", "a", _finalizers())
        assert await store.storage.get(store.key("default", "a")) is None
        with pytest.raises(errors.ApiError) as caught:
            await store.delete("default", "a", DeleteOptions())
        assert caught.value.code == 404

    with_store(scenario)
