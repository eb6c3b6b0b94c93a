"""The snapshot the console pushes: rebuilt on changes, coalesced, versioned.

Informer handlers and the metrics poller call :meth:`Hub.mark` (cheap, synchronous);
:meth:`Hub.run` waits for a mark, lets further marks arrive for ``coalesce`` seconds,
rebuilds the snapshot once and, when its encoding differs from the last one, bumps
``version``. Each page's event stream (:meth:`Hub.updates`) yields the newest encoding
whenever the version moved past the one it sent last, so a slow reader skips
intermediate states instead of queueing them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson

__all__ = ["Hub"]


class Hub:
    """Holds the current snapshot (``body``, JSON bytes with ``version`` inside)."""

    def __init__(self, build: Callable[[], dict[str, Any]], coalesce: float = 0.1) -> None:
        self.build = build
        self.coalesce = coalesce
        self.version = 0
        self._doc = b""
        self.body = b""
        self._dirty = asyncio.Event()
        self._changed = asyncio.Condition()

    def mark(self, *_: object) -> None:
        """Something changed (usable directly as an informer event handler)."""
        self._dirty.set()

    async def refresh(self) -> None:
        """Rebuild now; bump the version and wake readers when the snapshot changed."""
        doc = self.build()
        encoded = orjson.dumps(doc)
        if encoded == self._doc:
            return
        self._doc = encoded
        self.version += 1
        self.body = orjson.dumps({"version": self.version, **doc})
        async with self._changed:
            self._changed.notify_all()

    async def run(self) -> None:
        """Rebuild on marks, coalesced, until cancelled."""
        await self.refresh()
        while True:
            await self._dirty.wait()
            await asyncio.sleep(self.coalesce)
            self._dirty.clear()
            await self.refresh()

    async def _wait_past(self, version: int, timeout: float) -> bool:
        """Wait until ``version`` is passed; False after ``timeout`` seconds without."""
        async with self._changed:
            try:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: self.version > version), timeout)
            except TimeoutError:
                return False
        return True

    async def updates(self, heartbeat: float = 15.0) -> AsyncIterator[bytes | None]:
        """The current body at once, then each newer one; None every ``heartbeat``
        seconds without a change (the stream sends a comment, so proxies keep it open)."""
        sent = 0
        while True:
            if self.version > sent:
                sent = self.version
                yield self.body
                continue
            if not await self._wait_past(sent, heartbeat):
                yield None
