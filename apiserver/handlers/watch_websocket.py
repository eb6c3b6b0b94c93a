"""Watches over WebSocket (upstream's ``WatchServer`` behind golang.org/x/net/websocket).

:func:`serve_websocket` answers a WebSocket upgrade: a watch is upgraded and its plain
HTTP stream (:mod:`apiserver.handlers.watch`) is cut into one text message per event;
any other request gets the answer the same request gets over plain HTTP.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from apiserver.handlers.http import Message, Receive, Scope, Send
from apiserver.handlers.routing import MethodNotSupported, RouteNotFound, parse

__all__ = ["serve_websocket"]

#: An ASGI application (the plain-HTTP side a WebSocket request is bridged to).
ASGIApp = Callable[[Scope, Receive, Send], Any]
#: The values of ``?watch=`` that mean true (Go's ``strconv.ParseBool``).
_TRUE_FLAGS = frozenset({"1", "t", "T", "TRUE", "true", "True"})


def _websocket_watch(scope: Scope) -> bool:
    """Whether a WebSocket request is a watch of a served resource (else: plain HTTP)."""
    path = scope.get("path", "/")  # already percent-decoded once by the server
    query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                           keep_blank_values=True))
    flag = query.get("watch", "")
    try:
        return parse("GET", path, flag in _TRUE_FLAGS).verb == "watch"
    except (RouteNotFound, MethodNotSupported):
        return False



async def serve_websocket(scope: Scope, receive: Receive, send: Send, http_app: ASGIApp) -> None:
    """Answer a WebSocket upgrade as kube-apiserver does.

    * A watch (``?watch=true`` or a ``/watch/`` path, on any served collection or object)
      is upgraded with the handshake of golang.org/x/net/websocket, which upstream
      uses: a request without ``Origin`` is refused with an empty 403, one offering
      more than one subprotocol with an empty 400, a single offered subprotocol (e.g.
      ``base64.binary.k8s.io``) is echoed. Each event is then one text message: the
      JSON watch event ending with ``\\n``; the server closes (1000) when the watch ends,
      and whatever the client sends is ignored.
    * Any other request (including errors of a watch before it starts, and unknown
      paths: 404 with a ``Status``) gets the answer the same request over plain HTTP
      gets, without upgrading.

    ``http_app`` serves the request as plain HTTP.
    """
    headers = {k.decode("latin-1").lower(): v for k, v in scope.get("headers", [])}
    offered = list(scope.get("subprotocols") or [])
    can_answer = "websocket.http.response" in (scope.get("extensions") or {})
    watch = _websocket_watch(scope)
    if watch and (not headers.get("origin") or len(offered) > 1):
        if not can_answer:
            await send({"type": "websocket.close", "code": 1008})
            return
        status = 403 if not headers.get("origin") else 400
        await send({"type": "websocket.http.response.start", "status": status,
                    "headers": [(b"content-length", b"0")]})
        await send({"type": "websocket.http.response.body", "body": b""})
        return
    bridge = _WebSocketBridge(receive, send, watch, offered[0] if offered else None,
                              can_answer)
    http_scope = dict(scope)
    http_scope.update(
        type="http", method="GET", http_version="1.1",
        scheme="https" if scope.get("scheme") in ("wss", "https") else "http",
    )
    await http_app(http_scope, bridge.receive, bridge.send)


class _WebSocketBridge:
    """Plain-HTTP ASGI messages of one request translated onto a WebSocket connection."""

    def __init__(self, receive: Receive, send: Send, watch: bool, subprotocol: str | None,
                 can_answer: bool) -> None:
        self._receive = receive
        self._send = send
        self._watch = watch
        self._subprotocol = subprotocol
        self._can_answer = can_answer
        self._connected = False
        self._upgraded = False
        self._refused = False
        self._partial = b""

    async def receive(self) -> Message:
        """An empty request body first; then only the client leaving (its messages are
        ignored, as upstream ignores them)."""
        if not self._connected:
            self._connected = True
            message = await self._receive()
            if message["type"] == "websocket.disconnect":
                return {"type": "http.disconnect"}
            return {"type": "http.request", "body": b"", "more_body": False}
        while True:
            message = await self._receive()
            if message["type"] == "websocket.disconnect":
                return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            if self._watch and message["status"] == 200:
                self._upgraded = True
                await self._send({"type": "websocket.accept", "subprotocol": self._subprotocol})
            elif self._can_answer:
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() != b"transfer-encoding"]
                await self._send({"type": "websocket.http.response.start",
                                  "status": message["status"], "headers": headers})
            else:
                self._refused = True
                await self._send({"type": "websocket.close", "code": 1008})
            return
        if kind != "http.response.body" or self._refused:
            return
        body: bytes = message.get("body", b"")
        more = bool(message.get("more_body", False))
        if not self._upgraded:
            await self._send({"type": "websocket.http.response.body", "body": body,
                              "more_body": more})
            return
        frames = (self._partial + body).split(b"\n")
        self._partial = frames.pop()
        for frame in frames:
            if frame:
                await self._send({"type": "websocket.send", "text": frame.decode() + "\n"})
        if not more:
            await self._send({"type": "websocket.close", "code": 1000})
