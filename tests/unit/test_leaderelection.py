"""The Lease-based leader elector, step by step on a fake clock.

The lock is a real ``coordination.k8s.io/v1`` Lease on the session apiserver
(over HTTP); only time is fake, so expiry and takeover are deterministic.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import pytest

from apiserver.api.resources import CONFIGMAPS, LEASES
from controllers.client.config import config_from_flags
from controllers.client.leaderelection import (
    LeaderElectionConfig,
    LeaderElector,
    LeaderGuardedWriter,
    LeaseLock,
    NotLeaderError,
    format_micro_time,
    parse_micro_time,
)
from controllers.client.rest import RestClient
from tests.support.apiserver import ApiServerProcess

NS = "kube-system"
MICRO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


class FakeClock:
    """Time moves only when the test calls :meth:`step`; sleepers wake up then."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.t = start
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.t + seconds, fut))
        await fut

    def step(self, seconds: float) -> None:
        self.t += seconds
        due = [(t, f) for t, f in self._sleepers if t <= self.t]
        self._sleepers = [(t, f) for t, f in self._sleepers if t > self.t]
        for _, fut in due:
            if not fut.done():
                fut.set_result(None)


def elector(client: RestClient, name: str, identity: str, clock: FakeClock,
            **durations: float) -> LeaderElector:
    lock = LeaseLock(client, NS, name, identity)
    return LeaderElector(LeaderElectionConfig(lock, **durations), clock)


async def lease_spec(client: RestClient, name: str) -> dict[str, Any]:
    lease = await client.get(LEASES, NS, name)
    return dict(lease["spec"])


def run(apiserver: ApiServerProcess, body: Any) -> None:
    async def main() -> None:
        client = RestClient(config_from_flags(str(apiserver.kubeconfig), None))
        try:
            await body(client, f"lock-{uuid.uuid4().hex[:8]}")
        finally:
            await client.aclose()

    asyncio.run(main())


def test_micro_time_round_trip() -> None:
    text = format_micro_time(1_700_000_000.123456)
    assert text == "2023-11-14T22:13:20.123456Z"
    assert parse_micro_time(text) == pytest.approx(1_700_000_000.123456)
    assert parse_micro_time("2023-11-14T22:13:20Z") == 1_700_000_000.0
    assert parse_micro_time("garbage") is None


def test_config_ordering_is_enforced(apiserver: ApiServerProcess) -> None:
    client = RestClient(config_from_flags(str(apiserver.kubeconfig), None))
    lock = LeaseLock(client, NS, "x", "me")
    with pytest.raises(ValueError, match="leaseDuration must be greater than renewDeadline"):
        LeaderElector(LeaderElectionConfig(lock, lease_duration=10, renew_deadline=10))
    with pytest.raises(ValueError, match="renewDeadline must be greater than retryPeriod"):
        LeaderElector(LeaderElectionConfig(lock, renew_deadline=2.4, retry_period=2))
    with pytest.raises(ValueError, match="identity"):
        LeaderElector(LeaderElectionConfig(LeaseLock(client, NS, "x", "")))
    asyncio.run(client.aclose())


def test_acquire_hold_expire_and_take_over(apiserver: ApiServerProcess) -> None:
    async def body(client: RestClient, name: str) -> None:
        clock = FakeClock()
        a = elector(client, name, "host-a_1", clock)
        b = elector(client, name, "host-b_2", clock)

        # A creates the Lease.
        assert not a.holds_lease()
        assert await a.try_acquire_or_renew()
        assert a.is_leader() and a.holds_lease()
        spec = await lease_spec(client, name)
        assert spec["holderIdentity"] == "host-a_1"
        assert spec["leaseDurationSeconds"] == 15
        assert spec["leaseTransitions"] == 0
        assert MICRO.match(spec["acquireTime"]) and spec["acquireTime"] == spec["renewTime"]
        assert parse_micro_time(spec["renewTime"]) == pytest.approx(clock.t)

        # B respects it, even 14 s after it first saw it.
        assert not await b.try_acquire_or_renew()
        assert b.get_leader() == "host-a_1" and not b.is_leader()
        clock.step(14)
        assert not await b.try_acquire_or_renew()

        # A renews: renewTime moves, acquireTime stays; B's 15 s start again.
        acquired = spec["acquireTime"]
        assert await a.try_acquire_or_renew()
        spec = await lease_spec(client, name)
        assert spec["acquireTime"] == acquired
        assert parse_micro_time(spec["renewTime"]) == pytest.approx(clock.t)
        clock.step(10)
        assert not await b.try_acquire_or_renew()  # it sees the renewal now
        clock.step(14)
        assert not await b.try_acquire_or_renew()  # 14 s after seeing the renewal

        # A stops renewing; 15 s after B saw the last change, B takes over.
        clock.step(1.5)
        assert await b.try_acquire_or_renew()
        spec = await lease_spec(client, name)
        assert spec["holderIdentity"] == "host-b_2"
        assert spec["leaseTransitions"] == 1
        assert spec["acquireTime"] == spec["renewTime"] != acquired

        # A's renewal now fails (its resourceVersion is stale, B's lease valid).
        assert not await a.try_acquire_or_renew()
        assert not a.is_leader() and a.get_leader() == "host-b_2"
        assert not a.holds_lease() and b.holds_lease()

    run(apiserver, body)


def test_racing_candidates_never_both_win(apiserver: ApiServerProcess) -> None:
    async def body(client: RestClient, name: str) -> None:
        clock = FakeClock()
        candidates = [elector(client, name, f"c{i}", clock) for i in range(4)]
        # A free lock (no Lease yet): one create wins.
        wins = await asyncio.gather(*(c.try_acquire_or_renew() for c in candidates))
        assert sum(wins) == 1
        leader = candidates[wins.index(True)]
        others = [c for c in candidates if c is not leader]
        # Every other candidate observes the lease; then it expires and they race again.
        assert not any(await asyncio.gather(*(c.try_acquire_or_renew() for c in others)))
        clock.step(16)
        wins = await asyncio.gather(*(c.try_acquire_or_renew() for c in others))
        assert sum(wins) == 1
        spec = await lease_spec(client, name)
        assert spec["holderIdentity"] == others[wins.index(True)].identity
        assert spec["leaseTransitions"] == 1
        assert [c.is_leader() for c in others].count(True) == 1

    run(apiserver, body)


def test_release_lets_a_successor_in_at_once(apiserver: ApiServerProcess) -> None:
    async def body(client: RestClient, name: str) -> None:
        clock = FakeClock()
        a = elector(client, name, "a", clock)
        b = elector(client, name, "b", clock)
        assert await a.try_acquire_or_renew()
        assert not await b.try_acquire_or_renew()
        assert await a.release()
        spec = await lease_spec(client, name)
        assert spec["holderIdentity"] == "" and spec["leaseDurationSeconds"] == 1
        assert not a.is_leader()
        assert await b.try_acquire_or_renew()  # no waiting for expiry
        assert (await lease_spec(client, name))["leaseTransitions"] == 1

    run(apiserver, body)


def test_run_stops_leading_when_renewal_fails(apiserver: ApiServerProcess) -> None:
    async def body(client: RestClient, name: str) -> None:
        clock = FakeClock()
        a = elector(client, name, "a", clock, lease_duration=4, renew_deadline=3,
                    retry_period=1)
        started = asyncio.Event()
        stopped: list[float] = []

        async def lead() -> None:
            started.set()
            await asyncio.Event().wait()  # runs until cancelled

        task = asyncio.create_task(a.run(lead, lambda: stopped.append(clock.t)))
        await asyncio.wait_for(started.wait(), 5)
        # Someone overwrites the Lease behind A's back (as a takeover would).
        # A renews only when the fake clock moves: overwrite the Lease meanwhile.
        lease = await client.get(LEASES, NS, name)
        lease["spec"]["holderIdentity"] = "thief"
        lease["spec"]["renewTime"] = format_micro_time(clock.t)
        await client.update(LEASES, NS, lease)
        t0 = clock.t
        for _ in range(100):
            if task.done():
                break
            clock.step(0.25)
            await asyncio.sleep(0.02)
        await asyncio.wait_for(task, 5)  # returned: leadership lost, lead() cancelled
        assert stopped and not a.is_leader() and a.get_leader() == "thief"
        # It gave up within one retry period plus the renew deadline of fake time.
        assert stopped[0] - t0 <= 1 + 3 + 1e-6

    run(apiserver, body)


def test_guarded_writer_stops_writing_past_the_renew_deadline(
    apiserver: ApiServerProcess,
) -> None:
    async def body(client: RestClient, name: str) -> None:
        clock = FakeClock()
        a = elector(client, name, "a", clock)
        guarded = LeaderGuardedWriter(client, a)
        cm = {"metadata": {"name": name}, "data": {"k": "v"}}
        with pytest.raises(NotLeaderError):  # not acquired yet
            await guarded.create(CONFIGMAPS, NS, cm)
        assert await a.try_acquire_or_renew()
        created = await guarded.create(CONFIGMAPS, NS, cm)
        assert created["metadata"]["name"] == name
        # 10 s (the renew deadline) after the last renewal was sent, A no longer acts,
        # though the Lease (15 s) has not expired for anyone else yet.
        clock.step(10)
        assert a.is_leader() and not a.holds_lease()
        with pytest.raises(NotLeaderError):
            await guarded.delete(CONFIGMAPS, NS, name)
        assert await a.try_acquire_or_renew()
        await guarded.delete(CONFIGMAPS, NS, name)

    run(apiserver, body)
