"""Watch fan-out load: N watchers on one namespace, M updates of ConfigMaps in it.

``python -m bench.watchload --url URL --namespace NS --name CM`` (run by
:mod:`bench.run` on the load CPU) creates ConfigMaps ``CM-0`` … ``CM-(c-1)``
(one per writer, so that writes never conflict), opens ``--watchers`` plain
HTTP/1.1 connections to ``/api/v1/namespaces/NS/configmaps?watch=1&resourceVersion=RV``
(RV: the newest creation's), using raw asyncio protocols on uvloop with a
hand-written chunked decoder (no HTTP library per frame), waits until every
watch has its response headers, then merge-PATCHes ``--updates`` times over
keep-alive connections: ``--concurrency`` writers (default 1), each sending its
next write as soon as the previous one is acknowledged, optionally paced with
``--interval`` (seconds between write starts).

Each watcher records, for every frame, the resourceVersion it carries and the
moment its bytes arrived (``time.perf_counter`` at ``data_received``). The
writer records when each PATCH was sent and when its answer (carrying the new
resourceVersion) arrived. The delivery latency of an event to a watcher is
*receive time - send time of the write that produced it*; the same from the
write's acknowledgement is reported too (it may be negative: the server
usually pushes the frames before it answers the writer).

Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
import resource
import sys
import time
from array import array
from collections.abc import Sequence
from typing import Any, cast
from urllib.parse import urlsplit

import httpx
import orjson
import uvloop

_RV = re.compile(rb'"resourceVersion":"(\d+)"')
_ERROR = b'"type":"ERROR"'


class WatchConnection(asyncio.Protocol):
    """One streaming watch: decodes chunked frames and stamps their resourceVersions."""

    def __init__(self, request: bytes, loop: asyncio.AbstractEventLoop) -> None:
        self.request = request
        self.transport: asyncio.Transport | None = None
        self.ready: asyncio.Future[int] = loop.create_future()
        self.rvs: array[int] = array("q")
        self.times: array[float] = array("d")
        self.last_rv = 0
        self.frames = 0
        self.error_frames = 0
        self.ended = False
        self.lost = False
        self._raw = bytearray()
        self._body = bytearray()
        self._headers_done = False
        self._chunk_left = 0
        self._need_crlf = False

    # -- asyncio.Protocol ---------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ended:
            self.lost = True
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"watch connection lost: {exc}"))

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        raw = self._raw
        raw += data
        if not self._headers_done:
            end = raw.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(raw[:end]).decode("latin-1")
            del raw[: end + 4]
            self._headers_done = True
            status = int(head.split(" ", 2)[1])
            if status != 200:
                self.ready.set_exception(ConnectionError(f"watch answered {head!r}"))
                return
            self.ready.set_result(status)
        self._decode_chunks()
        body = self._body
        cut = body.rfind(b"\n")
        if cut < 0:
            return
        complete = bytes(body[: cut + 1])
        del body[: cut + 1]
        self.frames += complete.count(b"\n")
        if _ERROR in complete:
            self.error_frames += complete.count(_ERROR)
        for match in _RV.findall(complete):
            rv = int(match)
            self.rvs.append(rv)
            self.times.append(now)
            if rv > self.last_rv:
                self.last_rv = rv

    def _decode_chunks(self) -> None:
        raw = self._raw
        while raw:
            if self._chunk_left:
                take = min(self._chunk_left, len(raw))
                self._body += raw[:take]
                del raw[:take]
                self._chunk_left -= take
                if self._chunk_left == 0:
                    self._need_crlf = True
                continue
            if self._need_crlf:
                if len(raw) < 2:
                    return
                del raw[:2]
                self._need_crlf = False
                continue
            eol = raw.find(b"\r\n")
            if eol < 0:
                return
            size = int(bytes(raw[:eol]).split(b";", 1)[0], 16)
            del raw[: eol + 2]
            if size == 0:
                self.ended = True
                raw.clear()
                return
            self._chunk_left = size

    def close(self) -> None:
        """Hang up (the server sees the client leave)."""
        self.ended = True
        if self.transport is not None:
            self.transport.close()


def _percentiles(values: list[float]) -> dict[str, float]:
    """p50/p90/p99/p99.9/max/mean of ``values`` (seconds) in milliseconds."""
    if not values:
        return {}
    values.sort()
    n = len(values)

    def pct(p: float) -> float:
        return values[max(0, min(n - 1, math.ceil(p * n) - 1))] * 1000

    return {
        "p50_ms": pct(0.50),
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
        "p999_ms": pct(0.999),
        "max_ms": values[-1] * 1000,
        "min_ms": values[0] * 1000,
        "mean_ms": sum(values) / n * 1000,
    }


async def _open_watchers(
    host: str, port: int, request: bytes, count: int, timeout: float
) -> list[WatchConnection]:
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(64)
    conns: list[WatchConnection] = []

    async def open_one() -> None:
        async with gate:
            conn = WatchConnection(request, loop)
            await loop.create_connection(lambda: conn, host, port)
            conns.append(conn)
            await conn.ready

    await asyncio.wait_for(asyncio.gather(*(open_one() for _ in range(count))), timeout)
    return conns


async def _create_configmaps(base: str, coll: str, names: list[str]) -> int:
    """Create the ConfigMaps to update; returns the newest resourceVersion."""
    rv = 0
    async with httpx.AsyncClient(base_url=base, timeout=60.0) as client:
        for name in names:
            body = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": name, "labels": {"app": "bench"}},
                "data": {"counter": "initial", "mode": "fan-out"},
            }
            resp = await client.post(coll, json=body)
            if resp.status_code != 201:
                raise RuntimeError(f"creating ConfigMap {name}: {resp.status_code} {resp.text}")
            rv = max(rv, int(orjson.loads(resp.content)["metadata"]["resourceVersion"]))
    return rv


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Open the watchers, write the updates, wait for delivery, summarise."""
    split = urlsplit(args.url)
    host = split.hostname or "127.0.0.1"
    port = split.port or 80
    coll = f"/api/v1/namespaces/{args.namespace}/configmaps"
    names = [f"{args.name}-{k}" for k in range(args.concurrency)]
    start_rv = await _create_configmaps(args.url, coll, names)
    request = (
        f"GET {coll}?watch=1&resourceVersion={start_rv}"
        f"&timeoutSeconds={args.watch_timeout} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\nAccept: application/json\r\n"
        "User-Agent: kubemu-bench-watch\r\n\r\n"
    ).encode()
    cpu0 = time.process_time()
    t_open = time.perf_counter()
    conns = await _open_watchers(host, port, request, args.watchers, args.connect_timeout)
    open_seconds = time.perf_counter() - t_open

    sent: dict[int, float] = {}
    acked: dict[int, float] = {}
    write_errors = 0
    headers = {"content-type": "application/merge-patch+json", "accept": "application/json"}
    limits = httpx.Limits(max_connections=args.concurrency)
    async with httpx.AsyncClient(timeout=60.0, limits=limits) as client:
        # GETs first, not measured, so the writers' connections are already open.
        await asyncio.gather(*(client.get(f"{args.url}{coll}/{n}") for n in names))
        t_start = time.perf_counter()
        counter = iter(range(args.updates))

        async def writer(name: str) -> None:
            nonlocal write_errors
            patch_url = f"{args.url}{coll}/{name}"
            for i in counter:
                if args.interval > 0:
                    delay = t_start + i * args.interval - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                body = b'{"data":{"counter":"%d"}}' % i
                t_send = time.perf_counter()
                resp = await client.patch(patch_url, content=body, headers=headers)
                t_ack = time.perf_counter()
                if resp.status_code != 200:
                    write_errors += 1
                    continue
                rv = int(orjson.loads(resp.content)["metadata"]["resourceVersion"])
                sent[rv] = t_send
                acked[rv] = t_ack

        await asyncio.gather(*(writer(n) for n in names))
        t_written = time.perf_counter()

    final_rv = max(sent) if sent else 0
    deadline = time.perf_counter() + args.drain_timeout
    while time.perf_counter() < deadline:
        if all(c.last_rv >= final_rv or c.lost for c in conns):
            break
        await asyncio.sleep(0.02)
    t_drained = time.perf_counter()
    for conn in conns:
        conn.close()
    await asyncio.sleep(0.05)

    from_send: list[float] = []
    from_ack: list[float] = []
    delivered = duplicates = unexpected = 0
    last_receive = t_start
    complete_watchers = 0
    for conn in conns:
        seen: set[int] = set()
        for rv, t in zip(conn.rvs, conn.times, strict=True):
            t_sent = sent.get(rv)
            if t_sent is None:
                unexpected += 1
                continue
            if rv in seen:
                duplicates += 1
                continue
            seen.add(rv)
            from_send.append(t - t_sent)
            from_ack.append(t - acked[rv])
            last_receive = max(last_receive, t)
        delivered += len(seen)
        if len(seen) == len(sent):
            complete_watchers += 1
    expected = len(conns) * len(sent)
    write_seconds = t_written - t_start
    delivery_seconds = last_receive - t_start
    return {
        "watchers": args.watchers,
        "connected": len(conns),
        "connect_seconds": open_seconds,
        "updates": args.updates,
        "writes_ok": len(sent),
        "write_errors": write_errors,
        "interval": args.interval,
        "concurrency": args.concurrency,
        "write_seconds": write_seconds,
        "writes_per_second": len(sent) / write_seconds if write_seconds else 0.0,
        "expected": expected,
        "delivered": delivered,
        "lost": expected - delivered,
        "duplicates": duplicates,
        "unexpected": unexpected,
        "error_frames": sum(c.error_frames for c in conns),
        "disconnected": sum(1 for c in conns if c.lost),
        "complete_watchers": complete_watchers,
        "drain_seconds": t_drained - t_written,
        "delivery_seconds": delivery_seconds,
        "events_per_second": delivered / delivery_seconds if delivery_seconds > 0 else 0.0,
        "latency_from_send": _percentiles(from_send),
        "latency_from_ack": _percentiles(from_ack),
        "client_cpu_seconds": time.process_time() - cpu0,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the fan-out and print its JSON summary."""
    parser = argparse.ArgumentParser(prog="python -m bench.watchload")
    parser.add_argument("--url", required=True, help="apiserver base URL")
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--name", required=True,
                        help="ConfigMaps NAME-0 … NAME-(concurrency-1) are created, each "
                        "updated by its own writer")
    parser.add_argument("--watchers", type=int, default=1000)
    parser.add_argument("--updates", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=0.0,
                        help="seconds between write starts (0: next write as soon as the "
                        "previous one is acknowledged)")
    parser.add_argument("--concurrency", type=int, default=1,
                        help="writes in flight at once (default 1)")
    parser.add_argument("--watch-timeout", type=int, default=1800,
                        help="timeoutSeconds of each watch")
    parser.add_argument("--connect-timeout", type=float, default=60.0)
    parser.add_argument("--drain-timeout", type=float, default=60.0,
                        help="seconds to wait, after the last write, for every watcher to "
                        "receive it")
    args = parser.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.watchers + 256
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        result = runner.run(run(args))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
