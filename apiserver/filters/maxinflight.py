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

from apiserver.api.user import MASTERS_GROUP, UserInfo
from apiserver.handlers.refusal import Refusal
from apiserver.handlers.requestinfo import RequestInfo

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
    """The limits of one server; :meth:`acquire` is the chain's check (WebSocket requests,
    watches and streams, never reach it)."""

    max_requests_inflight: int = DEFAULT_MAX_REQUESTS_INFLIGHT
    max_mutating_requests_inflight: int = DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT
    read_only: Pool = field(init=False)
    mutating: Pool = field(init=False)

    def __post_init__(self) -> None:
        self.read_only = Pool(self.max_requests_inflight)
        self.mutating = Pool(self.max_mutating_requests_inflight)

    def acquire(self, info: RequestInfo, user: UserInfo) -> Pool | None:
        """The pool whose slot the request ``info`` of ``user`` now holds (the caller
        releases it when the request is done), or None when it takes no slot.

        Raises :class:`~apiserver.handlers.refusal.Refusal` (429) when the pool is full.
        """
        if info.long_running:
            return None
        pool = self.mutating if info.mutating else self.read_only
        if pool.try_acquire():
            return pool
        if MASTERS_GROUP in user.groups:
            return None
        pool.dropped += 1
        raise Refusal(429, TOO_MANY_REQUESTS_BODY, headers=_TOO_MANY_HEADERS, raw=True)

    @property
    def enabled(self) -> bool:
        """Whether any pool has a limit (else the chain leaves the check out)."""
        return bool(self.read_only.limit or self.mutating.limit)
