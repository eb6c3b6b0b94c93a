"""The apiserver's WebSocket protocol hands non-token subprotocols to the application."""

from __future__ import annotations

import asyncio
import socket

import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from apiserver.handlers.connect.relay import tunnel_subprotocols
from apiserver.serving import ApiServerWebSocketProtocol
from tests.support import wsclient


async def _endpoint(ws: WebSocket) -> None:
    offered = list(ws.scope["subprotocols"])
    await ws.accept(subprotocol=offered[0] if offered else None)
    await ws.send_text(",".join(offered))
    await ws.close()


def test_kubectl_tunnel_subprotocol_is_offered_to_the_app_and_answered() -> None:
    async def main() -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(
            Starlette(routes=[WebSocketRoute("/ws", _endpoint)]), lifespan="off",
            log_level="critical", ws=ApiServerWebSocketProtocol))
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            await asyncio.sleep(0.01)
        try:
            for offered in (["SPDY/3.1+portforward.k8s.io"],
                            ["v5.channel.k8s.io", "v4.channel.k8s.io"]):
                async with wsclient.connect("127.0.0.1", port, "/ws", offered) as ws:
                    assert ws.subprotocol == offered[0]
                    assert await ws.recv() == ",".join(offered)
        finally:
            server.should_exit = True
            await task

    asyncio.run(asyncio.wait_for(main(), 30))


def test_the_relay_strips_the_spdy_tunnel_prefix_towards_the_kubelet() -> None:
    offered = ["SPDY/3.1+portforward.k8s.io", "v4.channel.k8s.io", "SPDY/3.1+other"]
    towards, names = tunnel_subprotocols(offered)
    assert towards == ["portforward.k8s.io", "v4.channel.k8s.io", "SPDY/3.1+other"]
    assert names == {"portforward.k8s.io": "SPDY/3.1+portforward.k8s.io"}
