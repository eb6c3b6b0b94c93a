"""Shared informers (client-go ``tools/cache/shared_informer.go``), asyncio style.

A :class:`SharedInformer` owns a :class:`~controllers.client.store.Store` and a
:class:`~controllers.client.reflector.Reflector` and calls its registered
handlers on every change: ``on_add(obj)``, ``on_update(old, new)``,
``on_delete(obj)``. After a relist, objects that vanished while the watch was
down are delivered to ``on_delete`` as
:class:`~controllers.client.store.DeletedFinalStateUnknown` tombstones carrying
the last known state, and objects still present are re-delivered as updates
(as client-go's ``Replace`` → ``Sync`` deltas). Handlers run synchronously on
the event loop and must be quick (enqueue a key, nothing more).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from apiserver.api.resources import ResourceInfo
from controllers.client.reflector import Reflector
from controllers.client.rest import RestClient
from controllers.client.store import (
    NAMESPACE_INDEX,
    DeletedFinalStateUnknown,
    IndexFunc,
    Store,
    meta_namespace_index,
)

__all__ = ["EventHandler", "SharedInformer", "SharedInformerFactory", "wait_for_cache_sync"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]


@dataclass(frozen=True)
class EventHandler:
    """Callbacks of one handler registration (any may be ``None``)."""

    on_add: Callable[[Obj], None] | None = None
    on_update: Callable[[Obj, Obj], None] | None = None
    on_delete: Callable[[Obj | DeletedFinalStateUnknown], None] | None = None


class SharedInformer:
    """One resource's cache plus change notifications."""

    def __init__(
        self,
        client: RestClient,
        info: ResourceInfo,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        indexers: Mapping[str, IndexFunc] | None = None,
        min_watch_timeout: float = 300.0,
        max_watch_timeout: float = 600.0,
    ) -> None:
        self.info = info
        all_indexers: dict[str, IndexFunc] = {NAMESPACE_INDEX: meta_namespace_index}
        all_indexers.update(indexers or {})
        self.store = Store(all_indexers)
        self.reflector = Reflector(
            client,
            info,
            self,
            namespace=namespace,
            label_selector=label_selector,
            field_selector=field_selector,
            min_watch_timeout=min_watch_timeout,
            max_watch_timeout=max_watch_timeout,
        )
        self._handlers: list[EventHandler] = []
        self._synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- public -----------------------------------------------------------------

    def add_event_handler(
        self,
        on_add: Callable[[Obj], None] | None = None,
        on_update: Callable[[Obj, Obj], None] | None = None,
        on_delete: Callable[[Obj | DeletedFinalStateUnknown], None] | None = None,
    ) -> EventHandler:
        """Register callbacks; a late registration gets ``on_add`` for every cached object."""
        handler = EventHandler(on_add, on_update, on_delete)
        self._handlers.append(handler)
        if self.has_synced() and on_add is not None:
            for obj in self.store.list():
                self._call(on_add, obj)
        return handler

    def has_synced(self) -> bool:
        """True once the first list has been delivered."""
        return self._synced.is_set()

    async def wait_for_sync(self, timeout: float | None = None) -> bool:
        """Wait until :meth:`has_synced` (``False`` on timeout)."""
        try:
            await asyncio.wait_for(self._synced.wait(), timeout)
        except TimeoutError:
            return False
        return True

    @property
    def last_sync_resource_version(self) -> str:
        """The resourceVersion the cache is known to be at."""
        return self.reflector.last_sync_resource_version

    def start(self) -> asyncio.Task[None]:
        """Run the reflector in a task (idempotent)."""
        if self._task is None:
            name = f"informer-{self.info.plural}"
            self._task = asyncio.create_task(self.reflector.run(), name=name)
        return self._task

    async def stop(self) -> None:
        """Cancel the reflector."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # -- ReflectorSink ------------------------------------------------------------

    def replace(self, items: list[Obj], resource_version: str) -> None:
        """After a list: update the cache, notify adds/updates and tombstone deletions."""
        seen: set[str] = set()
        for obj in items:
            if self.info.kind and "kind" not in obj:
                obj["kind"] = self.info.kind
                obj["apiVersion"] = self.info.api_version
            key = self.store.key_func(obj)
            seen.add(key)
            old = self.store.get_by_key(key)
            self.store.add(obj)
            if old is None:
                self._notify_add(obj)
            else:
                self._notify_update(old, obj)
        for key in [k for k in self.store.list_keys() if k not in seen]:
            gone = self.store.delete_key(key)
            if gone is not None:
                self._notify_delete(DeletedFinalStateUnknown(key, gone))
        self._synced.set()

    def on_event(self, event_type: str, obj: Obj) -> None:
        """Apply one watch event to the cache and notify."""
        key = self.store.key_func(obj)
        if event_type == "DELETED":
            self.store.delete_key(key)
            self._notify_delete(obj)
            return
        old = self.store.get_by_key(key)
        self.store.add(obj)
        if old is None:
            self._notify_add(obj)
        else:
            self._notify_update(old, obj)

    # -- dispatch -----------------------------------------------------------------

    @staticmethod
    def _call(fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("event handler %r failed", fn)

    def _notify_add(self, obj: Obj) -> None:
        for h in self._handlers:
            if h.on_add is not None:
                self._call(h.on_add, obj)

    def _notify_update(self, old: Obj, new: Obj) -> None:
        for h in self._handlers:
            if h.on_update is not None:
                self._call(h.on_update, old, new)

    def _notify_delete(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        for h in self._handlers:
            if h.on_delete is not None:
                self._call(h.on_delete, obj)


class SharedInformerFactory:
    """One informer per resource, shared by every controller of a process."""

    def __init__(
        self,
        client: RestClient,
        *,
        min_watch_timeout: float = 300.0,
        max_watch_timeout: float = 600.0,
    ) -> None:
        self.client = client
        self.min_watch_timeout = min_watch_timeout
        self.max_watch_timeout = max_watch_timeout
        self._informers: dict[tuple[str, str, str, str], SharedInformer] = {}

    def informer_for(self, info: ResourceInfo, *, field_selector: str = "") -> SharedInformer:
        """The (cluster-wide) informer of ``info``, created on first use; with
        ``field_selector`` one that lists and watches only the matching objects (client-go's
        ``WithTweakListOptions``, as the kubelet's pods of its own node)."""
        key = (info.group, info.version, info.plural, field_selector)
        informer = self._informers.get(key)
        if informer is None:
            informer = SharedInformer(
                self.client,
                info,
                field_selector=field_selector or None,
                min_watch_timeout=self.min_watch_timeout,
                max_watch_timeout=self.max_watch_timeout,
            )
            self._informers[key] = informer
        return informer

    async def remove(self, info: ResourceInfo) -> None:
        """Stop and drop the cluster-wide informer of ``info`` (its resource went away)."""
        informer = self._informers.pop((info.group, info.version, info.plural, ""), None)
        if informer is not None:
            await informer.stop()

    @property
    def informers(self) -> list[SharedInformer]:
        """Every informer created so far."""
        return list(self._informers.values())

    def start(self) -> None:
        """Start every informer not yet running."""
        for informer in self._informers.values():
            informer.start()

    async def stop(self) -> None:
        """Stop every informer."""
        for informer in self._informers.values():
            await informer.stop()

    async def wait_for_cache_sync(self, timeout: float | None = None) -> bool:
        """Wait until every informer has synced."""
        return await wait_for_cache_sync(*self._informers.values(), timeout=timeout)


async def wait_for_cache_sync(*informers: SharedInformer, timeout: float | None = None) -> bool:
    """client-go's ``WaitForCacheSync``: True once all informers synced."""
    async def each() -> None:
        # One after the other rather than gather(): a gather cancelled by a shutdown
        # logs "exception was never retrieved"; waiting in turn takes no longer.
        for informer in informers:
            await informer.wait_for_sync()

    try:
        await asyncio.wait_for(each(), timeout)
    except TimeoutError:
        return False
    return all(i.has_synced() for i in informers)
