"""Max-in-flight: at most N read-only and M mutating requests at once (upstream
``pkg/server/filters/maxinflight.go``, ``--max-requests-inflight`` and
``--max-mutating-requests-inflight``).

A request over its pool's limit is answered at once with 429, ``Retry-After: 1`` and the
plain-text body upstream's ``http.Error`` writes — never queued, so a flood cannot stall
the clients that are within the limit. Long-running requests (watch, proxy, exec, attach,
log, portforward) hold no slot. Members of ``system:masters`` are served even when the pool
is full (without taking a slot), as upstream: "a super-admin … should always get an
answer". A limit of 0 disables that pool.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from apiserver.api.user import MASTERS_GROUP, REQUEST_USER
from apiserver.filters.requestinfo import scope_request_info
from apiserver.handlers.http import ASGIApp, Receive, Scope, Send

DEFAULT_MAX_REQUESTS_INFLIGHT = 400
DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT = 200
RETRY_AFTER = b"1"
TOO_MANY_REQUESTS_BODY = b"Too many requests, please try again later.\n"
#: The headers Go's ``http.Error`` sets, plus the filter's Retry-After.
_TOO_MANY_HEADERS = [
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"x-content-type-options", b"nosniff"),
    (b"retry-after", RETRY_AFTER),
    (b"content-length", str(len(TOO_MANY_REQUESTS_BODY)).encode()),
]


@dataclass(slots=True)
class Pool:
    """One limit and how many of its slots are taken (0 = unlimited)."""

    limit: int
    in_use: int = 0
    #: Requests answered 429 since start (upstream ``apiserver_dropped_requests_total``).
    dropped: int = 0

    def try_acquire(self) -> bool:
        """Take a slot if one is free."""
        if self.limit and self.in_use >= self.limit:
            return False
        self.in_use += 1
        return True

    def release(self) -> None:
        """Give a slot back."""
        self.in_use -= 1


@dataclass(slots=True)
class MaxInFlight:
    """The limits of one server; :meth:`filter` is the chain stage."""

    max_requests_inflight: int = DEFAULT_MAX_REQUESTS_INFLIGHT
    max_mutating_requests_inflight: int = DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT
    read_only: Pool = field(init=False)
    mutating: Pool = field(init=False)

    def __post_init__(self) -> None:
        self.read_only = Pool(self.max_requests_inflight)
        self.mutating = Pool(self.max_mutating_requests_inflight)

    def filter(self, app: ASGIApp) -> ASGIApp:
        """``app`` behind the limits (an ``apiserver.chain.Filter``)."""
        if not self.read_only.limit and not self.mutating.limit:
            return app

        async def limited(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":  # WebSocket: watches and streams, long-running
                await app(scope, receive, send)
                return
            info = scope_request_info(scope)
            if info.long_running:
                await app(scope, receive, send)
                return
            pool = self.mutating if info.mutating else self.read_only
            if not pool.try_acquire():
                if MASTERS_GROUP in REQUEST_USER.get().groups:
                    await app(scope, receive, send)
                    return
                pool.dropped += 1
                await too_many_requests(send)
                return
            try:
                await app(scope, receive, send)
            finally:
                pool.release()

        return limited


async def too_many_requests(send: Send) -> None:
    """Upstream's 429: ``Retry-After: 1`` and a plain-text line."""
    await send({"type": "http.response.start", "status": 429, "headers": _TOO_MANY_HEADERS})
    await send({"type": "http.response.body", "body": TOO_MANY_REQUESTS_BODY})
