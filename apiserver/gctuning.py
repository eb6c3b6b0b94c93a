"""Keep Python's cyclic garbage collector from pausing the server.

The watch cache holds every object as dicts, and each full (generation 2)
collection walks all of them: with tens of thousands of cached objects a
pause reaches hundreds of milliseconds, which shows up directly as write and
watch-delivery tail latency. Long-lived objects are therefore moved to the
permanent generation (``gc.freeze``) at a steady interval, so collections only
scan what is young. Frozen objects are still freed by reference counting the
moment they are dropped; only reference cycles among frozen objects would
outlive their use, and the cache creates none.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc

#: Seconds between freezes.
FREEZE_INTERVAL = 2.0


class GcFreezer:
    """Periodically freezes surviving objects out of the collector's scans."""

    def __init__(self, interval: float = FREEZE_INTERVAL) -> None:
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Freeze now and then every ``interval`` seconds."""
        gc.freeze()
        self._task = asyncio.create_task(self._run(), name="gc-freezer")

    async def stop(self) -> None:
        """Stop freezing and hand everything frozen back to the collector."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        gc.unfreeze()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            gc.freeze()
