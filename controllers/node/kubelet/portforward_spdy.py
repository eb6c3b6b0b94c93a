"""Port-forward over SPDY/3.1 tunnelled in a WebSocket, as kubectl ≥ 1.31 speaks it.

Contract: :func:`serve_spdy` runs on an accepted WebSocket whose binary messages carry a
raw SPDY/3.1 byte stream (subprotocol ``SPDY/3.1+portforward.k8s.io``). As upstream's
kubelet (``pkg/kubelet/cri/streaming/portforward/httpstream.go``):

* every stream must carry ``port`` (1-65535) and ``streamType`` (``error`` or ``data``);
  others are reset; streams pair up by ``requestID`` (without one, by stream id, as for
  old clients). A pair missing its partner after :data:`STREAM_CREATION_TIMEOUT` gets
  ``(conn=…, request=…) timed out waiting for streams`` on its error stream.
* each complete pair is one TCP connection to the pod: bytes are copied both ways, a FIN
  from the client half-closes the pod connection and the pod's EOF sends FIN; a dial
  error is written on the error stream; both streams are closed at the end.
* the session ends when the WebSocket closes (every pod connection is closed) or when the
  pod stops running here (GOAWAY, then the WebSocket closes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from controllers.node.kubelet.forwarding import (
    ForwardError,
    PodContext,
    Target,
    close_writer,
    dial,
    pump,
    until_gone,
)
from controllers.node.kubelet.spdy.session import Session, Stream

__all__ = ["STREAM_CREATION_TIMEOUT", "serve_spdy"]

log = logging.getLogger("controllers.node.kubelet.portforward")

#: Upstream's ``DefaultStreamCreationTimeout``.
STREAM_CREATION_TIMEOUT = 30.0


def _stream_problem(stream: Stream) -> str | None:
    port = stream.header("port")
    if not port:
        return '"port" header is required'
    if not port.isdigit() or not 0 < int(port) < 65536:
        return f"unable to parse {port!r} as a port"
    kind = stream.header("streamType")
    if not kind:
        return '"streamType" header is required'
    if kind not in ("error", "data"):
        return f"invalid stream type {kind!r}"
    return None


class _Pair:
    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self.data: Stream | None = None
        self.error: Stream | None = None
        self.timer: asyncio.TimerHandle | None = None


class _Forwarder:
    def __init__(self, ws: WebSocket, target: Target) -> None:
        self.ws = ws
        self.target = target
        self.session = Session(self._send)
        self.pairs: dict[str, _Pair] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    async def _send(self, data: bytes) -> None:
        await self.ws.send_bytes(data)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def read_transport(self) -> None:
        try:
            while True:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    return
                data = message.get("bytes")
                if data is None:
                    data = (message.get("text") or "").encode()
                await self.session.feed(data)
                if self.session.closed:
                    return
        except (WebSocketDisconnect, RuntimeError, OSError):
            return

    async def accept_streams(self) -> None:
        while (stream := await self.session.accept()) is not None:
            problem = _stream_problem(stream)
            if problem is not None:
                log.info("rejecting port-forward stream %d: %s", stream.id, problem)
                await stream.reset(1)
                continue
            request_id = stream.header("requestID")
            if not request_id:
                request_id = str(stream.id - (2 if stream.header("streamType") == "data"
                                              else 0))
            pair = self.pairs.get(request_id)
            if pair is None:
                pair = self.pairs[request_id] = _Pair(request_id)
                pair.timer = asyncio.get_running_loop().call_later(
                    STREAM_CREATION_TIMEOUT, self._on_timeout, pair)
            kind = stream.header("streamType")
            if getattr(pair, kind) is not None:
                message = (f"error processing stream for request {request_id}: "
                           f"{kind} stream already assigned")
                if pair.error is not None:
                    await self._write_error(pair.error, message)
                await stream.reset(1)
                continue
            setattr(pair, kind, stream)
            if pair.data is not None and pair.error is not None:
                if pair.timer is not None:
                    pair.timer.cancel()
                self.pairs.pop(request_id, None)
                self._spawn(self._forward(pair.data, pair.error))

    def _on_timeout(self, pair: _Pair) -> None:
        self._spawn(self._timed_out(pair))

    async def _timed_out(self, pair: _Pair) -> None:
        if self.pairs.pop(pair.request_id, None) is None:
            return
        if pair.error is not None:
            await self._write_error(pair.error, f"(conn={id(self.session):#x}, request="
                                                f"{pair.request_id}) timed out waiting for "
                                                "streams")
        for stream in (pair.data, pair.error):
            if stream is not None:
                await stream.reset()

    @staticmethod
    async def _write_error(stream: Stream, message: str) -> None:
        with contextlib.suppress(ConnectionResetError):
            await stream.write(message.encode())

    async def _forward(self, data: Stream, error: Stream) -> None:
        port = int(data.header("port"))
        try:
            try:
                reader, writer = await dial(self.target, port)
            except ForwardError as exc:
                log.info("%s", exc)
                await self._write_error(error, str(exc))
                return
            try:
                await self._copy(data, reader, writer)
            finally:
                await close_writer(writer)
        finally:
            for stream in (data, error):
                with contextlib.suppress(ConnectionResetError):
                    await stream.close()

    @staticmethod
    async def _copy(data: Stream, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter) -> None:
        async def upstream() -> None:
            while chunk := await data.read():
                writer.write(chunk)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()

        async def downstream() -> None:
            await pump(reader, data.write)
            await data.close()

        up, down = asyncio.ensure_future(upstream()), asyncio.ensure_future(downstream())
        try:
            await asyncio.gather(up, down)
        except (ConnectionError, OSError):
            pass
        finally:
            for task in (up, down):
                task.cancel()
            await asyncio.gather(up, down, return_exceptions=True)
            # Data the client still sends has nowhere to go: drop it rather than let it
            # hold the session's reader back.
            await data.discard()


async def serve_spdy(ws: WebSocket, ctx: PodContext, target: Target) -> None:
    """Serve SPDY port-forward streams on ``ws`` until either side ends."""
    fwd = _Forwarder(ws, target)
    reading = asyncio.ensure_future(fwd.read_transport())
    accepting = asyncio.ensure_future(fwd.accept_streams())
    gone = asyncio.ensure_future(until_gone(ctx, target))
    try:
        await asyncio.wait({reading, gone}, return_when=asyncio.FIRST_COMPLETED)
        if gone.done():
            log.info("pod %s/%s is gone: ending its port-forward session", target.namespace,
                     target.name)
            with contextlib.suppress(ConnectionResetError, RuntimeError, OSError):
                await fwd.session.goaway()
    finally:
        await fwd.session.close()
        for task in (reading, accepting, gone, *fwd.tasks):
            task.cancel()
        await asyncio.gather(reading, accepting, gone, *fwd.tasks, return_exceptions=True)
        for pair in fwd.pairs.values():
            if pair.timer is not None:
                pair.timer.cancel()
        with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):
            await ws.close(1000)
