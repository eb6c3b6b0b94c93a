"""How the apiserver's HTTP protocol writes responses (uvicorn in-process on a free loopback
port, raw socket clients): a response's head and body reach the socket in one write, a
head whose body comes later still leaves at once, and ``Connection: close`` answers are
complete before the connection closes."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from apiserver.serving import ApiServerHttpProtocol
from tests.support import uvicorn_app

#: Writes each connection's real transport received, by connection (in accept order).
WRITES: list[list[bytes]] = []


class CountingProtocol(ApiServerHttpProtocol):
    """The apiserver's protocol over a transport that records what reaches it."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        writes: list[bytes] = []
        WRITES.append(writes)
        real_write = transport.write

        def write(data: bytes | bytearray | memoryview) -> None:
            writes.append(bytes(data))
            real_write(data)

        def writelines(parts: Any) -> None:
            data = b"".join(parts)  # one send of all parts (a gathered write on uvloop)
            writes.append(data)
            real_write(data)

        transport.write = write  # type: ignore[method-assign]
        transport.writelines = writelines  # type: ignore[method-assign,assignment]
        super().connection_made(transport)


#: Set by the test once the client has read a streaming response's head.
head_read: asyncio.Event | None = None


async def app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        assert head_read is not None
        await head_read.wait()
        await send({"type": "http.response.body", "body": b"later"})
        return
    if scope["path"] == "/chunks":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for chunk in (b"one", b"two", b"three"):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


def serving() -> contextlib.AbstractAsyncContextManager[int]:
    return uvicorn_app.serving(app, CountingProtocol)


def test_head_and_body_of_a_response_reach_the_socket_in_one_write() -> None:
    async def run() -> None:
        WRITES.clear()
        async with serving() as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            for _ in range(2):  # kept alive: each answer is one write
                writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                answer = await reader.readuntil(b"ok")
                assert answer.startswith(b"HTTP/1.1 200")
            writer.close()
        (writes,) = WRITES
        assert len(writes) == 2
        for data in writes:
            head, _, body = data.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200") and b"content-length: 2" in head
            assert body == b"ok"

    asyncio.run(run())


def test_a_head_whose_body_comes_later_leaves_at_once() -> None:
    async def run() -> None:
        global head_read
        head_read = asyncio.Event()
        WRITES.clear()
        async with serving() as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
            # The handler is still waiting for this event: the head alone was sent.
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            assert head.startswith(b"HTTP/1.1 200")
            assert b"transfer-encoding: chunked" in head
            head_read.set()
            assert b"later" in await asyncio.wait_for(reader.readuntil(b"0\r\n\r\n"), 10)
            writer.close()
        (writes,) = WRITES
        assert writes[0].endswith(b"\r\n\r\n")  # the head, on its own

    asyncio.run(run())


def test_only_the_head_waits_for_the_body() -> None:
    async def run() -> None:
        WRITES.clear()
        async with serving() as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /chunks HTTP/1.1\r\nHost: x\r\n\r\n")
            await asyncio.wait_for(reader.readuntil(b"0\r\n\r\n"), 10)
            writer.close()
        (writes,) = WRITES
        head, _, first = writes[0].partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and first == b"3\r\none\r\n"
        # The rest of the body is not held back or joined: one write per chunk.
        assert writes[1:] == [b"3\r\ntwo\r\n", b"5\r\nthree\r\n", b"0\r\n\r\n"]

    asyncio.run(run())


def test_an_answer_that_closes_the_connection_is_complete_first() -> None:
    async def run() -> None:
        async with serving() as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")  # HTTP/1.0: not kept alive
            answer = await asyncio.wait_for(reader.read(), 10)  # until the server closes
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200") and b"connection: close" in head
            assert body == b"ok"
            writer.close()

    asyncio.run(run())


async def ws_app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": "hi"})
        await send({"type": "websocket.close"})
        return
    await app(scope, receive, send)


def test_a_websocket_upgrade_after_a_request_on_the_connection() -> None:
    async def run() -> None:
        async with uvicorn_app.serving(ws_app, CountingProtocol) as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            for first in (True, False):
                if not first:  # an answered request first, then the upgrade
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                    assert (await reader.readuntil(b"ok")).startswith(b"HTTP/1.1 200")
                writer.write(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                             b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                             b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
                assert head.startswith(b"HTTP/1.1 101"), head
                assert b"hi" in await asyncio.wait_for(reader.readuntil(b"hi"), 10)
                writer.close()

    asyncio.run(run())
