"""The built-in "container" servers: what a pod's ports answer with.

Like the upstream test image agnhost ``netexec``, an HTTP port answers
``/hostname`` with the pod name, ``/echo?msg=X`` with X, ``/clientip`` with the
caller's address, and ``/`` with the pod name and a newline. kubemu adds
demonstration switches, served on every HTTP port of the container:

* ``POST /kubemu/ready?value=false`` makes the container not ready (the pod
  leaves its Services' Endpoints; ``/readyz`` answers 503) — ``value=true``
  undoes it;
* ``POST /kubemu/healthy?value=false`` makes ``/healthz`` answer 503, so an
  ``httpGet`` liveness probe on it fails and the container is restarted
  (a restarted container starts healthy and ready again).

A port that a ``grpc`` probe targets serves ``grpc.health.v1.Health`` instead (see
:mod:`.grpchealth`, like agnhost ``grpc-health-checking``): a service is ``NOT_SERVING``
after ``/kubemu/healthy?value=false`` and after ``/kubemu/ready?value=false`` — except a
service that only liveness probes check, which follows the health switch alone (so that
switching readiness off does not get the container restarted).

Other ports echo: TCP echoes bytes back, UDP echoes datagrams.

Every server charges the CPU of its synchronous work, and tracks its open transports, in
the container instance's :class:`~controllers.node.usage.InstanceUsage`
(``ContainerFlags.usage`` when the server starts; see :mod:`controllers.node.usage`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from controllers.node.grpchealth import start_health_server
from controllers.node.usage import Buffered, InstanceUsage

__all__ = ["ContainerFlags", "PortServer", "port_kind", "start_port_server"]

_MAX_BODY = 1 << 20
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            503: "Service Unavailable"}


@dataclass
class ContainerFlags:
    """Switches a container's HTTP ports can flip; ``on_change`` is called after a flip."""

    pod_name: str
    ready: bool = True
    healthy: bool = True
    on_change: Callable[[], None] = field(default=lambda: None)
    #: Receives one access-log line per request served.
    log: Callable[[str], None] = field(default=lambda _line: None)
    #: Called after a flip too, before ``on_change`` (the gRPC health servers' watchers).
    watchers: list[Callable[[], None]] = field(default_factory=list)
    #: The running instance's usage: the container replaces it at each start, and a
    #: server keeps the one current when it started.
    usage: InstanceUsage = field(default_factory=InstanceUsage)

    def flipped(self) -> None:
        """Tell the watchers and ``on_change`` that a switch changed."""
        for watcher in list(self.watchers):
            watcher()
        self.on_change()


def _response(status: int, body: bytes, keep_alive: bool) -> bytes:
    head = (f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n")
    return head.encode() + body


def _bool(values: list[str]) -> bool | None:
    text = (values[0] if values else "").lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    return None


def handle_http(flags: ContainerFlags, method: str, target: str, peer: str) -> tuple[int, bytes]:
    """The netexec-like answer to one request: (status, body)."""
    url = urlsplit(target)
    query = parse_qs(url.query)
    path = url.path
    if path == "/":
        return 200, f"{flags.pod_name}\n".encode()
    if path == "/hostname":
        return 200, flags.pod_name.encode()
    if path == "/echo":
        return 200, (query.get("msg") or [""])[0].encode()
    if path == "/clientip":
        return 200, peer.encode()
    if path == "/healthz":
        return (200, b"ok") if flags.healthy else (503, b"unhealthy")
    if path == "/readyz":
        return (200, b"ok") if flags.ready else (503, b"not ready")
    if path in ("/kubemu/ready", "/kubemu/healthy"):
        if method not in ("POST", "PUT"):
            return 405, b"use POST\n"
        value = _bool(query.get("value") or [])
        if value is None:
            return 400, b"value must be true or false\n"
        if path == "/kubemu/ready":
            flags.ready = value
        else:
            flags.healthy = value
        flags.flipped()
        return 200, f"{path.rsplit('/', 1)[1]}={str(value).lower()}\n".encode()
    return 404, b"404 page not found\n"


def port_kind(port: Mapping[str, Any], http_ports: set[int],
              grpc_ports: Collection[int] = ()) -> str | None:
    """``http``, ``grpc``, ``tcp`` or ``udp`` for a container port (None: not served): a
    TCP port that a grpc probe targets is ``grpc``."""
    protocol = str(port.get("protocol") or "TCP").upper()
    number = port.get("containerPort")
    if protocol == "UDP":
        return "udp"
    if protocol != "TCP":
        return None
    if number in grpc_ports:
        return "grpc"
    name = str(port.get("name") or "").lower()
    if "http" in name or number in (80, 8080) or number in http_ports:
        return "http"
    return "tcp"


class PortServer:
    """One listening socket (TCP server or UDP endpoint) of a container."""

    def __init__(self, closer: Callable[[], None], waiter: Callable[[], object] | None) -> None:
        self._closer = closer
        self._waiter = waiter

    async def close(self) -> None:
        """Stop listening (established TCP connections are closed too)."""
        self._closer()
        if self._waiter is not None:
            with contextlib.suppress(Exception):
                result = self._waiter()
                if asyncio.iscoroutine(result):
                    await asyncio.wait_for(result, 2.0)


def _parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]] | None:
    """(method, target, version, lower-cased headers) of a request head; None: malformed."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        return None
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return parts[0], parts[1], parts[2], headers


async def _serve_http(flags: ContainerFlags, usage: InstanceUsage,
                      reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    peer_info = writer.get_extra_info("peername") or ("", 0)
    peer = f"{peer_info[0]}:{peer_info[1]}"
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                return
            # Charged in two sections: everything but the waits for the body and the drain.
            started = time.thread_time()
            request = _parse_head(head)
            if request is None:
                writer.write(_response(400, b"bad request\n", False))
                usage.charge(started)
                await writer.drain()
                return
            method, target, version, headers = request
            length = int(headers.get("content-length") or 0)
            if length:
                usage.charge(started)
                await reader.readexactly(min(length, _MAX_BODY))
                started = time.thread_time()
            keep = (headers.get("connection", "").lower() != "close"
                    and version == "HTTP/1.1")
            status, body = handle_http(flags, method, target, peer)
            flags.log(f'{peer} "{method} {target} {version}" {status} {len(body)}')
            if method == "HEAD":
                body = b""
            writer.write(_response(status, body, keep))
            usage.charge(started)
            await writer.drain()
            if not keep:
                return
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        writer.close()


async def _serve_echo(usage: InstanceUsage, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            started = time.thread_time()
            writer.write(data)
            usage.charge(started)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


class _UDPEcho(asyncio.DatagramProtocol):
    def __init__(self, usage: InstanceUsage) -> None:
        self.usage = usage

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A cast, not an isinstance check: before Python 3.12 the selector loop's datagram
        # transport does not derive from asyncio.DatagramTransport, though it has sendto.
        self.transport = cast(asyncio.DatagramTransport, transport)
        # asyncio's datagram transports buffer unsent datagrams like stream transports.
        self.usage.track(cast(Buffered, transport))

    def connection_lost(self, exc: Exception | None) -> None:
        self.usage.untrack(cast(Buffered, self.transport))

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        started = time.thread_time()
        self.transport.sendto(data, addr)
        self.usage.charge(started)


async def start_port_server(kind: str, host: str, port: int, flags: ContainerFlags,
                            grpc_services: frozenset[str] = frozenset(),
                            liveness_only: frozenset[str] = frozenset()) -> PortServer:
    """Listen on ``host:port``: ``kind`` is ``http``, ``grpc`` (health, knowing
    ``grpc_services``, of which ``liveness_only`` ignore the readiness switch), ``tcp``
    (echo) or ``udp`` (echo)."""
    usage = flags.usage  # the instance starting now; a restart brings a new one
    if kind == "grpc":
        def serving(service: str) -> bool:
            return flags.healthy and (flags.ready or service in liveness_only)

        health = await start_health_server(host, port, serving, grpc_services, flags.log,
                                           usage)
        flags.watchers.append(health.changed)

        def forget() -> None:
            with contextlib.suppress(ValueError):
                flags.watchers.remove(health.changed)

        return PortServer(forget, health.stop)
    if kind == "udp":
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: _UDPEcho(usage),
                                                           local_addr=(host, port))
        return PortServer(transport.close, None)
    tasks: set[asyncio.Task[None]] = set()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            tasks.add(task)
        usage.track(writer.transport)
        try:
            if kind == "http":
                await _serve_http(flags, usage, reader, writer)
            else:
                await _serve_echo(usage, reader, writer)
        finally:
            usage.untrack(writer.transport)
            if task is not None:
                tasks.discard(task)

    server = await asyncio.start_server(handler, host, port, reuse_address=True)

    def close() -> None:
        server.close()
        for task in list(tasks):
            task.cancel()

    return PortServer(close, server.wait_closed)
