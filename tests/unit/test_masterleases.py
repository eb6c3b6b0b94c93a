"""Master leases: each apiserver's key under ``/registry/masterleases/`` with a TTL."""

from __future__ import annotations

import asyncio

from apiserver.registry.service.masterleases import PREFIX, MasterLeases
from apiserver.storage.memory import MemoryStorage


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_live_leases_expire_and_are_deleted() -> None:
    async def scenario() -> None:
        storage = MemoryStorage()
        await storage.start()
        clock = Clock()
        leases = MasterLeases(storage, ttl=15, clock=clock)
        for ip in ("127.7.2.23", "127.7.2.21", "127.7.2.22"):
            await leases.update(ip)
        # Sorted as addresses, not strings.
        await leases.update("127.7.2.3")
        assert await leases.live_ips() == ["127.7.2.3", "127.7.2.21", "127.7.2.22",
                                           "127.7.2.23"]
        clock.now += 10
        await leases.update("127.7.2.21")  # renewed: lives 15 s from now
        clock.now += 6
        assert await leases.live_ips() == ["127.7.2.21"]
        items, _ = await storage.list_prefix(PREFIX)
        assert [kv.key for kv in items] == [PREFIX + "127.7.2.21"]
        await leases.update("127.7.2.22")  # a restarted replica comes back
        assert await leases.live_ips() == ["127.7.2.21", "127.7.2.22"]
        await leases.remove("127.7.2.21")
        await leases.remove("127.7.2.21")  # gone already: fine
        assert await leases.live_ips() == ["127.7.2.22"]

    asyncio.run(scenario())


def test_a_value_that_is_no_lease_is_dropped() -> None:
    async def scenario() -> None:
        storage = MemoryStorage()
        await storage.start()
        await storage.create(PREFIX + "junk", b"not json")
        assert await MasterLeases(storage).live_ips() == []
        assert (await storage.list_prefix(PREFIX))[0] == []

    asyncio.run(scenario())
