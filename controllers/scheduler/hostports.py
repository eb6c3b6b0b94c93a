"""The NodePorts filter: host ports a pod wants against those in use on a node.

Upstream's ``framework.HostPortInfo``: ports in use are kept per host IP as
``(protocol, port)`` pairs; an empty ``hostIP`` means ``0.0.0.0`` and an empty protocol
``TCP``. A wanted port conflicts when the same ``(protocol, port)`` is in use on the same
IP or on ``0.0.0.0``; a wanted port on ``0.0.0.0`` conflicts with that pair on any IP.
Only the app containers' ports with ``hostPort > 0`` count (the 1.33 plugin ignores init
and sidecar containers).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["REASON", "HostPort", "HostPortInfo", "pod_host_ports"]

#: ``nodeports.ErrReason``.
REASON = "node(s) didn't have free ports for the requested pod ports"
BIND_ALL = "0.0.0.0"

#: ``(hostIP, protocol, hostPort)`` as written in the pod spec (may be empty/defaulted).
HostPort = tuple[str, str, int]


def _sanitize(ip: str, protocol: str) -> tuple[str, str]:
    return ip or BIND_ALL, protocol or "TCP"


def pod_host_ports(pod: Mapping[str, Any]) -> list[HostPort]:
    """The ``(hostIP, protocol, hostPort)`` of the pod's container ports with a host port."""
    spec = pod.get("spec")
    containers = spec.get("containers") if isinstance(spec, Mapping) else None
    out: list[HostPort] = []
    for container in containers if isinstance(containers, list) else []:
        ports = container.get("ports") if isinstance(container, Mapping) else None
        for port in ports if isinstance(ports, list) else []:
            if not isinstance(port, Mapping):
                continue
            host_port = port.get("hostPort")
            if isinstance(host_port, int) and not isinstance(host_port, bool) and host_port > 0:
                out.append((str(port.get("hostIP") or ""), str(port.get("protocol") or ""),
                            host_port))
    return out


class HostPortInfo:
    """The host ports in use on one node: host IP → set of ``(protocol, port)``."""

    def __init__(self) -> None:
        self._used: dict[str, set[tuple[str, int]]] = {}

    def add(self, ip: str, protocol: str, port: int) -> None:
        """Mark a port in use (ports ≤ 0 are ignored)."""
        if port <= 0:
            return
        ip, protocol = _sanitize(ip, protocol)
        self._used.setdefault(ip, set()).add((protocol, port))

    def conflicts(self, ip: str, protocol: str, port: int) -> bool:
        """Upstream ``CheckConflict`` for one wanted port."""
        if port <= 0:
            return False
        ip, protocol = _sanitize(ip, protocol)
        pair = (protocol, port)
        if ip == BIND_ALL:
            return any(pair in used for used in self._used.values())
        return any(pair in self._used.get(key, ()) for key in (BIND_ALL, ip))

    def fits(self, wanted: Iterable[HostPort]) -> bool:
        """No wanted port conflicts with one in use."""
        return not any(self.conflicts(ip, protocol, port) for ip, protocol, port in wanted)
