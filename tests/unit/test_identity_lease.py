"""The apiserver identity Lease in kube-system and its garbage collector (no HTTP)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from apiserver.api.resources import served
from apiserver.registry.identitylease import (
    IDENTITY_LABEL,
    IdentityLease,
    apiserver_id,
    micro_time,
)
from apiserver.registry.registry import Registry
from apiserver.storage.cache import WatchCache
from apiserver.storage.memory import MemoryStorage

LEASES = served("coordination.k8s.io", "v1", "leases")


def test_apiserver_id_is_upstreams_hash() -> None:
    # base32(sha256(len-prefixed "node-a", len-prefixed "kube-apiserver")[:16])
    name = apiserver_id("node-a")
    assert name.startswith("apiserver-") and len(name) == len("apiserver-") + 26
    assert name == name.lower() and "=" not in name
    assert apiserver_id("node-a") == name and apiserver_id("node-b") != name


def test_micro_time() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, 600, tzinfo=UTC)
    assert micro_time(moment) == "2026-01-02T03:04:05.000600Z"


def test_each_replica_keeps_a_lease_and_expired_ones_are_collected() -> None:
    async def run() -> None:
        storage = MemoryStorage()
        await storage.start()
        now = [datetime(2026, 1, 1, tzinfo=UTC)]
        registry = Registry(storage, WatchCache(storage))
        await registry.start()
        try:
            # The registry's own (10 s renewal) runs from start-up.
            own = registry.identity_lease
            assert own is not None
            leases = registry.store(LEASES)
            first = IdentityLease(leases, "127.7.2.21:6443", lambda: now[0], hostname="h")
            second = IdentityLease(leases, "127.7.2.22:6443", lambda: now[0], hostname="h")
            assert first.name != second.name
            await first.renew()
            await second.renew()
            lease = leases.cache.get(leases.key("kube-system", first.name))
            assert lease is not None
            assert lease.obj["metadata"]["labels"] == {IDENTITY_LABEL: "kube-apiserver",
                                                       "kubernetes.io/hostname": "h"}
            spec = lease.obj["spec"]
            assert spec["holderIdentity"].startswith(first.name + "_")
            assert spec["leaseDurationSeconds"] == 3600
            assert spec["renewTime"] == "2026-01-01T00:00:00.000000Z"
            now[0] += timedelta(seconds=3000)
            await first.renew()
            assert await first.collect() == []
            now[0] += timedelta(seconds=1000)
            # second's renewal is 4000 s old: gone; first's 1000 s: kept (the registry's
            # own lease was renewed on the real clock, after this test's "now").
            assert await first.collect() == [second.name]
            assert leases.cache.get(leases.key("kube-system", first.name)) is not None
            assert leases.cache.get(leases.key("kube-system", second.name)) is None
        finally:
            await registry.stop()
            await storage.close()

    asyncio.run(run())
