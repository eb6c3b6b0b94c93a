"""Allocation bitmaps persisted through the storage interface.

Like upstream's etcd-backed allocators (``allocator/storage``), each range is
one ``RangeAllocation`` document under ``/registry/ranges/<name>`` holding the
range spec and the bitmap bytes. Every change is a compare-and-swap on that
key: the in-memory copy is reused while its revision is current and reloaded
when another writer (another apiserver on the same etcd) got there first. A
lock serialises the writers of this process, so two creates can never both
take the same value.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

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

        ``change`` may raise (nothing is written then) and may run more than
        once when another writer raced this one. With ``dry_run`` nothing is
        written either.
        """
        async with self._lock:
            for _ in range(_MAX_ATTEMPTS):
                if self._stale:
                    await self._guard(self._reload())
                work = self.bitmap.copy()
                result = change(work)
                if dry_run or work.bits == self.bitmap.bits:
                    return result
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
                return result
        raise errors.internal(f"could not update {self.key}: too many conflicts")

    @staticmethod
    async def _guard(awaitable: Awaitable[R]) -> R:
        try:
            return await awaitable
        except StorageUnavailableError as exc:
            raise errors.service_unavailable(str(exc)) from exc
