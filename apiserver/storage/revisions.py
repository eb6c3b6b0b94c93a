"""Sharing the "current revision" request among concurrent consistent reads.

A consistent read (GET or LIST without resourceVersion) on a shared backend asks
the backend for its current revision and waits until the watch cache reached it
(:meth:`apiserver.storage.cache.WatchCache.wait_fresh`). Under load many reads
wait at once; :class:`RevisionBatcher` lets them share one request without
giving up linearizability.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


class RevisionBatcher:
    """Shares one "current revision" request among concurrent consistent reads.

    Linearizability: a read may use the answer of a request only if the read
    arrived before that request was *sent*; the answer (a linearizable read of
    the backend's revision) then covers every write acknowledged before the
    read started. So a read joins the batch that has not been sent yet; when no
    request is in flight the batch is sent at once, otherwise it is sent when
    the one in flight returns (reads arriving meanwhile join it too). At most
    one request is in flight, and a read waits for at most two round trips.
    """

    def __init__(self, fetch: Callable[[], Awaitable[int]]) -> None:
        self._fetch = fetch
        #: The batch not sent yet (None: no read waiting for a new request).
        self._pending: asyncio.Future[int] | None = None
        self._in_flight = False
        self._task: asyncio.Task[None] | None = None

    async def get(self) -> int:
        """A revision at least as new as every write acknowledged before this call."""
        pending = self._pending
        if pending is None:
            pending = self._pending = asyncio.get_running_loop().create_future()
            if not self._in_flight:
                self._send()
        return await asyncio.shield(pending)

    def _send(self) -> None:
        batch, self._pending = self._pending, None
        assert batch is not None
        self._in_flight = True
        self._task = asyncio.get_running_loop().create_task(self._ask(batch))

    async def _ask(self, batch: asyncio.Future[int]) -> None:
        try:
            revision = await self._fetch()
        except Exception as exc:  # every reader of the batch sees the failure
            if not batch.done():
                batch.set_exception(exc)
            batch.exception()  # the failure is reported through the readers
        else:
            if not batch.done():
                batch.set_result(revision)
        finally:
            self._in_flight = False
            if self._pending is not None:
                self._send()
