"""The kubelet's restart back-off of one container (CrashLoopBackOff), on a fake clock, and
the volume back-off of a failed mount."""

from __future__ import annotations

from controllers.node.backoff import (
    INITIAL_SECONDS,
    MAX_SECONDS,
    RestartBackoff,
    mount_retry_delay,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def crash_loop(clock: Clock, backoff: RestartBackoff, runs: int) -> list[float]:
    """The waits of a container that dies right after each start."""
    waits = []
    for _ in range(runs):
        wait = backoff.wait_after_exit(clock.now)
        waits.append(wait)
        if wait:
            clock.now += wait
            backoff.restarting()
        clock.now += 1.0  # the instance runs for a second
    return waits


def test_a_crash_loop_waits_10_20_40_and_at_most_5_minutes() -> None:
    clock = Clock()
    waits = crash_loop(clock, RestartBackoff(clock), 9)
    assert waits == [0.0, 10.0, 20.0, 40.0, 80.0, 160.0, MAX_SECONDS, MAX_SECONDS, MAX_SECONDS]


def test_the_message_names_the_current_delay_as_go_prints_it() -> None:
    clock = Clock()
    backoff = RestartBackoff(clock)
    crash_loop(clock, backoff, 6)
    assert backoff.message("c", "p_ns(u)") == \
        "back-off 5m0s restarting failed container=c pod=p_ns(u)"
    fresh = RestartBackoff(clock)
    fresh.wait_after_exit(clock.now)
    assert fresh.message("c", "p_ns(u)") == \
        f"back-off {INITIAL_SECONDS:g}s restarting failed container=c pod=p_ns(u)"


def test_time_since_the_exit_counts_toward_the_wait() -> None:
    clock = Clock()
    backoff = RestartBackoff(clock)
    assert backoff.wait_after_exit(clock.now) == 0.0
    clock.now += 5.0
    exited = clock.now
    clock.now += 3.0  # the agent notices the exit 3 s late
    assert backoff.wait_after_exit(exited) == 7.0


def test_a_container_that_ran_ten_minutes_restarts_at_once_and_starts_over() -> None:
    clock = Clock()
    backoff = RestartBackoff(clock)
    crash_loop(clock, backoff, 5)
    clock.now += 2 * MAX_SECONDS + 1
    assert backoff.wait_after_exit(clock.now) == 0.0
    clock.now += 1.0
    assert backoff.wait_after_exit(clock.now) == INITIAL_SECONDS


def test_a_failed_mount_is_retried_after_upstreams_volume_backoff() -> None:
    assert [mount_retry_delay(n) for n in range(1, 10)] == [
        0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 122.0]
    assert mount_retry_delay(50) == 122.0
