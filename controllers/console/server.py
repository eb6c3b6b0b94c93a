"""The console's HTTP surface (Starlette on uvicorn, on a loopback address by default).

=======================  ===========================================================
``GET /``                the page (``static/index.html``); ``/static/*`` its JS and CSS
``GET /api/snapshot``    the current snapshot (JSON, see :mod:`.snapshot`)
``GET /api/events``      Server-Sent Events: ``event: snapshot`` with the whole
                         document at once, then ``event: delta`` with the namespaces
                         that changed (coalesced), ``: keep-alive`` comments in
                         between; every event has an ``id``, and a reconnect with
                         ``Last-Event-ID`` continues with deltas when it can (see
                         :mod:`.hub`)
``GET /metrics``         the console's own metrics (:mod:`.metrics`)
``GET /api/object``      ``?resource=R&namespace=NS&name=N``: the object as YAML, read
                         from the apiserver with the console's own credentials (as
                         ``kubectl get -o yaml``: ``managedFields`` left out)
``GET /healthz``         ``ok``; ``/readyz`` ``ok`` once the caches synced (503 before)
=======================  ===========================================================

Bad ``/api/object`` queries are 400 (an unknown resource, a missing name, ``.`` or ``..``
for a name or namespace); what the apiserver refuses comes back with its code and message
(404, 403 …), as plain text.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import uvicorn
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from apiserver.api.resources import ENDPOINTSLICES, NAMESPACES, NODES, PODS, SERVICES
from controllers.client.errors import ApiError
from controllers.client.rest import RestClient, resource_path
from controllers.console.hub import Hub
from controllers.console.metrics import CONTENT_TYPE, ConsoleMetrics

__all__ = ["OBJECT_RESOURCES", "STATIC", "ConsoleServer", "object_yaml"]

log = logging.getLogger("controllers.console")

STATIC = Path(__file__).with_name("static")

#: What ``/api/object`` may read: the kinds the page shows.
OBJECT_RESOURCES = {info.plural: info for info in
                    (NAMESPACES, SERVICES, ENDPOINTSLICES, PODS, NODES)}

_YAML = "application/yaml; charset=utf-8"


def object_yaml(obj: dict[str, Any]) -> str:
    """``obj`` as ``kubectl get -o yaml`` prints it (fields in order, no managedFields)."""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
    return yaml.safe_dump(obj, sort_keys=False, default_flow_style=False)


class ConsoleServer:
    """The ASGI app over a :class:`Hub` and a REST client, and its uvicorn server."""

    def __init__(self, hub: Hub, client: RestClient, ready: Callable[[], bool]) -> None:
        self.hub = hub
        self.client = client
        self.ready = ready
        self.metrics = ConsoleMetrics(hub)
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    def app(self) -> Starlette:
        """The routes of the module docstring."""
        return Starlette(routes=[
            Route("/", self._index),
            Route("/api/snapshot", self._snapshot),
            Route("/api/events", self._events),
            Route("/api/object", self._object),
            Route("/metrics", self._metrics),
            Route("/healthz", lambda _r: PlainTextResponse("ok")),
            Route("/readyz", self._readyz),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ])

    async def _index(self, request: Request) -> Response:
        del request
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    async def _readyz(self, request: Request) -> Response:
        del request
        ok = self.ready()
        return PlainTextResponse("ok" if ok else "not ready", status_code=200 if ok else 503)

    async def _metrics(self, request: Request) -> Response:
        del request
        return Response(self.metrics.text(), media_type=CONTENT_TYPE)

    async def _snapshot(self, request: Request) -> Response:
        del request
        return Response(self.hub.snapshot(), media_type="application/json")

    async def _events(self, request: Request) -> Response:
        last_event_id = request.headers.get("last-event-id")

        async def stream() -> AsyncIterator[bytes]:
            self.metrics.subscribers.inc()
            try:
                # the page reconnects a second after the stream breaks
                yield b"retry: 1000\n\n"
                async for event in self.hub.updates(last_event_id):
                    if event is None:
                        yield b": keep-alive\n\n"
                        continue
                    self.metrics.sent(event)
                    yield b"id: %s\nevent: %s\ndata: %s\n\n" % (
                        event.id.encode(), event.kind.encode(), event.data)
            finally:
                self.metrics.subscribers.dec()

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

    async def _object(self, request: Request) -> Response:
        query = request.query_params
        info = OBJECT_RESOURCES.get(query.get("resource", ""))
        name = query.get("name", "")
        if info is None:
            return PlainTextResponse(
                f"unknown resource {query.get('resource', '')!r}: one of "
                + ", ".join(sorted(OBJECT_RESOURCES)), status_code=400)
        if not name:
            return PlainTextResponse("name is required", status_code=400)
        namespace = query.get("namespace") or None
        if info.namespaced and namespace is None:
            return PlainTextResponse(f"{info.plural} need a namespace", status_code=400)
        if {name, namespace} & {".", ".."}:  # as upstream: not a path segment of a name
            return PlainTextResponse("name and namespace may not be '.' or '..'",
                                     status_code=400)
        try:
            obj = await self.client.request(
                "GET", resource_path(info, namespace if info.namespaced else None, name))
        except ApiError as exc:
            return PlainTextResponse(exc.message or str(exc), status_code=exc.code)
        return Response(object_yaml(obj), media_type=_YAML)

    async def start(self, sock: socket.socket) -> None:
        """Serve on the bound, listening ``sock`` in the background."""
        config = uvicorn.Config(self.app(), lifespan="off", log_level="warning",
                                timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        # _serve: uvicorn's serve() would take over the process's signal handlers.
        self._task = asyncio.create_task(self._server._serve([sock]))

    async def stop(self) -> None:
        """Stop serving; open event streams are closed."""
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        await asyncio.gather(self._task, return_exceptions=True)
