"""The snapshot the console pushes: rebuilt on changes, coalesced, versioned.

Informer handlers and the metrics poller call :meth:`Hub.mark` (cheap, synchronous);
:meth:`Hub.run` waits for a mark, lets further marks arrive for ``coalesce`` seconds (or
as long as the last rebuild took, if longer), rebuilds the snapshot once and, when its
encoding differs from the last one, bumps ``version``. Each page's event stream
(:meth:`Hub.updates`) yields the newest encoding whenever the version moved past the one
it sent last, so a slow reader skips intermediate states instead of queueing them.
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
        #: Seconds the last rebuild took.
        self.last_build = 0.0
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
        # {"version":N, ...the document's fields}: spliced, not encoded a second time
        rest = encoded[1:] if encoded == b"{}" else b"," + encoded[1:]
        self.body = b'{"version":%d' % self.version + rest
        async with self._changed:
            self._changed.notify_all()

    async def run(self) -> None:
        """Rebuild on marks, coalesced, until cancelled. The window is ``coalesce``, or as
        long as the last rebuild took when that was longer, so a large cluster's rebuilds
        take at most about half of the process's time."""
        loop = asyncio.get_running_loop()
        await self.refresh()
        while True:
            await self._dirty.wait()
            await asyncio.sleep(max(self.coalesce, self.last_build))
            self._dirty.clear()
            started = loop.time()
            await self.refresh()
            self.last_build = loop.time() - started

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
