"""Waiting for revisions: shared "current revision" requests and position waiters.

A consistent read (GET or LIST without resourceVersion) on a shared backend asks
the backend for its current revision and waits until the watch cache reached it
(:meth:`apiserver.storage.cache.WatchCache.wait_fresh`). Under load many reads
wait at once; :class:`RevisionBatcher` lets them share one request without
giving up linearizability.

:class:`RevisionWaiters` is what a position that only moves forward (a change
feed's, a cache's) hands to the tasks waiting for it to reach a revision: each
advance wakes exactly the waiters it satisfied, in revision order, however many
others keep waiting.
"""

from __future__ import annotations

import asyncio
import heapq
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


class RevisionWaiters:
    """Tasks waiting for a forward-only position to reach a revision.

    :meth:`wait` returns True once :meth:`advance` passed the revision, False once
    :meth:`release` gave up on every waiter (the position will not move again) or
    ``timeout`` ran out. Waiters sit in a heap by revision, so an advance costs
    O(log n) per waiter it wakes and nothing for the ones still waiting (one shared
    event set on every advance would wake every waiter each time).
    """

    def __init__(self, position: int = 0) -> None:
        #: The revision reached so far.
        self.position = position
        self._heap: list[tuple[int, int, asyncio.Future[bool]]] = []
        self._order = 0
        self._released = False

    async def wait(self, revision: int, timeout: float) -> bool:
        """Wait until the position reaches ``revision`` (see the class docstring)."""
        if self.position >= revision:
            return True
        if self._released:
            return False
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._order += 1
        heapq.heappush(self._heap, (revision, self._order, waiter))
        try:
            async with asyncio.timeout(timeout):  # a timer, not a task per waiter
                return await waiter
        except TimeoutError:
            return self.position >= revision

    def advance(self, position: int) -> None:
        """Move the position to ``position`` (never back) and wake who it satisfied."""
        if position <= self.position:
            return
        self.position = position
        heap = self._heap
        while heap and heap[0][0] <= position:
            waiter = heapq.heappop(heap)[2]
            if not waiter.done():
                waiter.set_result(True)

    def release(self) -> None:
        """Answer every waiter, now and later, with False (the position is final)."""
        self._released = True
        heap, self._heap = self._heap, []
        for _revision, _order, waiter in heap:
            if not waiter.done():
                waiter.set_result(False)
