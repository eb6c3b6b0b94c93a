"""The request chain in front of the handlers, in kube-apiserver's order — fixed here only.

::

    request timeout (504) → authentication (401) → impersonation (403)
        → max-in-flight (429) → authorization (403) → handlers

The chain is one flat ASGI callable (:class:`Chain`), not a stack of middlewares: the
request is parsed once (:func:`~apiserver.handlers.requestinfo.scope_request_info`, kept
in the scope for the router too), then each configured check runs as a plain, synchronous
function call of its own module, testable without HTTP:

* request timeout — :class:`~apiserver.filters.timeout.RequestTimeout` (HTTP requests that
  are not long-running: a deadline swept by one timer, the handler's ``send`` wrapped);
* authentication — :func:`~apiserver.auth.authentication.authenticate_request`;
* impersonation — :func:`~apiserver.auth.impersonation.impersonate_request`;
* max in flight — :meth:`~apiserver.filters.maxinflight.MaxInFlight.acquire` (HTTP only:
  WebSocket requests are watches and streams, long-running);
* authorization — :func:`~apiserver.auth.authz_filter.authorize_request`.

Every request is counted and timed around the whole chain
(:mod:`apiserver.filters.requestmetrics`; ``apiserver_request_total`` and friends), so
refusals count with the code the client got. A check refuses by raising
:class:`~apiserver.handlers.refusal.Refusal`, which the chain answers. A check that is not
configured is left out. The handlers run with
:data:`apiserver.api.user.REQUEST_USER` set to the requester (the impersonated user);
without an authentication check the chain reads the requester from there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from apiserver.api.user import REQUEST_USER
from apiserver.auth.authentication import RequestAuthenticator, authenticate_request
from apiserver.auth.authz_filter import authorize_request
from apiserver.auth.impersonation import impersonate_request
from apiserver.filters.maxinflight import MaxInFlight, Pool
from apiserver.filters.requestmetrics import (
    begin_long_running,
    end_long_running,
    labels_of,
    long_running_labels,
    record,
)
from apiserver.filters.timeout import Exchange, RequestTimeout
from apiserver.handlers.refusal import Refusal, answer_refusal
from apiserver.handlers.requestinfo import RequestInfo, scope_request_info
from apiserver.registry.reviews import Authorizer

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ChainStages:
    """The configured checks; None leaves a check out. ``impersonation`` returns the
    authorizer impersonation asks (the server's current one, looked up per request)."""

    request_timeout: RequestTimeout | None = None
    authentication: RequestAuthenticator | None = None
    impersonation: Callable[[], Authorizer] | None = None
    max_in_flight: MaxInFlight | None = None
    authorization: Authorizer | None = None
    #: Whether requests are counted and timed (:mod:`apiserver.filters.requestmetrics`).
    request_metrics: bool = True


class Chain:
    """``app`` behind the configured checks (see the module docstring)."""

    __slots__ = ("app", "authentication", "authorization", "impersonation", "max_in_flight",
                 "request_metrics", "timeout")

    def __init__(self, app: ASGIApp, stages: ChainStages) -> None:
        self.app = app
        timeout = stages.request_timeout
        self.timeout = timeout if timeout is not None and timeout.seconds > 0 else None
        self.authentication = stages.authentication
        self.impersonation = stages.impersonation
        limits = stages.max_in_flight
        self.max_in_flight = limits if limits is not None and limits.enabled else None
        self.authorization = stages.authorization
        self.request_metrics = stages.request_metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        info = scope_request_info(scope)
        if not self.request_metrics:
            await self._handle(scope, receive, send, info)
            return
        labels = labels_of(scope, info)
        code = 0

        async def observed(message: Message) -> None:
            nonlocal code
            what = message["type"]
            if what == "http.response.start" or what == "websocket.http.response.start":
                code = message["status"]
            elif what == "websocket.accept":
                code = 101
            elif what == "websocket.close" and not code:
                code = 403
            await send(message)

        long_running = info.long_running or kind == "websocket"
        if long_running:
            begin_long_running(long_labels := long_running_labels(labels))
        start = perf_counter()
        try:
            await self._handle(scope, receive, observed, info)
        except BaseException:
            code = code or 500
            raise
        finally:
            if long_running:
                end_long_running(long_labels)
            record(labels, code, perf_counter() - start)

    async def _handle(self, scope: Scope, receive: Receive, send: Send,
                      info: RequestInfo) -> None:
        http = scope["type"] == "http"
        if not http:
            # uvicorn's WebSocket protocol passes header names as sent; ASGI (and every
            # check) expects them lower-case, as its HTTP protocol gives them.
            scope["headers"] = [(k.lower(), v) for k, v in scope.get("headers", [])]
        timeout = self.timeout
        exchange: Exchange | None = None
        if timeout is not None and http and not info.long_running:
            exchange = timeout.start(scope, receive, send)
            send = exchange.send
            if not exchange.body_done:
                receive = exchange.receive
        pool: Pool | None = None
        try:
            try:
                if self.authentication is not None:
                    user = authenticate_request(self.authentication, scope)
                else:
                    user = REQUEST_USER.get()
                if self.impersonation is not None:
                    user = impersonate_request(scope, user, self.impersonation())
                if self.max_in_flight is not None and http:
                    pool = self.max_in_flight.acquire(info, user)
                if self.authorization is not None:
                    authorize_request(self.authorization, scope, info, user)
            except Refusal as refusal:
                await answer_refusal(scope, receive, send, refusal)
            else:
                token = REQUEST_USER.set(user)
                try:
                    await self.app(scope, receive, send)
                finally:
                    REQUEST_USER.reset(token)
            finally:
                if pool is not None:
                    pool.release()
        except asyncio.CancelledError:
            if exchange is None or not exchange.cancelled:
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
        finally:
            if timeout is not None and exchange is not None:
                timeout.finish(exchange)
        if exchange is not None and exchange.reply is not None:
            await exchange.reply  # uvicorn answers 500 if the app returns first


def build_chain(app: ASGIApp, stages: ChainStages) -> ASGIApp:
    """``app`` behind the configured checks, in upstream's order."""
    return Chain(app, stages)
