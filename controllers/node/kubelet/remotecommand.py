"""One remote-command stream (exec or attach) on a Starlette WebSocket.

:func:`parse_options` reads the request's streams (the kubelet's ``input``/``output``/
``error``/``tty`` parameters, or the apiserver's ``stdin``/``stdout``/``stderr``/``tty``
when a request is relayed with its query unchanged; only the first value counts and ``0``
or ``false`` is false) and the ``command``. :func:`deny` refuses a request before the
upgrade with an HTTP status and a plain-text message, as the kubelet does.
:class:`RemoteCommandStream` negotiates the subprotocol (:mod:`.channels`), writes the
ready signal (an empty payload on the lowest requested output channel), and sends and
receives channel frames until :meth:`RemoteCommandStream.finish` writes the final Status
on the error channel and closes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from starlette.datastructures import QueryParams
from starlette.responses import PlainTextResponse
from starlette.websockets import WebSocket, WebSocketDisconnect

from controllers.node.kubelet.channels import (
    ERROR,
    PROTOCOLS,
    STDERR,
    STDOUT,
    Frame,
    Protocol,
    ProtocolError,
    negotiate,
    unsupported_message,
)

__all__ = ["Options", "RemoteCommandStream", "deny", "parse_options"]

#: Seconds a final Status write may take before the connection is dropped (upstream: 10 s).
STATUS_WRITE_TIMEOUT = 10.0


@dataclass(frozen=True)
class Options:
    """The streams a client asked for, and the command (exec only)."""

    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool
    command: list[str] = field(default_factory=list)


def _flag(query: QueryParams, *names: str) -> bool:
    for name in names:
        values = query.getlist(name)
        if values:
            return values[0].lower() not in ("0", "false")
    return False


def parse_options(query: QueryParams, *, exec_: bool) -> Options | str:
    """The request's :class:`Options`, or the kubelet's 400 message for bad ones."""
    tty = _flag(query, "tty")
    opts = Options(stdin=_flag(query, "input", "stdin"),
                   stdout=_flag(query, "output", "stdout"),
                   # With a TTY, stderr is merged into stdout (the kubelet drops it).
                   stderr=_flag(query, "error", "stderr") and not tty,
                   tty=tty, command=query.getlist("command"))
    if not (opts.stdin or opts.stdout or opts.stderr or _flag(query, "error", "stderr")):
        return "you must specify at least 1 of stdin, stdout, stderr"
    if exec_ and not opts.command:
        return "you must specify at least one command for the container"
    return opts


async def deny(websocket: WebSocket, status: int, message: str) -> None:
    """Refuse the upgrade with ``status`` and ``message`` (plain text, like the kubelet)."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(PlainTextResponse(message, status_code=status))
    else:
        await websocket.close(code=1008, reason=message[:120])


class RemoteCommandStream:
    """The server end of one accepted exec/attach WebSocket."""

    def __init__(self, websocket: WebSocket, protocol: Protocol, opts: Options) -> None:
        self.websocket = websocket
        self.protocol = protocol
        self.opts = opts
        self.closed = False
        self._lock = asyncio.Lock()

    @classmethod
    async def accept(cls, websocket: WebSocket, opts: Options) -> RemoteCommandStream | None:
        """Negotiate, accept and write the ready signal; None when the client offered no
        supported subprotocol (refused with 400, upstream's text)."""
        offered = list(websocket.scope.get("subprotocols") or [])
        protocol = negotiate(offered)
        if protocol is None:
            await deny(websocket, 400, unsupported_message(offered, PROTOCOLS))
            return None
        await websocket.accept(subprotocol=protocol.name or None)
        stream = cls(websocket, protocol, opts)
        ready = STDOUT if opts.stdout else STDERR if opts.stderr else ERROR
        await stream.send(ready, b"")
        return stream

    async def send(self, channel: int, data: bytes) -> bool:
        """Write ``data`` on ``channel``; False once the client has gone."""
        if self.closed:
            return False
        message = self.protocol.encode(channel, data)
        try:
            async with self._lock:
                if isinstance(message, str):
                    await self.websocket.send_text(message)
                else:
                    await self.websocket.send_bytes(message)
        except (WebSocketDisconnect, RuntimeError, OSError):
            self.closed = True
            return False
        return True

    async def frames(self) -> AsyncIterator[Frame]:
        """The client's frames until it disconnects (or breaks the protocol)."""
        while not self.closed:
            try:
                message = await self.websocket.receive()
            except (WebSocketDisconnect, RuntimeError, OSError):
                break
            if message["type"] == "websocket.disconnect":
                break
            raw = message.get("bytes")
            if raw is None:
                raw = message.get("text") or ""
            try:
                frame = self.protocol.decode(raw)
            except ProtocolError:
                break
            if frame is not None:
                yield frame
        self.closed = True

    async def finish(self, status: dict[str, object]) -> None:
        """Write the final ``status`` on the error channel, then close the connection."""
        payload = self.protocol.status_message(status)
        with contextlib.suppress(TimeoutError):
            if payload is not None:
                await asyncio.wait_for(self.send(ERROR, payload), STATUS_WRITE_TIMEOUT)
        await self.close()

    async def close(self, code: int = 1000) -> None:
        """Close the WebSocket (once)."""
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            await self.websocket.close(code)
