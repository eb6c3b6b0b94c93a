"""The apiserver's WebSocket relay (:mod:`apiserver.handlers.connect.relay`) between a
real client and a tiny echo "kubelet", both served by uvicorn on loopback sockets.

Checks the subprotocol negotiation (the backend's choice among the client's offer),
binary and text messages both ways unchanged, close codes passed on in both
directions, and a refused backend handshake reaching the client as a Status.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from apiserver.handlers.connect.relay import relay_websocket

KUBELET_PROTOCOLS = ["v4.channel.k8s.io", "channel.k8s.io"]

#: What the echo backend saw of the last client close (code).
seen: dict[str, Any] = {}


async def echo(ws: WebSocket) -> None:
    offered = ws.scope.get("subprotocols") or []
    chosen = next((p for p in offered if p in KUBELET_PROTOCOLS), None)
    await ws.accept(subprotocol=chosen)
    try:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                seen["code"] = message.get("code")
                return
            if message.get("text") == "bye":
                await ws.close(4001, "asked to")
                return
            if message.get("bytes") is not None:
                await ws.send_bytes(b"echo:" + message["bytes"])
            else:
                await ws.send_text("echo:" + str(message.get("text")))
    except WebSocketDisconnect as exc:
        seen["code"] = exc.code


async def refuse(ws: WebSocket) -> None:
    await ws.send_denial_response(PlainTextResponse(
        'container "c" in pod "p" is waiting to start: ContainerCreating\n', status_code=400))


KUBELET = Starlette(routes=[WebSocketRoute("/exec/ns/p/c", echo),
                            WebSocketRoute("/exec/ns/p/waiting", refuse)])


def relay_app(backend: Callable[[], str]) -> Callable[..., Awaitable[None]]:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            suffix = scope["path"].rsplit("/", 1)[1]
            await relay_websocket(scope, receive, send, f"{backend()}/exec/ns/p/{suffix}", None)
    return app


@asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning",
                                           ws="websockets-sansio"))
    task = asyncio.create_task(server._serve([sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"ws://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task


async def scenario() -> None:
    async with serve(KUBELET) as kubelet, serve(relay_app(lambda: kubelet)) as relay:
        offer = [Subprotocol(p) for p in ("v5.channel.k8s.io", "v4.channel.k8s.io")]
        async with connect(f"{relay}/c", subprotocols=offer) as ws:
            assert ws.subprotocol == "v4.channel.k8s.io"
            await ws.send(b"\x00\x01binary")
            assert await ws.recv() == b"echo:\x00\x01binary"
            await ws.send("0text")
            assert await ws.recv() == "echo:0text"
            await ws.send("bye")
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None
            assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4001, "asked to")

        async with connect(f"{relay}/c") as ws:
            assert ws.subprotocol is None
            await ws.close(4002, "client leaves")
        for _ in range(100):
            if "code" in seen:
                break
            await asyncio.sleep(0.05)
        assert seen["code"] == 4002

        with pytest.raises(InvalidStatus) as refused:
            async with connect(f"{relay}/waiting"):
                pass
        response = refused.value.response
        assert response.status_code == 400
        status = json.loads(bytes(response.body or b""))
        assert status["kind"] == "Status" and status["reason"] == "BadRequest"
        assert status["message"] == ('container "c" in pod "p" is waiting to start: '
                                     "ContainerCreating")


def test_relay_negotiates_copies_and_closes() -> None:
    asyncio.run(scenario())
