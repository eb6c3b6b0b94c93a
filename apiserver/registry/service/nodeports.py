"""Node-port assignment of a Service, applied to one bitmap copy (upstream ``alloc.go``).

The functions here decide which ports a Service takes or gives back and record
them on a :class:`PortOp` over a copy of the node-port bitmap; the caller
writes that copy back in one compare-and-swap (see
:meth:`~apiserver.registry.service.alloc.Allocators.allocate_create`). They
fill ``nodePort`` / ``healthCheckNodePort`` into the spec and raise 422 for a
port that cannot be had, 500 when the range is full.
"""

from __future__ import annotations

from typing import Any

from apiserver.registry.service.allocerrors import internal_error, invalid_service
from apiserver.registry.service.bitmap import (
    AlreadyAllocatedError,
    Bitmap,
    PortRange,
    RangeError,
    RangeFullError,
)
from apiserver.registry.service.defaults import ports_of, spec_view
from apiserver.registry.service.fielderrors import go_value, invalid


def needs_node_port(spec: dict[str, Any]) -> bool:
    """Whether the Service type can hold node ports (NodePort or LoadBalancer)."""
    return spec.get("type") in ("NodePort", "LoadBalancer")


def should_allocate_node_ports(spec: dict[str, Any]) -> bool:
    """Whether ports without a ``nodePort`` get one (NodePort, or LoadBalancer unless disabled)."""
    if spec.get("type") == "NodePort":
        return True
    if spec.get("type") == "LoadBalancer":
        return spec.get("allocateLoadBalancerNodePorts") is not False
    return False


def node_port_of(port: dict[str, Any]) -> int:
    """The port's ``nodePort`` as an int, 0 when unset or not an integer."""
    value = port.get("nodePort")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def collect_node_ports(spec: dict[str, Any]) -> list[int]:
    """Every non-zero ``nodePort`` of the ports (not the health-check port)."""
    return [np for np in (node_port_of(p) for p in ports_of(spec)) if np]


class PortOp:
    """Node-port changes of one Service, applied to a bitmap copy in one CAS write."""

    def __init__(self, bitmap: Bitmap, ports: PortRange) -> None:
        self.bitmap = bitmap
        self.range = ports
        self.allocated: list[int] = []

    def allocate(self, port: int) -> None:
        """Take ``port``; :class:`RangeError` when taken or outside the range."""
        index = self.range.index_of(port)
        if not self.bitmap.allocate(index):
            raise AlreadyAllocatedError("port")
        self.allocated.append(port)

    def allocate_next(self) -> int:
        """Take any free port; :class:`RangeFullError` when none is left."""
        index = self.bitmap.allocate_next()
        if index is None:
            raise RangeFullError()
        port = self.range.port_at(index)
        self.allocated.append(port)
        return port


def _take(op: PortOp, svc: dict[str, Any], index: int, port: int) -> None:
    """Take the ``nodePort`` requested by ``spec.ports[index]``; 422 when it cannot be had."""
    try:
        op.allocate(port)
    except RangeError as exc:
        raise invalid_service(svc, [invalid(
            f"spec.ports[{index}].nodePort", go_value(port), str(exc))]) from None


def _take_next(op: PortOp) -> int:
    """Take any free node port; 500 when the range is full."""
    try:
        return op.allocate_next()
    except RangeError as exc:
        raise internal_error(f"failed to allocate a nodePort: {exc}") from None


def init_node_ports(svc: dict[str, Any], op: PortOp) -> None:
    """Give a created Service the node ports it asks for or needs (``initNodePorts``)."""
    spec = spec_view(svc)
    ports = ports_of(spec)
    by_port: dict[Any, int] = {}
    for i, port in enumerate(ports):
        if not node_port_of(port) and not should_allocate_node_ports(spec):
            continue
        allocated = by_port.get(port.get("port"), 0)
        if not allocated:
            requested = next((node_port_of(p) for p in ports[i:]
                              if p.get("port") == port.get("port") and node_port_of(p)), 0)
            if requested:
                _take(op, svc, i, requested)
                port["nodePort"] = requested
                by_port[port.get("port")] = requested
            else:
                chosen = _take_next(op)
                port["nodePort"] = chosen
                by_port[port.get("port")] = chosen
        elif node_port_of(port) != allocated:
            if not node_port_of(port):
                port["nodePort"] = allocated
            else:
                _take(op, svc, i, node_port_of(port))


def alloc_health_check(spec: dict[str, Any], op: PortOp) -> None:
    """Take the requested ``healthCheckNodePort``, or pick one and write it to ``spec``."""
    requested = spec.get("healthCheckNodePort") or 0
    if requested:
        try:
            op.allocate(int(requested))
        except RangeError as exc:
            raise internal_error(f"failed to allocate requested HealthCheck NodePort "
                                 f"{requested}: {exc}") from None
        return
    try:
        spec["healthCheckNodePort"] = op.allocate_next()
    except RangeError as exc:
        raise internal_error(f"failed to allocate a HealthCheck NodePort 0: {exc}") from None


def update_node_ports(new: dict[str, Any], old_ports: list[int], op: PortOp,
                      released: list[int]) -> None:
    """Node ports of an updated Service (``updateNodePorts``).

    Ports of ``old_ports`` the new spec no longer uses are appended to ``released``.
    """
    spec = spec_view(new)
    seen: list[tuple[Any, int]] = []
    taken_here: set[int] = set()
    for i, port in enumerate(ports_of(spec)):
        if not node_port_of(port) and not should_allocate_node_ports(spec):
            continue
        node_port = node_port_of(port)
        if node_port:
            if node_port not in old_ports and node_port not in taken_here:
                _take(op, new, i, node_port)
                taken_here.add(node_port)
        else:
            node_port = _take_next(op)
            port["nodePort"] = node_port
        key = (port.get("protocol"), node_port)
        if key in seen:
            raise internal_error(f"duplicate nodePort: {{{key[0]} {node_port}}}")
        seen.append(key)
    new_ports = collect_node_ports(spec)
    released += [p for p in old_ports if p not in new_ports]


def copy_ports(spec: dict[str, Any]) -> list[tuple[dict[str, Any], Any]]:
    """Each port object with its ``nodePort`` as requested, for :func:`restore_ports`."""
    return [(p, p.get("nodePort")) for p in ports_of(spec)]


def restore_ports(spec: dict[str, Any], saved: list[tuple[dict[str, Any], Any]]) -> None:
    """Undo the node ports a previous (conflicted) attempt wrote into ``spec``."""
    for port, value in saved:
        if value is None:
            port.pop("nodePort", None)
        else:
            port["nodePort"] = value
