"""The kubelet's restart back-off of one container: what makes a pod ``CrashLoopBackOff``.

Upstream's kubelet keeps one back-off entry per container (``doBackOff`` over
``flowcontrol.Backoff``, 10 s doubling to 5 min):

* a container that exits with no entry, or whose entry was last updated more than
  twice the maximum (10 min) before it exited, restarts at once, and its entry starts at
  10 s;
* a container that exits while its entry lasts waits until the entry's delay has
  passed since it exited. Meanwhile it is ``waiting`` with reason ``CrashLoopBackOff``
  and the message ``back-off 10s restarting failed container=NAME pod=NAME_NS(UID)``,
  and a ``BackOff`` Warning says so. When it restarts, the delay doubles (at most 5 min).

So a crash-looping container restarts after 0, 10, 20, 40 … 300 s, and one that ran
for more than 10 minutes since its last restart starts over at 0. Every exit counts,
whatever the exit code (``restartPolicy: Always`` restarts a container that exits 0 too).

A volume that cannot be set up (``FailedMount``) is tried again as upstream's volume
operations are (``exponentialbackoff``): after 0.5 s, doubling to 2 min 2 s
(:func:`mount_retry_delay`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from controllers.node.grpchealth import go_duration

__all__ = ["INITIAL_SECONDS", "MAX_SECONDS", "MOUNT_RETRY_INITIAL", "MOUNT_RETRY_MAX",
           "RestartBackoff", "mount_retry_delay"]

#: The first back-off (upstream's kubelet: ``backOffPeriod``).
INITIAL_SECONDS = 10.0
#: The longest back-off (upstream's ``MaxContainerBackOff``).
MAX_SECONDS = 300.0
#: The first wait before a failed volume set-up is tried again (upstream's
#: ``initialDurationBeforeRetry``).
MOUNT_RETRY_INITIAL = 0.5
#: The longest such wait (upstream's ``maxDurationBeforeRetry``, 2m2s).
MOUNT_RETRY_MAX = 122.0


def mount_retry_delay(failures: int) -> float:
    """Seconds before the next volume set-up after ``failures`` failed ones in a row."""
    return min(MOUNT_RETRY_INITIAL * 2.0 ** max(failures - 1, 0), MOUNT_RETRY_MAX)


class RestartBackoff:
    """One container's back-off entry; times come from ``clock`` (monotonic seconds)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        #: The entry's current delay; None while there is no entry.
        self._delay: float | None = None
        self._updated = 0.0

    def wait_after_exit(self, finished: float) -> float:
        """Seconds to wait before restarting a container that exited at ``finished``: 0
        means restart now (the entry is created or renewed, as upstream's ``Next``);
        otherwise call :meth:`restarting` when the wait is over."""
        now = self._clock()
        if self._delay is None or finished - self._updated > 2 * MAX_SECONDS:
            self._delay, self._updated = INITIAL_SECONDS, now
            return 0.0
        return max(0.0, self._delay - (now - finished))

    @property
    def delay(self) -> float:
        """The entry's current delay (what the CrashLoopBackOff message names)."""
        return self._delay if self._delay is not None else INITIAL_SECONDS

    def restarting(self) -> None:
        """The wait is over and the container starts again: the delay doubles."""
        self._delay = min(2 * self.delay, MAX_SECONDS)
        self._updated = self._clock()

    def message(self, container: str, pod: str) -> str:
        """The ``waiting`` message while backing off (``pod`` as ``NAME_NS(UID)``)."""
        return (f"back-off {go_duration(self.delay)} restarting failed "
                f"container={container} pod={pod}")
