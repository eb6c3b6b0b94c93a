"""Value types shared by the change trackers and every proxier (``pkg/proxy/types.go``).

These are backend-independent: the trackers build maps of them from Services
and EndpointSlices, and a proxier (userspace, iptables, nftables, ipvs) only
translates the maps into its dataplane.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "DEFAULT_AFFINITY_SECONDS",
    "Endpoint",
    "MasqueradeConfig",
    "Proxier",
    "RuleConfig",
    "ServicePort",
    "ServicePortName",
]

#: ``v1.DefaultClientIPServiceAffinitySeconds`` (3 hours).
DEFAULT_AFFINITY_SECONDS = 10800


@dataclass(frozen=True, order=True)
class ServicePortName:
    """One port of one Service: ``ns/name:port`` (``ns/name`` when the port is unnamed)."""

    namespace: str
    name: str
    port: str = ""
    protocol: str = "TCP"

    def __post_init__(self) -> None:
        # The hash of the fields, computed once: proxiers look every service port up
        # in several maps on each sync (the generated ``__hash__`` builds a tuple each time).
        object.__setattr__(self, "_hash", hash((self.namespace, self.name, self.port,
                                                self.protocol)))

    def __hash__(self) -> int:
        return self._hash  # type: ignore[attr-defined, no-any-return]

    @property
    def service_key(self) -> str:
        """``namespace/name`` of the Service."""
        return f"{self.namespace}/{self.name}"

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}:{self.port}" if self.port else self.service_key


@dataclass(frozen=True)
class ServicePort:
    """What a proxier needs to know about one Service port."""

    name: ServicePortName
    cluster_ip: str
    port: int
    protocol: str = "TCP"
    node_port: int = 0
    external_ips: tuple[str, ...] = ()
    load_balancer_ips: tuple[str, ...] = ()
    load_balancer_source_ranges: tuple[str, ...] = ()
    #: ClientIP affinity timeout in seconds; ``None`` when affinity is off.
    affinity_seconds: int | None = None
    external_policy_local: bool = False
    internal_policy_local: bool = False
    health_check_node_port: int = 0

    @property
    def externally_accessible(self) -> bool:
        """Has a NodePort, external IPs or load-balancer IPs."""
        return bool(self.node_port or self.external_ips or self.load_balancer_ips)


@dataclass(frozen=True, order=True)
class Endpoint:
    """One backend address of a Service port."""

    ip: str
    port: int
    ready: bool = True
    serving: bool = True
    terminating: bool = False
    node_name: str = ""
    is_local: bool = False

    def __str__(self) -> str:
        return f"{self.ip}:{self.port}"


@dataclass(frozen=True)
class MasqueradeConfig:
    """The flags every rule-based mode's masquerading depends on."""

    cluster_cidr: str = ""
    masquerade_all: bool = False
    masquerade_bit: int = 14

    @property
    def mark(self) -> str:
        """The fwmark of packets to masquerade (``--masquerade-bit``)."""
        return f"{1 << self.masquerade_bit:#x}"


@dataclass(frozen=True)
class RuleConfig(MasqueradeConfig):
    """The flags the iptables and nftables rulesets depend on."""

    #: NodePort destination addresses/CIDRs; empty: every local address.
    nodeport_addresses: tuple[str, ...] = ()


class Proxier(Protocol):
    """A dataplane: turns the service-port and endpoints maps into forwarding state."""

    async def sync(
        self,
        services: dict[ServicePortName, ServicePort],
        endpoints: dict[ServicePortName, tuple[Endpoint, ...]],
        changed: set[str],
        full: bool,
    ) -> None:
        """Program the dataplane for ``services``/``endpoints``.

        ``changed`` holds the ``ns/name`` keys of Services whose Service or
        endpoints changed since the last successful sync; ``full`` asks for a
        complete rewrite. Raises on failure (the caller retries with a full sync).
        """

    async def cleanup(self) -> None:
        """Release everything (close sockets; rules are left for the next start)."""
