"""The storage interface: keys, bytes and revisions — never kinds.

Modelled on k8s.io/apiserver ``storage.Interface`` and kine's backend. Every
successful write gets the next global revision, and that revision *is* the
resourceVersion of the written object and of any list taken at that point.

Backends implement :class:`Storage`; the write semantics (preconditions,
revision assignment, ordering, fan-out to subscribers) live in
:class:`apiserver.storage.log.LogStorage`, which the embedded backends share.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum


class EventType(Enum):
    """The kind of change a :class:`StorageEvent` records (as etcd's PUT/DELETE)."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class KeyValue:
    """One key's value at ``mod_revision``; ``create_revision`` is when it appeared."""

    key: str
    value: bytes
    mod_revision: int
    create_revision: int


@dataclass(frozen=True, slots=True)
class StorageEvent:
    """A committed change.

    ``value`` is the new value (the last value for a delete), ``prev_value``
    the value before the change (``None`` for a create).

    A backend whose change feed does not carry replaced values (etcd's: the events its
    watch delivers, which are mostly other replicas' writes) hands over updates with
    ``prev_value`` None and deletes with an empty ``value`` (no stored object is
    empty): a subscriber that needs them keeps the state itself, as the watch cache
    does.
    """

    type: EventType
    key: str
    value: bytes
    prev_value: bytes | None
    revision: int
    prev_revision: int = 0


#: A subscriber is called synchronously, in revision order, after each commit
#: and before the writer is answered. It must not block.
Subscriber = Callable[[StorageEvent], None]


class Storage(abc.ABC):
    """Revisioned key/value storage with a change feed."""

    #: Whether :meth:`fetch_current_revision` asks a server (a round trip worth
    #: sharing among concurrent consistent reads) rather than a local counter.
    remote_revision: bool = False

    @abc.abstractmethod
    async def start(self) -> None:
        """Open the backend and load its state; must be called before use."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Flush and release resources."""

    @abc.abstractmethod
    async def create(self, key: str, value: bytes) -> int:
        """Store ``value`` under a new ``key``; returns the revision.

        Raises :class:`~apiserver.storage.errors.KeyExistsError`.
        """

    @abc.abstractmethod
    async def update(self, key: str, value: bytes, expected_revision: int) -> int:
        """Replace ``key``'s value if its mod revision is ``expected_revision``.

        Raises :class:`~apiserver.storage.errors.KeyNotFoundError` or
        :class:`~apiserver.storage.errors.RevisionConflictError`.
        """

    @abc.abstractmethod
    async def delete(self, key: str, expected_revision: int | None = None) -> int:
        """Delete ``key`` (only at ``expected_revision`` when given); returns the revision."""

    @abc.abstractmethod
    async def get(self, key: str) -> KeyValue | None:
        """The current value of ``key``, or ``None``."""

    @abc.abstractmethod
    async def list_prefix(self, prefix: str) -> tuple[list[KeyValue], int]:
        """All live keys under ``prefix`` and the revision of that snapshot."""

    @abc.abstractmethod
    def current_revision(self) -> int:
        """The revision of the newest committed write (0 for an empty store)."""

    async def fetch_current_revision(self) -> int:
        """The revision a consistent read must observe, asked of the backend.

        Embedded backends know it without asking (:meth:`current_revision`);
        a shared backend (etcd) makes a round trip, so writes by other
        apiserver replicas are included.
        """
        return self.current_revision()

    async def check_revision(self, revision: int) -> None:
        """Raise :class:`~apiserver.storage.errors.CompactedError` if history after
        ``revision`` is no longer available (a watch or continue token from it)."""
        from apiserver.storage.errors import CompactedError

        if revision < self.compacted_revision():
            raise CompactedError(revision, self.compacted_revision())

    async def size_bytes(self) -> tuple[str, int] | None:
        """(storage cluster id, database size in bytes) for ``apiserver_storage_size_bytes``;
        None when the backend has no database file (in memory) or cannot tell now."""
        return None

    def needs_rewrite(self, key: str) -> bool:
        """Whether ``key``'s stored bytes should be rewritten even by a no-op update
        (upstream's "stale" read: encrypted with a key that is no longer the first)."""
        return False

    @abc.abstractmethod
    def compacted_revision(self) -> int:
        """History at or below this revision is gone."""

    @abc.abstractmethod
    async def history(self, after_revision: int) -> list[StorageEvent]:
        """Every event with revision > ``after_revision``, in order.

        Raises :class:`~apiserver.storage.errors.CompactedError` when that part
        of the log has been compacted away.
        """

    @abc.abstractmethod
    async def compact(self, revision: int) -> None:
        """Drop superseded history at or below ``revision``."""

    @abc.abstractmethod
    def subscribe(self, subscriber: Subscriber) -> None:
        """Call ``subscriber`` for every event committed from now on."""

    def on_feed_gap(self, callback: Callable[[int], None]) -> None:
        """Call ``callback(revision)`` when the change feed lost the events before
        ``revision`` (it fell behind a compaction): what subscribers built from the feed
        is stale from then on and must be rebuilt from a list. The embedded backends
        never lose events, so by default the callback is never called."""
        del callback

    async def guaranteed_update(
        self,
        key: str,
        try_update: Callable[[KeyValue], Awaitable[bytes | None]],
        *,
        max_attempts: int = 32,
    ) -> KeyValue:
        """Read-modify-write ``key`` until it sticks (compare-and-swap loop).

        ``try_update`` receives the current value and returns the new bytes, or
        ``None`` to leave the key unchanged. Its input is re-read before every
        attempt, as upstream's ``GuaranteedUpdate``. Returns the written (or
        unchanged) key value. Errors raised by ``try_update`` propagate.
        """
        from apiserver.storage.errors import KeyNotFoundError, RevisionConflictError

        for _ in range(max_attempts):
            current = await self.get(key)
            if current is None:
                raise KeyNotFoundError(key)
            new_value = await try_update(current)
            if new_value is None:
                return current
            try:
                revision = await self.update(key, new_value, current.mod_revision)
            except RevisionConflictError:
                continue
            return KeyValue(key, new_value, revision, current.create_revision)
        raise RevisionConflictError(key)
