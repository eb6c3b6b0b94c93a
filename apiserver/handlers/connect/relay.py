"""The WebSocket relay between a client and a kubelet (``pods/exec``, ``pods/attach``,
``pods/portforward``).

:func:`relay_websocket` takes the client's WebSocket handshake (an ASGI ``websocket``
scope), opens a WebSocket to the kubelet URL offering the client's subprotocols in the
client's order, and accepts the client's handshake with the subprotocol the kubelet chose
— so the negotiation is the kubelet's, as when kube-apiserver proxies an upgrade. Then
messages are copied both ways unchanged (binary stays binary, text stays text) until one
side closes; its close code and reason are passed to the other side.

When the kubelet refuses the handshake, the client gets the kubelet's status and body as
the handshake answer (a non-101 answer that clients such as kubectl report and may fall
back from); when it cannot be reached, a 500 Status. :func:`refuse_upgrade` answers a
plain (non-WebSocket) upgrade request, e.g. ``Upgrade: SPDY/3.1``, which this server
does not speak.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol

from apiserver.api import errors
from apiserver.handlers.http import Receive, Scope, Send, respond_error

__all__ = ["SPDY_TUNNEL_PREFIX", "offered_subprotocols", "refuse_upgrade", "relay_websocket",
           "send_body", "tunnel_subprotocols", "websocket_refusal"]

log = logging.getLogger(__name__)

#: Largest message relayed (kubectl's own read limit is far below it).
MAX_MESSAGE = 16 << 20
#: Close codes that may not be sent in a close frame; they become a normal closure.
_RESERVED_CODES = frozenset({1004, 1005, 1006, 1015})


#: kubectl ≥ 1.31 offers ``SPDY/3.1+portforward.k8s.io``: SPDY/3.1 inside the WebSocket.
SPDY_TUNNEL_PREFIX = "SPDY/3.1+"


def tunnel_subprotocols(offered: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """What to offer the kubelet for a port-forward, and the client's name of each.

    Tunnelling protocols (``SPDY/3.1+<name>.k8s.io``) lose their prefix, as upstream's
    apiserver strips it before it speaks ``<name>`` to the kubelet; the kubelet serves the
    SPDY stream in the WebSocket under that name (the prefixed form is not an RFC 7230
    token, which WebSocket libraries refuse)."""
    towards, names = [], {}
    for protocol in offered:
        if protocol.startswith(SPDY_TUNNEL_PREFIX) and protocol.endswith(".k8s.io"):
            names[protocol[len(SPDY_TUNNEL_PREFIX):]] = protocol
            protocol = protocol[len(SPDY_TUNNEL_PREFIX):]
        towards.append(protocol)
    return towards, names


def offered_subprotocols(scope: Scope) -> list[str]:
    """The client's ``Sec-WebSocket-Protocol`` values, in its order (bearer-token entries
    were already taken out by authentication)."""
    out: list[str] = []
    for key, value in scope.get("headers") or []:
        if key.lower() == b"sec-websocket-protocol":
            out.extend(p.strip() for p in value.decode("latin-1").split(",") if p.strip())
    return out


async def websocket_refusal(receive: Receive, send: Send, status: int, body: bytes,
                            content_type: bytes = b"application/json") -> None:
    """Answer a WebSocket handshake with ``status`` and ``body`` instead of accepting it."""
    message = await receive()
    if message.get("type") != "websocket.connect":
        return
    await send({"type": "websocket.http.response.start", "status": status,
                "headers": [(b"content-type", content_type)]})
    await send({"type": "websocket.http.response.body", "body": body})


async def refuse_error(receive: Receive, send: Send, error: errors.ApiError) -> None:
    """Answer a WebSocket handshake with an error Status."""
    await websocket_refusal(receive, send, error.code,
                            orjson.dumps(error.status, option=orjson.OPT_APPEND_NEWLINE))


async def refuse_upgrade(send: Send) -> None:
    """Answer a non-WebSocket upgrade (SPDY/3.1) with a 400 Status saying what works."""
    await respond_error(send, errors.bad_request(
        "unable to upgrade connection: SPDY/3.1 streams are not served by this server; "
        "use a WebSocket client (kubectl 1.30 or later, which tunnels port-forward over "
        "WebSocket from 1.31)"))


async def send_body(receive: Receive, send: Send, chunks: AsyncIterator[bytes]) -> None:
    """Send ``chunks`` as a started response's body until they end or the client goes away
    (then the iteration is cancelled, so a follow stream from a kubelet does not outlive
    its client)."""

    async def pump() -> None:
        async for chunk in chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    tasks = [asyncio.create_task(pump()), asyncio.create_task(disconnected())]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if tasks[0] in done:
            tasks[0].result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _close_code(code: int | None) -> int:
    return 1000 if code is None or code in _RESERVED_CODES else code


async def _client_to_kubelet(receive: Receive, upstream: ClientConnection) -> None:
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "websocket.disconnect":
            await upstream.close(_close_code(message.get("code")), message.get("reason") or "")
            return
        if kind != "websocket.receive":
            continue
        data: Any = message.get("bytes")
        if data is None:
            data = message.get("text")
        if data is not None:
            await upstream.send(data)


async def _kubelet_to_client(upstream: ClientConnection, send: Send) -> None:
    try:
        async for data in upstream:
            if isinstance(data, bytes):
                await send({"type": "websocket.send", "bytes": data})
            else:
                await send({"type": "websocket.send", "text": data})
    except ConnectionClosed:
        pass
    with contextlib.suppress(Exception):
        await send({"type": "websocket.close", "code": _close_code(upstream.close_code),
                    "reason": upstream.close_reason or ""})


async def relay_websocket(scope: Scope, receive: Receive, send: Send, url: str,
                          context: ssl.SSLContext | None,
                          subprotocols: Sequence[str] | None = None,
                          client_names: Mapping[str, str] | None = None) -> None:
    """Relay the client's WebSocket ``scope`` to ``url`` (see the module docstring);
    ``client_names`` maps a subprotocol the kubelet may choose to the name the client
    offered for it (:func:`tunnel_subprotocols`)."""
    offered = list(subprotocols if subprotocols is not None else offered_subprotocols(scope))
    try:
        upstream = await connect(
            url, ssl=context, subprotocols=[Subprotocol(p) for p in offered] or None,
            compression=None, proxy=None, max_size=MAX_MESSAGE, open_timeout=30,
            ping_interval=None, user_agent_header="kube-apiserver")
    except InvalidStatus as exc:
        response = exc.response
        body = bytes(response.body or b"")
        kind = response.headers.get("content-type", "text/plain").encode("latin-1")
        if response.status_code in (400, 404, 500) and not kind.startswith(b"application/json"):
            text = body.decode("utf-8", "replace").strip()
            error = (errors.bad_request(text) if response.status_code == 400
                     else errors.ApiError(404, "NotFound", text) if response.status_code == 404
                     else errors.internal(text))
            await refuse_error(receive, send, error)
            return
        await websocket_refusal(receive, send, response.status_code, body, kind)
        return
    except (OSError, InvalidHandshake, TimeoutError) as exc:
        log.info("cannot open a WebSocket to %s: %s", url, exc)
        await refuse_error(receive, send, errors.internal(
            f"error dialing backend: {exc}"))
        return
    try:
        message = await receive()
        if message.get("type") != "websocket.connect":
            return
        accept: dict[str, Any] = {"type": "websocket.accept"}
        if upstream.subprotocol:
            chosen = str(upstream.subprotocol)
            accept["subprotocol"] = (client_names or {}).get(chosen, chosen)
        await send(accept)
        pumps = [asyncio.create_task(_client_to_kubelet(receive, upstream)),
                 asyncio.create_task(_kubelet_to_client(upstream, send))]
        try:
            done, _ = await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task.exception() is not None and not isinstance(
                        task.exception(), ConnectionClosed | OSError):
                    log.warning("relaying %s failed: %r", url, task.exception())
        finally:
            for task in pumps:
                task.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
    finally:
        await upstream.close()
