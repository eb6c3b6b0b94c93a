"""DELETE's propagation policy sets the garbage collector's finalizers, as upstream's store."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from apiserver.api.resources import RESOURCES
from apiserver.registry.registry import Registry
from apiserver.registry.store import DeleteOptions, Store, deletion_finalizers
from apiserver.storage.cache import WatchCache
from apiserver.storage.memory import MemoryStorage

CONFIGMAPS = next(r for r in RESOURCES if r.group == "" and r.plural == "configmaps")


def _run(scenario: Callable[[Store], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        storage = MemoryStorage()
        await storage.start()
        registry = Registry(storage, WatchCache(storage))
        await registry.start()
        try:
            store = registry.store(CONFIGMAPS)
            return await scenario(store)
        finally:
            await registry.stop()
            await storage.close()

    return asyncio.run(main())


async def _make(store: Store, name: str, finalizers: list[str] | None = None) -> None:
    md: dict[str, Any] = {"name": name, "namespace": "default"}
    if finalizers:
        md["finalizers"] = finalizers
    await store.create("default", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md})


def test_policy_decides_the_finalizers() -> None:
    def fin(existing: list[str], **kw: Any) -> list[str]:
        return deletion_finalizers(existing, DeleteOptions(**kw))

    assert fin([]) == []
    assert fin([], propagation_policy="Background") == []
    assert fin([], propagation_policy="Orphan") == ["orphan"]
    assert fin([], propagation_policy="Foreground") == ["foregroundDeletion"]
    assert fin([], orphan_dependents=True) == ["orphan"]
    assert fin(["orphan"], orphan_dependents=False) == []
    assert fin(["x", "orphan"], propagation_policy="Foreground") == ["x", "foregroundDeletion"]
    assert fin(["foregroundDeletion", "orphan"]) == ["foregroundDeletion"]
    assert fin(["orphan"]) == ["orphan"]
    assert deletion_finalizers([], DeleteOptions(), orphan_by_default=True) == ["orphan"]


def test_background_deletes_at_once() -> None:
    async def scenario(store: Store) -> bool:
        await _make(store, "a")
        result = await store.delete("default", "a", DeleteOptions(propagation_policy="Background"))
        return result.deleted

    assert _run(scenario)


def test_orphan_marks_and_a_second_delete_switches_policy() -> None:
    async def scenario(store: Store) -> list[Any]:
        await _make(store, "a")
        first = await store.delete("default", "a", DeleteOptions(propagation_policy="Orphan"))
        md = first.obj.obj["metadata"]
        seen: list[Any] = [first.deleted, md.get("finalizers"), bool(md.get("deletionTimestamp"))]
        second = await store.delete("default", "a", DeleteOptions(propagation_policy="Foreground"))
        seen += [second.deleted, second.obj.obj["metadata"].get("finalizers")]
        again = await store.delete("default", "a", DeleteOptions())
        seen += [again.deleted, again.obj.obj["metadata"].get("finalizers")]
        last = await store.delete("default", "a", DeleteOptions(propagation_policy="Background"))
        seen.append(last.deleted)
        return seen

    assert _run(scenario) == [
        False, ["orphan"], True,
        False, ["foregroundDeletion"],
        False, ["foregroundDeletion"],
        True,
    ]


def test_other_finalizers_keep_the_object() -> None:
    async def scenario(store: Store) -> list[Any]:
        await _make(store, "a", ["example.com/hold"])
        first = await store.delete("default", "a", DeleteOptions(orphan_dependents=True))
        second = await store.delete("default", "a", DeleteOptions(orphan_dependents=False))
        return [first.deleted, first.obj.obj["metadata"]["finalizers"],
                second.deleted, second.obj.obj["metadata"]["finalizers"]]

    assert _run(scenario) == [
        False, ["example.com/hold", "orphan"], False, ["example.com/hold"],
    ]


def test_removing_the_last_finalizer_deletes() -> None:
    async def scenario(store: Store) -> bool:
        await _make(store, "a")
        await store.delete("default", "a", DeleteOptions(propagation_policy="Orphan"))

        def drop(obj: dict[str, Any]) -> dict[str, Any]:
            obj["metadata"].pop("finalizers", None)
            return obj

        await store.guaranteed_update("default", "a", drop)
        try:
            await store.get("default", "a")
        except Exception:
            return True
        return False

    assert _run(scenario)


def test_orphan_and_foreground_finalizers_exclude_each_other() -> None:
    async def scenario(store: Store) -> str:
        try:
            await _make(store, "a", ["orphan", "foregroundDeletion"])
        except Exception as exc:
            return str(exc)
        return ""

    message = _run(scenario)
    assert ('metadata.finalizers: Invalid value: []string{"orphan", "foregroundDeletion"}: '
            "finalizer orphan and foregroundDeletion cannot be both set") in message
