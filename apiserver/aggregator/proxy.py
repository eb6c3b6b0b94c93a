"""Proxying a request to the extension server of its APIService (upstream
``handler_proxy.go`` over apimachinery's upgrade-aware proxy).

Contract: :class:`AggregatorProxy` serves an HTTP request for ``/apis/<group>/<version>…``
that :class:`~.index.APIServiceIndex` routes to a service-backed APIService, after the
request chain authenticated and authorized it (the requester is
:data:`~apiserver.api.user.REQUEST_USER`). As upstream, with ``http.Error``'s plain-text
bodies:

* the APIService is not ``Available`` → 503 ``service unavailable``;
* its Service resolves to nothing → 503 ``service unavailable``;
* its caBundle makes no TLS configuration → 503 with the reason;
* connecting or the TLS handshake fails → 503 ``error trying to reach service: <err>``;
* a redirect (3xx with ``Location``) is not followed nor passed on → 502 ``the backend
  attempted to redirect this request, which is not permitted`` (upstream's
  ``RejectForwardingRedirects``, on by default);
* else the extension server's status, headers (but hop-by-hop ones) and body stream back
  as they arrive (watches too); if it fails mid-body the response just ends.

WebSocket upgrades are not proxied (refused with 503).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import httpx

from apiserver.aggregator.index import Entry
from apiserver.aggregator.resolve import Resolver
from apiserver.aggregator.transport import (
    TransportError,
    Transports,
    UserHeaders,
    forwarded_headers,
    go_error,
    headers_of,
    response_headers,
    wire_headers,
)
from apiserver.api.user import REQUEST_USER
from apiserver.handlers.connect.relay import send_body
from apiserver.handlers.http import Receive, Scope, Send

log = logging.getLogger(__name__)

REDIRECT_REFUSED = "the backend attempted to redirect this request, which is not permitted"


async def plain_error(send: Send, code: int, message: str) -> None:
    """Go's ``http.Error``: ``message`` + newline as ``text/plain``."""
    body = (message + "\n").encode("utf-8", "replace")
    await send({"type": "http.response.start", "status": code,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"x-content-type-options", b"nosniff"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _request_body(receive: Receive) -> Any:
    """The client's body, streamed through (never held whole)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            # A cut upload must not reach the extension as a complete (shorter) body.
            raise httpx.ReadError("the client disconnected during the request body")
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


def target_url(host: str, port: int, scope: Scope) -> str:
    """``https://host:port`` + the request's path and query."""
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else quote(str(scope.get("path", "/")))
    query = scope.get("query_string", b"").decode("latin-1")
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return f"https://{netloc}{path}" + (f"?{query}" if query else "")


class AggregatorProxy:
    """See the module docstring."""

    def __init__(self, resolver: Resolver, transports: Transports, names: UserHeaders) -> None:
        self.resolver = resolver
        self.transports = transports
        self.names = names

    async def __call__(self, scope: Scope, receive: Receive, send: Send, entry: Entry) -> None:
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1011})
            return
        if not entry.available:
            await plain_error(send, 503, "service unavailable")
            return
        try:
            host, port = self.resolver.resolve(str(entry.service_namespace),
                                               entry.service_name, entry.port)
        except LookupError as exc:
            log.info("error resolving %s/%s: %s", entry.service_namespace,
                     entry.service_name, exc)
            await plain_error(send, 503, "service unavailable")
            return
        try:
            client = self.transports.client(entry.ca_bundle, entry.insecure,
                                            entry.server_name)
        except TransportError as exc:
            await plain_error(send, 503, str(exc))
            return
        path = str(scope.get("path", ""))
        if any(segment in (".", "..") for segment in path.split("/")):
            # Authorized as written; the extension must see the same path, uncleaned.
            await plain_error(send, 400, "invalid path: dot segments are not forwarded")
            return
        incoming = headers_of(scope.get("headers") or [])
        client_address = str((scope.get("client") or ("",))[0] or "")
        headers = forwarded_headers(incoming, REQUEST_USER.get(), self.names, client_address)
        has_body = any(k in ("content-length", "transfer-encoding") for k, _ in incoming)
        request = client.build_request(
            str(scope.get("method") or "GET"), target_url(host, port, scope),
            headers=wire_headers(headers),
            content=_request_body(receive) if has_body else None,
            extensions={"sni_hostname": entry.server_name})
        await self._exchange(client, request, receive, send, host, port)

    async def _exchange(self, client: httpx.AsyncClient, request: httpx.Request,
                        receive: Receive, send: Send, host: str, port: int) -> None:
        started = False
        try:
            response = await client.send(request, stream=True)
            try:
                if 300 <= response.status_code <= 399 and response.headers.get("location"):
                    await plain_error(send, 502, REDIRECT_REFUSED)
                    return
                await send({"type": "http.response.start", "status": response.status_code,
                            "headers": response_headers(response.headers.raw)})
                started = True
                await send_body(receive, send, response.aiter_raw())
            finally:
                await response.aclose()
        except httpx.HTTPError as exc:
            log.info("proxying to %s failed: %s", request.url, exc)
            if started:
                # Upstream aborts the connection: a clean end would pass a cut body as whole.
                raise
            else:
                await plain_error(send, 503, "error trying to reach service: "
                                  + go_error(exc, host, port))
