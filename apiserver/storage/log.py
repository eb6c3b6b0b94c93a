"""A revision log with group commit, shared by the embedded backends.

Writes are queued to one committer task. It takes every write waiting in the
queue, checks each against the current state (plus the writes staged before
it in the same batch), assigns consecutive revisions, persists the whole batch
at once (one transaction and one fsync for SQLite) and only then answers the
writers and tells subscribers, in revision order. Throughput therefore grows
with concurrency instead of dying on fsync, and an answered write is durable.

The current state kept in memory holds each value in an exactly sized copy
(:func:`~apiserver.storage.buffers.exact`): it lives as long as the key.

Subclasses implement :meth:`_load`, :meth:`_persist`, :meth:`_read_history`
and :meth:`_compact`; the current state is kept in memory (``_latest``).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from apiserver.storage.buffers import exact
from apiserver.storage.errors import (
    CompactedError,
    KeyExistsError,
    KeyNotFoundError,
    RevisionConflictError,
    StorageError,
    StorageUnavailableError,
)
from apiserver.storage.interface import (
    EventType,
    KeyValue,
    Storage,
    StorageEvent,
    Subscriber,
)

log = logging.getLogger(__name__)

#: Largest number of writes committed in one transaction.
MAX_BATCH = 512


@dataclass(slots=True)
class LogRow:
    """One appended row of the revision log (kine's layout)."""

    revision: int
    key: str
    created: bool
    deleted: bool
    create_revision: int
    prev_revision: int
    value: bytes


@dataclass(slots=True)
class _Write:
    type: EventType
    key: str
    value: bytes | None
    expected_revision: int | None
    future: asyncio.Future[int] = field(repr=False)


class LogStorage(Storage, abc.ABC):
    """Shared write path: validation, revisions, group commit, fan-out."""

    def __init__(self) -> None:
        self._latest: dict[str, KeyValue] = {}
        self._revision = 0
        self._compacted = 0
        self._subscribers: list[Subscriber] = []
        self._queue: asyncio.Queue[_Write] | None = None
        self._committer: asyncio.Task[None] | None = None
        self._closed = False

    # -- backend hooks -------------------------------------------------------

    @abc.abstractmethod
    async def _load(self) -> tuple[dict[str, KeyValue], int, int]:
        """Return (live keys, current revision, compacted revision)."""

    @abc.abstractmethod
    async def _persist(self, rows: list[LogRow]) -> None:
        """Durably append ``rows`` (all or nothing)."""

    @abc.abstractmethod
    async def _read_history(self, after_revision: int) -> list[LogRow]:
        """Rows with revision > ``after_revision``, ordered by revision."""

    @abc.abstractmethod
    async def _value_at(self, key: str, revision: int) -> bytes | None:
        """The value of ``key`` written at exactly ``revision``."""

    @abc.abstractmethod
    async def _compact(self, revision: int) -> None:
        """Remove superseded rows and tombstones at or below ``revision``."""

    # -- lifecycle -----------------------------------------------------------

    async def start(self) -> None:
        self._latest, self._revision, self._compacted = await self._load()
        self._queue = asyncio.Queue()
        self._committer = asyncio.create_task(self._commit_loop(), name="storage-committer")

    async def close(self) -> None:
        self._closed = True
        if self._committer is not None:
            self._committer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._committer
            self._committer = None

    # -- reads ---------------------------------------------------------------

    async def get(self, key: str) -> KeyValue | None:
        return self._latest.get(key)

    async def list_prefix(self, prefix: str) -> tuple[list[KeyValue], int]:
        items = [kv for k, kv in self._latest.items() if k.startswith(prefix)]
        items.sort(key=lambda kv: kv.key)
        return items, self._revision

    def current_revision(self) -> int:
        return self._revision

    def compacted_revision(self) -> int:
        return self._compacted

    async def history(self, after_revision: int) -> list[StorageEvent]:
        if after_revision < self._compacted:
            raise CompactedError(after_revision, self._compacted)
        rows = await self._read_history(after_revision)
        events: list[StorageEvent] = []
        for row in rows:
            prev = None
            if not row.created:
                prev = await self._value_at(row.key, row.prev_revision)
            if row.deleted:
                etype = EventType.DELETE
            elif row.created:
                etype = EventType.CREATE
            else:
                etype = EventType.UPDATE
            events.append(
                StorageEvent(etype, row.key, row.value, prev, row.revision, row.prev_revision)
            )
        return events

    async def compact(self, revision: int) -> None:
        revision = min(revision, self._revision)
        if revision <= self._compacted:
            return
        await self._compact(revision)
        self._compacted = revision

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    # -- writes --------------------------------------------------------------

    async def create(self, key: str, value: bytes) -> int:
        return await self._submit(EventType.CREATE, key, value, None)

    async def update(self, key: str, value: bytes, expected_revision: int) -> int:
        return await self._submit(EventType.UPDATE, key, value, expected_revision)

    async def delete(self, key: str, expected_revision: int | None = None) -> int:
        return await self._submit(EventType.DELETE, key, None, expected_revision)

    async def _submit(
        self, etype: EventType, key: str, value: bytes | None, expected: int | None
    ) -> int:
        if self._queue is None or self._closed:
            raise StorageUnavailableError(key, "storage is not running")
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Write(etype, key, value, expected, future))
        # Shield: a client that disconnects must not cancel a write that may
        # already be part of a batch being committed.
        return await asyncio.shield(future)

    async def _commit_loop(self) -> None:
        assert self._queue is not None
        queue = self._queue
        while True:
            batch = [await queue.get()]
            while len(batch) < MAX_BATCH and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                await self._commit_batch(batch)
            except asyncio.CancelledError:
                for w in batch:
                    if not w.future.done():
                        w.future.set_exception(StorageUnavailableError(w.key, "storage closed"))
                raise
            except Exception as exc:
                log.exception("storage commit failed")
                for w in batch:
                    if not w.future.done():
                        w.future.set_exception(
                            StorageUnavailableError(w.key, f"storage commit failed: {exc}")
                        )

    async def _commit_batch(self, batch: list[_Write]) -> None:
        staged: dict[str, KeyValue | None] = {}
        rows: list[LogRow] = []
        accepted: list[tuple[_Write, StorageEvent, KeyValue | None]] = []
        # Precondition failures are answered only after the batch is visible,
        # so a writer that retries (or reads) sees the state it conflicted with.
        rejected: list[tuple[_Write, StorageError]] = []
        revision = self._revision
        for write in batch:
            current = staged[write.key] if write.key in staged else self._latest.get(write.key)
            error = _check(write, current)
            if error is not None:
                rejected.append((write, error))
                continue
            revision += 1
            if write.type is EventType.CREATE:
                assert write.value is not None
                new: KeyValue | None = KeyValue(write.key, exact(write.value), revision,
                                                revision)
                row = LogRow(revision, write.key, True, False, revision, 0, write.value)
                event = StorageEvent(EventType.CREATE, write.key, write.value, None, revision)
            else:
                assert current is not None
                if write.type is EventType.UPDATE:
                    assert write.value is not None
                    new = KeyValue(write.key, exact(write.value), revision,
                                   current.create_revision)
                    value = write.value
                else:
                    new = None
                    value = current.value
                row = LogRow(
                    revision,
                    write.key,
                    False,
                    write.type is EventType.DELETE,
                    current.create_revision,
                    current.mod_revision,
                    value,
                )
                event = StorageEvent(
                    write.type, write.key, value, current.value, revision, current.mod_revision
                )
            staged[write.key] = new
            rows.append(row)
            accepted.append((write, event, new))
        if not rows:
            _reject(rejected)
            return
        try:
            await self._persist(rows)
        except Exception as exc:
            _reject(rejected)
            for write, _, _ in accepted:
                write.future.set_exception(
                    StorageUnavailableError(write.key, f"storage write failed: {exc}")
                )
            raise
        self._revision = revision
        for write, event, new in accepted:
            if new is None:
                self._latest.pop(write.key, None)
            else:
                self._latest[write.key] = new
            for subscriber in self._subscribers:
                try:
                    subscriber(event)
                except Exception:
                    log.exception("storage subscriber failed")
            if not write.future.done():
                write.future.set_result(event.revision)
        _reject(rejected)


def _reject(rejected: list[tuple[_Write, StorageError]]) -> None:
    for write, error in rejected:
        if not write.future.done():
            write.future.set_exception(error)


def _check(write: _Write, current: KeyValue | None) -> StorageError | None:
    """The precondition failure of ``write`` against ``current``, if any."""
    if write.type is EventType.CREATE:
        return KeyExistsError(write.key) if current is not None else None
    if current is None:
        return KeyNotFoundError(write.key)
    if write.expected_revision is not None and write.expected_revision != current.mod_revision:
        return RevisionConflictError(write.key)
    return None
