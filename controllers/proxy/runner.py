"""BoundedFrequencyRunner (``pkg/proxy/runner/bounded_frequency_runner.go``), asyncio style.

It calls an async function

* when asked (:meth:`run`), but never sooner than ``min_interval`` after the
  *start* of the previous call — requests in between are coalesced into one;
* at least every ``max_interval`` even when nobody asks (periodic resync);
* ``retry_interval`` after a call that raised (or when :meth:`retry_after` is
  used), unless something earlier triggers it.

:meth:`run` never blocks (upstream: a non-blocking send on a channel of size 1).
Time comes from an injectable :class:`Clock` so tests can drive it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

__all__ = ["BoundedFrequencyRunner", "Clock", "FakeClock", "MonotonicClock"]

log = logging.getLogger(__name__)


class Clock(Protocol):
    """Where the runner gets time from."""

    def now(self) -> float:
        """Seconds on a monotonic scale."""

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""


class MonotonicClock:
    """The real clock."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class FakeClock:
    """A clock that only moves when :meth:`advance` is called (for tests)."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self._now + seconds, fut))
        await fut

    def advance(self, seconds: float) -> None:
        """Move time forward, waking every sleeper whose deadline passed."""
        self._now += seconds
        keep: list[tuple[float, asyncio.Future[None]]] = []
        for deadline, fut in self._sleepers:
            if fut.done():
                continue
            if deadline <= self._now:
                fut.set_result(None)
            else:
                keep.append((deadline, fut))
        self._sleepers = keep


class BoundedFrequencyRunner:
    """Runs ``fn`` on demand, rate-limited, with a periodic floor and retries."""

    def __init__(
        self,
        name: str,
        fn: Callable[[], Awaitable[None]],
        *,
        min_interval: float,
        max_interval: float,
        retry_interval: float | None = None,
        clock: Clock | None = None,
    ) -> None:
        if min_interval < 0 or max_interval <= 0 or min_interval > max_interval:
            raise ValueError("need 0 <= min_interval <= max_interval and max_interval > 0")
        self.name = name
        self.fn = fn
        self.min_interval = min_interval
        self.max_interval = max_interval
        self.retry_interval = max_interval if retry_interval is None else retry_interval
        self.clock: Clock = clock or MonotonicClock()
        self.runs = 0
        self._requested = True  # the first loop iteration runs at once
        self._retry_at: float | None = None
        self._last_start: float | None = None
        self._wake = asyncio.Event()

    def run(self) -> None:
        """Ask for a call as soon as ``min_interval`` allows (non-blocking, coalescing)."""
        self._requested = True
        self._wake.set()

    def retry_after(self, interval: float) -> None:
        """Ask for a call ``interval`` from now (the earliest pending retry wins)."""
        at = self.clock.now() + interval
        if self._retry_at is None or at < self._retry_at:
            self._retry_at = at
        self._wake.set()

    def next_due(self, now: float) -> float:
        """When the next call is due given the current requests."""
        if self._last_start is None:
            return now
        due = self._last_start + self.max_interval
        if self._requested:
            due = min(due, self._last_start + self.min_interval)
        if self._retry_at is not None:
            due = min(due, max(self._retry_at, self._last_start + self.min_interval))
        return due

    async def loop(self) -> None:
        """Run until cancelled."""
        while True:
            now = self.clock.now()
            due = self.next_due(now)
            if due <= now:
                self._requested = False
                self._retry_at = None
                self._last_start = now
                self.runs += 1
                try:
                    await self.fn()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("%s: run failed; retrying in %.3fs", self.name,
                                  self.retry_interval)
                    self.retry_after(self.retry_interval)
                continue
            self._wake.clear()
            sleeper = asyncio.ensure_future(self.clock.sleep(due - now))
            waker = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (sleeper, waker):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
