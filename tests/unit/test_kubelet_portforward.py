"""The kubelet's /portForward on uvicorn, against a real TCP "pod" on loopback.

The v4 channel protocol is driven with the ``websockets`` client; the SPDY tunnel with a
minimal SPDY client built on the framer (kubectl itself drives it in the integration
tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
import websockets
from starlette.applications import Starlette

from controllers.node.kubelet import portforward
from controllers.node.kubelet.forwarding import Target, until_gone
from controllers.node.kubelet.spdy.frames import (
    DataFrame,
    Frame,
    Framer,
    GoAway,
    Ping,
    RstStream,
    SynReply,
    SynStream,
)
from tests.support import wsclient

#: What the apiserver offers the kubelet for kubectl's ``SPDY/3.1+portforward.k8s.io``.
TUNNEL = "portforward.k8s.io"


@dataclass
class Runner:
    ip: str
    uid: str = "uid-1"
    terminating: bool = False


@dataclass
class Node:
    runners: dict[str, Runner] = field(default_factory=dict)


@dataclass
class Pod:
    """An upper-casing TCP server; counts the connections it holds open."""

    port: int = 0
    open: int = 0
    served: int = 0
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open += 1
        self.served += 1
        try:
            while data := await reader.read(65536):
                if data == b"bye":
                    break
                writer.write(data.upper())
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
            self.open -= 1
            self.closed.set()


@contextlib.asynccontextmanager
async def serving() -> AsyncIterator[tuple[int, Pod, Node]]:
    pod = Pod()
    pod_server = await asyncio.start_server(pod.handle, "127.0.0.1", 0)
    pod.port = pod_server.sockets[0].getsockname()[1]
    node = Node({"default/web-1": Runner("127.0.0.1")})
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    app = Starlette(routes=portforward.routes(node))
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="critical",
                                           ws="websockets-sansio"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield port, pod, node
    finally:
        server.should_exit = True
        await task
        pod_server.close()


def run(coro: Any) -> None:
    asyncio.run(asyncio.wait_for(coro, 60))


def _refused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- v4 channels --------------------------------------------------------------------------


def test_v4_channels_prefix_forward_and_close_when_the_pod_closes() -> None:
    async def main() -> None:
        async with serving() as (port, pod, _node):
            url = f"ws://127.0.0.1:{port}/portForward/default/web-1?port={pod.port}"
            async with websockets.connect(url, subprotocols=["v4.channel.k8s.io"]) as ws:
                assert ws.subprotocol == "v4.channel.k8s.io"
                prefix = pod.port.to_bytes(2, "little")
                assert [await ws.recv(), await ws.recv()] == [b"\x00" + prefix,
                                                              b"\x01" + prefix]
                await ws.send(b"\x00hello")
                assert await ws.recv() == b"\x00HELLO"
                await ws.send(b"\x00bye")
                with pytest.raises(websockets.ConnectionClosedOK):
                    await ws.recv()
    run(main())


def test_v4_base64_and_several_ports() -> None:
    async def main() -> None:
        async with serving() as (port, pod, _node):
            refused = _refused_port()
            url = (f"ws://127.0.0.1:{port}/portForward/default/web-1"
                   f"?port={pod.port},{refused}")
            async with websockets.connect(url, subprotocols=["v4.base64.channel.k8s.io"]) as ws:
                got = [await ws.recv() for _ in range(5)]
                assert isinstance(got[0], str) and got[0][0] == "0"
                assert got[4].startswith("3")
                import base64
                error = base64.b64decode(got[4][1:]).decode()
                assert error == (f"error forwarding port {refused} to pod web-1_default, uid "
                                 f"uid-1: dial tcp4 127.0.0.1:{refused}: connect: "
                                 "connection refused")
                await ws.send("0" + base64.b64encode(b"abc").decode())
                assert await ws.recv() == "0" + base64.b64encode(b"ABC").decode()
    run(main())


def test_errors_before_the_upgrade() -> None:
    async def main() -> None:
        async with serving() as (port, _pod, _node):
            base = f"ws://127.0.0.1:{port}/portForward/default"
            cases = [(f"{base}/nope?port=1", 404, "pod does not exist"),
                     (f"{base}/web-1", 400, 'query parameter "port" is required'),
                     (f"{base}/web-1?port=0", 400, 'port "0" must be > 0'),
                     (f"{base}/web-1?port=x", 400, 'unable to parse "x" as a port')]
            for url, status, text in cases:
                with pytest.raises(websockets.InvalidStatus) as info:
                    async with websockets.connect(url):
                        pass
                assert info.value.response.status_code == status
                assert text in info.value.response.body.decode()
            with pytest.raises(websockets.InvalidStatus) as info:
                async with websockets.connect(f"{base}/web-1?port=1",
                                              subprotocols=["v5.channel.k8s.io"]):
                    pass
            assert "requested protocol(s) are not supported" in (
                info.value.response.body.decode())
    run(main())


def test_closing_the_client_mid_stream_closes_the_pod_connection() -> None:
    async def main() -> None:
        async with serving() as (port, pod, _node):
            url = f"ws://127.0.0.1:{port}/portForward/default/web-1?port={pod.port}"
            async with websockets.connect(url, subprotocols=["v4.channel.k8s.io"]) as ws:
                await ws.recv(), await ws.recv()
                await ws.send(b"\x00x")
                assert await ws.recv() == b"\x00X"
                assert pod.open == 1
            await pod.closed.wait()
            assert pod.open == 0
    run(main())


# -- SPDY in a WebSocket ------------------------------------------------------------------


class SpdyClient:
    """The client end of a SPDY session in a WebSocket (odd stream ids, as kubectl)."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.framer = Framer()
        self.pending: list[Frame] = []

    async def send(self, frame: Frame) -> None:
        await self.ws.send(self.framer.encode(frame))

    async def next(self) -> Frame:
        while not self.pending:
            self.pending += self.framer.feed(await self.ws.recv())
        return self.pending.pop(0)

    async def open_pair(self, request: int, port: int) -> tuple[int, int]:
        error, data = 4 * request + 1, 4 * request + 3
        for sid, kind in ((error, "error"), (data, "data")):
            await self.send(SynStream(sid, {"streamType": kind, "port": str(port),
                                            "requestID": str(request)}))
        return error, data


def test_spdy_tunnel_forwards_concurrent_connections() -> None:
    async def main() -> None:
        async with serving() as (port, pod, _node):
            path = "/portForward/default/web-1"
            async with wsclient.connect("127.0.0.1", port, path, [TUNNEL]) as ws:
                assert ws.subprotocol == TUNNEL
                client = SpdyClient(ws)
                streams = [await client.open_pair(i, pod.port) for i in range(3)]
                await client.send(Ping(1))
                for i, (_error, data) in enumerate(streams):
                    await client.send(DataFrame(data, f"conn {i}".encode()))
                seen: dict[int, bytes] = {}
                replies, pong = set(), False
                while len(seen) < 3 or len(replies) < 6 or not pong:
                    frame = await client.next()
                    if isinstance(frame, SynReply):
                        replies.add(frame.stream_id)
                    elif isinstance(frame, Ping):
                        pong = frame.ping_id == 1
                    elif isinstance(frame, DataFrame) and frame.data:
                        seen[frame.stream_id] = frame.data
                assert seen == {data: f"CONN {i}".encode()
                                for i, (_e, data) in enumerate(streams)}
                # Client FIN on one data stream: the pod's EOF comes back as FIN on both.
                _error, data = streams[0]
                await client.send(DataFrame(data, b"", fin=True))
                fins = set()
                while fins != {streams[0][0], data}:
                    frame = await client.next()
                    if isinstance(frame, DataFrame) and frame.fin:
                        fins.add(frame.stream_id)
                assert pod.served == 3
    run(main())


def test_spdy_dial_error_and_bad_streams() -> None:
    async def main() -> None:
        async with serving() as (port, _pod, _node):
            refused = _refused_port()
            path = "/portForward/default/web-1"
            async with wsclient.connect("127.0.0.1", port, path, [TUNNEL]) as ws:
                client = SpdyClient(ws)
                await client.send(SynStream(1, {"streamType": "bogus", "port": "80"}))
                error, _data = await client.open_pair(1, refused)
                got, reset = b"", False
                while not got or not reset:
                    frame = await client.next()
                    if isinstance(frame, RstStream):
                        reset = frame.stream_id == 1
                    elif isinstance(frame, DataFrame) and frame.stream_id == error:
                        got += frame.data
                assert got.decode() == (
                    f"error forwarding port {refused} to pod web-1_default, uid uid-1: "
                    f"dial tcp4 127.0.0.1:{refused}: connect: connection refused")
    run(main())


def test_spdy_session_ends_when_the_pod_goes() -> None:
    async def main() -> None:
        async with serving() as (port, pod, node):
            path = "/portForward/default/web-1"
            async with wsclient.connect("127.0.0.1", port, path, [TUNNEL]) as ws:
                client = SpdyClient(ws)
                _error, data = await client.open_pair(0, pod.port)
                await client.send(DataFrame(data, b"x"))
                while not isinstance(frame := await client.next(), DataFrame):
                    pass
                del node.runners["default/web-1"]
                with pytest.raises(wsclient.Closed):
                    while True:
                        frame = await client.next()
                        if isinstance(frame, GoAway):
                            assert frame.status == 0
            await pod.closed.wait()
            assert pod.open == 0
    run(main())


def test_until_gone_sees_a_replaced_pod() -> None:
    async def main() -> None:
        node = Node({"ns/p": Runner("127.0.0.1", uid="old")})
        target = Target("ns", "p", "old", "127.0.0.1")
        waiting = asyncio.ensure_future(until_gone(node, target, interval=0.01))
        node.runners["ns/p"] = Runner("127.0.0.1", uid="new")
        await waiting
    run(main())


def test_parse_ports_as_the_kubelet() -> None:
    assert portforward.parse_ports(["80,8080", "9000"]) == [80, 8080, 9000]
    for values, message in (([], 'query parameter "port" is required'),
                            ([""], 'query parameter "port" cannot be empty'),
                            (["70000"], 'parsing "70000": value out of range'),
                            (["8o"], 'parsing "8o": invalid syntax'),
                            (["0"], 'port "0" must be > 0')):
        with pytest.raises(ValueError, match=message):
            portforward.parse_ports(values)
