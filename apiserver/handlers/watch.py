"""Streaming watches over plain HTTP (upstream ``WatchServer``).

One JSON event per line, every line ending in ``\\n``; headers are flushed at
once. Frames come pre-encoded from the watch cache; whatever is queued is
written in one ``send``. Timers (deadline, bookmarks) post into the same queue
so the loop only ever waits on one thing.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from apiserver.api import errors
from apiserver.api.resources import ResourceInfo
from apiserver.handlers.encoding import JsonFrames, TableFrames
from apiserver.handlers.http import Request, warning_headers
from apiserver.printing import column_definitions
from apiserver.registry.store import Store
from apiserver.storage.cache import (
    ADDED,
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
    encoder: JsonFrames | TableFrames = table if table is not None else JsonFrames()
    watcher = Watcher(predicate, encoder)
    rv = params.resource_version
    initial: list[bytes] = []
    error: errors.ApiError | None = None
    if rv and rv != "0":
        try:
            wanted = int(rv)
        except ValueError:
            raise errors.bad_request(f'Invalid value "{rv}" for resourceVersion') from None
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
            initial.append(watcher.frame(ADDED, obj))
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
    loop = asyncio.get_running_loop()
    queue = watcher.queue
    timers: list[asyncio.TimerHandle] = [loop.call_later(params.timeout_seconds, watcher.close)]
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
        if initial and headers_due:
            initial[0] = _with_headers(store.info, initial[0])
            headers_due = False
        if initial:
            await req.send({"type": "http.response.body", "body": b"".join(initial),
                            "more_body": True})
        while True:
            frame = await queue.get()
            batch: list[bytes] = []
            done = False
            while True:
                if frame is None:
                    done = True
                    break
                if frame == _TICK:
                    batch.append(bookmark_frame(store.info, store.watch_cache.revision))
                elif headers_due:
                    batch.append(_with_headers(store.info, frame))
                    headers_due = False
                else:
                    batch.append(frame)
                if queue.empty():
                    break
                frame = queue.get_nowait()
            if batch:
                await req.send({"type": "http.response.body", "body": b"".join(batch),
                                "more_body": True})
            if done:
                break
        await req.send({"type": "http.response.body", "body": b""})
    except OSError:
        pass
    finally:
        watcher.close()
        store.cache.watchers.discard(watcher)
        for timer in timers:
            timer.cancel()
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await listener
