"""The HTTP server's connection-level limits (kube-apiserver's ``http.Server`` settings).

* ``ReadHeaderTimeout`` 32 s: a connection that does not complete a request's headers in
  time (slowloris, or connected and silent) is closed — uvicorn alone waits forever.
* ``IdleTimeout`` 90 s between requests on a kept-alive connection (uvicorn's
  ``timeout_keep_alive``), as upstream and Go's client transports expect.
* Every HTTP request's and WebSocket's scope carries
  :data:`apiserver.handlers.http.ABORT_EXTENSION`, so a handler can drop a connection whose
  client stopped reading (a slow watcher) instead of waiting forever for its write buffer
  to drain.
* The open-file soft limit is raised to the hard limit at start, as Go's runtime does for
  kube-apiserver, so a connection flood meets the in-flight limit (429) rather than
  ``accept()`` failing with EMFILE and stalling every new client.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from apiserver.handlers.http import ABORT_EXTENSION

READ_HEADER_TIMEOUT = 32.0
IDLE_TIMEOUT = 90


class ApiServerHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol plus a header-read deadline and the abort extension."""

    #: Class attribute so tests can shorten it without a flag.
    read_header_timeout = READ_HEADER_TIMEOUT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        #: When the headers being read are due (None: none are being read).
        self._headers_due: float | None = None
        self._coalescing: CoalescingTransport | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._coalescing = CoalescingTransport(transport, self.loop)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._headers_due = None
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        if self._coalescing is not None:
            self._coalescing.drop()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # Whatever the protocol answers itself (a 400 for a malformed request) goes out
        # after what a response already wrote.
        if self._coalescing is not None:
            self._coalescing.flush()
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope["extensions"] = {ABORT_EXTENSION: self.transport.abort}  # type: ignore[dict-item]
        self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._headers_due = None
        previous = self.cycle
        super().on_headers_complete()
        cycle = self.cycle
        # A request answered here gets a new response cycle; an upgrade (WebSocket) does
        # not, and its protocol writes to the real transport.
        if cycle is not previous and cycle is not None and self._coalescing is not None:
            self._coalescing.expect_head()
            cycle.transport = self._coalescing  # type: ignore[assignment]

    def _arm_header_timer(self) -> None:
        # One timer per connection, not one per request: the deadline is noted here and
        # cleared when the headers are complete; the timer, when it fires, closes the
        # connection if headers are overdue, waits on if some are due later, and is made
        # again by the next request otherwise. A kept-alive connection's requests cost no
        # timer operations.
        # Headers already due (the first request's, since the connection was made) keep
        # their deadline.
        if self.read_header_timeout <= 0 or self._headers_due is not None:
            return
        due = self._headers_due = self.loop.time() + self.read_header_timeout
        if self._header_timer is None:
            self._header_timer = self.loop.call_at(due, self._header_timeout)

    def _header_timeout(self) -> None:
        self._header_timer = None
        due = self._headers_due
        if due is None:
            return
        if due > self.loop.time():
            self._header_timer = self.loop.call_at(due, self._header_timeout)
            return
        # Go's server closes without an answer when the headers do not arrive in time.
        if not self.transport.is_closing():
            self.transport.abort()


class CoalescingTransport:
    """The transport as a response sees it: a response's head is held until the response's
    next write (the first part of its body) or the end of the event loop's current
    iteration, whichever comes first, so head and body leave in one send (one system call
    and one TCP segment, not two: ``writelines`` gathers them without a copy on uvloop).
    Every other write goes straight through; what is held always leaves before anything
    written after it.

    Only ``write``, ``close`` and ``is_closing`` are used by uvicorn's response cycle;
    ``close`` sends what is held first.
    """

    __slots__ = ("_expect_head", "_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None
        self._expect_head = False

    def expect_head(self) -> None:
        """A new response starts: its first write is its head."""
        self._expect_head = True

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.writelines((held, data))
        elif self._expect_head:
            self._expect_head = False
            self._held = data
            self._loop.call_soon(self.flush)
        else:
            self._transport.write(data)

    def flush(self) -> None:
        """Send what is held, if anything."""
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():
                self._transport.write(held)

    def drop(self) -> None:
        """Forget what is held (the connection is gone)."""
        self._held = None

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def close(self) -> None:
        self.flush()
        self._transport.close()


class ApiServerWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol (websockets, sans-I/O: what "auto" picks) plus the abort
    extension.

    Offered subprotocols are passed to the application as sent, even when they are not
    RFC 7230 tokens: kubectl's port-forward offers ``SPDY/3.1+portforward.k8s.io``, which
    Go's servers accept and the websockets handshake would refuse with 400. (uvicorn puts
    the application's chosen subprotocol in the answer itself.)
    """

    def handle_connect(self, event: Any) -> None:
        offered = event.headers.get_all("Sec-WebSocket-Protocol")
        if offered:
            accept = self.conn.accept

            def accept_any_subprotocol(request: Any) -> Any:
                del request.headers["Sec-WebSocket-Protocol"]
                try:
                    return accept(request)
                finally:
                    for value in offered:
                        request.headers["Sec-WebSocket-Protocol"] = value

            self.conn.accept = accept_any_subprotocol  # type: ignore[method-assign]
        super().handle_connect(event)

    async def run_asgi(self) -> None:
        self.scope["extensions"][ABORT_EXTENSION] = self.transport.abort  # type: ignore[assignment]
        await super().run_asgi()


def raise_open_file_limit() -> None:
    """Raise ``RLIMIT_NOFILE``'s soft limit to its hard limit (Go does this at start)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
