"""Streaming watches over plain HTTP and WebSocket (upstream ``WatchServer``).

One JSON event per line, every line ending in ``\\n``; headers are flushed at
once. Frames come pre-encoded from the watch cache; whatever is queued is
written in one ``send``. Timers (deadline, bookmarks) post into the same queue
so the loop only ever waits on one thing. Over WebSocket
(:func:`apiserver.handlers.watch_websocket.serve_websocket`) the same stream is cut into one
message per event.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from apiserver.api import errors, metrics, resourceversion
from apiserver.api.resources import ResourceInfo
from apiserver.handlers.encoding import JsonFrames, TableFrames
from apiserver.handlers.http import (
    Request,
    abort_connection,
    warning_headers,
)
from apiserver.printing import column_definitions
from apiserver.registry.store import Store
from apiserver.storage.cache import (
    CachedObject,
    TooOldResourceVersionError,
    Watcher,
)

#: Upstream sends a bookmark about once a minute.
BOOKMARK_INTERVAL = 60.0
#: …and one shortly before the deadline.
BOOKMARK_BEFORE_DEADLINE = 2.0
_DEFAULT_TIMEOUT = 1800.0
_TICK = b""
_TOO_LARGE_WAIT = 3.0
#: About the most bytes written at once; see :func:`_stream`.
_BATCH_BYTES = 256 * 1024
#: How long a watch that is over may take to write its last frames before its
#: connection is dropped.
_CUT_OFF_GRACE = 2.0


@dataclass(frozen=True, slots=True)
class WatchParams:
    """Validated watch parameters."""

    resource_version: str | None
    send_initial_events: bool | None
    allow_bookmarks: bool
    timeout_seconds: float


def watch_params(req: Request) -> WatchParams:
    """Parse and validate the watch-specific query (422 as upstream)."""
    rv = req.query.get("resourceVersion") or None
    match = req.query.get("resourceVersionMatch") or None
    sie_raw = req.query.get("sendInitialEvents")
    sie: bool | None = req.flag("sendInitialEvents") if sie_raw not in (None, "") else None
    if sie is not None:
        if match != "NotOlderThan":
            raise errors.unprocessable(
                "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: "
                "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"
            )
    elif match:
        raise errors.unprocessable(
            "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: "
            "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"
        )
    timeout = req.integer("timeoutSeconds")
    if timeout is None or timeout <= 0:
        seconds = _DEFAULT_TIMEOUT * (1 + random.random())
    else:
        seconds = float(timeout)
    return WatchParams(rv, sie, req.flag("allowWatchBookmarks"), seconds)


def bookmark_frame(
    info: ResourceInfo, revision: int, annotations: dict[str, str] | None = None
) -> bytes:
    """A BOOKMARK event: an empty object of the kind with only its resourceVersion."""
    md: dict[str, Any] = {"resourceVersion": str(revision), "creationTimestamp": None}
    if annotations:
        md["annotations"] = annotations
    obj = {"kind": info.kind, "apiVersion": info.api_version, "metadata": md}
    return orjson.dumps({"type": "BOOKMARK", "object": obj}) + b"\n"


def error_frame(error: errors.ApiError) -> bytes:
    """An ERROR event carrying ``error``'s Status."""
    return orjson.dumps({"type": "ERROR", "object": error.status}) + b"\n"


async def serve_watch(
    req: Request,
    store: Store,
    predicate: Callable[[CachedObject], bool],
    params: WatchParams,
    table: TableFrames | None,
) -> None:
    """Stream a watch until its timeout, the client leaving, or the cache closing it."""
    cache = store.cache
    watch_cache = store.watch_cache
    # A store that converts gets JSON frames and turns them into Tables itself.
    encoder: JsonFrames | TableFrames = (table if table is not None and not store.converts
                                         else JsonFrames(store.info))
    watcher = Watcher(predicate, encoder)
    rv = params.resource_version
    initial: list[bytes] = []
    error: errors.ApiError | None = None
    if rv and rv != "0":
        wanted = resourceversion.parse_query(rv)
        if wanted > watch_cache.revision and not await watch_cache.wait_for_revision(
            wanted, _TOO_LARGE_WAIT
        ):
            raise errors.timeout(
                f"Too large resource version: {wanted}, current: {watch_cache.revision}",
                "ResourceVersionTooLarge",
            )
        if wanted < watch_cache.revision and not params.send_initial_events:
            # History compacted in storage is gone for watches too (410).
            try:
                await watch_cache.ensure_available(wanted)
            except TooOldResourceVersionError as exc:
                error = errors.expired(str(exc))
    # From here until the watcher is registered nothing may await: the cache
    # applies events synchronously, so the snapshot and the live feed meet
    # exactly at the current revision.
    start_revision = watch_cache.revision
    send_initial = params.send_initial_events
    if send_initial is None:
        send_initial = not rv or rv == "0"
    if send_initial:
        for obj in store.initial_objects(predicate):
            initial.append(watcher.initial_frame(obj))
        if params.send_initial_events and params.allow_bookmarks:
            initial.append(
                bookmark_frame(store.info, start_revision, {"k8s.io/initial-events-end": "true"})
            )
    elif rv and rv != "0":
        try:
            for event in cache.events_after(int(rv)):
                delivery = cache.delivery(event, predicate)
                if delivery is not None:
                    initial.append(watcher.frame(*delivery))
        except TooOldResourceVersionError as exc:
            error = errors.expired(str(exc))
    if error is None:
        cache.watchers.add(watcher)
    await req.send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"cache-control", b"no-cache, private"),
                (b"transfer-encoding", b"chunked"),
                *warning_headers(req.warnings),
            ],
        }
    )
    if error is not None:
        await req.send({"type": "http.response.body", "body": error_frame(error),
                        "more_body": True})
        await req.send({"type": "http.response.body", "body": b""})
        return
    await _stream(req, store, watcher, params, initial, table)


def _with_headers(info: ResourceInfo, frame: bytes) -> bytes:
    """The frame's Table with column definitions (first frame of a Table watch)."""
    event = orjson.loads(frame)
    obj = event.get("object")
    if not isinstance(obj, dict) or obj.get("kind") != "Table":
        return frame
    obj["columnDefinitions"] = column_definitions(info)
    return orjson.dumps(event) + b"\n"


async def _stream(
    req: Request,
    store: Store,
    watcher: Watcher,
    params: WatchParams,
    initial: list[bytes],
    table: TableFrames | None,
) -> None:
    """Write the watcher's frames until it closes.

    The deadline and an overflowing queue both end the watch even while a write is
    blocked on a client that stopped reading: the connection is dropped (at once, or
    after :data:`_CUT_OFF_GRACE` if no write was pending), which frees what is buffered
    for it (DESIGN.md "Watch fan-out"). Writes are bounded (:data:`_BATCH_BYTES`), so
    such a client holds about one write's worth of memory until then.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    queue = watcher.queue
    sending = False
    cut = False

    def drop() -> None:
        nonlocal cut
        if not cut:
            cut = True
            if not abort_connection(req.scope) and task is not None:
                task.cancel()  # no way to drop the connection: at least stop waiting

    def cut_off() -> None:
        # A write returns once its bytes are buffered, so a client that stopped reading
        # shows only at the next write: drop a blocked writer now, and give one that is
        # not blocked a moment to end the stream cleanly.
        watcher.close()
        if sending:
            drop()
        else:
            timers.append(loop.call_later(_CUT_OFF_GRACE, drop))

    async def send(body: bytes) -> None:
        nonlocal sending
        sending = True
        try:
            await req.send({"type": "http.response.body", "body": body, "more_body": True})
        finally:
            sending = False

    watcher.on_overflow = cut_off
    timers: list[asyncio.TimerHandle] = [loop.call_later(params.timeout_seconds, cut_off)]
    if params.allow_bookmarks:
        interval = BOOKMARK_INTERVAL
        if params.timeout_seconds > BOOKMARK_BEFORE_DEADLINE:
            timers.append(
                loop.call_later(
                    params.timeout_seconds - BOOKMARK_BEFORE_DEADLINE, queue.put_nowait, _TICK
                )
            )

        def tick() -> None:
            queue.put_nowait(_TICK)
            timers.append(loop.call_later(interval, tick))

        timers.append(loop.call_later(interval, tick))

    async def disconnect() -> None:
        while True:
            message = await req.receive()
            if message["type"] == "http.disconnect":
                watcher.close()
                return

    listener = asyncio.create_task(disconnect())
    headers_due = table is not None
    try:
        initial = await store.present_frames(initial, table)
        if initial and headers_due:
            initial[0] = _with_headers(store.info, initial[0])
            headers_due = False
        info = store.info
        events = (info.group, info.version, info.kind)
        if initial:
            metrics.WATCH_EVENTS.record(events, initial)
        for chunk in _batches(initial):
            await send(chunk)
        while not cut:
            frame = await queue.get()
            batch: list[bytes] = []
            size = 0
            done = False
            while True:
                if frame is None:
                    done = True
                    break
                if frame == _TICK:
                    frame = bookmark_frame(store.info, store.watch_cache.revision)
                elif headers_due and not store.converts:
                    frame = _with_headers(store.info, frame)
                    headers_due = False
                batch.append(frame)
                size += len(frame)
                # Bounded writes: a client that stops reading holds one batch in the
                # server's write buffer, not everything queued for it.
                if queue.empty() or size >= _BATCH_BYTES:
                    break
                frame = queue.get_nowait()
            if batch and store.converts:
                batch = await store.present_frames(batch, table)
                if headers_due:
                    index = next((i for i, f in enumerate(batch)
                                  if not f.startswith(b'{"type":"BOOKMARK"')), None)
                    if index is not None:
                        batch[index] = _with_headers(store.info, batch[index])
                        headers_due = False
            if batch:
                metrics.WATCH_EVENTS.record(events, batch)
                await send(b"".join(batch))
            if done:
                break
        if not cut:
            sending = True
            await req.send({"type": "http.response.body", "body": b""})
    except OSError:
        pass
    except asyncio.CancelledError:
        if not cut or task is None:
            raise
        task.uncancel()
    finally:
        watcher.on_overflow = None
        watcher.close()
        store.cache.watchers.discard(watcher)
        for timer in timers:
            timer.cancel()
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await listener


def _batches(frames: list[bytes]) -> Iterator[bytes]:
    """``frames`` joined into writes of about :data:`_BATCH_BYTES` (one frame at least)."""
    batch: list[bytes] = []
    size = 0
    for frame in frames:
        batch.append(frame)
        size += len(frame)
        if size >= _BATCH_BYTES:
            yield b"".join(batch)
            batch, size = [], 0
    if batch:
        yield b"".join(batch)
