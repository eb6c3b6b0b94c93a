"""Serving a container's ports with the built-in servers (:mod:`controllers.node.servers`).

Each port a container declares — or, declaring none, each port its image listens on
(:func:`controllers.node.images.implied_ports`) — gets the server :func:`port_kind` picks:
HTTP, gRPC health (a port a ``grpc`` probe targets, knowing the probes' service names),
TCP or UDP echo. A declared port that cannot be bound fails the start; an image's own port
that cannot be bound (nginx's 80 without root) is skipped with a line in the log.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from controllers.node.images import implied_ports
from controllers.node.probes import ProbeSpec
from controllers.node.servers import ContainerFlags, PortServer, port_kind, start_port_server

__all__ = ["serve_ports"]


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


async def serve_ports(spec: Mapping[str, Any], ip: str, flags: ContainerFlags,
                      probes: tuple[ProbeSpec | None, ProbeSpec | None, ProbeSpec | None],
                      servers: list[PortServer], log_line: Callable[[str, str], None]) -> None:
    """Start the servers of container ``spec`` on ``ip``, appending each to ``servers``
    (so the caller closes those started before a failure); ``probes`` are the startup,
    readiness and liveness probes. Raises OSError when a declared port cannot be bound."""
    startup, readiness, liveness = probes
    specs = [s for s in probes if s is not None]
    http_ports = {s.port for s in specs if s.kind == "http"}
    ready_services = {(s.port, s.service) for s in (readiness,)
                      if s is not None and s.kind == "grpc"}
    live_services = {(s.port, s.service) for s in (startup, liveness)
                     if s is not None and s.kind == "grpc"}
    grpc_ports = {port for port, _ in ready_services | live_services}
    declared = spec.get("ports") or []
    for port in declared or implied_ports(spec):
        kind = port_kind(_m(port), http_ports, grpc_ports)
        number = _m(port).get("containerPort")
        if kind is None or not isinstance(number, int):
            continue
        known = frozenset(s for p, s in ready_services | live_services if p == number)
        liveness_only = frozenset(s for p, s in live_services - ready_services if p == number)
        try:
            server = await start_port_server(kind, ip, number, flags, known, liveness_only)
        except OSError as exc:
            if declared:
                raise
            # The image's own port is served where it can be: a node agent without root
            # cannot bind nginx's port 80, and the container runs on without it.
            log_line(f"not serving the image's port {number}: {exc}", "stderr")
            continue
        servers.append(server)
        log_line(f"serving {kind.upper()} on {ip}:{number}"
                 + ("" if declared else " (the image's own port: the container declares "
                                        "none)"), "stdout")
