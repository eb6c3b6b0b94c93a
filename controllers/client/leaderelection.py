"""Leader election over a ``coordination.k8s.io/v1`` Lease, as client-go's ``leaderelection``.

Several replicas of a controller run; one holds the Lease and does the work, the
others wait. The algorithm is client-go's:

* **acquire**: every ``retry_period`` (jittered by up to 1.2x) try to take the
  Lease; a Lease held by someone else is respected until ``leaseDurationSeconds``
  have passed *on our own clock* since we last saw the record change (so clock
  skew between replicas does not matter, only rates);
* **renew**: the leader renews every ``retry_period``; if it cannot renew for
  ``renew_deadline`` it has lost the lease and stops (``on_stopped_leading``).
  ``renew_deadline < lease_duration`` makes the leader give up before anyone
  else may take over;
* every write is an update conditioned on the ``resourceVersion`` read (or a
  create that fails if the Lease exists), so of two candidates racing for a free
  or expired Lease exactly one wins; ``leaseTransitions`` counts takeovers.

Timestamps are ``MicroTime`` (RFC 3339 with microseconds, UTC). With
``release_on_cancel`` a leader that is cancelled (graceful shutdown) gives the
Lease up at once, so a successor need not wait for it to expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import socket
import time
import uuid
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from apiserver.api.resources import ResourceInfo
from controllers.client.errors import is_not_found
from controllers.client.resourcelock import (
    LeaderElectionRecord,
    LeaseLock,
    format_micro_time,
    parse_micro_time,
)

__all__ = [
    "JITTER_FACTOR",
    "Clock",
    "LeaderElectionConfig",
    "LeaderElectionRecord",
    "LeaderElector",
    "LeaderGuardedWriter",
    "LeaseLock",
    "NotLeaderError",
    "RealClock",
    "default_identity",
    "format_micro_time",
    "parse_micro_time",
]

log = logging.getLogger(__name__)

#: client-go's ``JitterFactor``: the acquire loop waits retry_period * [1, 2.2).
JITTER_FACTOR = 1.2


def default_identity() -> str:
    """``<hostname>_<uuid>``, as kube-controller-manager builds its identity."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


class Clock(Protocol):
    """Time as the elector sees it (a fake one in unit tests)."""

    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        ...


class RealClock:
    """The wall clock and ``asyncio.sleep``."""

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass
class LeaderElectionConfig:
    """Durations in seconds (defaults: kube-controller-manager's 15/10/2)."""

    lock: LeaseLock
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    release_on_cancel: bool = False
    name: str = ""

    def validate(self) -> None:
        """The ordering client-go insists on (raises ``ValueError``)."""
        if self.lease_duration <= self.renew_deadline:
            raise ValueError("leaseDuration must be greater than renewDeadline")
        if self.renew_deadline <= JITTER_FACTOR * self.retry_period:
            raise ValueError("renewDeadline must be greater than retryPeriod*JitterFactor")
        if self.lease_duration < 1:
            raise ValueError("leaseDuration must be at least one second")
        if self.retry_period <= 0:
            raise ValueError("retryPeriod must be greater than zero")
        if not self.lock.identity:
            raise ValueError("lock identity is empty")


class LeaderElector:
    """Acquire, hold and renew the lock; run a callback while leading."""

    def __init__(self, config: LeaderElectionConfig, clock: Clock | None = None) -> None:
        config.validate()
        self.config = config
        self.clock: Clock = clock or RealClock()
        self.observed_record = LeaderElectionRecord()
        self.observed_raw: bytes = b""
        self.observed_time = 0.0
        self.reported_leader = ""
        #: Clock time at which our last successful acquire/renew request was sent.
        self.renewed_at: float | None = None
        #: Called with the new leader's identity whenever the observed leader changes.
        self.on_new_leader: Callable[[str], None] | None = None

    @property
    def identity(self) -> str:
        """Our identity (the Lease's holderIdentity when we lead)."""
        return self.config.lock.identity

    def is_leader(self) -> bool:
        """Whether the last observed record names us."""
        return self.observed_record.holder_identity == self.identity

    def get_leader(self) -> str:
        """The identity of the last observed leader."""
        return self.observed_record.holder_identity

    def holds_lease(self) -> bool:
        """Whether we may act as the leader right now.

        True only within ``renew_deadline`` of the moment our last successful
        acquire/renew was *sent*: a standby may take over no earlier than
        ``lease_duration`` after it observed that write, so a leader that was
        paused, partitioned or slow stops acting before anyone else starts.
        """
        if not self.is_leader() or self.renewed_at is None:
            return False
        return self.clock.now() < self.renewed_at + self.config.renew_deadline

    def _lease_valid(self, now: float) -> bool:
        return self.observed_time + self.observed_record.lease_duration_seconds > now

    def _set_observed(self, record: LeaderElectionRecord, raw: bytes | None = None) -> None:
        self.observed_record = record
        self.observed_raw = raw if raw is not None else b""
        self.observed_time = self.clock.now()

    def _report_transition(self) -> None:
        leader = self.observed_record.holder_identity
        if leader == self.reported_leader:
            return
        self.reported_leader = leader
        if leader == self.identity:
            log.info("I am the leader: %s", leader)
        elif leader:
            log.info("new leader elected: %s", leader)
        if self.on_new_leader is not None:
            self.on_new_leader(leader)

    async def try_acquire_or_renew(self) -> bool:
        """One attempt to take or keep the lock (client-go's ``tryAcquireOrRenew``)."""
        lock = self.config.lock
        now = self.clock.now()
        duration = max(1, math.ceil(self.config.lease_duration))
        record = LeaderElectionRecord(
            holder_identity=self.identity,
            lease_duration_seconds=duration,
            acquire_time=now,
            renew_time=now,
        )
        # Fast path: the leader updates the Lease it wrote last, assuming it is current.
        if self.is_leader() and self._lease_valid(now):
            old = self.observed_record
            renewed = LeaderElectionRecord(self.identity, duration, old.acquire_time, now,
                                           old.leader_transitions)
            try:
                await lock.update(renewed)
            except Exception as exc:
                log.info("failed to update lock optimistically: %s; falling back to slow path",
                         exc)
            else:
                self._set_observed(renewed)
                self.renewed_at = now
                return True

        try:
            old, raw = await lock.get()
        except Exception as exc:
            if not is_not_found(exc):
                log.error("error retrieving resource lock %s: %s", lock.describe(), exc)
                return False
            try:
                await lock.create(record)
            except Exception as create_exc:
                log.error("error initially creating leader election record: %s", create_exc)
                return False
            self._set_observed(record)
            self.renewed_at = now
            return True

        if raw != self.observed_raw:
            self._set_observed(old, raw)
        if old.holder_identity and self._lease_valid(now) and not self.is_leader():
            log.debug("lock is held by %s and has not yet expired", old.holder_identity)
            return False

        if self.is_leader():
            record = LeaderElectionRecord(self.identity, duration, old.acquire_time, now,
                                          old.leader_transitions)
        else:
            record = LeaderElectionRecord(self.identity, duration, now, now,
                                          old.leader_transitions + 1)
        try:
            await lock.update(record)
        except Exception as exc:
            log.error("failed to update lock: %s", exc)
            return False
        self._set_observed(record)
        self.renewed_at = now
        return True

    async def acquire(self) -> None:
        """Return once we hold the lock (retrying every jittered ``retry_period``)."""
        desc = self.config.lock.describe()
        log.info("attempting to acquire leader lease %s...", desc)
        while True:
            ok = await self.try_acquire_or_renew()
            self._report_transition()
            if ok:
                log.info("successfully acquired lease %s", desc)
                return
            period = self.config.retry_period
            await self.clock.sleep(period + random.random() * JITTER_FACTOR * period)

    async def renew(self) -> None:
        """Keep renewing; return when a renewal could not succeed within ``renew_deadline``."""
        desc = self.config.lock.describe()
        period = self.config.retry_period
        while True:
            deadline = self.clock.now() + self.config.renew_deadline
            renewed = False
            while True:
                remaining = deadline - self.clock.now()
                if remaining <= 0:
                    break
                try:
                    async with asyncio.timeout(remaining):
                        renewed = await self.try_acquire_or_renew()
                except TimeoutError:
                    renewed = False
                if renewed or deadline - self.clock.now() <= 0:
                    break
                await self.clock.sleep(min(period, max(0.0, deadline - self.clock.now())))
            self._report_transition()
            if not renewed:
                log.info("failed to renew lease %s: timed out waiting for the condition", desc)
                return
            log.debug("successfully renewed lease %s", desc)
            await self.clock.sleep(period)

    async def release(self) -> bool:
        """Give the lock up if we hold it (holder cleared, 1 s duration)."""
        if not self.is_leader():
            return True
        now = self.clock.now()
        record = LeaderElectionRecord(
            holder_identity="",
            lease_duration_seconds=1,
            acquire_time=now,
            renew_time=now,
            leader_transitions=self.observed_record.leader_transitions,
        )
        self.renewed_at = None  # stop acting before the release is even sent
        try:
            await self.config.lock.update(record)
        except Exception as exc:
            log.error("failed to release lock: %s", exc)
            return False
        self._set_observed(record)
        return True

    async def run(
        self,
        on_started_leading: Callable[[], Coroutine[Any, Any, None]],
        on_stopped_leading: Callable[[], None] | None = None,
    ) -> None:
        """Acquire, then run ``on_started_leading()`` while renewing.

        Returns (after ``on_stopped_leading``) once the lease is lost or the
        leading coroutine ends; the leading coroutine is cancelled first. When
        cancelled, releases the lease if ``release_on_cancel``.
        """
        try:
            await self.acquire()
            leading = asyncio.create_task(on_started_leading(), name="leading")
            renewing = asyncio.create_task(self.renew(), name="renew-lease")
            try:
                await asyncio.wait({leading, renewing}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (leading, renewing):
                    task.cancel()
                for task in (leading, renewing):
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
            if leading.done() and not leading.cancelled() and leading.exception() is not None:
                log.error("leading function failed: %s", leading.exception())
        except asyncio.CancelledError:
            if self.config.release_on_cancel:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(self.config.renew_deadline):
                        await self.release()
            raise
        finally:
            if on_stopped_leading is not None:
                on_stopped_leading()


class NotLeaderError(RuntimeError):
    """A write refused because this process does not (or no longer surely) hold the lease."""


class LeaderGuardedWriter:
    """Wraps a writer (create/update/delete) so that it writes only while ``holds_lease()``."""

    def __init__(self, writer: Any, elector: LeaderElector) -> None:
        self._writer = writer
        self._elector = elector

    def _check(self) -> None:
        if not self._elector.holds_lease():
            raise NotLeaderError(
                f"not writing: lease {self._elector.config.lock.describe()} is not held"
            )

    async def request(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        """``writer.request`` while leading (a write the typed calls do not cover, e.g.
        ``POST pods/{name}/binding``)."""
        self._check()
        result: dict[str, Any] = await self._writer.request(method, path, **options)
        return result

    async def create(
        self, info: ResourceInfo, namespace: str | None, obj: Mapping[str, Any]
    ) -> dict[str, Any]:
        """``writer.create`` while leading."""
        self._check()
        result: dict[str, Any] = await self._writer.create(info, namespace, obj)
        return result

    async def update(
        self, info: ResourceInfo, namespace: str | None, obj: Mapping[str, Any],
        subresource: str | None = None,
    ) -> dict[str, Any]:
        """``writer.update`` while leading (``subresource="status"`` for ``/status``)."""
        self._check()
        if subresource is None:
            result: dict[str, Any] = await self._writer.update(info, namespace, obj)
        else:
            result = await self._writer.update(info, namespace, obj, subresource)
        return result

    async def update_status(
        self, info: ResourceInfo, namespace: str | None, obj: Mapping[str, Any]
    ) -> dict[str, Any]:
        """``PUT /status`` while leading."""
        return await self.update(info, namespace, obj, "status")

    async def patch(
        self, info: ResourceInfo, namespace: str | None, name: str, patch: Any,
        **options: Any,
    ) -> dict[str, Any]:
        """``writer.patch`` while leading."""
        self._check()
        result: dict[str, Any] = await self._writer.patch(info, namespace, name, patch,
                                                          **options)
        return result

    async def delete(
        self, info: ResourceInfo, namespace: str | None, name: str, **options: Any
    ) -> dict[str, Any]:
        """``writer.delete`` while leading (options as :meth:`RestClient.delete`)."""
        self._check()
        result: dict[str, Any] = await self._writer.delete(info, namespace, name, **options)
        return result
