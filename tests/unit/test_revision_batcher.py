"""RevisionBatcher: concurrent consistent reads share one revision request, but only one
sent after they arrived (the linearizability rule in apiserver/storage/revisions.py).
Coroutines run with ``asyncio.run``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from apiserver.storage.revisions import RevisionBatcher


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
