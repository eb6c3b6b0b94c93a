"""``--request-timeout`` for requests that are not long-running (upstream
``WithTimeoutForNonLongRunningRequests``, ``pkg/server/filters/timeout.go``).

When the deadline passes before the handler has answered, the client gets upstream's 504
at once: the Status ``Timeout: request did not complete within requested timeout -
context deadline exceeded`` written by Go's ``json.Encoder`` (no kind/apiVersion, empty
details, content type sniffed as text/plain). As upstream, a handler past its body read
keeps running to its end (a write may still land) with its answer discarded; a handler
still waiting for the body is cancelled — so a client that stalls mid-body holds its
in-flight slot at most this long. When the answer had already started, the connection
is dropped (upstream panics with ``http.ErrAbortHandler`` for the same effect).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import orjson

from apiserver.filters.requestinfo import scope_request_info
from apiserver.handlers.http import ASGIApp, Message, Receive, Scope, Send, abort_connection

DEFAULT_REQUEST_TIMEOUT = 60.0
TIMEOUT_MESSAGE = ("Timeout: request did not complete within requested timeout - "
                   "context deadline exceeded")
#: Go's ``json.NewEncoder(w).Encode(&err.ErrStatus)`` of ``NewTimeoutError(msg, 0)``.
TIMEOUT_BODY = orjson.dumps({"metadata": {}, "status": "Failure", "message": TIMEOUT_MESSAGE,
                             "reason": "Timeout", "details": {}, "code": 504}) + b"\n"


@dataclass(slots=True)
class _Exchange:
    """One request's progress, as the deadline needs to know it."""

    receive_: Receive
    send_: Send
    started: bool = False
    body_done: bool = False
    receiving: bool = False
    expired: bool = False

    async def receive(self) -> Message:
        self.receiving = True
        try:
            message = await self.receive_()
        finally:
            self.receiving = False
        if message["type"] != "http.request" or not message.get("more_body", False):
            self.body_done = True
        return message

    async def send(self, message: Message) -> None:
        if self.expired:
            return  # the client already has its 504
        if message["type"] == "http.response.start":
            self.started = True
        await self.send_(message)


class RequestTimeout:
    """The deadline of one server; :meth:`filter` is the chain stage (0 disables it)."""

    def __init__(self, seconds: float = DEFAULT_REQUEST_TIMEOUT) -> None:
        self.seconds = seconds

    def filter(self, app: ASGIApp) -> ASGIApp:
        """``app`` under the deadline (an ``apiserver.chain.Filter``)."""
        if self.seconds <= 0:
            return app
        seconds = self.seconds

        async def timed(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http" or scope_request_info(scope).long_running:
                await app(scope, receive, send)
                return
            exchange = _Exchange(receive, send)
            task = asyncio.current_task()
            assert task is not None
            replies: list[asyncio.Task[None]] = []
            cancelled = False

            def expire() -> None:
                nonlocal cancelled
                exchange.expired = True
                if exchange.started:
                    abort_connection(scope)
                    return
                replies.append(asyncio.ensure_future(
                    _send_timeout(send, close=not exchange.body_done)))
                if exchange.receiving:
                    cancelled = True
                    task.cancel()

            timer = asyncio.get_running_loop().call_later(seconds, expire)
            try:
                await app(scope, exchange.receive, exchange.send)
            except asyncio.CancelledError:
                if not cancelled:
                    raise
                task.uncancel()
            finally:
                timer.cancel()
            for reply in replies:  # uvicorn answers 500 if the app returns before it
                await reply

        return timed


async def _send_timeout(send: Send, *, close: bool) -> None:
    """Upstream's 504; the connection closes when the body was not read to its end."""
    headers = [(b"content-type", b"text/plain; charset=utf-8"),
               (b"content-length", str(len(TIMEOUT_BODY)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": 504, "headers": headers})
    await send({"type": "http.response.body", "body": TIMEOUT_BODY})
