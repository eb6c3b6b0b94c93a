"""Rebuild the allocation maps from the stored Services (upstream's repair controllers).

Run at start-up, before the API serves. Like upstream's ``ipallocator`` and
``portallocator`` repair controllers, one pass reads each stored map once, rebuilds
it in memory from every Service (a set of offsets, turned into one bitmap at the
end) and writes it back with one compare-and-swap per map, whatever the number of
Services: every cluster IP and node port a Service holds is marked, and every
marked value no Service holds is released.

Each fix is logged with upstream's wording, one line per value: a Service whose
value is not recorded ("is not allocated; repairing"), a value held by two
Services (the second is reported "assigned to multiple services" and the value
stays the first one's), a cluster IP outside the configured CIDR or of a family
the cluster no longer serves, a node port outside the range (all reported, none
recorded), and a recorded value nobody holds ("appears to have leaked: cleaning
up"; upstream waits for three periodic passes before releasing a leak, this
one-shot start-up pass releases it at once). Upstream also records a Warning
Event on the Service for each; kubemu only logs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from apiserver.registry.service.alloc import Allocators, collect_node_ports
from apiserver.registry.service.allocator import StoredRange
from apiserver.registry.service.bitmap import Bitmap, NotInRangeError
from apiserver.registry.service.validation import ip_family

log = logging.getLogger("apiserver.repair")


def _set(target: Bitmap) -> Callable[[Bitmap], None]:
    def change(bitmap: Bitmap) -> None:
        bitmap.bits = target.bits
        bitmap.count = target.count

    return change


class _Pass:
    """One map's rebuild: the offsets the Services hold, against the stored ones."""

    def __init__(self, stored: Bitmap) -> None:
        self.stored = set(stored.offsets())
        self.held: set[int] = set()

    def mark(self, index: int) -> str | None:
        """Record ``index`` for one Service; the problem to report, if any."""
        if index in self.held:
            return "was assigned to multiple services; please recreate"
        self.held.add(index)
        return None if index in self.stored else "is not allocated; repairing"

    def leaked(self) -> list[int]:
        return sorted(self.stored - self.held)

    async def save(self, store: StoredRange, empty: Bitmap) -> None:
        """One write of the rebuilt map, when it differs from the stored one."""
        if self.held != self.stored or store.mismatched:
            empty.set_all(self.held)
            await store.apply(_set(empty))


def _names(svc: dict[str, Any]) -> tuple[dict[str, Any], str]:
    spec = svc.get("spec") or {}
    md = svc.get("metadata") or {}
    return spec, f"{md.get('name', '')}/{md.get('namespace', '')}"


async def repair(allocators: Allocators, services: Iterable[dict[str, Any]]) -> list[str]:
    """Make the stored maps match ``services``; the log lines of every fix."""
    services = list(services)
    messages: list[str] = []

    def report(message: str) -> None:
        log.warning("%s", message)
        messages.append(message)

    passes = {family: _Pass(await store.load())
              for family, store in allocators.ip_stores.items()}
    for svc in services:
        spec, name = _names(svc)
        if spec.get("type") == "ExternalName":
            continue
        ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
        for ip in ips:
            if ip in ("", "None"):
                continue
            ip = str(ip)
            family = ip_family(ip)
            if family is None:
                report(f"the cluster IP {ip} for service {name} is not a valid IP; "
                       "please recreate")
                continue
            rebuild = passes.get(family)
            if rebuild is None:
                report(f"the cluster IP {ip}({family}) for service {name} is of ip family "
                       "that is no longer configured on cluster; please recreate")
                continue
            ip_range = allocators.ip_ranges[family]
            try:
                problem = rebuild.mark(ip_range.index_of(ip))
            except NotInRangeError:
                problem = f"is not within the service CIDR {ip_range.spec}; please recreate"
            if problem:
                report(f"the cluster IP [{family}]:{ip} for service {name} {problem}")
    for family, rebuild in passes.items():
        ip_range = allocators.ip_ranges[family]
        for index in rebuild.leaked():
            report(f"the cluster IP [{family}]:{ip_range.ip_at(index)} appears to have "
                   "leaked: cleaning up")
        await rebuild.save(allocators.ip_stores[family], ip_range.bitmap())

    port_range = allocators.network.node_port_range
    ports_pass = _Pass(await allocators.ports.load())
    for svc in services:
        spec, name = _names(svc)
        ports = collect_node_ports(spec)
        if spec.get("healthCheckNodePort"):
            ports.append(int(spec["healthCheckNodePort"]))
        for port in dict.fromkeys(ports):
            if not port_range.contains(port):
                report(f"the node port {port} for service {name} is not within "
                       f"the port range {port_range.spec}; please recreate")
                continue
            problem = ports_pass.mark(port_range.index_of(port))
            if problem:
                report(f"the node port {port} for service {name} {problem}")
    for index in ports_pass.leaked():
        report(f"the node port {port_range.port_at(index)} appears to have leaked: "
               "cleaning up")
    await ports_pass.save(allocators.ports, port_range.bitmap())
    return messages
