"""The worker loop every key-driven controller shares (upstream ``processNextWorkItem``).

A subclass implements :meth:`KeyedController.sync`; workers pop keys from the
rate-limited queue, sync them, ``forget`` on success, re-add rate-limited on
failure and drop a key after ``max_retries`` failures.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from controllers.client.workqueue import RateLimitingQueue, ShutDown

__all__ = ["KeyedController", "SyncMetrics"]

log = logging.getLogger(__name__)


@dataclass
class SyncMetrics:
    """Counters exposed on ``/metrics``."""

    syncs: int = 0
    errors: int = 0
    writes: int = 0
    seconds: float = 0.0
    durations: list[float] = field(default_factory=list)

    def observe(self, seconds: float, ok: bool) -> None:
        """Record one sync."""
        self.syncs += 1
        self.seconds += seconds
        if not ok:
            self.errors += 1
        self.durations.append(seconds)
        if len(self.durations) > 4096:
            del self.durations[:2048]


class KeyedController:
    """A queue of keys and the workers that sync them."""

    name = "controller"
    max_retries = 15

    def __init__(self, queue: RateLimitingQueue[str] | None = None) -> None:
        self.queue: RateLimitingQueue[str] = queue or RateLimitingQueue[str](name=self.name)
        self.metrics = SyncMetrics()

    async def sync(self, key: str) -> None:
        """Reconcile ``key``; raise to retry."""
        raise NotImplementedError

    def startup(self) -> None:
        """Called once before the workers start (caches are synced)."""

    def extra_metrics(self) -> str:
        """Prometheus text of this controller's own series (none by default)."""
        return ""

    def handle_err(self, key: str, err: BaseException | None) -> None:
        """Forget on success; retry rate-limited up to ``max_retries``; then drop."""
        if err is None:
            self.queue.forget(key)
            return
        if self.queue.num_requeues(key) < self.max_retries:
            log.info("%s: error syncing %s, retrying: %s", self.name, key, err)
            self.queue.add_rate_limited(key)
            return
        log.warning("%s: dropping %s out of the queue: %s", self.name, key, err)
        self.queue.forget(key)

    async def process_next(self) -> bool:
        """Process one key; False once the queue is shut down."""
        try:
            key = await self.queue.get()
        except ShutDown:
            return False
        started = time.perf_counter()
        err: BaseException | None = None
        try:
            await self.sync(key)
        except asyncio.CancelledError:
            self.queue.done(key)
            raise
        except Exception as exc:
            err = exc
        self.metrics.observe(time.perf_counter() - started, err is None)
        self.handle_err(key, err)
        self.queue.done(key)
        return True

    async def worker(self) -> None:
        """Process keys until the queue shuts down."""
        while await self.process_next():
            pass

    async def run(self, workers: int) -> None:
        """Run :meth:`startup`, then ``workers`` workers until cancelled."""
        self.startup()
        tasks = [asyncio.create_task(self.worker(), name=f"{self.name}-worker-{i}")
                 for i in range(workers)]
        try:
            await asyncio.gather(*tasks)
        finally:
            self.queue.shutdown()
            for t in tasks:
                t.cancel()
