"""The apiserver's HTTP protocol over real sockets: a header-read deadline and the abort
extension (uvicorn in-process on a free loopback port, raw socket clients)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from apiserver.handlers.http import ABORT_EXTENSION, abort_connection
from apiserver.serving import ApiServerHttpProtocol
from tests.support import uvicorn_app


class QuickHeaders(ApiServerHttpProtocol):
    read_header_timeout = 0.3


async def app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/abort":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        assert abort_connection(scope)
        return
    assert ABORT_EXTENSION in scope["extensions"]
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


def serving() -> contextlib.AbstractAsyncContextManager[int]:
    return uvicorn_app.serving(app, QuickHeaders)


async def _closed_after(reader: asyncio.StreamReader) -> float:
    start = time.perf_counter()
    with contextlib.suppress(ConnectionError):
        while await reader.read(1024):
            pass
    return time.perf_counter() - start


def test_incomplete_headers_are_cut_off_and_complete_ones_served() -> None:
    async def run() -> None:
        async with serving() as port:
            silent = await asyncio.open_connection("127.0.0.1", port)
            slow = await asyncio.open_connection("127.0.0.1", port)
            slow[1].write(b"GET / HTTP/1.1\r\nHost: x\r\n")  # never finished
            ok_reader, ok_writer = await asyncio.open_connection("127.0.0.1", port)
            ok_writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert (await ok_reader.readuntil(b"ok")).startswith(b"HTTP/1.1 200")
            for reader, _ in (silent, slow):
                assert await asyncio.wait_for(_closed_after(reader), 3) < 2.5
            # A kept-alive connection that answered is not cut by the header deadline.
            await asyncio.sleep(0.5)
            ok_writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert (await ok_reader.readuntil(b"ok")).startswith(b"HTTP/1.1 200")
            for _, writer in (silent, slow, (ok_reader, ok_writer)):
                writer.close()

    asyncio.run(run())


def test_abort_extension_drops_the_connection() -> None:
    async def run() -> None:
        async with serving() as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /abort HTTP/1.1\r\nHost: x\r\n\r\n")
            assert await asyncio.wait_for(_closed_after(reader), 3) < 2
            writer.close()

    asyncio.run(run())


def test_a_kept_alive_connection_whose_next_headers_stall_is_cut_off() -> None:
    async def run() -> None:
        async with serving() as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            for _ in range(2):  # answered requests leave no deadline behind
                writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                assert (await reader.readuntil(b"ok")).startswith(b"HTTP/1.1 200")
                await asyncio.sleep(0.4)  # past the 0.3 s deadline of the last headers
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")  # never finished
            assert await asyncio.wait_for(_closed_after(reader), 3) < 2.5
            writer.close()

    asyncio.run(run())
