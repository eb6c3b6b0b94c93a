"""A small asyncio WebSocket client on wsproto that offers any subprotocol text.

The ``websockets`` client refuses subprotocols that are not RFC 7230 tokens, such as
kubectl's ``SPDY/3.1+portforward.k8s.io``; wsproto sends them as given.

``async with connect(host, port, path, subprotocols) as ws``: ``ws.subprotocol``,
``await ws.send(bytes | str)``, ``await ws.recv()`` (bytes or str; raises
:class:`Closed` with the close code once the server closes).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)

__all__ = ["Closed", "Rejected", "WsClient", "connect"]


class Closed(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(f"closed with {code}")
        self.code = code


class Rejected(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"handshake rejected with {status}")
        self.status = status


class WsClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.conn = WSConnection(ConnectionType.CLIENT)
        self.subprotocol: str | None = None
        self._messages: list[bytes | str] = []
        self._parts: list[bytes | str] = []
        self._closed: int | None = None

    async def _pump(self) -> None:
        data = await self.reader.read(65536)
        self.conn.receive_data(data or None)
        for event in self.conn.events():
            if isinstance(event, AcceptConnection):
                self.subprotocol = event.subprotocol
            elif isinstance(event, RejectConnection):
                raise Rejected(event.status_code)
            elif isinstance(event, BytesMessage | TextMessage):
                self._parts.append(event.data)
                if event.message_finished:
                    first = self._parts[0]
                    joined: bytes | str = (b"".join(p for p in self._parts  # type: ignore[misc]
                                                    if isinstance(p, bytes))
                                           if isinstance(first, bytes)
                                           else "".join(str(p) for p in self._parts))
                    self._messages.append(joined)
                    self._parts = []
            elif isinstance(event, Ping):
                self.writer.write(self.conn.send(event.response()))
            elif isinstance(event, CloseConnection):
                self._closed = event.code
                with contextlib.suppress(Exception):
                    self.writer.write(self.conn.send(event.response()))
        if not data and self._closed is None:
            self._closed = 1006

    async def send(self, data: bytes | str) -> None:
        event = BytesMessage(data) if isinstance(data, bytes) else TextMessage(data)
        self.writer.write(self.conn.send(event))
        await self.writer.drain()

    async def recv(self) -> bytes | str:
        while not self._messages:
            if self._closed is not None:
                raise Closed(self._closed)
            await self._pump()
        return self._messages.pop(0)


@contextlib.asynccontextmanager
async def connect(host: str, port: int, path: str,
                  subprotocols: list[str]) -> AsyncIterator[WsClient]:
    reader, writer = await asyncio.open_connection(host, port)
    ws = WsClient(reader, writer)
    writer.write(ws.conn.send(Request(host=host, target=path, subprotocols=subprotocols)))
    try:
        while ws.subprotocol is None and ws._closed is None:
            await ws._pump()
            if subprotocols and ws.subprotocol is None and ws._closed is None:
                continue
            break
        yield ws
    finally:
        with contextlib.suppress(Exception):
            if ws._closed is None:
                writer.write(ws.conn.send(CloseConnection(code=1000)))
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
