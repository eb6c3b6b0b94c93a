"""Successful bearer-token authentications, cached for a few seconds (upstream's
``cachedTokenAuthenticator`` in front of the token authenticators, success TTL 10 s).

A cached answer is reused only while all of these hold:

* less than :data:`SUCCESS_TTL` seconds passed (``time.monotonic``; a token may thus
  outlive its expiry by at most that long, as upstream's);
* the ``generation`` given at construction is unchanged — the server passes the change
  counters of the watch caches the ServiceAccount authenticator reads (ServiceAccounts,
  Secrets, Pods, Nodes), so a bound token stops working as soon as its pod, Secret or
  ServiceAccount is deleted, as without the cache;
* the request asked for the API audiences (a ``TokenReview`` naming audiences is never
  served from the cache).

Failures are not cached. At most :data:`MAX_ENTRIES` tokens are kept; past it the cache
starts over.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from apiserver.registry.reviews import TokenAuthenticator, TokenResult

SUCCESS_TTL = 10.0
MAX_ENTRIES = 4096


class CachedTokens:
    """A :class:`~apiserver.registry.reviews.TokenAuthenticator` remembering ``delegate``'s
    successes (see the module docstring)."""

    def __init__(self, delegate: TokenAuthenticator, generation: Callable[[], int],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.delegate = delegate
        self.clock = clock
        self.generation = generation
        self._entries: dict[str, tuple[TokenResult, float, int]] = {}

    def authenticate_token(self, token: str, audiences: Sequence[str]) -> TokenResult:
        """The delegate's answer, from the cache when still valid."""
        if audiences:
            return self.delegate.authenticate_token(token, audiences)
        now = self.clock()
        generation = self.generation()
        entry = self._entries.get(token)
        if entry is not None:
            result, cached_at, cached_generation = entry
            if cached_generation == generation and cached_at <= now < cached_at + SUCCESS_TTL:
                return result
            del self._entries[token]
        result = self.delegate.authenticate_token(token, audiences)
        if result.authenticated:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[token] = (result, now, generation)
        return result
