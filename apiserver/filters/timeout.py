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
import time
from collections.abc import Awaitable
from typing import Any

import orjson

from apiserver.handlers.http import Message, Receive, Scope, Send, abort_connection

DEFAULT_REQUEST_TIMEOUT = 60.0
_BODILESS = frozenset({"GET", "HEAD"})
TIMEOUT_MESSAGE = ("Timeout: request did not complete within requested timeout - "
                   "context deadline exceeded")
#: Go's ``json.NewEncoder(w).Encode(&err.ErrStatus)`` of ``NewTimeoutError(msg, 0)``.
TIMEOUT_BODY = orjson.dumps({"metadata": {}, "status": "Failure", "message": TIMEOUT_MESSAGE,
                             "reason": "Timeout", "details": {}, "code": 504}) + b"\n"


class Exchange:
    """One request under the deadline: what the deadline needs to know of its progress.

    :meth:`send` is what the handler gets in place of the server's send; :meth:`receive`
    likewise for a request with a body (GET and HEAD keep the server's own). After the
    request, the chain calls :meth:`RequestTimeout.finish` and awaits :attr:`reply` if set.
    """

    __slots__ = ("body_done", "cancelled", "deadline", "expired", "receive_", "receiving",
                 "reply", "scope", "send_", "started", "task")

    def __init__(self, scope: Scope, receive: Receive, send: Send,
                 task: asyncio.Task[Any] | None, deadline: float, body_done: bool) -> None:
        self.scope = scope
        self.receive_ = receive
        self.send_ = send
        self.task = task
        self.deadline = deadline
        self.body_done = body_done
        self.started = self.receiving = self.expired = self.cancelled = False
        self.reply: asyncio.Task[None] | None = None

    async def receive(self) -> Message:
        """The server's receive, noting whether the body was read to its end."""
        self.receiving = True
        try:
            message = await self.receive_()
        finally:
            self.receiving = False
        if message["type"] != "http.request" or not message.get("more_body", False):
            self.body_done = True
        return message

    def send(self, message: Message) -> Awaitable[None]:
        """The server's send (returned to be awaited: no coroutine of its own), or
        nothing once the client has its 504."""
        if self.expired:
            return _discarded()
        if message["type"] == "http.response.start":
            self.started = True
        return self.send_(message)

    def expire(self) -> None:
        """The deadline passed: answer 504 now (or drop the connection if too late)."""
        self.expired = True
        if self.started:
            abort_connection(self.scope)
            return
        self.reply = asyncio.ensure_future(_send_timeout(self.send_, close=not self.body_done))
        if self.receiving and self.task is not None:
            self.cancelled = True
            self.task.cancel()  # nothing was done yet: stop waiting for the body


async def _discarded() -> None:
    """An answer written after the 504: dropped."""


class RequestTimeout:
    """The deadline of one server (0 disables it); :meth:`start` and :meth:`finish`
    bracket a request in the chain.

    One timer sweeps the requests in flight (at most a quarter of the timeout, and a
    second, apart) instead of a timer per request: the hot paths pay for a set insertion.
    """

    def __init__(self, seconds: float = DEFAULT_REQUEST_TIMEOUT) -> None:
        self.seconds = seconds
        self._tick = min(1.0, seconds / 4)
        self._live: set[Exchange] = set()
        self._sweeper: asyncio.TimerHandle | None = None

    def _sweep(self) -> None:
        self._sweeper = None
        now = time.monotonic()
        for exchange in [e for e in self._live if e.deadline <= now]:
            self._live.discard(exchange)
            exchange.expire()
        if self._live:
            self._sweeper = asyncio.get_running_loop().call_later(self._tick, self._sweep)

    def start(self, scope: Scope, receive: Receive, send: Send) -> Exchange:
        """Put the HTTP request ``scope`` (not long-running) under the deadline.

        The handler must then get :meth:`Exchange.send`, and :meth:`Exchange.receive` for
        a request with a body; a ``CancelledError`` while the exchange is ``cancelled`` is
        the deadline's own (the handler was waiting for the body) and is swallowed by the
        caller after :meth:`Task.uncancel`.
        """
        # GET and HEAD carry no body: their handlers keep the server's own receive, and
        # nothing ever needs to cancel them.
        bodiless = scope["method"] in _BODILESS
        exchange = Exchange(scope, receive, send,
                            None if bodiless else asyncio.current_task(),
                            time.monotonic() + self.seconds, bodiless)
        self._live.add(exchange)
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().call_later(self._tick, self._sweep)
        return exchange

    def finish(self, exchange: Exchange) -> None:
        """The request is done: the deadline no longer watches it."""
        self._live.discard(exchange)


async def _send_timeout(send: Send, *, close: bool) -> None:
    """Upstream's 504; the connection closes when the body was not read to its end."""
    headers = [(b"content-type", b"text/plain; charset=utf-8"),
               (b"content-length", str(len(TIMEOUT_BODY)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": 504, "headers": headers})
    await send({"type": "http.response.body", "body": TIMEOUT_BODY})
