"""One resource's part of the watch cache: its objects, its event window, its watchers.

:class:`ResourceCache` holds the current objects of one resource prefix (each a
:class:`~apiserver.storage.cached.CachedObject`), a bounded window of
:class:`CacheEvent` for watches that resume, and the :class:`Watcher` queues it fans
each event out to; :class:`~apiserver.storage.cache.WatchCache` routes the storage's
change feed to one per resource. Frames are encoded once per event, type and wire
format, and the same bytes go to every watcher; a watcher whose bounded queue fills is
closed (its client relists) instead of slowing everyone down.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from apiserver.storage.cached import CachedObject
from apiserver.storage.interface import EventType, StorageEvent

log = logging.getLogger("apiserver.storage.cache")

ADDED = "ADDED"
MODIFIED = "MODIFIED"
DELETED = "DELETED"

#: Default number of events kept per resource.
DEFAULT_HISTORY = 10_000
#: Default bound of a watcher's frame queue.
DEFAULT_WATCHER_QUEUE = 10_000


#: Builds a CachedObject from a key, stored bytes and the revision to stamp.
Decoder = Callable[[str, bytes, int], CachedObject]


@dataclass(slots=True)
class CacheEvent:
    """A change of one object. ``prev`` is the previous state (None on ADDED)."""

    type: str
    revision: int
    obj: CachedObject
    prev: CachedObject | None
    #: ``prev`` re-stamped with this event's revision, for DELETED frames
    #: sent when an object stops matching a watcher's selector.
    prev_at_revision: CachedObject | None = None


class FrameEncoder(Protocol):
    """Turns an event into the bytes of one watch frame for one wire format.

    ``fmt`` names the format; frames are memoised per (event type, fmt) on
    the object, so ``encode`` must not depend on the watcher.
    """

    fmt: str

    def encode(self, event_type: str, obj: CachedObject) -> bytes: ...


Predicate = Callable[[CachedObject], bool]


class Watcher:
    """One watch: a filter, a frame encoder and a bounded queue of frames.

    ``None`` in the queue means the watcher was closed by the cache (it fell
    behind, or the server is stopping). ``on_overflow`` is called when the
    queue stays full and the watcher is closed for it: its reader may be
    blocked writing to a client that stopped reading, and must be cut off
    rather than wait for the ``None``.
    """

    def __init__(
        self,
        predicate: Predicate,
        encoder: FrameEncoder,
        maxsize: int = DEFAULT_WATCHER_QUEUE,
    ) -> None:
        self.predicate = predicate
        self.encoder = encoder
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=maxsize + 1)
        self._maxsize = maxsize
        self.closed = False
        self.overflowed = False
        self.on_overflow: Callable[[], None] | None = None

    def frame(self, event_type: str, obj: CachedObject) -> bytes:
        """The (memoised) frame of ``obj`` as an ``event_type`` event."""
        key = (event_type, self.encoder.fmt)
        frames = obj.frames
        if frames is None:
            frames = obj.frames = {}
        cached = frames.get(key)
        if cached is None:
            cached = frames[key] = self.encoder.encode(event_type, obj)
        return cached

    def initial_frame(self, obj: CachedObject) -> bytes:
        """The ADDED frame of ``obj`` for the initial state of a watch: memoised
        frames are used but no new one is kept (a watch of a whole resource from
        resourceVersion 0 would otherwise keep a frame of every object)."""
        frames = obj.frames
        cached = frames.get((ADDED, self.encoder.fmt)) if frames is not None else None
        return cached if cached is not None else self.encoder.encode(ADDED, obj)

    def offer(self, frame: bytes) -> None:
        """Queue a frame, closing the watcher if it is too far behind."""
        if self.closed:
            return
        if self.queue.qsize() >= self._maxsize:
            self.overflowed = True
            self.close()
            if self.on_overflow is not None:
                self.on_overflow()
            return
        self.queue.put_nowait(frame)

    def close(self) -> None:
        """Stop the watcher; its reader sees ``None`` after pending frames."""
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(None)


class TooOldResourceVersionError(Exception):
    """A watch asked for history older than the window (upstream 410 Expired)."""

    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")
        self.requested = requested
        self.oldest = oldest


class ResourceCache:
    """State and event window of one resource (one storage key prefix)."""

    def __init__(self, prefix: str, decoder: Decoder, history_size: int) -> None:
        self.prefix = prefix
        self.decoder = decoder
        self.store: dict[str, CachedObject] = {}
        self.history: deque[CacheEvent] = deque()
        self.history_size = history_size
        #: Watches may start from any revision >= this one.
        self.window_start = 0
        self.watchers: set[Watcher] = set()
        #: Bumped on every change of the state, so readers can tell when to re-index.
        self.generation = 0
        #: In-process observers of every event (e.g. the CRD manager), called after watchers.
        self.listeners: list[Callable[[CacheEvent], None]] = []
        #: Events that arrived while a resource added at run time loads its state.
        self.loading: list[StorageEvent] | None = None

    def decode(self, key: str, value: bytes, revision: int) -> CachedObject:
        """``value`` decoded for this cache (settled: see :class:`CachedObject`)."""
        return self.decoder(key, value, revision).settle()

    def objects(self) -> Iterable[CachedObject]:
        """The current objects (unordered)."""
        return self.store.values()

    def get(self, key: str) -> CachedObject | None:
        """The current state of ``key``."""
        return self.store.get(key)

    def apply(self, event: StorageEvent) -> CacheEvent | None:
        """Fold a storage event into the state and window, and fan it out; None for the
        delete of an object this cache never held whose value the event lacks (after a
        gap in the feed: nothing to remove, nothing to tell watchers)."""
        self.generation += 1
        decode = self.decode
        if event.type is EventType.DELETE:
            prev = self.store.pop(event.key, None)
            # The deleted object's last state; a delete without its value (see
            # StorageEvent) takes it from the state held here.
            last = event.value or (prev.raw if prev is not None else b"")
            if not last:
                log.warning("delete of %s at revision %d: its object was never seen",
                            event.key, event.revision)
                return None
            if prev is None:
                prev = decode(event.key, last, event.prev_revision)
            obj = decode(event.key, last, event.revision)
            cevent = CacheEvent(DELETED, event.revision, obj, prev)
        else:
            obj = decode(event.key, event.value, event.revision)
            prev = self.store.get(event.key)
            if prev is None and event.prev_value is not None:
                prev = decode(event.key, event.prev_value, event.prev_revision)
            self.store[event.key] = obj
            etype = ADDED if event.type is EventType.CREATE else MODIFIED
            cevent = CacheEvent(etype, event.revision, obj, prev)
        self._remember(cevent)
        self._fan_out(cevent)
        for listener in self.listeners:
            listener(cevent)
        return cevent

    def _remember(self, event: CacheEvent) -> None:
        self.history.append(event)
        while len(self.history) > self.history_size:
            dropped = self.history.popleft()
            self.window_start = dropped.revision

    def _fan_out(self, event: CacheEvent) -> None:
        for watcher in tuple(self.watchers):
            if watcher.closed:
                self.watchers.discard(watcher)
                continue
            delivery = self.delivery(event, watcher.predicate)
            if delivery is not None:
                watcher.offer(watcher.frame(*delivery))
                if watcher.closed:
                    self.watchers.discard(watcher)

    def delivery(self, event: CacheEvent, predicate: Predicate) -> tuple[str, CachedObject] | None:
        """What a watcher with ``predicate`` sees of ``event``, if anything.

        An object that starts matching is ADDED, one that stops matching is
        DELETED (its previous state stamped with the event's revision).
        """
        if event.type == ADDED:
            return (ADDED, event.obj) if predicate(event.obj) else None
        if event.type == DELETED:
            return (DELETED, event.obj) if predicate(event.obj) else None
        now = predicate(event.obj)
        before = event.prev is not None and predicate(event.prev)
        if now and before:
            return (MODIFIED, event.obj)
        if now:
            return (ADDED, event.obj)
        if before:
            assert event.prev is not None
            if event.prev_at_revision is None:
                event.prev_at_revision = self.decode(event.obj.key, event.prev.raw,
                                                     event.revision)
            return (DELETED, event.prev_at_revision)
        return None

    def events_after(self, revision: int) -> list[CacheEvent]:
        """Events with revision > ``revision`` from the window.

        Raises :class:`TooOldResourceVersionError` when the window no longer
        reaches back that far.
        """
        if revision < self.window_start:
            raise TooOldResourceVersionError(revision, self.window_start)
        return [e for e in self.history if e.revision > revision]
