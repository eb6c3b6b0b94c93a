"""The Reflector (client-go ``tools/cache/reflector.go``): list, then watch.

It lists the resource (paginated, consistent), hands the items and the list's
resourceVersion to its sink (``replace``), then watches from that
resourceVersion with ``allowWatchBookmarks=true`` and a random
``timeoutSeconds`` between ``min_watch_timeout`` and ``max_watch_timeout``
(5-10 minutes by default, as upstream). Events go to the sink; bookmarks only
move the resourceVersion. When a watch ends normally it watches again from the
last resourceVersion; a 410 (``Expired``/``Gone``, as an HTTP status or an
``ERROR`` event) relists at once; any other error (a broken stream, a refused
connection, a 5xx) relists after a jittered exponential backoff. The sink's
``replace`` is responsible for noticing objects that vanished meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any, Protocol

from apiserver.api.resources import ResourceInfo
from controllers.client.backoff import Backoff
from controllers.client.errors import ApiError
from controllers.client.rest import RestClient

__all__ = ["Reflector", "ReflectorSink", "WatchExpired"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]


class WatchExpired(Exception):
    """The watch's resourceVersion is too old (410): relist."""


class ReflectorSink(Protocol):
    """What a reflector feeds (an informer)."""

    def replace(self, items: list[Obj], resource_version: str) -> None:
        """The full content after a list."""

    def on_event(self, event_type: str, obj: Obj) -> None:
        """One ``ADDED``/``MODIFIED``/``DELETED`` watch event."""


def _rv(obj: Any) -> str:
    if isinstance(obj, dict):
        return str((obj.get("metadata") or {}).get("resourceVersion") or "")
    return ""


class Reflector:
    """Keeps a sink in step with one resource (optionally one namespace / selector)."""

    def __init__(
        self,
        client: RestClient,
        info: ResourceInfo,
        sink: ReflectorSink,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        min_watch_timeout: float = 300.0,
        max_watch_timeout: float = 600.0,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.info = info
        self.sink = sink
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.min_watch_timeout = min_watch_timeout
        self.max_watch_timeout = max_watch_timeout
        self.rng = rng or random.Random()
        self.backoff = backoff or Backoff(rng=self.rng)
        self.last_sync_resource_version = ""
        #: Counters, for tests and metrics.
        self.lists = 0
        self.watches = 0
        self.relists_after_expiry = 0

    @property
    def name(self) -> str:
        """``plural`` or ``plural.group`` (for logs)."""
        return f"{self.info.plural}.{self.info.group}" if self.info.group else self.info.plural

    async def run(self) -> None:
        """List and watch until cancelled."""
        need_list = True
        while True:
            try:
                if need_list:
                    await self._list()
                    need_list = False
                started = asyncio.get_running_loop().time()
                events = await self._watch()
                if not events and asyncio.get_running_loop().time() - started < 1.0:
                    # A watch the server ends at once, repeatedly: do not spin.
                    await asyncio.sleep(self.backoff.next())
            except asyncio.CancelledError:
                raise
            except WatchExpired:
                self.relists_after_expiry += 1
                log.info("%s: watch expired at rv %s; relisting", self.name,
                         self.last_sync_resource_version)
                need_list = True
            except Exception as exc:
                delay = self.backoff.next()
                log.warning("%s: list/watch failed (%s); relisting in %.2fs", self.name,
                            exc or type(exc).__name__, delay)
                need_list = True
                await asyncio.sleep(delay)

    async def _list(self) -> None:
        items, rv = await self.client.list_all(
            self.info,
            self.namespace,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
        )
        self.lists += 1
        self.sink.replace(items, rv)
        self.last_sync_resource_version = rv

    def watch_timeout(self) -> int:
        """A random ``timeoutSeconds`` in ``[min_watch_timeout, max_watch_timeout]``."""
        return max(1, round(self.rng.uniform(self.min_watch_timeout, self.max_watch_timeout)))

    async def _watch(self) -> int:
        self.watches += 1
        events = 0
        try:
            stream = self.client.watch(
                self.info,
                self.namespace,
                resource_version=self.last_sync_resource_version,
                timeout_seconds=self.watch_timeout(),
                allow_bookmarks=True,
                label_selector=self.label_selector,
                field_selector=self.field_selector,
            )
            async for event in stream:
                self._handle(event)
                self.backoff.reset()
                events += 1
        except ApiError as exc:
            if exc.code == 410:
                raise WatchExpired(str(exc)) from exc
            raise
        return events

    def _handle(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        obj = event.get("object")
        if kind == "ERROR":
            status = obj if isinstance(obj, dict) else {}
            code = int(status.get("code") or 500)
            if code == 410:
                raise WatchExpired(str(status.get("message") or "Expired"))
            raise ApiError(code, status)
        if not isinstance(obj, dict):
            raise ValueError(f"watch event without an object: {event!r}")
        rv = _rv(obj)
        if kind == "BOOKMARK":
            if rv:
                self.last_sync_resource_version = rv
            return
        if kind not in ("ADDED", "MODIFIED", "DELETED"):
            raise ValueError(f"unknown watch event type {kind!r}")
        self.sink.on_event(kind, obj)
        if rv:
            self.last_sync_resource_version = rv
