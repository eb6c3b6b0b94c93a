"""A tiny HTTP server for ``/healthz``, ``/readyz`` and Prometheus ``/metrics``.

It speaks just enough HTTP/1.1 for probes and scrapers (one request per
connection, ``Connection: close``); the controllers need nothing more.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

__all__ = ["HealthServer"]


class HealthServer:
    """Serves ``/healthz`` (always ok), ``/readyz`` (``ready()``) and ``/metrics``."""

    def __init__(self, ready: Callable[[], bool], metrics: Callable[[], str]) -> None:
        self.ready = ready
        self.metrics = metrics
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> int:
        """Listen; returns the bound port."""
        self._server = await asyncio.start_server(self._handle, host, port)
        sock = self._server.sockets[0]
        bound: int = sock.getsockname()[1]
        return bound

    async def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 5.0)
            while (await asyncio.wait_for(reader.readline(), 5.0)) not in (b"\r\n", b"\n", b""):
                pass
            parts = line.decode("latin-1").split()
            path = parts[1].split("?")[0] if len(parts) > 1 else "/"
            if path in ("/healthz", "/livez"):
                code, body, ctype = 200, "ok", "text/plain; charset=utf-8"
            elif path == "/readyz":
                ok = self.ready()
                code, body, ctype = (200 if ok else 503), ("ok" if ok else "not ready"), \
                    "text/plain; charset=utf-8"
            elif path == "/metrics":
                code, body, ctype = 200, self.metrics(), "text/plain; version=0.0.4"
            else:
                code, body, ctype = 404, "404 page not found", "text/plain; charset=utf-8"
            data = body.encode()
            reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[code]
            writer.write(
                f"HTTP/1.1 {code} {reason}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data
            )
            await writer.drain()
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
