"""The document the console pushes, kept per namespace: rebuilt where it changed,
coalesced, versioned, sent to each page as a snapshot first and as deltas after.

The hub holds each namespace's part of the document and the nodes' part as encoded JSON.
Informer handlers and the metrics poller call :meth:`Hub.mark` with what changed (the
namespaces an event touched, or the nodes; cheap, synchronous). :meth:`Hub.run` waits for
a mark, lets further marks arrive for ``coalesce`` seconds (or as long as the last rebuild
took, if longer) and rebuilds only the marked parts from its :class:`Source`; when any of
them encodes differently from before, ``version`` goes up by one and the version's
*change* (the namespaces and whether the nodes changed) is kept for the last ``history``
versions.

Each page's stream (:meth:`Hub.updates`) gets, as :class:`Event` s:

* ``snapshot``: the whole document ``{"version", "nodes", "namespaces": [...by name]}``,
  first, and whenever the stream fell more than ``history`` versions behind;
* ``delta``: ``{"version", "namespaces": [the changed namespaces' parts, by name],
  "removed": [names], "nodes"?}`` (``nodes`` only when they changed), covering every
  version since the one the stream sent last, so a slow reader skips intermediate states
  instead of queueing them.

Event ids are ``EPOCH-VERSION``: ``EPOCH`` names this hub (a restarted console has
another), ``VERSION`` increases. A stream resumed with a ``Last-Event-ID`` of this epoch
within ``history`` versions continues with a delta; any other id gets a snapshot.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

__all__ = ["Event", "Hub", "Source"]


class Source(Protocol):
    """Where the hub reads the document's parts from (:class:`~.snapshot.CacheView`)."""

    def namespace_names(self) -> Iterable[str]:
        """Every namespace the page shows now."""
        ...

    def namespace(self, name: str) -> dict[str, Any] | None:
        """``name``'s part of the document; None when the page does not show it."""
        ...

    def nodes(self) -> list[dict[str, Any]]:
        """The nodes' part."""
        ...


@dataclass(frozen=True)
class Event:
    """One event of a stream: ``kind`` is ``snapshot`` or ``delta``, ``data`` JSON."""

    kind: str
    id: str
    data: bytes


@dataclass(frozen=True)
class _Change:
    version: int
    namespaces: frozenset[str]
    nodes: bool


class Hub:
    """The current document, per part, and the last ``history`` versions' changes."""

    def __init__(self, source: Source, coalesce: float = 0.1, history: int = 256) -> None:
        self.source = source
        self.coalesce = coalesce
        self.epoch = secrets.token_hex(4)
        self.version = 0
        #: Seconds the last rebuild took (wall clock) and its CPU seconds.
        self.last_build = 0.0
        self.last_build_cpu = 0.0
        #: Called after each rebuild with its seconds and the namespaces it read.
        self.on_rebuild: Callable[[float, int], None] | None = None
        self._parts: dict[str, bytes] = {}
        self._nodes = b"[]"
        self._changes: deque[_Change] = deque(maxlen=history)
        self._pending: set[str] = set()
        self._pending_nodes = False
        self._pending_all = True
        self._snapshot: tuple[int, bytes] = (-1, b"")
        self._deltas: dict[int, bytes] = {}  # base version -> delta to self.version
        self._dirty = asyncio.Event()
        self._changed = asyncio.Condition()

    # -- marks and rebuilds ------------------------------------------------------

    def mark(self, namespaces: Iterable[str] = (), nodes: bool = False) -> None:
        """``namespaces`` (and the nodes, when ``nodes``) changed."""
        self._pending.update(namespaces)
        self._pending_nodes = self._pending_nodes or nodes
        self._dirty.set()

    def mark_all(self) -> None:
        """Everything may have changed (the next rebuild reads every namespace)."""
        self._pending_all = True
        self._dirty.set()

    def rebuild(self) -> bool:
        """Rebuild the marked parts now; True when a new version came of it."""
        started, cpu = time.perf_counter(), time.process_time()
        names, self._pending = self._pending, set()
        nodes, self._pending_nodes = self._pending_nodes or self._pending_all, False
        if self._pending_all:
            names.update(self._parts)
            names.update(self.source.namespace_names())
            self._pending_all = False
        changed = set()
        for name in names:
            doc = self.source.namespace(name)
            if doc is None:
                if self._parts.pop(name, None) is not None:
                    changed.add(name)
                continue
            encoded = orjson.dumps(doc)
            if self._parts.get(name) != encoded:
                self._parts[name] = encoded
                changed.add(name)
        nodes_changed = False
        if nodes:
            encoded = orjson.dumps(self.source.nodes())
            nodes_changed = encoded != self._nodes
            self._nodes = encoded
        self.last_build = time.perf_counter() - started
        self.last_build_cpu = time.process_time() - cpu
        if self.on_rebuild is not None:
            self.on_rebuild(self.last_build, len(names))
        if not changed and not nodes_changed:
            return False
        self.version += 1
        self._changes.append(_Change(self.version, frozenset(changed), nodes_changed))
        self._deltas.clear()
        return True

    async def refresh(self) -> None:
        """:meth:`rebuild`, and wake the streams when a new version came of it."""
        if self.rebuild():
            async with self._changed:
                self._changed.notify_all()

    async def run(self) -> None:
        """Rebuild on marks, coalesced, until cancelled. The window is ``coalesce``, or as
        long as the last rebuild took when that was longer, so a large cluster's rebuilds
        take at most about half of the process's time."""
        await self.refresh()
        while True:
            await self._dirty.wait()
            await asyncio.sleep(max(self.coalesce, self.last_build))
            self._dirty.clear()
            await self.refresh()

    # -- documents ---------------------------------------------------------------

    def event_id(self, version: int) -> str:
        """The SSE id of ``version``."""
        return f"{self.epoch}-{version}"

    def resume_version(self, last_event_id: str | None) -> int | None:
        """The version a stream resumed with ``last_event_id`` has; None when it needs a
        snapshot (no id, another epoch, or too old to continue with a delta)."""
        epoch, _, version = (last_event_id or "").strip().rpartition("-")
        if epoch != self.epoch or not version.isdigit():
            return None
        base = int(version)
        if base > self.version or self.version - base > len(self._changes):
            return None
        return base

    def snapshot(self) -> bytes:
        """The whole document of the current version."""
        if self._snapshot[0] != self.version:
            parts = b",".join(self._parts[name] for name in sorted(self._parts))
            self._snapshot = (self.version, b'{"version":%d,"nodes":%s,"namespaces":[%s]}'
                              % (self.version, self._nodes, parts))
        return self._snapshot[1]

    def delta(self, base: int) -> bytes:
        """What changed from version ``base`` to the current one (``base`` from
        :meth:`resume_version` or sent by this hub within ``history`` versions)."""
        cached = self._deltas.get(base)
        if cached is not None:
            return cached
        names: set[str] = set()
        nodes = False
        for change in reversed(self._changes):
            if change.version <= base:
                break
            names.update(change.namespaces)
            nodes = nodes or change.nodes
        ordered = sorted(names)
        parts = b",".join(self._parts[n] for n in ordered if n in self._parts)
        removed = orjson.dumps([n for n in ordered if n not in self._parts])
        body = b'{"version":%d,"namespaces":[%s],"removed":%s%s}' % (
            self.version, parts, removed, b',"nodes":' + self._nodes if nodes else b"")
        self._deltas[base] = body
        return body

    # -- streams -----------------------------------------------------------------

    async def _wait_past(self, version: int, timeout: float) -> bool:
        """Wait until ``version`` is passed; False after ``timeout`` seconds without."""
        async with self._changed:
            try:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: self.version > version), timeout)
            except TimeoutError:
                return False
        return True

    async def updates(self, last_event_id: str | None = None,
                      heartbeat: float = 15.0) -> AsyncIterator[Event | None]:
        """A snapshot (unless ``last_event_id`` resumes, see the module docstring), then a
        delta whenever the version moved past the one sent last; None every ``heartbeat``
        seconds without a change (the stream sends a comment, so proxies keep it open)."""
        sent = self.resume_version(last_event_id)
        while True:
            if sent is None and self.version > 0:
                sent = self.version
                yield Event("snapshot", self.event_id(sent), self.snapshot())
                continue
            if sent is not None and self.version > sent:
                if self.version - sent > len(self._changes):
                    sent = None  # fell behind the history: start over
                    continue
                base, sent = sent, self.version
                yield Event("delta", self.event_id(sent), self.delta(base))
                continue
            if not await self._wait_past(sent or 0, heartbeat):
                yield None
