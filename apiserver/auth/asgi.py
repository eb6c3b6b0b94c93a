"""ASGI plumbing of the chain stages in this package: their types (the same shapes as
:mod:`apiserver.chain`'s, which sits above this layer), running the rest of the chain
as a user, and refusing a request — over HTTP, or before a WebSocket upgrade."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from apiserver.api.user import REQUEST_USER, UserInfo
from apiserver.handlers.http import Receive, Scope, Send, respond

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Filter = Callable[[ASGIApp], ASGIApp]

__all__ = ["ASGIApp", "Filter", "Receive", "Scope", "Send", "call_as", "refuse"]


async def call_as(user: UserInfo, app: ASGIApp, scope: Scope, receive: Receive,
                  send: Send) -> None:
    """Run ``app`` with :data:`REQUEST_USER` set to ``user`` (restored afterwards)."""
    token = REQUEST_USER.set(user)
    try:
        await app(scope, receive, send)
    finally:
        REQUEST_USER.reset(token)


async def refuse(scope: Scope, receive: Receive, send: Send, status: int, body: bytes,
                 content_type: str = "application/json",
                 extra_headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """Answer ``status`` with ``body``; a WebSocket upgrade gets it as the HTTP response
    instead of the upgrade (or a 1008 close where the server cannot send one)."""
    if scope["type"] != "websocket":
        await respond(send, status, body, content_type, extra_headers)
        return
    message = await receive()
    if message.get("type") != "websocket.connect":
        return
    if "websocket.http.response" not in (scope.get("extensions") or {}):
        await send({"type": "websocket.close", "code": 1008})
        return
    headers = [(b"content-type", content_type.encode()),
               (b"content-length", str(len(body)).encode()), *(extra_headers or [])]
    await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
    await send({"type": "websocket.http.response.body", "body": body})
