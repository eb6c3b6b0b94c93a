"""Handing etcd's events to the storage's subscribers, in revision order, from two sources.

The change feed (:mod:`apiserver.storage.etcd_watch`) brings every event of the
cluster. An event of a write this apiserver made is also known as soon as etcd
acknowledges the transaction: its answer carries the revision, the storage knows
the key and the value it wrote, and (``prev_kv``) the value the write replaced.
:class:`Delivery` takes each event from whichever source has it first, so a write
does not wait for its own event to come back over the watch stream.

Order. Subscribers see every event exactly once, in revision order. ``position``
is the revision through which every event has been delivered:

* the feed hands over a watch response's events, then moves the position to the
  response's last revision (etcd never splits one revision's events across
  responses, so the position always sits on a revision boundary);
* an acknowledged own write of revision R is delivered at once when the position
  is R - 1, otherwise it is kept until the position reaches R - 1 and delivered
  then, before anything else;
* the feed's copy of an event at or below the position is skipped. Only own writes
  get there ahead of the feed, and an own transaction is exactly one event (one put
  or one delete, never several keys), so the skipped copy is the event already
  delivered: same key, type and revision (the feed's copy lacks the replaced value,
  which the transaction's answer has).

Linearizability is unchanged by the second source. A write is answered once the
position has reached its revision, so this apiserver's watch cache holds it and
every earlier event (read-your-writes, as with the embedded backends); a
consistent read waits for the position to pass a revision etcd gave after the
read started (see :mod:`apiserver.storage.etcd`), which the position only passes
once every event up to it is delivered, whichever source brought each one.
"""

from __future__ import annotations

import logging

from apiserver.storage.interface import StorageEvent, Subscriber
from apiserver.storage.revisions import RevisionWaiters

log = logging.getLogger("apiserver.storage.etcd")


class Delivery:
    """The ordered hand-over of events to subscribers (see the module docstring)."""

    def __init__(self) -> None:
        self.subscribers: list[Subscriber] = []
        #: Revision of the newest event under the storage's prefix delivered.
        self.delivered = 0
        self._waiters = RevisionWaiters()
        #: Acknowledged own writes waiting for the position to reach the revision before.
        self._pending: dict[int, StorageEvent] = {}

    @property
    def position(self) -> int:
        """Every event up to this revision has been delivered."""
        return self._waiters.position

    def start(self, revision: int) -> None:
        """Events up to ``revision`` are the state the subscribers load themselves."""
        self._waiters.position = self.delivered = revision

    async def wait(self, revision: int, timeout: float) -> bool:
        """Wait until the position reaches ``revision``; False on timeout or release."""
        return await self._waiters.wait(revision, timeout)

    def release(self) -> None:
        """The storage stopped: every wait, now and later, answers False."""
        self._waiters.release()
        self._pending.clear()

    # -- the feed --------------------------------------------------------------------

    def feed_event(self, revision: int, event: StorageEvent | None) -> bool:
        """One event of a watch response (None: a key outside the prefix)."""
        if event is not None and revision > self._waiters.position:
            self._hand(event)
        return True

    def feed_reached(self, revision: int) -> None:
        """The feed delivered a whole response, up to ``revision``."""
        if revision > self._waiters.position:
            self._advance(revision)

    # -- own writes ------------------------------------------------------------------

    def own_write(self, event: StorageEvent) -> None:
        """The event of a transaction of this storage that etcd acknowledged."""
        position = self._waiters.position
        if event.revision <= position:
            return  # the feed was first
        if event.revision == position + 1:
            self._hand(event)
            self._advance(event.revision)
        else:
            self._pending[event.revision] = event

    # -- internals -------------------------------------------------------------------

    def _advance(self, revision: int) -> None:
        pending = self._pending
        if pending:
            while (event := pending.pop(revision + 1, None)) is not None:
                self._hand(event)
                revision += 1
            for stale in [r for r in pending if r <= revision]:
                del pending[stale]  # the feed delivered its own copy first
        self._waiters.advance(revision)

    def _hand(self, event: StorageEvent) -> None:
        for subscriber in self.subscribers:
            try:
                subscriber(event)
            except Exception:
                log.exception("storage subscriber failed")
        self.delivered = event.revision
