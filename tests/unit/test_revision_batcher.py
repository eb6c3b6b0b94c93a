"""RevisionBatcher: concurrent consistent reads share one revision request, but only one
sent after they arrived (the linearizability rule in apiserver/storage/revisions.py);
RevisionWaiters: an advance wakes exactly the waiters it satisfied.
Coroutines run with ``asyncio.run``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from apiserver.storage.revisions import RevisionBatcher, RevisionWaiters


class Backend:
    """A revision source whose answers the test releases one at a time.

    ``revision`` is what the backend holds; a request's answer is the revision when the
    request was sent (a write acknowledged while it is in flight may be missing from it).
    """

    def __init__(self) -> None:
        self.revision = 0
        self.sent = 0
        self.release: list[asyncio.Event] = []
        self.started = asyncio.Event()

    async def fetch(self) -> int:
        answer = self.revision
        self.sent += 1
        gate = asyncio.Event()
        self.release.append(gate)
        self.started.set()
        await gate.wait()
        return answer

    async def next_request(self) -> asyncio.Event:
        """The gate of the next request sent."""
        await self.started.wait()
        self.started.clear()
        return self.release[-1]


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(test())


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_reads_waiting_together_share_one_request() -> None:
    run(reads_waiting_together_share_one_request)


async def reads_waiting_together_share_one_request() -> None:
    backend = Backend()
    batcher = RevisionBatcher(backend.fetch)
    backend.revision = 7
    reads = [asyncio.create_task(batcher.get()) for _ in range(50)]
    await settle()
    gate = await backend.next_request()
    # The first read sent a request at once; the 49 after it wait for the next one.
    assert backend.sent == 1
    gate.set()
    second = await backend.next_request()
    assert backend.sent == 2
    second.set()
    assert await asyncio.gather(*reads) == [7] * 50
    assert backend.sent == 2


def test_a_read_never_takes_the_answer_of_a_request_sent_before_it_arrived() -> None:
    run(read_never_takes_an_earlier_request)


async def read_never_takes_an_earlier_request() -> None:
    backend = Backend()
    batcher = RevisionBatcher(backend.fetch)
    backend.revision = 1
    early = asyncio.create_task(batcher.get())
    first = await backend.next_request()
    # A write is acknowledged while the first request is in flight, then a read starts:
    # it must observe that write, so it cannot use the first request's answer.
    backend.revision = 2
    late = asyncio.create_task(batcher.get())
    await settle()
    first.set()
    second = await backend.next_request()
    second.set()
    assert await early == 1
    assert await late == 2
    assert backend.sent == 2


def test_a_failed_request_fails_its_readers_and_the_next_batch_asks_again() -> None:
    run(failed_request_fails_its_readers)


async def failed_request_fails_its_readers() -> None:
    calls = 0

    async def fetch() -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("etcd is down")
        return 5

    batcher = RevisionBatcher(fetch)
    with pytest.raises(ConnectionError):
        await batcher.get()
    assert await batcher.get() == 5
    assert calls == 2


def test_an_advance_wakes_the_waiters_it_satisfied_and_no_other() -> None:
    run(advance_wakes_satisfied_waiters)


async def advance_wakes_satisfied_waiters() -> None:
    waiters = RevisionWaiters(position=3)
    assert await waiters.wait(2, 1.0)  # already reached: no wait at all
    tasks = {r: asyncio.create_task(waiters.wait(r, 30.0)) for r in (9, 5, 7, 5, 4)}
    await settle()
    waiters.advance(5)
    await settle()
    assert {r for r, t in tasks.items() if t.done()} == {4, 5}
    waiters.advance(2)  # never back
    assert waiters.position == 5
    waiters.advance(8)
    await settle()
    assert not tasks[9].done()
    assert tasks[7].done() and tasks[7].result() is True
    waiters.advance(9)
    assert await tasks[9] is True


def test_a_wait_times_out_and_release_answers_every_waiter_false() -> None:
    run(timeouts_and_release)


async def timeouts_and_release() -> None:
    waiters = RevisionWaiters()
    assert await waiters.wait(1, 0.01) is False
    pending = [asyncio.create_task(waiters.wait(r, 30.0)) for r in (1, 2, 3)]
    await settle()
    waiters.advance(1)
    waiters.release()
    assert await asyncio.gather(*pending) == [True, False, False]
    assert await waiters.wait(5, 30.0) is False  # released: no waiting any more
    assert await waiters.wait(1, 30.0) is True  # what was reached stays reached
