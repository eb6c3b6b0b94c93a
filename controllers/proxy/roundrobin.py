"""The userspace load balancer (``pkg/proxy/userspace/roundrobin.go`` ``LoadBalancerRR``).

Per service port: the endpoint list (shuffled whenever it changes, index reset
to 0), round-robin over it, and a ClientIP affinity map (client IP ->
endpoint, last used) whose entries live while ``now - last_used < ttl``.
Entries whose endpoint disappeared are purged on update.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from controllers.proxy.types import ServicePortName

__all__ = ["LoadBalancerRR", "NoEndpoints"]


class NoEndpoints(LookupError):
    """The service port has no usable endpoint."""


@dataclass
class _Affinity:
    endpoint: str
    last_used: float


@dataclass
class _Balancer:
    endpoints: list[str] = field(default_factory=list)
    index: int = 0
    ttl: float | None = None
    affinity: dict[str, _Affinity] = field(default_factory=dict)


class LoadBalancerRR:
    """Round-robin with optional ClientIP affinity, one balancer per service port."""

    def __init__(
        self,
        *,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rng = rng or random.Random()
        self.clock = clock
        self._services: dict[ServicePortName, _Balancer] = {}

    def update(self, spn: ServicePortName, endpoints: Sequence[str],
               affinity_seconds: int | None) -> bool:
        """Set the endpoints and affinity of a port; True if the endpoint set changed."""
        state = self._services.setdefault(spn, _Balancer())
        state.ttl = float(affinity_seconds) if affinity_seconds else None
        if state.ttl is None:
            state.affinity.clear()
        if sorted(state.endpoints) == sorted(endpoints):
            return False
        new = list(endpoints)
        self.rng.shuffle(new)
        state.endpoints = new
        state.index = 0
        alive = set(new)
        for ip in [ip for ip, a in state.affinity.items() if a.endpoint not in alive]:
            del state.affinity[ip]
        return True

    def delete(self, spn: ServicePortName) -> None:
        """Forget a service port."""
        self._services.pop(spn, None)

    def service_ports(self) -> list[ServicePortName]:
        """Every service port with a balancer."""
        return list(self._services)

    def endpoints(self, spn: ServicePortName) -> list[str]:
        """The current (shuffled) endpoint order."""
        state = self._services.get(spn)
        return list(state.endpoints) if state else []

    def next_endpoint(self, spn: ServicePortName, client_ip: str,
                      session_affinity_reset: bool = False) -> str:
        """The endpoint for a new connection (raises :class:`NoEndpoints`)."""
        state = self._services.get(spn)
        if state is None or not state.endpoints:
            raise NoEndpoints(str(spn))
        now = self.clock()
        if state.ttl is not None and client_ip and not session_affinity_reset:
            aff = state.affinity.get(client_ip)
            if aff is not None and now - aff.last_used < state.ttl:
                aff.last_used = now
                return aff.endpoint
        endpoint = state.endpoints[state.index % len(state.endpoints)]
        state.index = (state.index + 1) % len(state.endpoints)
        if state.ttl is not None and client_ip:
            state.affinity[client_ip] = _Affinity(endpoint, now)
        return endpoint
