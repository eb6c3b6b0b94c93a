"""Minimal ASGI plumbing for the hot paths: requests, responses, parameters.

The resource API is served by a plain ASGI callable (no per-request
dependency injection or validation) that hands pre-encoded bytes to the
response; see DESIGN.md "Hot paths".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import orjson

from apiserver.api import errors

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Upstream's limit for a request body (3 MiB).
MAX_BODY_BYTES = 3 * 1024 * 1024

_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


@dataclass(slots=True)
class Request:
    """One HTTP request: method, path, query, headers (lower-cased) and body."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    receive: Receive
    send: Send
    body: bytes = b""
    warnings: list[str] = field(default_factory=list)
    #: The ASGI scope (its extensions let a handler drop the connection).
    scope: Scope = field(default_factory=dict)

    @classmethod
    def from_scope(cls, scope: Scope, receive: Receive, send: Send) -> Request:
        """Parse the ASGI scope (query: last value of a repeated parameter wins)."""
        raw_query = scope.get("query_string", b"").decode("latin-1")
        query = dict(parse_qsl(raw_query, keep_blank_values=True))
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        return cls(
            method=scope["method"],
            # The ASGI server percent-decoded the path once, as Go's URL.Path is; a
            # second decoding would let ``%252F`` act as a separator.
            path=scope.get("path", "/"),
            query=query,
            headers=headers,
            receive=receive,
            send=send,
            scope=scope,
        )

    async def read_body(self) -> bytes:
        """The whole body; 413 past :data:`MAX_BODY_BYTES`."""
        length = self.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
            raise errors.entity_too_large()
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise errors.entity_too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        self.body = b"".join(chunks)
        return self.body

    def flag(self, name: str) -> bool:
        """A boolean parameter, parsed as Go's ``strconv.ParseBool``; 400 if invalid."""
        value = self.query.get(name)
        if value is None or value == "":
            return False
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise errors.bad_request(
            f'strconv.ParseBool: parsing "{value}": invalid syntax'
        )

    def integer(self, name: str) -> int | None:
        """An integer parameter; 400 if not a number."""
        value = self.query.get(name)
        if value is None or value == "":
            return None
        try:
            number = int(value)
        except ValueError:
            raise errors.bad_request(
                f'strconv.ParseInt: parsing "{value}": invalid syntax'
            ) from None
        if not -(2**63) <= number < 2**63:
            raise errors.bad_request(f'strconv.ParseInt: parsing "{value}": value out of range')
        return number

    @property
    def content_type(self) -> str:
        """The media type of the body, without parameters."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _headers(
    content_type: str, extra: list[tuple[bytes, bytes]] | None
) -> list[tuple[bytes, bytes]]:
    headers = [(b"content-type", content_type.encode()), (b"cache-control", b"no-cache, private")]
    if extra:
        headers.extend(extra)
    return headers


#: Bodies up to this size get their JSON newline by one copy (cheaper than a
#: second ``send``); larger ones get it as a second chunk, never copied.
_COPY_NEWLINE_LIMIT = 64 * 1024


async def respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: str = "application/json",
    extra_headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """Send a complete response.

    A JSON body (``application/json``, with or without parameters) always ends
    with ``\\n``, as kube-apiserver's JSON encoder writes it; the newline is
    added here unless the body already ends with one. Other media types are
    sent as given.
    """
    newline = content_type.startswith("application/json") and not body.endswith(b"\n")
    headers = _headers(content_type, extra_headers)
    headers.append((b"content-length", str(len(body) + newline).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    if not newline:
        await send({"type": "http.response.body", "body": body})
    elif len(body) <= _COPY_NEWLINE_LIMIT:
        await send({"type": "http.response.body", "body": body + b"\n"})
    else:
        await send({"type": "http.response.body", "body": body, "more_body": True})
        await send({"type": "http.response.body", "body": b"\n"})


async def respond_chunks(
    send: Send,
    status: int,
    length: int,
    chunks: Iterable[bytes],
    extra_headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """Send a complete JSON response of ``length`` bytes in parts: each chunk is taken
    from ``chunks`` once the previous one was handed to the server (which waits for the
    socket to drain), so a big body is never held whole. The chunks must add up to
    ``length`` and end with the JSON newline."""
    headers = _headers("application/json", extra_headers)
    headers.append((b"content-length", str(length).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    for chunk in chunks:
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


#: Upstream's warning recorder limits (apiserver ``endpoints/filters/warning.go``).
_WARNINGS_TOTAL_RUNES = 4 * 1024
_WARNING_ITEM_RUNES = 256


def _warning_header(text: str) -> bytes | None:
    """``299 - "text"`` as apimachinery's ``NewWarningHeader`` builds it, or None for a
    text it refuses (control characters, unpaired surrogates): such a warning is dropped,
    so no header value ever carries a byte the HTTP server would refuse to send."""
    if any(ch < " " or "\x7f" <= ch <= "\x9f" for ch in text):
        return None
    try:
        quoted = text.replace("\\", "\\\\").replace('"', '\\"').encode()
    except UnicodeEncodeError:
        return None
    return b'299 - "' + quoted + b'"'


def warning_headers(warnings: list[str]) -> list[tuple[bytes, bytes]]:
    """``Warning: 299 - "..."`` headers, as upstream's recorder sends them: empty and
    repeated texts dropped, and past 4096 characters in all every text cut to 256."""
    texts = list(dict.fromkeys(text for text in warnings if text))
    truncating = sum(len(text) for text in texts) > _WARNINGS_TOTAL_RUNES
    out: list[tuple[bytes, bytes]] = []
    written = 0
    for text in texts:
        if truncating:
            if written >= _WARNINGS_TOTAL_RUNES:
                break
            text = text[:_WARNING_ITEM_RUNES]
        header = _warning_header(text)
        if header is not None:
            written += len(text)
            out.append((b"warning", header))
    return out


async def respond_error(send: Send, error: errors.ApiError,
                        warnings: list[str] | None = None) -> None:
    """Send an error ``Status`` (JSON, ending with ``\\n``), with the request's warnings."""
    await respond(send, error.code, orjson.dumps(error.status, option=orjson.OPT_APPEND_NEWLINE),
                  extra_headers=warning_headers(warnings) if warnings else None)


#: ASGI scope extension set by :mod:`apiserver.serving`: a callable that drops the
#: connection at once, discarding whatever is buffered for a client that stopped reading.
ABORT_EXTENSION = "kubemu.abort"


def abort_connection(scope: Scope) -> bool:
    """Drop the request's connection now (True), if the server offers a way to (else False).

    Closing a transport politely waits for its write buffer to drain, which never happens
    when the client stopped reading; aborting frees the buffer and the socket at once.
    """
    abort = (scope.get("extensions") or {}).get(ABORT_EXTENSION)
    if abort is None:
        return False
    abort()
    return True
