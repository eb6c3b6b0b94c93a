"""System namespaces come back when deleted, as kube-apiserver's controller re-creates them."""

from __future__ import annotations

import asyncio
from typing import Any

from apiserver.registry.registry import Registry
from apiserver.registry.store import DeleteOptions
from apiserver.registry.systemnamespaces import SYSTEM_NAMESPACES
from apiserver.storage.cache import WatchCache
from apiserver.storage.memory import MemoryStorage


def _finalized(obj: dict[str, Any]) -> dict[str, Any]:
    obj["spec"] = {**(obj.get("spec") or {}), "finalizers": []}
    return obj


def test_deleted_kube_node_lease_is_recreated() -> None:
    async def scenario() -> tuple[bool, bool, str]:
        storage = MemoryStorage()
        await storage.start()
        registry = Registry(storage, WatchCache(storage), system_namespaces_interval=0.05)
        await registry.start()
        try:
            present_at_start = all(registry._namespace(n) is not None for n in SYSTEM_NAMESPACES)
            first = registry._namespace("kube-node-lease")
            assert first is not None
            old_uid = first.obj["metadata"]["uid"]
            await registry.namespaces.delete(None, "kube-node-lease", DeleteOptions())
            # What the namespace controller does once the namespace is empty.
            await registry.namespaces.guaranteed_update(
                None, "kube-node-lease", _finalized, subresource="finalize")
            gone_meanwhile = False
            for _ in range(200):
                current = registry._namespace("kube-node-lease")
                if current is None:
                    gone_meanwhile = True
                elif current.obj["metadata"]["uid"] != old_uid:
                    return present_at_start, gone_meanwhile, current.obj["status"]["phase"]
                await asyncio.sleep(0.02)
            raise AssertionError("kube-node-lease was not re-created")
        finally:
            await registry.stop()
            await storage.close()

    present, gone, phase = asyncio.run(scenario())
    assert present
    assert gone
    assert phase == "Active"


def test_system_priority_classes_exist_after_start() -> None:
    """kube-apiserver's bootstrap-system-priority-classes hook, as kubectl get pc shows it."""
    from apiserver.api.resources import served

    async def scenario() -> dict[str, int]:
        storage = MemoryStorage()
        await storage.start()
        registry = Registry(storage, WatchCache(storage))
        await registry.start()
        try:
            store = registry.store(served("scheduling.k8s.io", "v1", "priorityclasses"))
            return {o.name: o.obj["value"] for o in store.cache.objects()}
        finally:
            await registry.stop()
            await storage.close()

    assert asyncio.run(scenario()) == {
        "system-cluster-critical": 2_000_000_000, "system-node-critical": 2_000_001_000}
