"""Serving one ASGI app on several listeners: TLS (``--secure-port``) and plain HTTP
(``--port``), in one process and one event loop.

The first listener is the primary: it runs the app's lifespan (storage, caches) and
owns the signal handlers. The others start once the primary has started (the app is
ready by then), run without a lifespan, and stop when the primary is told to stop.
"""

from __future__ import annotations

import asyncio
import signal
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import uvicorn
from uvicorn._compat import asyncio_run
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from apiserver.auth.tls import peer_certificate_protocol

_POLL = 0.05


@dataclass(frozen=True)
class Listener:
    """One address to serve on; ``ssl_context`` makes it a TLS listener."""

    host: str
    port: int
    ssl_context: ssl.SSLContext | None = None


def _config(app: Any, listener: Listener, lifespan: Literal["on", "off"], options: dict[str, Any]) \
        -> uvicorn.Config:
    extra: dict[str, Any] = {}
    options = dict(options)
    protocol = options.pop("http", AutoHTTPProtocol)
    extra["http"] = protocol
    if listener.ssl_context is not None:
        context = listener.ssl_context

        def factory(config: uvicorn.Config, default: Callable[[], ssl.SSLContext]) \
                -> ssl.SSLContext:
            del config, default
            return context

        extra = {"ssl_context_factory": factory,
                 "http": peer_certificate_protocol(protocol)}
    return uvicorn.Config(app, host=listener.host, port=listener.port, lifespan=lifespan,
                          **extra, **options)


async def _serve(app: Any, listeners: list[Listener], options: dict[str, Any]) -> None:
    primary = uvicorn.Server(_config(app, listeners[0], "on", options))
    others = [uvicorn.Server(_config(app, listener, "off", options))
              for listener in listeners[1:]]

    async def follow() -> None:
        while not primary.started and not primary.should_exit:
            await asyncio.sleep(_POLL)
        if primary.should_exit or not others:
            return
        tasks = [asyncio.create_task(server._serve()) for server in others]
        while not primary.should_exit and not any(t.done() for t in tasks):
            await asyncio.sleep(_POLL)
        primary.should_exit = True
        for server in others:
            server.should_exit = True
        await asyncio.gather(*tasks)

    await asyncio.gather(primary.serve(), follow())


def _exit_cleanly(_signum: int, _frame: Any) -> None:
    raise SystemExit(0)


def serve(app: Any, listeners: list[Listener], **options: Any) -> None:
    """Serve ``app`` on every listener until SIGINT/SIGTERM (``options``: uvicorn's).

    SIGTERM ends the process with status 0, as kube-apiserver's graceful shutdown does:
    uvicorn shuts down, then raises the signal it caught again under the handler set here
    (the default one would end the process by the signal)."""
    signal.signal(signal.SIGTERM, _exit_cleanly)
    loop_factory = uvicorn.Config(app).get_loop_factory()
    asyncio_run(_serve(app, listeners, options), loop_factory=loop_factory)
