"""Baseline servers: the same bytes kubemu returns, served as cheaply as FastAPI/ASGI allow.

``python -m bench.baseline --mode MODE --port P --object F --list F`` serves, on
uvicorn (httptools + uvloop, one worker, no access log):

* ``GET  /api/v1/namespaces/{namespace}/pods/{name}`` → the bytes of file ``--object``;
* ``POST /api/v1/namespaces/{namespace}/pods``        → reads the request body, answers
  201 with the same object bytes;
* ``GET  /api/v1/namespaces/{namespace}/pods``        → the bytes of file ``--list``;
* ``GET  /readyz`` → ``ok``.

Modes:

* ``fastapi``: a bare FastAPI app with decorated path operations and typed path
  parameters (what a FastAPI user writes first);
* ``route``: the same FastAPI app shape, but plain ``add_route`` endpoints taking
  a ``Request`` (no dependency injection or validation);
* ``raw``: a raw ASGI callable, the physical limit of Python + uvicorn here.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MODES = ("fastapi", "route", "raw")
MODE_LABELS = {
    "fastapi": "FastAPI decorated endpoint",
    "route": "FastAPI add_route endpoint",
    "raw": "raw ASGI callable",
}

OBJECT_PATH = "/api/v1/namespaces/{namespace}/pods/{name}"
COLLECTION_PATH = "/api/v1/namespaces/{namespace}/pods"
_HEADERS = {"cache-control": "no-cache, private"}
_JSON = "application/json"


def fastapi_app(obj: bytes, listing: bytes) -> FastAPI:
    """Decorated path operations with typed path parameters."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get(OBJECT_PATH)
    async def get_pod(namespace: str, name: str) -> Response:
        return Response(obj, media_type=_JSON, headers=_HEADERS)

    @app.post(COLLECTION_PATH)
    async def create_pod(namespace: str, request: Request) -> Response:
        await request.body()
        return Response(obj, status_code=201, media_type=_JSON, headers=_HEADERS)

    @app.get(COLLECTION_PATH)
    async def list_pods(namespace: str) -> Response:
        return Response(listing, media_type=_JSON, headers=_HEADERS)

    @app.get("/readyz")
    async def ready() -> Response:
        return Response(b"ok", media_type="text/plain")

    return app


def route_app(obj: bytes, listing: bytes) -> FastAPI:
    """Plain ``add_route`` endpoints: a ``Request`` in, a ``Response`` out."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    async def get_pod(request: Request) -> Response:
        return Response(obj, media_type=_JSON, headers=_HEADERS)

    async def collection(request: Request) -> Response:
        if request.method == "POST":
            await request.body()
            return Response(obj, status_code=201, media_type=_JSON, headers=_HEADERS)
        return Response(listing, media_type=_JSON, headers=_HEADERS)

    async def ready(request: Request) -> Response:
        return Response(b"ok", media_type="text/plain")

    app.add_route(OBJECT_PATH, get_pod, methods=["GET"])
    app.add_route(COLLECTION_PATH, collection, methods=["GET", "POST"])
    app.add_route("/readyz", ready, methods=["GET"])
    return app


def raw_app(obj: bytes, listing: bytes) -> ASGIApp:
    """A raw ASGI callable: no framework at all."""

    def start(status: int, body: bytes, content_type: bytes = b"application/json") -> Message:
        return {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"cache-control", b"no-cache, private"),
                (b"content-length", str(len(body)).encode()),
            ],
        }

    get_start = start(200, obj)
    create_start = start(201, obj)
    list_start = start(200, listing)
    ok_start = start(200, b"ok", b"text/plain")
    not_found = start(404, b"")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if path == "/readyz":
            await send(ok_start)
            await send({"type": "http.response.body", "body": b"ok"})
            return
        if not path.startswith("/api/v1/namespaces/"):
            await send(not_found)
            await send({"type": "http.response.body", "body": b""})
            return
        if path.endswith("/pods"):
            if scope["method"] == "POST":
                while (await receive()).get("more_body", False):
                    pass
                await send(create_start)
                await send({"type": "http.response.body", "body": obj})
                return
            await send(list_start)
            await send({"type": "http.response.body", "body": listing})
            return
        await send(get_start)
        await send({"type": "http.response.body", "body": obj})

    return app


def build(mode: str, obj: bytes, listing: bytes) -> ASGIApp:
    """The baseline app of ``mode``."""
    if mode == "fastapi":
        return fastapi_app(obj, listing)
    if mode == "route":
        return route_app(obj, listing)
    if mode == "raw":
        return raw_app(obj, listing)
    raise ValueError(f"unknown baseline mode {mode!r}")


def main(argv: list[str] | None = None) -> None:
    """Serve one baseline app until terminated."""
    parser = argparse.ArgumentParser(prog="python -m bench.baseline")
    parser.add_argument("--mode", choices=MODES, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--object", type=Path, required=True, help="file with the object bytes")
    parser.add_argument("--list", type=Path, required=True, help="file with the list bytes")
    args = parser.parse_args(argv)
    app = build(args.mode, args.object.read_bytes(), args.list.read_bytes())
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        http="httptools",
        loop="uvloop",
        workers=1,
        access_log=False,
        log_level="warning",
        lifespan="off" if args.mode == "raw" else "on",
    )


if __name__ == "__main__":
    main()
