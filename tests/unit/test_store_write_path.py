"""The store's write path hands the watch cache the object it wrote, and its list path
slices the cache: both must answer exactly what decoding the stored bytes and filtering
every object would (memory storage, with and without encryption at rest; no HTTP)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest

from apiserver.api.labels import parse_label_selector
from apiserver.api.resources import CONFIGMAPS, NAMESPACES
from apiserver.registry.registry import Registry
from apiserver.registry.store import ListOptions, Store, now_utc
from apiserver.registry.store.core import _stamped
from apiserver.storage.cache import CachedObject, WatchCache
from apiserver.storage.encryption import parse_encryption_config
from apiserver.storage.interface import Storage
from apiserver.storage.memory import MemoryStorage
from apiserver.storage.transformed import TransformedStorage

KEY = base64.b64encode(b"k" * 32).decode()
ENCRYPT_CONFIGMAPS = {
    "apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
    "resources": [{"resources": ["configmaps"],
                   "providers": [{"aescbc": {"keys": [{"name": "k1", "secret": KEY}]}}]}],
}


def _with_registry(scenario: Callable[[Registry, Storage], Awaitable[None]],
                   encrypt: bool = False) -> None:
    async def run() -> None:
        inner = MemoryStorage()
        storage: Storage = inner
        if encrypt:
            storage = TransformedStorage(inner, parse_encryption_config(ENCRYPT_CONFIGMAPS))
        await storage.start()
        registry = Registry(storage, WatchCache(storage, 1000), now_utc)
        await registry.start()
        try:
            await scenario(registry, storage)
        finally:
            await registry.stop()
            await storage.close()

    asyncio.run(run())


def _as_stored(store: Store, storage_value: bytes, revision: int) -> dict[str, Any]:
    obj: dict[str, Any] = orjson.loads(storage_value)
    obj["metadata"]["resourceVersion"] = str(revision)
    return obj


async def _same_as_stored(store: Store, storage: Storage, cached: CachedObject) -> None:
    kv = await storage.get(cached.key)
    assert kv is not None and kv.mod_revision == cached.revision
    assert cached.obj == _as_stored(store, kv.value, kv.mod_revision)
    assert cached.raw == orjson.dumps(cached.obj)
    assert store.cache.get(cached.key) is cached


@pytest.mark.parametrize("encrypt", [False, True])
def test_the_cache_holds_what_storage_holds_after_each_write(encrypt: bool) -> None:
    async def scenario(registry: Registry, storage: Storage) -> None:
        store = registry.store(CONFIGMAPS)
        cm = {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": "c", "namespace": "default", "labels": {"a": "b"}},
              "data": {"url": "http://x:80/y", "quote": '"resourceVersion":""'}}
        created = await store.create("default", cm, manager="test")
        await _same_as_stored(store, storage, created)
        assert created.obj["metadata"]["managedFields"][0]["manager"] == "test"
        updated, _ = await store.update(
            "default", "c", {**created.obj, "data": {"k": "v"}}, manager="test")
        await _same_as_stored(store, storage, updated)
        assert updated.revision > created.revision
        # Nothing of the write stays behind for a later decode to take.
        assert not store._fresh

    _with_registry(scenario, encrypt)


def test_stamping_the_revision_equals_encoding_again() -> None:
    obj: dict[str, Any] = {"kind": "Pod", "apiVersion": "v1",
                           "metadata": {"name": "p", "namespace": "n", "uid": "u",
                                        "resourceVersion": "", "labels": {"x": "y"}},
                           "spec": {"ref": {"resourceVersion": ""}}}
    value = orjson.dumps(obj)
    obj["metadata"]["resourceVersion"] = "42"
    assert _stamped(value, 42) == orjson.dumps(obj)
    # A placeholder that is not surely metadata's is left to a full encoding.
    assert _stamped(b'{"kind":{"resourceVersion":""},"metadata":{}}', 1) is None
    assert _stamped(b'{"metadata":{"name":"a{b","resourceVersion":""}}', 1) is None
    assert _stamped(b'{"spec":{}}', 1) is None


def _cm(namespace: str, name: str, app: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace, "labels": {"app": app}}}


def test_lists_are_the_sorted_filtered_cache() -> None:
    async def scenario(registry: Registry, storage: Storage) -> None:
        namespaces = ("a", "a-b", "ab", "b")
        for ns in namespaces:
            await registry.store(NAMESPACES).create(None, {
                "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        maps = registry.store(CONFIGMAPS)
        for index in (5, 1, 9, 3, 7, 2):
            for ns in namespaces:
                await maps.create(ns, _cm(ns, f"p{index}", "x" if index % 2 else "y"))

        def expected(ns: str | None, app: str | None = None) -> list[str]:
            return sorted(o.key for o in maps.cache.objects()
                          if (ns is None or o.namespace == ns)
                          and (app is None or o.labels.get("app") == app))

        for ns in (*namespaces, None, "none"):
            page = await maps.list_objects(ListOptions(namespace=ns))
            assert [o.key for o in page.items] == expected(ns)
            selector = parse_label_selector("app=x")
            page = await maps.list_objects(ListOptions(namespace=ns, label_selector=selector))
            assert [o.key for o in page.items] == expected(ns, "x")
            # Pages of two, each continuing after the last.
            seen: list[str] = []
            token: str | None = None
            while True:
                page = await maps.list_objects(
                    ListOptions(namespace=ns, limit=2, continue_token=token))
                seen += [o.key for o in page.items]
                if page.continue_token is None:
                    assert page.remaining is None
                    break
                assert page.remaining == len(expected(ns)) - len(seen)
                token = page.continue_token
            assert seen == expected(ns)
        # A write changes what the next list sees.
        await maps.create("ab", _cm("ab", "p0", "x"))
        page = await maps.list_objects(ListOptions(namespace="ab"))
        assert [o.name for o in page.items] == ["p0", "p1", "p2", "p3", "p5", "p7", "p9"]

    _with_registry(scenario)


def test_pages_keep_their_snapshot_while_other_resources_change() -> None:
    async def scenario(registry: Registry, storage: Storage) -> None:
        await registry.store(NAMESPACES).create(None, {
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}})
        maps = registry.store(CONFIGMAPS)
        for index in range(5):
            await maps.create("a", _cm("a", f"p{index}", "x"))
        first = await maps.list_objects(ListOptions(namespace="a", limit=2))
        # Another resource is written: the revision moves on, the ConfigMaps do not.
        await registry.store(NAMESPACES).create(None, {
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "b"}})
        second = await maps.list_objects(
            ListOptions(namespace="a", limit=2, continue_token=first.continue_token))
        assert [o.name for o in second.items] == ["p2", "p3"]
        assert second.resource_version == first.resource_version
        assert second.remaining == 1
        # A ConfigMap changes: the next page still shows the list's snapshot.
        await maps.create("a", _cm("a", "p9", "x"))
        third = await maps.list_objects(
            ListOptions(namespace="a", limit=2, continue_token=second.continue_token))
        assert [o.name for o in third.items] == ["p4"]
        assert third.resource_version == first.resource_version
        assert third.continue_token is None

    _with_registry(scenario)
