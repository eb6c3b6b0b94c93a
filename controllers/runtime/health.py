"""A tiny HTTP server for health, readiness and Prometheus endpoints.

It speaks just enough HTTP/1.1 for probes, load balancers and scrapers (one request per
connection, ``Connection: close``); the controller processes need nothing more.

:class:`HttpServer` answers every GET with what its handler returns for the path (a
:class:`Response`, or None for 404); :class:`HealthServer` is the controller processes'
``/healthz`` (always ok), ``/livez``, ``/readyz`` (``ready()``) and ``/metrics``. Other
processes (kube-proxy, the node agent) build their own route tables with :func:`routes`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field

__all__ = ["HealthServer", "HttpServer", "Response", "health_routes", "routes",
           "stream_connection"]

TEXT = "text/plain; charset=utf-8"
PROMETHEUS = "text/plain; version=0.0.4"
_REASONS = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}


@dataclass(frozen=True)
class Response:
    """One answer: status code, body, content type and extra headers (in order)."""

    code: int
    body: str
    content_type: str = TEXT
    headers: tuple[tuple[str, str], ...] = field(default=())


Handler = Callable[[str], "Response | None"]


def routes(table: Mapping[str, Callable[[], Response]]) -> Handler:
    """A handler answering the paths of ``table`` (query strings ignored), 404 elsewhere."""

    def handle(path: str) -> Response | None:
        route = table.get(path)
        return route() if route is not None else None

    return handle


def health_routes(ready: Callable[[], bool],
                  metrics: Callable[[], str]) -> dict[str, Callable[[], Response]]:
    """``/healthz`` and ``/livez`` (ok while serving), ``/readyz`` and ``/metrics``."""

    def readyz() -> Response:
        ok = ready()
        return Response(200 if ok else 503, "ok" if ok else "not ready")

    return {
        "/healthz": lambda: Response(200, "ok"),
        "/livez": lambda: Response(200, "ok"),
        "/readyz": readyz,
        "/metrics": lambda: Response(200, metrics(), PROMETHEUS),
    }


class HttpServer:
    """Serves ``handler(path)`` over HTTP/1.1 on one address."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> int:
        """Listen; returns the bound port. Raises OSError when the address is unusable."""
        self._server = await asyncio.start_server(self._handle, host, port,
                                                  reuse_address=True)
        sock = self._server.sockets[0]
        bound: int = sock.getsockname()[1]
        return bound

    async def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async with stream_connection(writer):
            line = await asyncio.wait_for(reader.readline(), 5.0)
            while (await asyncio.wait_for(reader.readline(), 5.0)) not in (b"\r\n", b"\n", b""):
                pass
            parts = line.decode("latin-1").split()
            path = parts[1].split("?")[0] if len(parts) > 1 else "/"
            resp = self.handler(path) or Response(404, "404 page not found")
            data = resp.body.encode()
            head = [f"HTTP/1.1 {resp.code} {_REASONS.get(resp.code, '')}",
                    f"Content-Type: {resp.content_type}",
                    *(f"{k}: {v}" for k, v in resp.headers),
                    f"Content-Length: {len(data)}", "Connection: close"]
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + data)
            await writer.drain()


@contextlib.asynccontextmanager
async def stream_connection(writer: asyncio.StreamWriter) -> AsyncIterator[None]:
    """The body of a stream server's connection handler: a timeout, a reset or an early
    end of the stream ends it quietly, and the connection is closed after it."""
    try:
        yield
    except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


class HealthServer(HttpServer):
    """Serves ``/healthz`` and ``/livez`` (always ok), ``/readyz`` (``ready()``) and
    ``/metrics``."""

    def __init__(self, ready: Callable[[], bool], metrics: Callable[[], str]) -> None:
        super().__init__(routes(health_routes(ready, metrics)))
