"""A request refused by a check of the request chain, and how it is answered.

Checks (authentication, impersonation, max-in-flight, authorization) are plain function
calls that raise :class:`Refusal`; :func:`answer_refusal` writes it — over HTTP, or for a
WebSocket as the HTTP response instead of the upgrade (a 1008 close where the server
cannot send one).
"""

from __future__ import annotations

import orjson

from apiserver.api import errors
from apiserver.handlers.http import Receive, Scope, Send, respond

#: What a Status refusal carries besides content type, cache control and length.
NOSNIFF = [(b"x-content-type-options", b"nosniff")]


class Refusal(Exception):
    """The answer of a refused request: status code, body, content type and the headers
    added to :func:`~apiserver.handlers.http.respond`'s — or, when ``raw``, every header
    (content type and length included) exactly as given."""

    def __init__(self, status: int, body: bytes, content_type: str = "application/json",
                 headers: list[tuple[bytes, bytes]] | None = None, raw: bool = False) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or []
        self.raw = raw

    @classmethod
    def of_status(cls, error: errors.ApiError,
                  headers: list[tuple[bytes, bytes]] | None = None) -> Refusal:
        """The refusal answering ``error``'s Status object."""
        return cls(error.code, orjson.dumps(error.status, option=orjson.OPT_APPEND_NEWLINE),
                   headers=NOSNIFF if headers is None else headers)


async def answer_refusal(scope: Scope, receive: Receive, send: Send, refusal: Refusal) -> None:
    """Write ``refusal`` for the request ``scope``."""
    if scope["type"] != "websocket":
        if refusal.raw:
            await send({"type": "http.response.start", "status": refusal.status,
                        "headers": refusal.headers})
            await send({"type": "http.response.body", "body": refusal.body})
            return
        await respond(send, refusal.status, refusal.body, refusal.content_type,
                      refusal.headers or None)
        return
    message = await receive()
    if message.get("type") != "websocket.connect":
        return
    if "websocket.http.response" not in (scope.get("extensions") or {}):
        await send({"type": "websocket.close", "code": 1008})
        return
    headers = refusal.headers if refusal.raw else [
        (b"content-type", refusal.content_type.encode()),
        (b"content-length", str(len(refusal.body)).encode()), *refusal.headers]
    await send({"type": "websocket.http.response.start", "status": refusal.status,
                "headers": headers})
    await send({"type": "websocket.http.response.body", "body": refusal.body})
