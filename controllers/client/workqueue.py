"""Work queues (client-go ``util/workqueue``), for one asyncio event loop.

* :class:`WorkQueue`: a FIFO of keys that are **deduplicated** (a key queued
  twice is processed once) and **never processed by two workers at once**: a
  key added while a worker holds it is remembered ("dirty") and queued again
  when the worker calls :meth:`WorkQueue.done`.
* :class:`DelayingQueue`: adds :meth:`DelayingQueue.add_after`; a key waiting
  twice keeps the earlier deadline.
* :class:`RateLimitingQueue`: adds ``add_rate_limited`` / ``forget`` /
  ``num_requeues`` with a pluggable rate limiter (default: per-item exponential
  backoff 5 ms … 1000 s, max-ed with a 10 qps / 100 burst token bucket, as
  ``DefaultControllerRateLimiter``). "Remember to call forget!"
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Hashable
from typing import Generic, Protocol, TypeVar

__all__ = [
    "BucketRateLimiter",
    "DelayingQueue",
    "ItemExponentialFailureRateLimiter",
    "MaxOfRateLimiter",
    "RateLimiter",
    "RateLimitingQueue",
    "ShutDown",
    "WorkQueue",
    "default_controller_rate_limiter",
]

T = TypeVar("T", bound=Hashable)
T_contra = TypeVar("T_contra", bound=Hashable, contravariant=True)


class ShutDown(Exception):
    """Raised by :meth:`WorkQueue.get` once the queue is shut down and drained."""


class WorkQueue(Generic[T]):
    """Deduplicating FIFO with per-key mutual exclusion."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        self._queue: deque[T] = deque()
        self._dirty: set[T] = set()
        self._processing: set[T] = set()
        self._getters: deque[asyncio.Future[None]] = deque()
        self._shutting_down = False
        #: Total number of accepted adds (metrics).
        self.adds = 0

    def add(self, item: T) -> None:
        """Queue ``item`` unless it is already queued; defer it if being processed."""
        if self._shutting_down or item in self._dirty:
            return
        self.adds += 1
        self._dirty.add(item)
        if item in self._processing:
            return
        self._queue.append(item)
        self._wake()

    def _wake(self) -> None:
        while self._getters:
            fut = self._getters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    async def get(self) -> T:
        """The next item; the caller must call :meth:`done` with it. Raises :class:`ShutDown`."""
        while not self._queue:
            if self._shutting_down:
                raise ShutDown(self.name)
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._getters.append(fut)
            try:
                await fut
            except asyncio.CancelledError:
                if fut.done() and not fut.cancelled():
                    self._wake()  # pass the wake-up on
                raise
        item = self._queue.popleft()
        self._processing.add(item)
        self._dirty.discard(item)
        return item

    def done(self, item: T) -> None:
        """Finish processing ``item``; re-queue it if it was added meanwhile."""
        self._processing.discard(item)
        if item in self._dirty:
            self._queue.append(item)
            self._wake()

    def __len__(self) -> int:
        return len(self._queue)

    def is_processing(self, item: T) -> bool:
        """Whether a worker currently holds ``item``."""
        return item in self._processing

    @property
    def shutting_down(self) -> bool:
        """True after :meth:`shutdown`."""
        return self._shutting_down

    def shutdown(self) -> None:
        """Refuse new items; wake every waiting :meth:`get` (they raise once drained)."""
        self._shutting_down = True
        while self._getters:
            fut = self._getters.popleft()
            if not fut.done():
                fut.set_result(None)


class DelayingQueue(WorkQueue[T]):
    """A work queue whose items can be added after a delay."""

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        self._waiting: dict[T, tuple[float, asyncio.TimerHandle]] = {}

    def add_after(self, item: T, delay: float) -> None:
        """Add ``item`` in ``delay`` seconds (at once if ``delay <= 0``)."""
        if self.shutting_down:
            return
        if delay <= 0:
            self.add(item)
            return
        loop = asyncio.get_running_loop()
        ready_at = loop.time() + delay
        current = self._waiting.get(item)
        if current is not None:
            if current[0] <= ready_at:
                return
            current[1].cancel()
        handle = loop.call_at(ready_at, self._fire, item)
        self._waiting[item] = (ready_at, handle)

    def _fire(self, item: T) -> None:
        self._waiting.pop(item, None)
        self.add(item)

    @property
    def waiting(self) -> int:
        """Items waiting for their delay."""
        return len(self._waiting)

    def shutdown(self) -> None:
        for _, handle in self._waiting.values():
            handle.cancel()
        self._waiting.clear()
        super().shutdown()


class RateLimiter(Protocol[T_contra]):
    """How long an item should wait before its next retry."""

    def when(self, item: T_contra) -> float:
        """Delay for this retry (and count it)."""

    def forget(self, item: T_contra) -> None:
        """Stop tracking ``item`` (it succeeded or was dropped)."""

    def num_requeues(self, item: T_contra) -> int:
        """How many times ``item`` was rate-limited since the last forget."""


class ItemExponentialFailureRateLimiter(Generic[T]):
    """``base * 2**failures``, capped at ``cap``."""

    def __init__(self, base: float = 0.005, cap: float = 1000.0) -> None:
        self.base = base
        self.cap = cap
        self._failures: dict[T, int] = {}

    def when(self, item: T) -> float:
        exp = self._failures.get(item, 0)
        self._failures[item] = exp + 1
        if exp > 62:
            return self.cap
        return min(self.base * float(1 << exp), self.cap)

    def forget(self, item: T) -> None:
        self._failures.pop(item, None)

    def num_requeues(self, item: T) -> int:
        return self._failures.get(item, 0)


class BucketRateLimiter(Generic[T]):
    """An overall token bucket (``qps``, ``burst``): returns the wait for a token."""

    def __init__(
        self, qps: float = 10.0, burst: int = 100, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.qps = qps
        self.burst = burst
        self.clock = clock
        self._tokens = float(burst)
        self._last = clock()

    def when(self, item: T) -> float:
        now = self.clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
        self._last = now
        self._tokens -= 1.0
        if self._tokens >= 0:
            return 0.0
        return -self._tokens / self.qps

    def forget(self, item: T) -> None:
        return None

    def num_requeues(self, item: T) -> int:
        return 0


class MaxOfRateLimiter(Generic[T]):
    """The longest delay of several limiters; requeues from the most pessimistic."""

    def __init__(self, *limiters: RateLimiter[T]) -> None:
        self.limiters = limiters

    def when(self, item: T) -> float:
        return max(limiter.when(item) for limiter in self.limiters)

    def forget(self, item: T) -> None:
        for limiter in self.limiters:
            limiter.forget(item)

    def num_requeues(self, item: T) -> int:
        return max(limiter.num_requeues(item) for limiter in self.limiters)


def default_controller_rate_limiter(
    base: float = 0.005, cap: float = 1000.0
) -> MaxOfRateLimiter[str]:
    """Exponential per-item backoff max-ed with a 10 qps / 100 burst bucket."""
    return MaxOfRateLimiter[str](
        ItemExponentialFailureRateLimiter[str](base, cap), BucketRateLimiter[str](10.0, 100)
    )


class RateLimitingQueue(DelayingQueue[T]):
    """A delaying queue with rate-limited re-adds."""

    def __init__(self, rate_limiter: RateLimiter[T] | None = None, name: str = "") -> None:
        super().__init__(name)
        if rate_limiter is None:
            rate_limiter = MaxOfRateLimiter[T](
                ItemExponentialFailureRateLimiter[T](), BucketRateLimiter[T]()
            )
        self.rate_limiter: RateLimiter[T] = rate_limiter
        #: Total number of rate-limited re-adds (metrics).
        self.retries = 0

    def add_rate_limited(self, item: T) -> None:
        """Add ``item`` after the rate limiter says it may retry."""
        self.retries += 1
        self.add_after(item, self.rate_limiter.when(item))

    def forget(self, item: T) -> None:
        """Reset ``item``'s failure count."""
        self.rate_limiter.forget(item)

    def num_requeues(self, item: T) -> int:
        """How many times ``item`` was re-added with :meth:`add_rate_limited`."""
        return self.rate_limiter.num_requeues(item)
