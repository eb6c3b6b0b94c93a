"""Periodic compaction, driven by the apiserver as upstream drives etcd's.

Every ``interval`` the compactor compacts storage to the revision it saw at
the previous tick, so history is kept for at least one interval (upstream's
``--etcd-compaction-interval``, default 5 minutes). Watches and continue
tokens older than the compacted revision then fail with 410 Expired.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from apiserver.storage.interface import Storage

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 300.0


class Compactor:
    """Compacts ``storage`` every ``interval`` seconds (0 disables it)."""

    def __init__(self, storage: Storage, interval: float = DEFAULT_INTERVAL) -> None:
        self.storage = storage
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin compacting in the background."""
        if self.interval > 0:
            self._task = asyncio.create_task(self._run(), name="storage-compactor")

    async def stop(self) -> None:
        """Stop the background task."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        previous = self.storage.current_revision()
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.storage.compact(previous)
            except Exception:
                log.exception("compaction to revision %d failed", previous)
            previous = self.storage.current_revision()
