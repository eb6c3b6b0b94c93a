"""The kubelet's ``/portForward/{namespace}/{pod}``: TCP to a pod over a WebSocket.

Contract (upstream: ``pkg/kubelet/cri/streaming/portforward/websocket.go`` and
``httpstream.go``, facts in ``upstream-facts-2.md`` §2):

* A WebSocket offering the subprotocol ``portforward.k8s.io`` (what the apiserver offers
  when kubectl ≥ 1.31 asks it for ``SPDY/3.1+portforward.k8s.io``: it strips the prefix,
  as upstream's apiserver does before it upgrades to SPDY towards the kubelet) or the
  prefixed name itself gets the SPDY/3.1 session of :mod:`.portforward_spdy` inside the
  WebSocket.
* Otherwise the channel protocol the Python client speaks: subprotocol
  ``v4.channel.k8s.io`` (binary) or ``v4.base64.channel.k8s.io``, or none at all
  (binary); others fail the handshake with 400 ``requested protocol(s) are not supported:
  …``. Ports come from the ``port`` query parameter (what the apiserver sends the kubelet;
  ``ports``, the apiserver's name, is read when ``port`` is absent), each value split on
  commas, 1-65535. Port ``i`` uses channel ``2i`` for data and ``2i+1`` for errors; the
  first message on every channel is the port as two little-endian bytes. Each port is one
  TCP connection to the pod, opened at once; a dial error is written on its error channel.
  The WebSocket closes when every port's connection has ended, when the client closes it
  (every pod connection is closed) or when the pod stops running here.
* Errors before the upgrade are plain text, as the kubelet writes them: 404 ``pod does not
  exist``, 400 for bad ports. A request that is not a WebSocket (a plain ``Upgrade:
  SPDY/3.1`` POST) is refused with 400: SPDY is served inside the WebSocket tunnel only.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from controllers.node.kubelet.forwarding import (
    ForwardError,
    PodContext,
    Target,
    close_writer,
    dial,
    find_target,
    pump,
    until_gone,
)
from controllers.node.kubelet.portforward_spdy import serve_spdy

__all__ = ["PROTOCOLS", "parse_ports", "routes"]

log = logging.getLogger("controllers.node.kubelet.portforward")

V4_BINARY = "v4.channel.k8s.io"
V4_BASE64 = "v4.base64.channel.k8s.io"
#: The SPDY port-forward protocol's name (upstream's ``X-Stream-Protocol-Version``).
SPDY_PROTOCOL = "portforward.k8s.io"
SPDY_TUNNEL = "SPDY/3.1+" + SPDY_PROTOCOL
PROTOCOLS = (V4_BINARY, V4_BASE64, SPDY_PROTOCOL, SPDY_TUNNEL)


def parse_ports(values: list[str], name: str = "port") -> list[int]:
    """The ports of the ``port`` query values; ``ValueError`` with upstream's text."""
    if not values:
        raise ValueError(f'query parameter "{name}" is required')
    ports = []
    for value in values:
        if not value:
            raise ValueError(f'query parameter "{name}" cannot be empty')
        for part in value.split(","):
            if not part.isdigit() or int(part) > 65535:
                raise ValueError(f'unable to parse "{value}" as a port: strconv.ParseUint: '
                                 f'parsing "{part}": '
                                 + ("value out of range" if part.isdigit()
                                    else "invalid syntax"))
            if int(part) < 1:
                raise ValueError(f'port "{value}" must be > 0')
            ports.append(int(part))
    return ports


def _tunnel_protocol(offered: list[str]) -> str | None:
    for protocol in offered:
        if protocol == SPDY_PROTOCOL or (protocol.startswith("SPDY/3.1+")
                                         and protocol.endswith("portforward.k8s.io")):
            return protocol
    return None


class _Channels:
    """The v4 channel framing (binary or base64) of one WebSocket, sends serialised."""

    def __init__(self, ws: WebSocket, base64_mode: bool) -> None:
        self.ws = ws
        self.base64 = base64_mode
        self.lock = asyncio.Lock()

    async def send(self, channel: int, payload: bytes) -> None:
        async with self.lock:
            if self.base64:
                await self.ws.send_text(chr(ord("0") + channel)
                                        + base64.b64encode(payload).decode())
            else:
                await self.ws.send_bytes(bytes([channel]) + payload)

    def decode(self, message: Mapping[str, Any]) -> tuple[int, bytes] | None:
        raw, text = message.get("bytes"), message.get("text")
        data = raw if isinstance(raw, bytes) else text.encode() if isinstance(text, str) else b""
        if self.base64:
            if not data:
                return None
            try:
                return data[0] - ord("0"), base64.b64decode(data[1:], validate=True)
            except ValueError:
                return None
        if not data:
            return None
        return data[0], data[1:]


async def _serve_channels(ws: WebSocket, ctx: PodContext, target: Target, ports: list[int],
                          channels: _Channels) -> None:
    for i, port in enumerate(ports):
        prefix = port.to_bytes(2, "little")
        await channels.send(2 * i, prefix)
        await channels.send(2 * i + 1, prefix)
    writers: dict[int, asyncio.StreamWriter] = {}
    pumps: list[asyncio.Task[None]] = []
    for i, port in enumerate(ports):
        try:
            reader, writer = await dial(target, port)
        except ForwardError as exc:
            log.info("%s", exc)
            await channels.send(2 * i + 1, str(exc).encode())
            continue
        writers[i] = writer

        async def send_data(data: bytes, channel: int = 2 * i) -> None:
            await channels.send(channel, data)

        pumps.append(asyncio.ensure_future(pump(reader, send_data)))

    async def receive() -> None:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            decoded = channels.decode(message)
            if decoded is None:
                continue
            channel, payload = decoded
            writer = writers.get(channel // 2) if channel % 2 == 0 else None
            if writer is not None and payload and not writer.is_closing():
                writer.write(payload)
                await writer.drain()

    reading = asyncio.ensure_future(receive())
    gone = asyncio.ensure_future(until_gone(ctx, target))
    all_pumps: asyncio.Future[Any] = asyncio.ensure_future(
        asyncio.gather(*pumps, return_exceptions=True))
    try:
        await asyncio.wait({reading, gone, all_pumps}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (reading, gone, all_pumps, *pumps):
            task.cancel()
        await asyncio.gather(reading, gone, all_pumps, *pumps, return_exceptions=True)
        for writer in writers.values():
            await close_writer(writer)


async def _port_forward(ws: WebSocket, ctx: PodContext) -> None:
    namespace, name = ws.path_params["namespace"], ws.path_params["pod"]
    target = find_target(ctx, namespace, name)
    if target is None:
        await ws.send_denial_response(PlainTextResponse("pod does not exist", 404))
        return
    offered = list(ws.scope.get("subprotocols") or [])
    tunnel = _tunnel_protocol(offered)
    if tunnel is not None:
        await ws.accept(subprotocol=tunnel)
        await serve_spdy(ws, ctx, target)
        return
    chosen = next((p for p in offered if p in (V4_BINARY, V4_BASE64)), None)
    if offered and chosen is None:
        await ws.send_denial_response(PlainTextResponse(
            f"unable to upgrade websocket connection: requested protocol(s) are not "
            f"supported: [{' '.join(offered)}]; supports [{' '.join(PROTOCOLS)}]", 400))
        return
    query = ws.query_params
    name_used = "port" if "port" in query or "ports" not in query else "ports"
    try:
        ports = parse_ports(query.getlist(name_used), name_used)
    except ValueError as exc:
        await ws.send_denial_response(PlainTextResponse(str(exc), 400))
        return
    await ws.accept(subprotocol=chosen)
    try:
        await _serve_channels(ws, ctx, target, ports, _Channels(ws, chosen == V4_BASE64))
    except (WebSocketDisconnect, OSError, RuntimeError):
        pass
    finally:
        with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):
            await ws.close(1000)


async def _refuse_plain_upgrade(request: Request) -> Response:
    return PlainTextResponse(
        "unable to upgrade connection: port-forward is served over WebSocket "
        f"(subprotocols {', '.join(PROTOCOLS)})", 400)


def routes(ctx: PodContext) -> list[BaseRoute]:
    """``/portForward/{namespace}/{pod}``: WebSocket, and the refusal of plain SPDY."""

    async def endpoint(ws: WebSocket) -> None:
        await _port_forward(ws, ctx)

    return [
        WebSocketRoute("/portForward/{namespace}/{pod}", endpoint),
        Route("/portForward/{namespace}/{pod}", _refuse_plain_upgrade,
              methods=["GET", "POST"]),
    ]
