"""The sockets of the userspace proxier (:mod:`controllers.proxy.userspace`).

:class:`TCPListener` wraps the ``asyncio.Server`` of one bound TCP address;
:class:`UDPListener` is the datagram protocol of one bound UDP address: it keeps one
connected socket (:class:`UDPBackend`) per client address, picked from the service port's
balancer on the client's first datagram and closed after ``timeout`` idle, and counts the
session in :class:`~controllers.proxy.metrics.EndpointConnections`. :func:`pump` copies
one direction of a proxied TCP connection; :func:`reset` closes a client's connection with
RST (connection refused).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from dataclasses import dataclass
from typing import Any, cast

from controllers.proxy.metrics import ConnectionCounts, EndpointConnections
from controllers.proxy.roundrobin import LoadBalancerRR, NoEndpoints
from controllers.proxy.types import ServicePortName

__all__ = ["TCPListener", "UDPBackend", "UDPListener", "pump", "reset", "split"]

log = logging.getLogger("controllers.proxy.userspace")


def split(endpoint: str) -> tuple[str, int]:
    """``(host, port)`` of ``IP:PORT``."""
    host, _, port = endpoint.rpartition(":")
    return host, int(port)


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0): the client sees the connection refused/reset."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.close()


async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy ``reader`` to ``writer`` until EOF (then half-close) or a connection error."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        pass


@dataclass
class TCPListener:
    """The server of one bound TCP address, serving ``spn`` (its node-local endpoints
    when ``local``)."""

    spn: ServicePortName
    server: asyncio.Server
    local: bool = False

    def close(self) -> None:
        self.server.close()


class UDPBackend(asyncio.DatagramProtocol):
    """One client's session: a socket connected to the chosen endpoint."""

    def __init__(self, front: UDPListener, client: tuple[str, int]) -> None:
        self.front = front
        self.client = client
        self.transport: asyncio.DatagramTransport | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.counts: ConnectionCounts | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        self.touch()

    def touch(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        loop = asyncio.get_running_loop()
        self.timer = loop.call_later(self.front.timeout, self.expire)

    def expire(self) -> None:
        self.front.sessions.pop(self.client, None)
        if self.counts is not None:
            self.counts.closed()
            self.counts = None
        if self.transport is not None:
            self.transport.close()

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.touch()
        if self.front.transport is not None:
            self.front.transport.sendto(data, self.client)

    def error_received(self, exc: Exception) -> None:
        log.debug("udp backend for %s: %s", self.client, exc)


class UDPListener(asyncio.DatagramProtocol):
    """One bound UDP address serving ``spn``: a session per client address."""

    def __init__(self, spn: ServicePortName, lb: LoadBalancerRR, timeout: float,
                 connections: EndpointConnections, local: bool = False) -> None:
        self.spn = spn
        self.lb = lb
        self.connections = connections
        self.local = local
        self.timeout = timeout
        self.transport: asyncio.DatagramTransport | None = None
        self.sessions: dict[tuple[str, int], asyncio.Future[UDPBackend]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        client = (str(addr[0]), int(addr[1]))
        session = self.sessions.get(client)
        if session is None:
            try:
                endpoint = self.lb.next_endpoint(self.spn, client[0])
            except NoEndpoints:
                return
            session = asyncio.ensure_future(self._connect(client, endpoint))
            self.sessions[client] = session
        session.add_done_callback(lambda fut: self._send(fut, data))

    @staticmethod
    def _send(fut: asyncio.Future[UDPBackend], data: bytes) -> None:
        if fut.cancelled() or fut.exception() is not None:
            return
        backend = fut.result()
        if backend.transport is not None and not backend.transport.is_closing():
            backend.touch()
            backend.transport.sendto(data)

    async def _connect(self, client: tuple[str, int], endpoint: str) -> UDPBackend:
        loop = asyncio.get_running_loop()
        try:
            _, proto = await loop.create_datagram_endpoint(
                lambda: UDPBackend(self, client), remote_addr=split(endpoint)
            )
        except OSError:
            self.sessions.pop(client, None)
            raise
        proto.counts = self.connections.counts(self.spn, endpoint)
        proto.counts.opened()
        return proto

    def close(self) -> None:
        for fut in self.sessions.values():
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                fut.result().expire()
        self.sessions.clear()
        if self.transport is not None:
            self.transport.close()
