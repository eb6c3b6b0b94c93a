"""Unit tests of the service allocators: bitmaps, ranges, persisted CAS maps."""

from __future__ import annotations

import asyncio
import ipaddress
import random
from typing import Any

import pytest

from apiserver.api import errors
from apiserver.registry.service.allocator import StoredRange, decode_range
from apiserver.registry.service.bitmap import (
    Bitmap,
    IPRange,
    NotInRangeError,
    PortRange,
    ip_range_offset,
    parse_port_range,
    parse_service_cidrs,
    port_range_offset,
)
from apiserver.storage.memory import MemoryStorage


def test_static_band_sizes() -> None:
    assert ip_range_offset(16) == 0  # /28
    assert ip_range_offset(256) == 16  # /24: max(16, 256/16)
    assert ip_range_offset(4096) == 256  # /20
    assert ip_range_offset(1 << 20) == 256  # /12: capped
    assert port_range_offset(2768) == 86  # 30000-32767
    assert port_range_offset(16) == 0
    assert port_range_offset(100) == 16


def test_ip_range_excludes_network_and_broadcast() -> None:
    r = IPRange(ipaddress.ip_network("10.0.0.0/24"))
    assert r.size == 254 and r.first() == "10.0.0.1" and r.ip_at(253) == "10.0.0.254"
    assert r.index_of("10.0.0.1") == 0
    for bad in ("10.0.0.0", "10.0.0.255", "10.0.1.1", "fd00::1", "nonsense"):
        with pytest.raises(NotInRangeError) as exc:
            r.index_of(bad)
        assert str(exc.value) == ("provided IP is not in the valid range. The range of valid "
                                  "IPs is 10.0.0.0/24")
    v6 = IPRange(ipaddress.ip_network("fd00::/64"))
    assert v6.size == 65535 and v6.family == "IPv6"


def test_dynamic_allocation_prefers_upper_band_then_fills_lower() -> None:
    bitmap = Bitmap(254, 16, rng=random.Random(1))
    first = [bitmap.allocate_next() for _ in range(238)]
    assert all(i is not None and i >= 16 for i in first)
    assert len(set(first)) == 238
    rest = [bitmap.allocate_next() for _ in range(16)]
    assert sorted(i for i in rest if i is not None) == list(range(16))
    assert bitmap.allocate_next() is None and bitmap.free() == 0
    bitmap.release(3)
    assert bitmap.allocate_next() == 3


def test_static_allocation_and_bytes_roundtrip() -> None:
    bitmap = Bitmap(20, 0)
    assert bitmap.allocate(5) and not bitmap.allocate(5)
    assert bitmap.offsets() == [5]
    copy = Bitmap(20, 0, Bitmap.int_from_bytes(bitmap.to_bytes()))
    assert copy.has(5) and copy.count == 1


def test_parse_flags() -> None:
    assert parse_port_range("30000-32767") == PortRange(30000, 2768)
    assert parse_port_range("30000+9") == PortRange(30000, 10)
    assert parse_port_range("30000-32767").spec == "30000-32767"
    with pytest.raises(ValueError):
        parse_port_range("x")
    v4, v6 = parse_service_cidrs("10.0.0.0/24,fd00::/108")
    assert (v4.family, v6.family) == ("IPv4", "IPv6")
    with pytest.raises(ValueError):
        parse_service_cidrs("10.0.0.0/8")
    with pytest.raises(ValueError):
        parse_service_cidrs("10.0.0.0/24,10.1.0.0/24")


def _run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


def test_stored_range_concurrent_and_two_replicas() -> None:
    async def scenario() -> None:
        storage = MemoryStorage()
        await storage.start()
        a = StoredRange(storage, "serviceips", "10.0.0.0/28", 14, 0, random.Random(1))
        b = StoredRange(storage, "serviceips", "10.0.0.0/28", 14, 0, random.Random(1))
        await a.load()
        await b.load()
        # Two "apiservers" with the same random sequence race for the same map.
        results = await asyncio.gather(*(
            (a if i % 2 else b).apply(lambda bm: bm.allocate_next()) for i in range(20)))
        taken = [r for r in results if r is not None]
        assert sorted(taken) == list(range(14))
        current = await storage.get("/registry/ranges/serviceips")
        assert current is not None
        spec, bits = decode_range(current.value)
        assert spec == "10.0.0.0/28" and bits == (1 << 14) - 1
        # A failing change writes nothing.
        before = current.mod_revision

        def boom(bm: Bitmap) -> None:
            bm.release(0)
            raise RuntimeError("no")

        with pytest.raises(RuntimeError):
            await a.apply(boom)
        after = await storage.get("/registry/ranges/serviceips")
        assert after is not None and after.mod_revision == before
        # Persisted: a fresh allocator sees the same map; a changed range starts empty.
        c = StoredRange(storage, "serviceips", "10.0.0.0/28", 14, 0)
        assert (await c.load()).count == 14
        d = StoredRange(storage, "serviceips", "10.1.0.0/28", 14, 0)
        assert (await d.load()).count == 0 and d.mismatched
        await storage.close()

    _run(scenario())


def test_large_bitmap_offsets_and_last_free_offset() -> None:
    size = (1 << 20) - 2  # a /12
    taken = [0, 7, 8, 255, 4096, 500_000, size - 1]
    bitmap = Bitmap(size, 256, rng=random.Random(3))
    bitmap.set_all([*taken, size + 5, -1])  # out-of-range offsets are ignored
    assert bitmap.offsets() == taken and bitmap.count == len(taken)
    assert all(bitmap.has(i) for i in taken) and not bitmap.has(9)
    # Everything but one offset of each band taken: allocate_next finds exactly those.
    full = Bitmap(size, 256, (1 << size) - 1, random.Random(3))
    full.release(123_456)
    full.release(17)
    assert full.allocate_next() == 123_456
    assert full.allocate_next() == 17
    assert full.allocate_next() is None and full.free() == 0


def test_concurrent_changes_share_one_write() -> None:
    async def scenario() -> None:
        storage = MemoryStorage()
        await storage.start()
        stored = StoredRange(storage, "serviceips", "10.0.0.0/24", 254, 16, random.Random(5))
        await stored.load()
        revision = storage.current_revision()

        def fail(bm: Bitmap) -> None:
            bm.allocate(0)
            raise RuntimeError("refused")

        changes: list[Any] = [lambda bm: bm.allocate_next() for _ in range(100)]
        changes[50] = fail
        results = await asyncio.gather(*(stored.apply(c) for c in changes),
                                       return_exceptions=True)
        # Queued together, written together: one compare-and-swap for all of them.
        assert storage.current_revision() == revision + 1
        assert isinstance(results[50], RuntimeError)
        taken = [r for i, r in enumerate(results) if i != 50]
        assert len(set(taken)) == 100 - 1 and all(isinstance(r, int) and r >= 16
                                                  for r in taken)
        current = await storage.get("/registry/ranges/serviceips")
        assert current is not None
        _, bits = decode_range(current.value)
        # The failed change left nothing behind (offset 0 stays free).
        assert Bitmap(254, 16, bits).offsets() == sorted(taken)  # type: ignore[type-var]
        # Dry runs see the map and write nothing.
        assert await stored.apply(lambda bm: bm.has(taken[0]), dry_run=True) is True
        assert storage.current_revision() == revision + 1
        # A failed write fails every change of its batch; nothing of them is recorded.
        await storage.close()
        failed = await asyncio.gather(*(stored.apply(lambda bm: bm.allocate_next())
                                        for _ in range(5)), return_exceptions=True)
        assert all(isinstance(r, errors.ApiError) and r.code == 503 for r in failed), failed

    _run(scenario())


def test_cancelled_caller_still_gets_its_change_written() -> None:
    async def scenario() -> None:
        storage = MemoryStorage()
        await storage.start()
        stored = StoredRange(storage, "serviceips", "10.0.0.0/28", 14, 0)
        await stored.load()
        waiter = asyncio.ensure_future(stored.apply(lambda bm: bm.allocate(3)))
        await asyncio.sleep(0)  # queued, the write not done yet
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        # The next change is written after it, on top of it.
        assert await stored.apply(lambda bm: bm.allocate(3)) is False
        assert (await stored.load()).offsets() == [3]
        await storage.close()

    _run(scenario())
