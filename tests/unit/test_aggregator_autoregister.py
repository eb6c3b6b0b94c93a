"""Local APIServices for what the apiserver serves (upstream's autoregister and
crdregistration controllers)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

from apiserver.aggregator.autoregister import AUTOMANAGED, AutoRegistration, desired_apiservices
from apiserver.api.resources import (
    CONFIGMAPS,
    register_dynamic,
    served,
    unregister_dynamic,
)
from apiserver.registry.registry import Registry
from apiserver.storage.cache import WatchCache
from apiserver.storage.memory import MemoryStorage

WIDGETS = replace(CONFIGMAPS, group="example.com", version="v1", kind="Widget",
                  plural="widgets", singular="widget", custom=True)


def test_built_in_group_versions_get_upstreams_priorities() -> None:
    wanted = desired_apiservices()
    assert wanted["v1."]["spec"] == {"group": "", "version": "v1",
                                     "groupPriorityMinimum": 18000, "versionPriority": 1}
    assert wanted["v2.autoscaling"]["spec"]["versionPriority"] == 30
    assert wanted["v1.apps"]["metadata"]["labels"] == {AUTOMANAGED: "onstart"}
    assert "v1.example.com" not in wanted


def test_a_custom_resources_group_version_is_registered_below_the_built_ins() -> None:
    register_dynamic(WIDGETS)
    try:
        wanted = desired_apiservices()["v1.example.com"]
    finally:
        unregister_dynamic("example.com", "v1", "widgets")
    assert wanted["spec"]["groupPriorityMinimum"] == 1000
    assert wanted["spec"]["versionPriority"] == 100
    assert wanted["metadata"]["labels"] == {AUTOMANAGED: "true"}


def test_sync_creates_updates_and_removes_only_its_own() -> None:
    async def scenario() -> tuple[set[str], set[str], dict[str, object]]:
        storage = MemoryStorage()
        await storage.start()
        registry = Registry(storage, WatchCache(storage),
                            lambda: datetime(2026, 12, 5, tzinfo=UTC))
        await registry.start()
        store = registry.store(served("apiregistration.k8s.io", "v1", "apiservices"))
        # Someone else's APIService for a built-in name is left as it is.
        await store.create(None, {
            "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
            "metadata": {"name": "v1.batch"},
            "spec": {"group": "batch", "version": "v1", "groupPriorityMinimum": 5,
                     "versionPriority": 5}})
        auto = AutoRegistration(registry)
        register_dynamic(WIDGETS)
        try:
            await auto.sync()
            first = {o.name for o in store.cache.objects()}
        finally:
            unregister_dynamic("example.com", "v1", "widgets")
        await auto.sync()
        second = {o.name for o in store.cache.objects()}
        batch = next(o.obj for o in store.cache.objects() if o.name == "v1.batch")
        await registry.stop()
        return first, second, batch["spec"]

    first, second, batch_spec = asyncio.run(scenario())
    assert {"v1.", "v1.apps", "v1.example.com", "v1.batch"} <= first
    assert "v1.example.com" not in second and "v1.apps" in second
    assert batch_spec["groupPriorityMinimum"] == 5
