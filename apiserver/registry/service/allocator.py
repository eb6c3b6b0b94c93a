"""Allocation bitmaps persisted through the storage interface.

Like upstream's etcd-backed allocators (``allocator/storage``), each range is
one ``RangeAllocation`` document under ``/registry/ranges/<name>`` holding the
range spec and the bitmap bytes. Every change is a compare-and-swap on that
key: the in-memory copy is reused while its revision is current and reloaded
when another writer (another apiserver on the same etcd) got there first.

Concurrent changes share a write (group commit): the changes that arrive while
a write of the map is in flight wait, then one writer task applies all of them,
in arrival order, to one copy of the bitmap and stores it with one
compare-and-swap. Each change sees the effects of those before it, so two
creates never take the same value; a change that raises leaves no trace in the
copy and gets its exception; every caller is answered only once the write that
holds its change succeeded (or failed: then every change of that write fails
with its error, and nothing of it is recorded). On a conflict every change of
the batch runs again on the reloaded map.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson

from apiserver.api import errors
from apiserver.registry.service.bitmap import Bitmap
from apiserver.storage.errors import (
    KeyExistsError,
    KeyNotFoundError,
    RevisionConflictError,
    StorageUnavailableError,
)
from apiserver.storage.interface import Storage

log = logging.getLogger(__name__)

R = TypeVar("R")

RANGES_PREFIX = "/registry/ranges/"
_MAX_ATTEMPTS = 32


@dataclass(slots=True)
class _Change:
    """One caller's change waiting for a write of the map."""

    run: Callable[[Bitmap], Any]
    done: asyncio.Future[Any] = field(repr=False)
    result: Any = None
    error: BaseException | None = None


def _consume(future: asyncio.Future[Any]) -> None:
    """Retrieve the outcome of a change whose caller stopped waiting."""
    if not future.cancelled():
        future.exception()


def encode_range(spec: str, bits: Bitmap) -> bytes:
    """A ``RangeAllocation`` document (JSON; upstream stores the same fields)."""
    return orjson.dumps({
        "kind": "RangeAllocation",
        "apiVersion": "v1",
        "metadata": {"creationTimestamp": None},
        "range": spec,
        "data": base64.b64encode(bits.to_bytes()).decode(),
    })


def decode_range(value: bytes) -> tuple[str, int]:
    """(range spec, bitmap int) of a stored ``RangeAllocation``."""
    doc = orjson.loads(value)
    data = base64.b64decode(doc.get("data") or "")
    return str(doc.get("range") or ""), Bitmap.int_from_bytes(data)


class StoredRange:
    """One persisted bitmap of ``size`` offsets (static band ``offset``)."""

    def __init__(
        self,
        storage: Storage,
        name: str,
        spec: str,
        size: int,
        offset: int,
        rng: random.Random | None = None,
    ) -> None:
        self.storage = storage
        self.key = RANGES_PREFIX + name
        self.spec = spec
        self.rng = rng or random.Random()
        self.bitmap = Bitmap(size, offset, 0, self.rng)
        self.revision = 0
        self._stale = True
        self._lock = asyncio.Lock()
        self._queue: list[_Change] = []
        self._writer: asyncio.Task[None] | None = None
        #: Set when the stored document described another range (flags changed).
        self.mismatched = False

    def _empty(self) -> Bitmap:
        return Bitmap(self.bitmap.max, self.bitmap.offset, 0, self.rng)

    async def _reload(self) -> None:
        while True:
            current = await self.storage.get(self.key)
            if current is None:
                empty = self._empty()
                try:
                    self.revision = await self.storage.create(
                        self.key, encode_range(self.spec, empty))
                except KeyExistsError:
                    continue
                self.bitmap = empty
                self._stale = False
                return
            spec, bits = decode_range(current.value)
            if spec != self.spec:
                if not self.mismatched:
                    log.warning("stored allocation range %s of %s does not match the configured "
                                "range %s; starting from an empty map (repair refills it)",
                                spec, self.key, self.spec)
                self.mismatched = True
                bits = 0
            self.bitmap = Bitmap(self.bitmap.max, self.bitmap.offset, bits, self.rng)
            self.revision = current.mod_revision
            self._stale = False
            return

    async def load(self) -> Bitmap:
        """Read (or create) the stored document; a copy of the current bitmap."""
        async with self._lock:
            await self._guard(self._reload())
            return self.bitmap.copy()

    async def apply(self, change: Callable[[Bitmap], R], *, dry_run: bool = False) -> R:
        """Run ``change`` on a copy of the bitmap and store the result atomically.

        ``change`` may raise (nothing of it is written then) and may run more than
        once when another writer raced this one; it runs after the changes queued
        before it, in the same write (see the module docstring). A caller cancelled
        while it waits does not withdraw its change. With ``dry_run`` it runs on a
        copy of the current map and nothing is written.
        """
        if dry_run:
            async with self._lock:
                if self._stale:
                    await self._guard(self._reload())
                return change(self.bitmap.copy())
        item = _Change(change, asyncio.get_running_loop().create_future())
        self._queue.append(item)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_queued(), name=f"write {self.key}")
        try:
            result: R = await asyncio.shield(item.done)
        except asyncio.CancelledError:
            item.done.add_done_callback(_consume)
            raise
        return result

    async def _write_queued(self) -> None:
        """Write every queued change, a batch per write, until the queue is empty."""
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                async with self._lock:
                    await self._write(batch)
            except Exception as exc:
                for item in batch:
                    item.done.set_exception(exc)
                continue
            except BaseException:  # cancelled (the loop is closing): nothing is answered
                for item in batch + self._queue:
                    item.done.cancel()
                raise
            for item in batch:
                if item.error is not None:
                    item.done.set_exception(item.error)
                else:
                    item.done.set_result(item.result)

    async def _write(self, batch: list[_Change]) -> None:
        """Apply ``batch`` to a copy of the map and store it (retried on conflicts)."""
        for _ in range(_MAX_ATTEMPTS):
            if self._stale:
                await self._guard(self._reload())
            work = self.bitmap.copy()
            for item in batch:
                bits, count = work.bits, work.count
                try:
                    item.result, item.error = item.run(work), None
                except Exception as exc:
                    work.bits, work.count = bits, count
                    item.result, item.error = None, exc
            if work.bits == self.bitmap.bits and not self.mismatched:
                return
            value = encode_range(self.spec, work)
            try:
                revision = await self._guard(
                    self.storage.update(self.key, value, self.revision))
            except (RevisionConflictError, KeyNotFoundError):
                self._stale = True
                continue
            self.bitmap = work
            self.revision = revision
            self.mismatched = False
            return
        raise errors.internal(f"could not update {self.key}: too many conflicts")

    @staticmethod
    async def _guard(awaitable: Awaitable[R]) -> R:
        try:
            return await awaitable
        except StorageUnavailableError as exc:
            raise errors.service_unavailable(str(exc)) from exc
