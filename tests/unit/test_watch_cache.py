"""The watch cache over a real storage backend, with a small JSON decoder.

Stored values are JSON objects ``{"labels": {...}, "v": ...}``; the decoder
stamps the revision into ``obj["rv"]``. Coroutines run with ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest

from apiserver.storage.cache import (
    ADDED,
    DELETED,
    MODIFIED,
    CachedObject,
    CacheEvent,
    ResourceCache,
    TooOldResourceVersionError,
    WatchCache,
    Watcher,
)
from apiserver.storage.interface import EventType, Storage, StorageEvent
from apiserver.storage.memory import MemoryStorage
from apiserver.storage.sqlite import SQLiteStorage

T = TypeVar("T")

PODS = "/registry/pods/"
CMS = "/registry/configmaps/"


def decode(key: str, value: bytes, revision: int) -> CachedObject:
    obj = orjson.loads(value)
    obj["rv"] = revision
    name = key.rsplit("/", 1)[-1]
    namespace = key.rsplit("/", 2)[-2]
    return CachedObject(
        key=key,
        namespace=namespace,
        name=name,
        revision=revision,
        obj=obj,
        raw=orjson.dumps(obj),
        labels=obj.get("labels") or {},
        fields={"metadata.name": name, "metadata.namespace": namespace},
    )


def value(v: Any, **labels: str) -> bytes:
    return orjson.dumps({"labels": labels, "v": v})


class Encoder:
    """A frame encoder that counts how often it really encodes."""

    fmt = "json"

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, event_type: str, obj: CachedObject) -> bytes:
        self.calls += 1
        return orjson.dumps({"type": event_type, "object": obj.obj}) + b"\n"


def frames(watcher: Watcher) -> list[bytes | None]:
    out: list[bytes | None] = []
    while not watcher.queue.empty():
        out.append(watcher.queue.get_nowait())
    return out


def parsed(watcher: Watcher) -> list[tuple[str, str, int] | None]:
    """(type, name, rv) of each queued frame; None marks a close."""
    out: list[tuple[str, str, int] | None] = []
    for frame in frames(watcher):
        if frame is None:
            out.append(None)
            continue
        event = orjson.loads(frame)
        out.append((event["type"], event["object"]["v"], event["object"]["rv"]))
    return out


def with_cache(
    body: Callable[[Storage, WatchCache, ResourceCache, ResourceCache], Awaitable[T]],
    history_size: int = 100,
    storage: Storage | None = None,
) -> T:
    async def main() -> T:
        s = storage if storage is not None else MemoryStorage()
        await s.start()
        wc = WatchCache(s, history_size)
        pods = wc.register(PODS, decode)
        cms = wc.register(CMS, decode)
        await wc.start()
        try:
            return await body(s, wc, pods, cms)
        finally:
            wc.close_watchers()
            await s.close()

    return asyncio.run(main())


# -- state ------------------------------------------------------------------------


def test_state_follows_storage_events() -> None:
    async def body(s: Storage, wc: WatchCache, pods: ResourceCache, cms: ResourceCache) -> None:
        r1 = await s.create(PODS + "ns/a", value("a1", app="web"))
        r2 = await s.create(PODS + "ns/b", value("b1"))
        r3 = await s.create(CMS + "ns/c", value("c1"))
        assert wc.revision == r3 == 3
        assert sorted(o.name for o in pods.objects()) == ["a", "b"]
        assert [o.name for o in cms.objects()] == ["c"]
        a = pods.get(PODS + "ns/a")
        assert a is not None
        assert (a.revision, a.obj["v"], dict(a.labels)) == (r1, "a1", {"app": "web"})

        r4 = await s.update(PODS + "ns/a", value("a2"), r1)
        a = pods.get(PODS + "ns/a")
        assert a is not None and (a.revision, a.obj["v"], dict(a.labels)) == (r4, "a2", {})

        r5 = await s.delete(PODS + "ns/b", r2)
        assert pods.get(PODS + "ns/b") is None
        assert wc.revision == r5

        events = pods.events_after(0)
        assert [(e.type, e.obj.name, e.revision) for e in events] == [
            (ADDED, "a", 1),
            (ADDED, "b", 2),
            (MODIFIED, "a", 4),
            (DELETED, "b", 5),
        ]
        modified, deleted = events[2], events[3]
        assert modified.prev is not None and modified.prev.obj["v"] == "a1"
        assert modified.prev.revision == 1
        # A DELETED event carries the last state stamped with the delete's revision.
        assert deleted.obj.obj == {"labels": {}, "v": "b1", "rv": 5}
        assert deleted.prev is not None and deleted.prev.revision == 2
        assert [e.revision for e in cms.events_after(0)] == [3]
        assert [e.revision for e in pods.events_after(4)] == [5]
        assert pods.events_after(5) == []

    with_cache(body)


def test_keys_outside_registered_prefixes_advance_the_revision_only() -> None:
    async def body(s: Storage, wc: WatchCache, pods: ResourceCache, cms: ResourceCache) -> None:
        await s.create("/registry/other/x", value("x"))
        assert wc.revision == 1
        assert list(pods.objects()) == [] and list(cms.objects()) == []
        assert pods.events_after(0) == [] and cms.events_after(0) == []

    with_cache(body)


def test_wait_for_revision() -> None:
    async def body(s: Storage, wc: WatchCache, pods: ResourceCache, cms: ResourceCache) -> None:
        assert await wc.wait_for_revision(0, 0.01)
        assert not await wc.wait_for_revision(1, 0.05)
        waiter = asyncio.create_task(wc.wait_for_revision(2, 2.0))
        await s.create(PODS + "ns/a", value("a"))
        await asyncio.sleep(0)
        assert not waiter.done()
        await s.create(PODS + "ns/b", value("b"))
        assert await waiter
        assert await wc.wait_fresh(0.1)

    with_cache(body)


# -- the window -------------------------------------------------------------------


def test_window_eviction_and_too_old_resource_version() -> None:
    async def body(s: Storage, wc: WatchCache, pods: ResourceCache, cms: ResourceCache) -> None:
        for i in range(5):
            await s.create(PODS + f"ns/p{i}", value(f"p{i}"))  # revisions 1..5
        # Size 3: events 3, 4, 5 are kept; a watch may start at revision >= 2.
        assert [e.revision for e in pods.history] == [3, 4, 5]
        assert pods.window_start == 2
        assert [e.revision for e in pods.events_after(2)] == [3, 4, 5]
        assert [e.revision for e in pods.events_after(4)] == [5]
        with pytest.raises(TooOldResourceVersionError) as info:
            pods.events_after(1)
        assert str(info.value) == "too old resource version: 1 (2)"
        assert (info.value.requested, info.value.oldest) == (1, 2)
        # The window is per resource: other resources' events do not evict it.
        await s.create(CMS + "ns/c", value("c"))
        assert [e.revision for e in pods.events_after(2)] == [3, 4, 5]
        assert [e.revision for e in cms.events_after(0)] == [6]

    with_cache(body, history_size=3)


# -- delivery ---------------------------------------------------------------------


def _event(
    etype: str, rev: int, now: dict[str, str], before: dict[str, str] | None
) -> CacheEvent:
    obj = decode(PODS + "ns/x", value("now", **now), rev)
    prev = None if before is None else decode(PODS + "ns/x", value("before", **before), rev - 1)
    return CacheEvent(etype, rev, obj, prev)


def test_delivery_translates_selector_transitions() -> None:
    cache = ResourceCache(PODS, decode, 10)

    def web(o: CachedObject) -> bool:
        return o.labels.get("app") == "web"

    on, off = {"app": "web"}, {"app": "db"}
    # Created matching / not matching.
    delivery = cache.delivery(_event(ADDED, 2, on, None), web)
    assert delivery is not None and delivery[0] == ADDED
    assert cache.delivery(_event(ADDED, 2, off, None), web) is None
    # Modified, matching before and after.
    delivery = cache.delivery(_event(MODIFIED, 3, on, on), web)
    assert delivery is not None and delivery[0] == MODIFIED and delivery[1].obj["v"] == "now"
    # Starts matching: ADDED with the new state.
    delivery = cache.delivery(_event(MODIFIED, 4, on, off), web)
    assert delivery is not None
    assert (delivery[0], delivery[1].obj["v"], delivery[1].revision) == (ADDED, "now", 4)
    # Stops matching: DELETED with the previous state, stamped with the new revision.
    stop = _event(MODIFIED, 5, off, on)
    delivery = cache.delivery(stop, web)
    assert delivery is not None
    kind, obj = delivery
    assert (kind, obj.obj["v"], obj.revision, obj.obj["rv"]) == (DELETED, "before", 5, 5)
    assert dict(obj.labels) == on
    # The re-stamped object is computed once and shared by every watcher.
    again = cache.delivery(stop, web)
    assert again is not None and again[1] is obj
    # Never matching.
    assert cache.delivery(_event(MODIFIED, 6, off, off), web) is None
    # Deleted matching / not matching.
    delivery = cache.delivery(_event(DELETED, 7, on, on), web)
    assert delivery is not None and delivery[0] == DELETED
    assert cache.delivery(_event(DELETED, 7, off, off), web) is None


def test_events_without_replaced_values_take_them_from_the_cached_state() -> None:
    """etcd's feed brings others' updates without the value before and deletes without the
    last value (StorageEvent): the cache holds both and tells watchers the same as with them."""
    cache = ResourceCache(PODS, decode, 10)
    key = PODS + "ns/x"
    cache.apply(StorageEvent(EventType.CREATE, key, value("v1", app="web"), None, 2))
    watcher = Watcher(lambda o: o.labels.get("app") == "web", Encoder())
    everything = Watcher(lambda o: True, Encoder())
    cache.watchers.update({watcher, everything})
    # Stops matching: DELETED with the state before, from the cache.
    update = cache.apply(StorageEvent(EventType.UPDATE, key, value("v2", app="db"), None, 3))
    assert update is not None and update.prev is not None and update.prev.obj["v"] == "v1"
    # The delete's object is the last state held, stamped with the delete's revision.
    delete = cache.apply(StorageEvent(EventType.DELETE, key, b"", None, 4))
    assert delete is not None and delete.type == DELETED
    assert (delete.obj.obj["v"], delete.obj.revision, delete.obj.obj["rv"]) == ("v2", 4, 4)
    assert cache.get(key) is None
    assert parsed(watcher) == [(DELETED, "v1", 3)]
    assert parsed(everything) == [(MODIFIED, "v2", 3), (DELETED, "v2", 4)]
    # A delete of an object never held, without its value, changes nothing.
    assert cache.apply(StorageEvent(EventType.DELETE, PODS + "ns/y", b"", None, 5)) is None
    assert [e.revision for e in cache.events_after(0)] == [2, 3, 4]


class GappyStorage(MemoryStorage):
    """In-memory storage whose feed can lose events, as etcd's does when it falls behind a
    compaction."""

    def __init__(self) -> None:
        super().__init__()
        self.gap_callbacks: list[Callable[[int], None]] = []
        self._muted: list[Any] = []

    def on_feed_gap(self, callback: Callable[[int], None]) -> None:
        self.gap_callbacks.append(callback)

    def mute(self) -> None:
        """Commits from now on reach no subscriber."""
        self._muted, self._subscribers = self._subscribers, []

    def resume(self) -> None:
        """Subscribers hear commits again, and of the gap."""
        self._subscribers = self._muted
        for callback in self.gap_callbacks:
            callback(self.current_revision() + 1)


def test_a_gap_in_the_feed_reloads_the_state_and_closes_every_watcher() -> None:
    storage = GappyStorage()

    async def body(s: Storage, wc: WatchCache, pods: ResourceCache, cms: ResourceCache) -> None:
        r1 = await s.create(PODS + "ns/a", value("a1"))
        await s.create(PODS + "ns/b", value("b1"))
        watcher = Watcher(lambda o: True, Encoder())
        pods.watchers.add(watcher)
        storage.mute()
        await s.update(PODS + "ns/a", value("a2"), r1)
        await s.delete(PODS + "ns/b")
        r5 = await s.create(CMS + "ns/c", value("c1"))
        assert pods.get(PODS + "ns/b") is not None  # missed
        storage.resume()
        assert wc._reload is not None
        await wc._reload
        assert {k: o.obj["v"] for k, o in pods.store.items()} == {PODS + "ns/a": "a2"}
        assert [o.obj["v"] for o in cms.objects()] == ["c1"]
        assert wc.revision == r5
        # Every watcher was closed: its client watches again and, from before the gap,
        # is told to relist.
        assert watcher.closed and frames(watcher) == [None]
        assert not pods.watchers
        with pytest.raises(TooOldResourceVersionError):
            pods.events_after(r1)
        # The feed goes on from the reloaded state.
        again = Watcher(lambda o: True, Encoder())
        pods.watchers.add(again)
        r6 = await s.create(PODS + "ns/d", value("d1"))
        assert [e.revision for e in pods.events_after(r5)] == [r6]
        assert parsed(again) == [(ADDED, "d1", r6)]

    with_cache(body, storage=storage)


def test_fan_out_filters_and_encodes_once() -> None:
    async def body(s: Storage, wc: WatchCache, pods: ResourceCache, cms: ResourceCache) -> None:
        encoder = Encoder()
        everything = Watcher(lambda o: True, encoder)
        also_everything = Watcher(lambda o: True, encoder)
        web = Watcher(lambda o: o.labels.get("app") == "web", encoder)
        pods.watchers.update({everything, also_everything, web})

        r1 = await s.create(PODS + "ns/a", value("a", app="db"))
        r2 = await s.update(PODS + "ns/a", value("a", app="web"), r1)
        r3 = await s.update(PODS + "ns/a", value("a", app="web", tier="x"), r2)
        r4 = await s.update(PODS + "ns/a", value("a", app="db"), r3)
        r5 = await s.delete(PODS + "ns/a", r4)
        await s.create(CMS + "ns/c", value("c", app="web"))  # another resource

        all_frames = frames(everything)
        other_frames = frames(also_everything)
        assert len(all_frames) == 5
        # Identical bytes objects: each frame was encoded once for all watchers.
        assert all(a is b for a, b in zip(all_frames, other_frames, strict=True))
        types = [orjson.loads(f)["type"] for f in all_frames if f is not None]
        assert types == [ADDED, MODIFIED, MODIFIED, MODIFIED, DELETED]
        assert parsed(web) == [(ADDED, "a", r2), (MODIFIED, "a", r3), (DELETED, "a", r4)]
        # 5 frames shared by the all-watchers, plus the web watcher's ADDED at r2 and
        # its DELETED of the re-stamped previous state at r4.
        assert encoder.calls == 7
        assert r5 == 5

    with_cache(body)


def test_frames_are_memoised_per_type_and_format() -> None:
    encoder = Encoder()
    watcher = Watcher(lambda o: True, encoder)
    obj = decode(PODS + "ns/a", value("a"), 1)
    first = watcher.frame(ADDED, obj)
    assert watcher.frame(ADDED, obj) is first
    assert watcher.frame(MODIFIED, obj) != first
    assert encoder.calls == 2


def test_initial_frames_use_memoised_frames_but_keep_none() -> None:
    encoder = Encoder()
    watcher = Watcher(lambda o: True, encoder)
    obj = decode(PODS + "ns/a", value("a"), 1)
    initial = watcher.initial_frame(obj)
    assert orjson.loads(initial)["type"] == ADDED
    assert obj.frames is None  # a watch of every object from "0" keeps no frame of each
    live = watcher.frame(ADDED, obj)
    assert watcher.initial_frame(obj) is live
    assert encoder.calls == 2


# -- settled objects ----------------------------------------------------------------


def test_cached_objects_keep_bytes_and_decode_on_access() -> None:
    async def body(s: Storage, wc: WatchCache, pods: ResourceCache, cms: ResourceCache) -> None:
        await s.create(PODS + "ns/a", value("a1", app="web", tier="db"))
        a = pods.get(PODS + "ns/a")
        assert a is not None
        first, second = a.obj, a.obj
        assert first == second == {"labels": {"app": "web", "tier": "db"}, "v": "a1", "rv": 1}
        assert first is not second  # decoded afresh: a caller's change cannot reach the cache
        first["v"] = "changed"
        assert a.obj["v"] == "a1" and orjson.loads(a.raw)["v"] == "a1"
        assert dict(a.labels) == {"app": "web", "tier": "db"}
        # Label values are interned: objects with the same label share its text.
        await s.create(PODS + "ns/b", value("b1", app="web"))
        b = pods.get(PODS + "ns/b")
        assert b is not None and b.labels["app"] is a.labels["app"]

    with_cache(body)


def test_reloaded_history_shares_the_current_objects(tmp_path: Path) -> None:
    path = tmp_path / "kubemu.db"

    async def before(s: Storage, wc: WatchCache, pods: ResourceCache, cms: ResourceCache) -> None:
        rev = await s.create(PODS + "ns/a", value("a1"))
        await s.create(PODS + "ns/b", value("b1"))
        await s.update(PODS + "ns/a", value("a2"), rev)

    with_cache(before, storage=SQLiteStorage(path))

    async def after(s: Storage, wc: WatchCache, pods: ResourceCache, cms: ResourceCache) -> None:
        a, b = pods.get(PODS + "ns/a"), pods.get(PODS + "ns/b")
        events = pods.events_after(0)
        assert [(e.type, e.obj.name, e.revision) for e in events] == [
            (ADDED, "a", 1), (ADDED, "b", 2), (MODIFIED, "a", 3)]
        # The newest event of a key is the loaded state itself, not a second copy.
        assert events[1].obj is b and events[2].obj is a
        assert events[0].obj is not a and events[0].obj.obj["v"] == "a1"
        assert events[2].prev is not None and events[2].prev.obj["v"] == "a1"

    with_cache(after, storage=SQLiteStorage(path))


def test_watcher_overflow_closes_it_without_blocking_others() -> None:
    async def body(s: Storage, wc: WatchCache, pods: ResourceCache, cms: ResourceCache) -> None:
        slow = Watcher(lambda o: True, Encoder(), maxsize=3)
        fast = Watcher(lambda o: True, Encoder(), maxsize=100)
        pods.watchers.update({slow, fast})
        for i in range(10):
            await s.create(PODS + f"ns/p{i}", value(f"p{i}"))
        assert slow.overflowed and slow.closed
        assert slow not in pods.watchers
        got = parsed(slow)
        # The frames queued before the overflow, then the close marker.
        assert got == [(ADDED, "p0", 1), (ADDED, "p1", 2), (ADDED, "p2", 3), None]
        assert not fast.closed and fast in pods.watchers
        assert [e[2] for e in parsed(fast) if e is not None] == list(range(1, 11))
        # A closed watcher ignores further frames.
        slow.offer(b"late\n")
        assert slow.queue.empty()

    with_cache(body)


def test_close_watchers_marks_every_watcher_closed() -> None:
    async def body(s: Storage, wc: WatchCache, pods: ResourceCache, cms: ResourceCache) -> None:
        a = Watcher(lambda o: True, Encoder())
        b = Watcher(lambda o: True, Encoder())
        pods.watchers.add(a)
        cms.watchers.add(b)
        await s.create(PODS + "ns/p", value("p"))
        wc.close_watchers()
        assert a.closed and b.closed and not a.overflowed
        assert parsed(a) == [(ADDED, "p", 1), None]
        assert parsed(b) == [None]
        assert not pods.watchers and not cms.watchers

    with_cache(body)


# -- restarts ---------------------------------------------------------------------


def test_restart_loads_state_and_recent_history(tmp_path: Path) -> None:
    path = tmp_path / "kubemu.db"

    async def before(s: Storage, wc: WatchCache, pods: ResourceCache, cms: ResourceCache) -> None:
        r1 = await s.create(PODS + "ns/a", value("a1", app="web"))  # 1
        await s.create(PODS + "ns/b", value("b1"))  # 2
        await s.create(CMS + "ns/c", value("c1"))  # 3
        r4 = await s.update(PODS + "ns/a", value("a2"), r1)  # 4
        await s.delete(PODS + "ns/b")  # 5
        await s.update(PODS + "ns/a", value("a3", app="web"), r4)  # 6

    with_cache(before, storage=SQLiteStorage(path))

    async def after(s: Storage, wc: WatchCache, pods: ResourceCache, cms: ResourceCache) -> None:
        assert wc.revision == 6
        a = pods.get(PODS + "ns/a")
        assert a is not None and (a.obj["v"], a.revision) == ("a3", 6)
        assert pods.get(PODS + "ns/b") is None
        # Old revisions are still watchable after the restart.
        events = pods.events_after(1)
        assert [(e.type, e.obj.name, e.revision) for e in events] == [
            (ADDED, "b", 2),
            (MODIFIED, "a", 4),
            (DELETED, "b", 5),
            (MODIFIED, "a", 6),
        ]
        assert events[1].prev is not None and events[1].prev.obj["v"] == "a1"
        assert [e.revision for e in cms.events_after(0)] == [3]
        # The reloaded history drives selector transitions like live events do.
        web = Watcher(lambda o: o.labels.get("app") == "web", Encoder())
        kinds = [pods.delivery(e, web.predicate) for e in events]
        assert [(d[0], d[1].revision) if d else None for d in kinds] == [
            None,
            (DELETED, 4),
            None,
            (ADDED, 6),
        ]
        # New writes continue the revision sequence and reach the cache.
        rev = await s.create(PODS + "ns/d", value("d1"))
        assert rev == 7 and wc.revision == 7
        assert [e.revision for e in pods.events_after(6)] == [7]

    with_cache(after, storage=SQLiteStorage(path))

    async def small(s: Storage, wc: WatchCache, pods: ResourceCache, cms: ResourceCache) -> None:
        # With a window of 2 only the two newest revisions are reloaded.
        assert wc.revision == 7
        with pytest.raises(TooOldResourceVersionError):
            pods.events_after(1)
        assert [e.revision for e in pods.events_after(5)] == [6, 7]

    with_cache(small, history_size=2, storage=SQLiteStorage(path))


def test_restart_after_compaction_starts_window_at_compaction(tmp_path: Path) -> None:
    path = tmp_path / "kubemu.db"

    async def before(s: Storage, wc: WatchCache, pods: ResourceCache, cms: ResourceCache) -> None:
        for i in range(4):
            await s.create(PODS + f"ns/p{i}", value(i))
        await s.compact(3)
        await s.create(PODS + "ns/p4", value(4))

    with_cache(before, storage=SQLiteStorage(path))

    async def after(s: Storage, wc: WatchCache, pods: ResourceCache, cms: ResourceCache) -> None:
        assert wc.revision == 5
        assert len(list(pods.objects())) == 5
        with pytest.raises(TooOldResourceVersionError):
            pods.events_after(2)
        assert [e.revision for e in pods.events_after(3)] == [4, 5]

    with_cache(after, storage=SQLiteStorage(path))


def test_writes_racing_with_start_are_not_lost(tmp_path: Path) -> None:
    async def main() -> None:
        s = SQLiteStorage(tmp_path / "kubemu.db")
        await s.start()
        for i in range(50):
            await s.create(PODS + f"ns/old{i}", value(i))
        wc = WatchCache(s, 1000)
        pods = wc.register(PODS, decode)
        writes = asyncio.gather(*(s.create(PODS + f"ns/new{i}", value(i)) for i in range(50)))
        await asyncio.gather(wc.start(), writes)
        try:
            assert await wc.wait_fresh(1.0)
            items, rev = await s.list_prefix(PODS)
            assert wc.revision == rev == 100
            assert {o.key: o.revision for o in pods.objects()} == {
                kv.key: kv.mod_revision for kv in items
            }
            assert [e.revision for e in pods.events_after(0)] == list(range(1, 101))
        finally:
            await s.close()

    asyncio.run(main())
