"""The storage backends: MemoryStorage, SQLiteStorage and EtcdStorage.

Every test runs against every backend. etcd runs as a real server (the session
``etcd`` fixture); each test gets its own key prefix in it, and since etcd's
revisions are global (an empty etcd is at revision 1, earlier tests moved it
on), the etcd storage is seen through :class:`Rebased`, which shifts every
revision by the one etcd was at when the test began — so the same exact
revision assertions hold for all backends. Coroutines are driven with
``asyncio.run`` (no pytest-asyncio); each test opens its own storage.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from apiserver.storage.errors import (
    CompactedError,
    KeyExistsError,
    KeyNotFoundError,
    RevisionConflictError,
    StorageUnavailableError,
)
from apiserver.storage.etcd import EtcdStorage
from apiserver.storage.interface import EventType, KeyValue, Storage, StorageEvent, Subscriber
from apiserver.storage.memory import MemoryStorage
from apiserver.storage.sqlite import SQLiteStorage
from tests.support.etcd import EtcdProcess, assert_same_event, unique_prefix

T = TypeVar("T")

Factory = Callable[[], Storage]


class Rebased(Storage):
    """An etcd storage whose revisions count from where etcd was at ``start``."""

    def __init__(self, inner: EtcdStorage) -> None:
        self.inner = inner
        self.base = 0

    def _kv(self, kv: KeyValue | None) -> KeyValue | None:
        if kv is None:
            return None
        return KeyValue(kv.key, kv.value, kv.mod_revision - self.base,
                        kv.create_revision - self.base)

    def _event(self, e: StorageEvent) -> StorageEvent:
        prev = e.prev_revision - self.base if e.prev_revision else 0
        return StorageEvent(e.type, e.key, e.value, e.prev_value, e.revision - self.base, prev)

    def _compacted(self, exc: CompactedError) -> CompactedError:
        return CompactedError(exc.requested - self.base, exc.compacted - self.base)

    async def start(self) -> None:
        await self.inner.start()
        self.base = self.inner.current_revision()

    async def close(self) -> None:
        await self.inner.close()

    async def create(self, key: str, value: bytes) -> int:
        return await self.inner.create(key, value) - self.base

    async def update(self, key: str, value: bytes, expected_revision: int) -> int:
        return await self.inner.update(key, value, expected_revision + self.base) - self.base

    async def delete(self, key: str, expected_revision: int | None = None) -> int:
        expected = None if expected_revision is None else expected_revision + self.base
        return await self.inner.delete(key, expected) - self.base

    async def get(self, key: str) -> KeyValue | None:
        return self._kv(await self.inner.get(key))

    async def list_prefix(self, prefix: str) -> tuple[list[KeyValue], int]:
        items, rev = await self.inner.list_prefix(prefix)
        return [kv for kv in map(self._kv, items) if kv is not None], rev - self.base

    def current_revision(self) -> int:
        return self.inner.current_revision() - self.base

    def compacted_revision(self) -> int:
        return max(0, self.inner.compacted_revision() - self.base)

    async def history(self, after_revision: int) -> list[StorageEvent]:
        try:
            events = await self.inner.history(after_revision + self.base)
        except CompactedError as exc:
            raise self._compacted(exc) from exc
        return [self._event(e) for e in events]

    async def compact(self, revision: int) -> None:
        await self.inner.compact(revision + self.base)

    def subscribe(self, subscriber: Subscriber) -> None:
        self.inner.subscribe(lambda e: subscriber(self._event(e)))


@pytest.fixture(params=["memory", "sqlite", "etcd"])
def make_storage(request: pytest.FixtureRequest, tmp_path: Path) -> Factory:
    """A factory of (unstarted) storages; SQLite ones share one database file, etcd
    ones one key prefix."""
    if request.param == "memory":
        return MemoryStorage
    if request.param == "etcd":
        etcd: EtcdProcess = request.getfixturevalue("etcd")
        prefix = unique_prefix()
        return lambda: Rebased(EtcdStorage([etcd.url], prefix, key_root=""))
    return lambda: SQLiteStorage(tmp_path / "db" / "kubemu.db")


def run(make: Factory, body: Callable[[Storage], Awaitable[T]]) -> T:
    """Start a storage, run ``body`` against it, close it."""

    async def main() -> T:
        storage = make()
        await storage.start()
        try:
            return await body(storage)
        finally:
            await storage.close()

    return asyncio.run(main())


def arun(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


# -- basic CRUD -----------------------------------------------------------------


def test_empty_store(make_storage: Factory) -> None:
    async def body(s: Storage) -> None:
        assert s.current_revision() == 0
        assert s.compacted_revision() == 0
        assert await s.get("/a") is None
        assert await s.list_prefix("/") == ([], 0)
        assert await s.history(0) == []

    run(make_storage, body)


def test_create_get_update_delete(make_storage: Factory) -> None:
    async def body(s: Storage) -> None:
        rev1 = await s.create("/registry/cm/ns/a", b"one")
        assert rev1 == 1
        assert await s.get("/registry/cm/ns/a") == KeyValue("/registry/cm/ns/a", b"one", 1, 1)
        rev2 = await s.update("/registry/cm/ns/a", b"two", rev1)
        assert rev2 == 2
        kv = await s.get("/registry/cm/ns/a")
        assert kv == KeyValue("/registry/cm/ns/a", b"two", 2, 1)
        assert s.current_revision() == 2
        rev3 = await s.delete("/registry/cm/ns/a", rev2)
        assert rev3 == 3
        assert await s.get("/registry/cm/ns/a") is None
        assert s.current_revision() == 3

    run(make_storage, body)


def test_delete_without_precondition(make_storage: Factory) -> None:
    async def body(s: Storage) -> None:
        await s.create("/k", b"v")
        await s.update("/k", b"w", 1)
        assert await s.delete("/k") == 3
        assert await s.get("/k") is None

    run(make_storage, body)


def test_list_prefix_is_sorted_and_scoped(make_storage: Factory) -> None:
    async def body(s: Storage) -> None:
        await s.create("/registry/pods/b/x", b"bx")
        await s.create("/registry/pods/a/y", b"ay")
        await s.create("/registry/services/a/z", b"az")
        await s.create("/registry/pods/a/x", b"ax")
        await s.delete("/registry/pods/b/x")
        items, rev = await s.list_prefix("/registry/pods/")
        assert rev == 5
        assert [(kv.key, kv.value, kv.mod_revision) for kv in items] == [
            ("/registry/pods/a/x", b"ax", 4),
            ("/registry/pods/a/y", b"ay", 2),
        ]
        items, _ = await s.list_prefix("/registry/pods/a/")
        assert [kv.key for kv in items] == ["/registry/pods/a/x", "/registry/pods/a/y"]
        items, _ = await s.list_prefix("/registry/services/")
        assert [kv.key for kv in items] == ["/registry/services/a/z"]

    run(make_storage, body)


def test_revisions_strictly_increase(make_storage: Factory) -> None:
    async def body(s: Storage) -> list[int]:
        revs = [await s.create(f"/k{i}", b"v") for i in range(5)]
        revs.append(await s.update("/k0", b"w", revs[0]))
        revs.append(await s.delete("/k1"))
        revs.append(await s.create("/k1", b"again"))
        return revs

    revs = run(make_storage, body)
    assert revs == list(range(1, 9))


def test_recreate_after_delete_gets_new_create_revision(make_storage: Factory) -> None:
    async def body(s: Storage) -> None:
        await s.create("/k", b"1")
        await s.delete("/k")
        rev = await s.create("/k", b"2")
        kv = await s.get("/k")
        assert kv is not None
        assert kv.create_revision == rev == kv.mod_revision == 3

    run(make_storage, body)


# -- errors ---------------------------------------------------------------------


def test_create_existing_key_raises(make_storage: Factory) -> None:
    async def body(s: Storage) -> None:
        await s.create("/k", b"v")
        with pytest.raises(KeyExistsError) as info:
            await s.create("/k", b"w")
        assert info.value.key == "/k"
        # The failed write consumed no revision and changed nothing.
        assert s.current_revision() == 1
        assert (await s.get("/k")) == KeyValue("/k", b"v", 1, 1)

    run(make_storage, body)


def test_update_with_stale_revision_conflicts(make_storage: Factory) -> None:
    async def body(s: Storage) -> None:
        rev = await s.create("/k", b"v")
        await s.update("/k", b"w", rev)
        with pytest.raises(RevisionConflictError):
            await s.update("/k", b"x", rev)
        with pytest.raises(RevisionConflictError):
            await s.delete("/k", rev)
        assert s.current_revision() == 2
        assert (await s.get("/k")) == KeyValue("/k", b"w", 2, 1)

    run(make_storage, body)


def test_missing_key_raises_not_found(make_storage: Factory) -> None:
    async def body(s: Storage) -> None:
        with pytest.raises(KeyNotFoundError):
            await s.update("/nope", b"v", 1)
        with pytest.raises(KeyNotFoundError):
            await s.delete("/nope")
        with pytest.raises(KeyNotFoundError):
            await s.delete("/nope", 3)
        assert s.current_revision() == 0

    run(make_storage, body)


def test_writes_after_close_are_refused(make_storage: Factory) -> None:
    async def main() -> None:
        s = make_storage()
        await s.start()
        await s.create("/k", b"v")
        await s.close()
        with pytest.raises(StorageUnavailableError):
            await s.create("/j", b"v")

    arun(main())


# -- concurrency and group commit -----------------------------------------------


def test_concurrent_creates_get_distinct_gapless_revisions(make_storage: Factory) -> None:
    async def body(s: Storage) -> None:
        revs = await asyncio.gather(*(s.create(f"/c/{i:03d}", str(i).encode()) for i in range(200)))
        assert sorted(revs) == list(range(1, 201))
        # Each key holds the revision its writer was answered with.
        for i, rev in enumerate(revs):
            kv = await s.get(f"/c/{i:03d}")
            assert kv is not None
            assert (kv.value, kv.mod_revision) == (str(i).encode(), rev)
        assert s.current_revision() == 200
        history = await s.history(0)
        assert [e.revision for e in history] == list(range(1, 201))

    run(make_storage, body)


def test_concurrent_conflicting_writers_one_wins(make_storage: Factory) -> None:
    async def body(s: Storage) -> None:
        rev = await s.create("/k", b"0")
        results = await asyncio.gather(
            *(s.update("/k", str(i).encode(), rev) for i in range(50)), return_exceptions=True
        )
        winners = [r for r in results if isinstance(r, int)]
        losers = [r for r in results if not isinstance(r, int)]
        assert winners == [2]
        assert len(losers) == 49
        assert all(isinstance(r, RevisionConflictError) for r in losers)
        assert s.current_revision() == 2

    run(make_storage, body)


def test_batch_with_create_then_duplicate(
    make_storage: Factory, request: pytest.FixtureRequest
) -> None:
    """Writes staged in the same batch see each other (create + duplicate create)."""
    if request.node.callspec.params["make_storage"] == "etcd":
        pytest.skip("group commit order: concurrent etcd requests may arrive in any order")

    async def body(s: Storage) -> None:
        results = await asyncio.gather(
            s.create("/k", b"a"), s.create("/k", b"b"), s.delete("/k"), return_exceptions=True
        )
        assert results[0] == 1
        assert isinstance(results[1], KeyExistsError)
        assert results[2] == 2
        assert await s.get("/k") is None

    run(make_storage, body)


def test_guaranteed_update_retries_until_it_sticks(make_storage: Factory) -> None:
    async def body(s: Storage) -> None:
        await s.create("/counter", b"0")

        async def incr(kv: KeyValue) -> bytes:
            await asyncio.sleep(0)
            return str(int(kv.value) + 1).encode()

        await asyncio.gather(*(s.guaranteed_update("/counter", incr) for _ in range(20)))
        kv = await s.get("/counter")
        assert kv is not None
        assert kv.value == b"20"

        async def unchanged(kv: KeyValue) -> bytes | None:
            return None

        same = await s.guaranteed_update("/counter", unchanged)
        assert same == kv
        with pytest.raises(KeyNotFoundError):
            await s.guaranteed_update("/missing", incr)

    run(make_storage, body)


# -- history, subscribers and compaction ------------------------------------------


def test_history_returns_events_with_prev_values(make_storage: Factory) -> None:
    async def body(s: Storage) -> None:
        await s.create("/a", b"a1")  # 1
        await s.create("/b", b"b1")  # 2
        await s.update("/a", b"a2", 1)  # 3
        await s.delete("/b", 2)  # 4
        await s.update("/a", b"a3", 3)  # 5
        events = await s.history(0)
        assert events == [
            StorageEvent(EventType.CREATE, "/a", b"a1", None, 1, 0),
            StorageEvent(EventType.CREATE, "/b", b"b1", None, 2, 0),
            StorageEvent(EventType.UPDATE, "/a", b"a2", b"a1", 3, 1),
            StorageEvent(EventType.DELETE, "/b", b"b1", b"b1", 4, 2),
            StorageEvent(EventType.UPDATE, "/a", b"a3", b"a2", 5, 3),
        ]
        assert [e.revision for e in await s.history(3)] == [4, 5]
        assert await s.history(5) == []

    run(make_storage, body)


def test_subscribers_see_every_event_in_order(make_storage: Factory) -> None:
    async def body(s: Storage) -> None:
        seen: list[StorageEvent] = []
        s.subscribe(seen.append)
        revisions = await asyncio.gather(*(s.create(f"/k{i}", b"v") for i in range(30)))
        # Concurrent creates may commit in any order (etcd): use /k0's own revision.
        k0 = revisions[0]
        await s.update("/k0", b"w", k0)
        assert [e.revision for e in seen] == list(range(1, 32))
        history = await s.history(0)
        assert history[-1] == StorageEvent(EventType.UPDATE, "/k0", b"w", b"v", 31, k0)
        # etcd: a write whose event its feed brought before the write's own answer is
        # seen without the replaced value (see StorageEvent).
        for delivered, full in zip(seen, history, strict=True):
            assert_same_event(delivered, full)

    run(make_storage, body)


def test_a_failing_subscriber_does_not_break_writes(make_storage: Factory) -> None:
    async def body(s: Storage) -> None:
        def boom(event: StorageEvent) -> None:
            raise RuntimeError("subscriber bug")

        seen: list[int] = []
        s.subscribe(boom)
        s.subscribe(lambda e: seen.append(e.revision))
        assert await s.create("/k", b"v") == 1
        assert seen == [1]

    run(make_storage, body)


def test_compaction_drops_superseded_history(make_storage: Factory) -> None:
    async def body(s: Storage) -> None:
        await s.create("/a", b"a1")  # 1
        await s.create("/b", b"b1")  # 2
        await s.update("/a", b"a2", 1)  # 3
        await s.delete("/b", 2)  # 4
        await s.create("/c", b"c1")  # 5
        await s.update("/a", b"a3", 3)  # 6
        await s.compact(4)
        assert s.compacted_revision() == 4
        with pytest.raises(CompactedError) as info:
            await s.history(3)
        assert (info.value.requested, info.value.compacted) == (3, 4)
        with pytest.raises(CompactedError):
            await s.history(0)
        events = await s.history(4)
        assert [(e.type, e.key, e.revision) for e in events] == [
            (EventType.CREATE, "/c", 5),
            (EventType.UPDATE, "/a", 6),
        ]
        # The previous value of /a (rev 3) is still the newest row <= 4, so it survives.
        assert events[1].prev_value == b"a2"
        # Current state is untouched by compaction.
        items, rev = await s.list_prefix("/")
        assert rev == 6
        assert [(kv.key, kv.value) for kv in items] == [("/a", b"a3"), ("/c", b"c1")]
        # Compacting backwards is a no-op; compacting past the head clamps.
        await s.compact(2)
        assert s.compacted_revision() == 4
        await s.compact(100)
        assert s.compacted_revision() == 6
        assert await s.history(6) == []
        # Writes continue after compaction with the next revision.
        assert await s.create("/d", b"d1") == 7

    run(make_storage, body)


# -- SQLite durability ------------------------------------------------------------


def test_sqlite_reopen_restores_state_and_revision(tmp_path: Path) -> None:
    path = tmp_path / "kubemu.db"

    async def first() -> None:
        s = SQLiteStorage(path)
        await s.start()
        await asyncio.gather(*(s.create(f"/k/{i}", f"v{i}".encode()) for i in range(10)))
        await s.update("/k/0", b"new", 1)
        await s.delete("/k/1")
        await s.close()

    async def second() -> None:
        s = SQLiteStorage(path)
        await s.start()
        try:
            assert s.current_revision() == 12
            kv = await s.get("/k/0")
            assert kv == KeyValue("/k/0", b"new", 11, 1)
            assert await s.get("/k/1") is None
            items, rev = await s.list_prefix("/k/")
            assert rev == 12
            assert len(items) == 9
            events = await s.history(10)
            assert [(e.type, e.key, e.prev_value) for e in events] == [
                (EventType.UPDATE, "/k/0", b"v0"),
                (EventType.DELETE, "/k/1", b"v1"),
            ]
            assert await s.create("/k/1", b"again") == 13
        finally:
            await s.close()

    arun(first())
    arun(second())


def test_sqlite_revision_survives_compaction_of_newest_row(tmp_path: Path) -> None:
    """Deleting a key then compacting removes the newest rows; ids must not be reused."""
    path = tmp_path / "kubemu.db"

    async def first() -> None:
        s = SQLiteStorage(path)
        await s.start()
        await s.create("/a", b"a")  # 1
        await s.create("/b", b"b")  # 2
        await s.delete("/b")  # 3 (tombstone, the newest row)
        await s.compact(3)  # drops rows 2 and 3
        await s.close()

    async def second() -> None:
        s = SQLiteStorage(path)
        await s.start()
        try:
            assert s.current_revision() == 3
            assert s.compacted_revision() == 3
            with pytest.raises(CompactedError):
                await s.history(1)
            assert await s.get("/b") is None
            assert (await s.get("/a")) == KeyValue("/a", b"a", 1, 1)
            assert await s.create("/c", b"c") == 4
            assert [e.revision for e in await s.history(3)] == [4]
        finally:
            await s.close()

    arun(first())
    arun(second())


def test_sqlite_acknowledged_writes_are_durable_without_close(tmp_path: Path) -> None:
    """A write is on disk once acknowledged: a second connection sees it at once."""
    import sqlite3

    path = tmp_path / "kubemu.db"

    async def main() -> None:
        s = SQLiteStorage(path)
        await s.start()
        try:
            revs = await asyncio.gather(*(s.create(f"/k/{i}", b"v") for i in range(25)))
            db = sqlite3.connect(path)
            try:
                ids = [row[0] for row in db.execute("SELECT id FROM log ORDER BY id")]
            finally:
                db.close()
            assert ids == sorted(revs) == list(range(1, 26))
        finally:
            await s.close()

    arun(main())


def test_sqlite_batch_beyond_the_parameter_limit_commits_in_one_transaction(
    tmp_path: Path,
) -> None:
    """A batch too big for one INSERT (few host parameters allowed) is written as several
    INSERTs in one transaction: every row is there, in order, and a new database has
    16 KiB pages."""
    import sqlite3

    path = tmp_path / "kubemu.db"

    async def main() -> None:
        s = SQLiteStorage(path)
        await s.start()
        try:
            assert s._db is not None
            # Two rows per INSERT; set from the commit thread, which owns the connection.
            await s._run(lambda db: db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 14))
            revs = await asyncio.gather(*(s.create(f"/k/{i}", b"v%d" % i) for i in range(9)))
            db = sqlite3.connect(path)
            try:
                rows = list(db.execute("SELECT id, name, value FROM log ORDER BY id"))
                (page_size,) = db.execute("PRAGMA page_size").fetchone()
            finally:
                db.close()
            assert sorted(revs) == list(range(1, 10))
            assert len(rows) == 9 and [r[0] for r in rows] == list(range(1, 10))
            assert {r[1]: bytes(r[2]) for r in rows} == {f"/k/{i}": b"v%d" % i for i in range(9)}
            assert page_size == 16384
        finally:
            await s.close()

    arun(main())
