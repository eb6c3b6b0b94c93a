"""The watch cache: current state in memory plus a sliding window of events.

Like upstream's cacher, it sits above storage: it is fed by the storage's
change feed, serves lists (and ``resourceVersion="0"`` reads) from memory and
serves every watch. It stays kind-agnostic: a per-resource :data:`Decoder`
(supplied by the registry) turns stored bytes into a :class:`CachedObject`
carrying the decoded object, its pre-encoded JSON bytes and the label/field
sets selectors match against.

Encode once: each object is encoded when it enters the cache; each watch
frame is built once per event, frame type and wire format, and the same bytes
go to every watcher. Each watcher has a bounded queue; a watcher that cannot
keep up is closed (its client relists) instead of slowing everyone down.

:class:`WatchCache` (here) fills the caches, routes the change feed and answers
freshness waits; one resource's objects, event window and watchers are
:class:`~apiserver.storage.resource_cache.ResourceCache` (re-exported here).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
from collections.abc import Iterator

from apiserver.storage.cached import CachedObject
from apiserver.storage.errors import CompactedError, StorageUnavailableError
from apiserver.storage.interface import EventType, KeyValue, Storage, StorageEvent
from apiserver.storage.resource_cache import (
    ADDED,
    DEFAULT_HISTORY,
    DEFAULT_WATCHER_QUEUE,
    DELETED,
    MODIFIED,
    CacheEvent,
    Decoder,
    FrameEncoder,
    ResourceCache,
    TooOldResourceVersionError,
    Watcher,
)
from apiserver.storage.revisions import RevisionBatcher, RevisionWaiters

__all__ = [
    "ADDED",
    "DEFAULT_HISTORY",
    "DEFAULT_WATCHER_QUEUE",
    "DELETED",
    "MODIFIED",
    "CacheEvent",
    "CachedObject",
    "Decoder",
    "FrameEncoder",
    "ResourceCache",
    "TooOldResourceVersionError",
    "WatchCache",
    "Watcher",
]

log = logging.getLogger(__name__)

class WatchCache:
    """Routes the storage's change feed to per-resource caches.

    ``revision`` is the newest revision the cache has seen (global across
    resources): lists served from the cache carry it as their resourceVersion.
    """

    def __init__(self, storage: Storage, history_size: int = DEFAULT_HISTORY) -> None:
        self.storage = storage
        self.history_size = history_size
        self.resources: dict[str, ResourceCache] = {}
        self.revision = 0
        #: Reads waiting for :attr:`revision` to reach theirs.
        self._waiters = RevisionWaiters()
        self._started = False
        self._buffered: list[StorageEvent] = []
        self._batcher: RevisionBatcher | None = None
        self._reload: asyncio.Task[None] | None = None
        self._reload_again = False
        #: Events wait in ``_buffered`` while a reload lists the state.
        self._reloading = False

    def register(self, prefix: str, decoder: Decoder) -> ResourceCache:
        """Add a resource before :meth:`start`."""
        if self._started:
            raise RuntimeError("register resources before starting the watch cache")
        cache = ResourceCache(prefix, decoder, self.history_size)
        self.resources[prefix] = cache
        return cache

    async def add_resource(self, prefix: str, decoder: Decoder) -> ResourceCache:
        """Add a resource while the cache runs (a custom resource); its cache is returned
        once loaded with the current state. Watches on it may start from the revision it
        was loaded at; older ones get "too old" and relist. An existing prefix's cache is
        returned as is."""
        if not self._started:
            return self.register(prefix, decoder)
        existing = self.resources.get(prefix)
        if existing is not None:
            return existing
        cache = ResourceCache(prefix, decoder, self.history_size)
        cache.loading = []
        self.resources[prefix] = cache
        try:
            items, current = await self.storage.list_prefix(prefix)
        except BaseException:
            self.resources.pop(prefix, None)
            raise
        with _collector_paused():
            for kv in items:
                cache.store[kv.key] = cache.decode(kv.key, kv.value, kv.mod_revision)
        cache.window_start = current
        pending, cache.loading = cache.loading, None
        for event in pending:
            if event.revision > current:
                cache.apply(event)
        return cache

    def remove_resource(self, prefix: str) -> None:
        """Stop caching a resource added at run time; its watchers are closed."""
        cache = self.resources.pop(prefix, None)
        if cache is not None:
            for watcher in tuple(cache.watchers):
                watcher.close()
            cache.watchers.clear()

    async def start(self) -> None:
        """Load state and recent history from storage, then follow its feed.

        Loading the recent log (not only the current state) lets watchers
        resume after a restart from the resourceVersion they last saw.
        """
        # Subscribe first and buffer, so nothing committed while loading is
        # lost; events at or below the snapshot's revision are skipped later.
        self.storage.subscribe(self._on_event)
        self.storage.on_feed_gap(self._feed_gap)
        items, current = await self.storage.list_prefix(self._root())
        self._fill(items)
        start = max(self.storage.compacted_revision(), current - self.history_size, 0)
        try:
            history = await self.storage.history(start)
        except CompactedError as exc:
            start = exc.compacted
            history = await self.storage.history(start)
        for cache in self.resources.values():
            cache.window_start = start
        for event in history:
            if event.revision > current:
                break
            target = self._route(event.key)
            if target is not None:
                target._remember(_history_event(target, event))
        self.revision = current
        self._waiters.advance(current)  # wakes whoever waited for the load
        self._started = True
        pending, self._buffered = self._buffered, []
        for event in pending:
            self._on_event(event)

    def _root(self) -> str:
        """The common prefix of every resource: one list of it is one snapshot at one
        revision, also when the backend suspends (etcd) and writes land meanwhile."""
        root = os.path.commonprefix(list(self.resources))  # noqa: RUF071 (cut at "/" below)
        return root[: root.rfind("/") + 1]

    # -- a gap in the feed ---------------------------------------------------------

    def _feed_gap(self, revision: int) -> None:
        """The storage's feed lost the events before ``revision``: reload (again)."""
        log.warning("watch cache: the storage feed lost events before revision %d; "
                    "reloading the state and closing every watch", revision)
        if self._reload is not None and not self._reload.done():
            self._reload_again = True
            return
        self._reload = asyncio.get_running_loop().create_task(self._reload_state(),
                                                              name="watch-cache-reload")

    async def _reload_state(self) -> None:
        """Rebuild every resource's state from one list, as upstream's reflector relists.
        Events arriving meanwhile are buffered and applied after it. The windows restart
        at the list's revision and every watcher is closed: a client that watches again
        from an older resourceVersion gets "too old" and relists."""
        self._reloading = True
        try:
            while True:
                self._reload_again = False
                try:
                    items, current = await self.storage.list_prefix(self._root())
                except StorageUnavailableError as exc:
                    log.warning("watch cache reload: %s; retrying", exc)
                    await asyncio.sleep(1.0)
                    continue
                if not self._reload_again:
                    break
            self._replace_state(items, current)
        finally:
            self._reloading = False
            pending, self._buffered = self._buffered, []
            for event in pending:
                self._on_event(event)

    def _replace_state(self, items: list[KeyValue], current: int) -> None:
        """Every (loaded) resource's state becomes ``items`` at revision ``current``."""
        for cache in self.resources.values():
            if cache.loading is not None:
                continue  # a resource added meanwhile loads its own state
            cache.store = {}
            cache.history.clear()
            cache.window_start = current
            cache.generation += 1
            for watcher in tuple(cache.watchers):
                watcher.close()
            cache.watchers.clear()
        self._fill(items)
        if current > self.revision:
            self.revision = current
            self._waiters.advance(current)

    def _fill(self, items: list[KeyValue]) -> None:
        """Decode ``items`` into the caches of their resources, emptying the list: each
        value is dropped once decoded, so a backend that keeps no values (etcd) frees
        it for the next object's bytes instead of holding every value to the end. A
        resource still loading (added at run time) fills itself."""
        items.reverse()
        with _collector_paused():
            while items:
                kv = items.pop()
                target = self._route(kv.key)
                if target is not None and target.loading is None:
                    target.store[kv.key] = target.decode(kv.key, kv.value, kv.mod_revision)
                    target.generation += 1

    def _route(self, key: str) -> ResourceCache | None:
        # Resource prefixes are whole path segments ending in "/", so the prefix of a key
        # is one of its first few segment boundaries: a few dict lookups, however many
        # resources are registered.
        end = key.find("/", 1)
        while end != -1:
            cache = self.resources.get(key[: end + 1])
            if cache is not None:
                return cache
            end = key.find("/", end + 1)
        return None

    def _on_event(self, event: StorageEvent) -> None:
        if not self._started or self._reloading:
            self._buffered.append(event)
            return
        if event.revision <= self.revision:
            return
        cache = self._route(event.key)
        if cache is not None:
            if cache.loading is not None:
                cache.loading.append(event)
            else:
                cache.apply(event)
        self.revision = event.revision
        self._waiters.advance(event.revision)

    async def wait_for_revision(self, revision: int, timeout: float) -> bool:
        """Wait until the cache has seen ``revision``; False on timeout."""
        if self.revision >= revision:
            return True
        return await self._waiters.wait(revision, timeout)

    async def wait_fresh(self, timeout: float = 3.0) -> bool:
        """Wait until the cache reflects every write acknowledged before this call
        (a consistent read: GET or LIST without resourceVersion).

        An embedded backend knows its revision without asking. A shared backend
        (etcd) is asked, so writes through other apiserver replicas are included;
        concurrent reads share one request (:class:`RevisionBatcher`).
        """
        if not self.storage.remote_revision:
            return await self.wait_for_revision(self.storage.current_revision(), timeout)
        if self._batcher is None:
            self._batcher = RevisionBatcher(self.storage.fetch_current_revision)
        try:
            async with asyncio.timeout(timeout):
                revision = await self._batcher.get()
        except (TimeoutError, StorageUnavailableError):
            return False
        return await self.wait_for_revision(revision, timeout)

    async def ensure_available(self, revision: int) -> None:
        """Raise :class:`TooOldResourceVersionError` if storage history after
        ``revision`` was compacted (a watch or continue token from it is expired)."""
        try:
            await self.storage.check_revision(revision)
        except CompactedError as exc:
            raise TooOldResourceVersionError(revision, exc.compacted) from exc

    def close_watchers(self) -> None:
        """Close every watcher (server shutdown)."""
        for cache in self.resources.values():
            for watcher in tuple(cache.watchers):
                watcher.close()
            cache.watchers.clear()


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Run the body without cyclic garbage collections (loading the state allocates
    hundreds of thousands of objects, none in cycles; each full collection would walk
    every one allocated so far)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _history_event(cache: ResourceCache, event: StorageEvent) -> CacheEvent:
    current = cache.store.get(event.key)
    if current is not None and current.revision == event.revision:
        obj = current  # the loaded state: the same bytes, decoded once
    else:
        obj = cache.decode(event.key, event.value, event.revision)
    prev = None
    if event.prev_value is not None:
        prev = cache.decode(event.key, event.prev_value, event.prev_revision)
    etype = {EventType.CREATE: ADDED, EventType.UPDATE: MODIFIED, EventType.DELETE: DELETED}[
        event.type
    ]
    return CacheEvent(etype, event.revision, obj, prev)
