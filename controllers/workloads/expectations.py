"""Controller expectations (upstream ``UIDTrackingControllerExpectations``).

After a sync issues creates or deletes, the controller must not act on the same owner again
until its informer has seen them, or a lagging watch would make it create (or delete) twice.
Per owner key it remembers how many creations it still expects and which pods (by
``namespace/name`` key) it expects to disappear. An owner is *satisfied* when nothing is
pending, when it has no record at all, or when the record is older than :data:`EXPECTATIONS_TTL`
(a lost event must not wedge the owner forever).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

__all__ = ["EXPECTATIONS_TTL", "Expectations"]

#: Upstream ``ExpectationsTimeout``: records older than this count as satisfied.
EXPECTATIONS_TTL = 5 * 60.0


@dataclass
class _Record:
    adds: int
    deletes: set[str] = field(default_factory=set)
    stamp: float = 0.0


class Expectations:
    """Pending creations and deletions per owner key; ``clock`` is monotonic seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 ttl: float = EXPECTATIONS_TTL) -> None:
        self._clock = clock
        self._ttl = ttl
        self._records: dict[str, _Record] = {}

    def satisfied(self, key: str) -> bool:
        """Whether the owner may be reconciled again (see the module docstring)."""
        rec = self._records.get(key)
        if rec is None:
            return True
        if rec.adds <= 0 and not rec.deletes:
            return True
        return self._clock() - rec.stamp > self._ttl

    def expect_creations(self, key: str, count: int) -> None:
        """Replace the owner's record: ``count`` creations pending, no deletions."""
        self._records[key] = _Record(count, set(), self._clock())

    def expect_deletions(self, key: str, pod_keys: Iterable[str]) -> None:
        """Replace the owner's record: the pods ``pod_keys`` are to disappear."""
        self._records[key] = _Record(0, set(pod_keys), self._clock())

    def creation_observed(self, key: str) -> None:
        """One pending creation happened (or will not happen: a failed create)."""
        rec = self._records.get(key)
        if rec is not None and rec.adds > 0:
            rec.adds -= 1

    def deletion_observed(self, key: str, pod_key: str) -> None:
        """The pod ``pod_key`` is gone or terminating; observing it twice counts once."""
        rec = self._records.get(key)
        if rec is not None:
            rec.deletes.discard(pod_key)

    def pending(self, key: str) -> tuple[int, int]:
        """``(creations, deletions)`` still expected for the owner."""
        rec = self._records.get(key)
        return (0, 0) if rec is None else (max(rec.adds, 0), len(rec.deletes))

    def forget(self, key: str) -> None:
        """Drop the owner's record (the owner was deleted)."""
        self._records.pop(key, None)
