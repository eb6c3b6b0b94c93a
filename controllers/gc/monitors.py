"""The garbage collector's run-time monitors: custom resources found through discovery.

The built-in kinds are watched from the start (:func:`controllers.gc.deletable_resources`).
Kinds the server starts serving later — custom resources — are found as upstream's
``GarbageCollector.Sync`` finds them: discovery is read again every ``period`` seconds
(upstream: 30 s) and an informer ("monitor") is started for each resource that can be
listed, watched and deleted and is not watched yet; the informer of a resource no longer
served is stopped (unless its group's discovery failed this time, which says nothing about
it). Discovery is also read shortly after any CustomResourceDefinition changes, so a new
kind is collected within about a second rather than up to ``period`` later.

After each pass the graph learns the discovered kinds, so owners that were known only by a
reference to a kind nobody could resolve are checked against the apiserver, and their
dependents with them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from apiserver.api.resources import ResourceInfo
from controllers.client.discovery import APIResource, Requester, server_preferred_resources
from controllers.client.informer import SharedInformerFactory

__all__ = ["ResourceMonitors", "info_for"]

log = logging.getLogger(__name__)

#: ``handlers(info)`` → ``(on_add, on_update, on_delete)`` for a newly watched resource.
Handlers = Callable[[ResourceInfo], tuple[Any, Any, Any]]

#: Delay between a CustomResourceDefinition change and the discovery pass it triggers:
#: the definition's ``Established`` condition and its discovery entry follow the change.
CRD_SETTLE_SECONDS = 0.3


def info_for(resource: APIResource) -> ResourceInfo:
    """A :class:`ResourceInfo` for a discovered resource (enough to list, watch and delete)."""
    return ResourceInfo(
        group=resource.group, version=resource.version, kind=resource.kind,
        plural=resource.name, singular=resource.name, namespaced=resource.namespaced,
        schema_ref="", list_kind=f"{resource.kind}List", verbs=tuple(sorted(resource.verbs)),
        custom=True,
    )


class ResourceMonitors:
    """Starts and stops the informers of run-time resources; see the module docstring.

    ``static`` holds the ``(group, plural)`` pairs watched from the start (or never);
    ``on_change`` receives the discovered resources after every pass.
    """

    def __init__(self, request: Requester, informers: SharedInformerFactory,
                 handlers: Handlers, on_change: Callable[[list[ResourceInfo]], None],
                 static: set[tuple[str, str]], *, period: float = 30.0) -> None:
        self.request = request
        self.informers = informers
        self.handlers = handlers
        self.on_change = on_change
        self.static = static
        self.period = period
        self.active: dict[tuple[str, str], ResourceInfo] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Run the discovery loop in a task (idempotent)."""
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="garbagecollector-discovery")

    async def stop(self) -> None:
        """Stop the loop (the informers stop with their factory)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def trigger(self, *_objs: object) -> None:
        """Ask for a discovery pass soon (an informer handler for CustomResourceDefinitions)."""
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            try:
                await self.sync()
            except Exception as exc:  # the next pass retries; the built-in kinds go on
                log.warning("garbage collector discovery failed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.period)
            if self._wake.is_set():
                await asyncio.sleep(CRD_SETTLE_SECONDS)
                self._wake.clear()

    async def sync(self) -> None:
        """One pass: read discovery, start and stop informers, tell the graph."""
        found, failed = await server_preferred_resources(self.request)
        failed_versions = set(failed.groups) if failed is not None else set()
        wanted: dict[tuple[str, str], ResourceInfo] = {}
        for resource in found:
            key = (resource.group, resource.name)
            if key in self.static or not resource.kind:
                continue
            if {"list", "watch", "delete"} <= resource.verbs:
                wanted[key] = info_for(resource)
        for key, info in list(self.active.items()):
            current = wanted.get(key)
            if current is None and f"{info.group}/{info.version}" in failed_versions:
                wanted[key] = info  # unknown this time: keep watching it
            elif current is None or current.version != info.version:
                log.info("garbage collector stops watching %s.%s", info.plural, info.group)
                await self.informers.remove(info)
                del self.active[key]
        for key, info in wanted.items():
            if key in self.active:
                continue
            log.info("garbage collector starts watching %s.%s/%s",
                     info.plural, info.group, info.version)
            on_add, on_update, on_delete = self.handlers(info)
            informer = self.informers.informer_for(info)
            informer.add_event_handler(on_add, on_update, on_delete)
            informer.start()
            self.active[key] = info
        self.on_change(list(self.active.values()))
