"""Rebuild the allocation maps from the stored Services (upstream's repair controllers).

Run at start-up, before the API serves: every cluster IP and node port a
Service holds is marked, and every marked value no Service holds is released.
Each fix is logged with upstream's wording.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from apiserver.registry.service.alloc import Allocators, collect_node_ports
from apiserver.registry.service.bitmap import Bitmap, NotInRangeError
from apiserver.registry.service.validation import ip_family

log = logging.getLogger("apiserver.repair")


def _set(target: Bitmap) -> Any:
    def change(bitmap: Bitmap) -> None:
        bitmap.bits = target.bits
        bitmap.count = target.count

    return change


async def repair(allocators: Allocators, services: Iterable[dict[str, Any]]) -> list[str]:
    """Make the stored maps match ``services``; the log lines of every fix."""
    services = list(services)
    messages: list[str] = []

    def report(message: str) -> None:
        log.warning("%s", message)
        messages.append(message)

    for family, store in allocators.ip_stores.items():
        ip_range = allocators.ip_ranges[family]
        stored = await store.load()
        rebuilt = ip_range.bitmap()
        for svc in services:
            spec = svc.get("spec") or {}
            md = svc.get("metadata") or {}
            name, namespace = md.get("name", ""), md.get("namespace", "")
            if spec.get("type") == "ExternalName":
                continue
            for ip in spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP")
                                                 else []):
                if ip in ("", "None") or ip_family(str(ip)) != family:
                    continue
                try:
                    index = ip_range.index_of(str(ip))
                except NotInRangeError:
                    report(f"the cluster IP [{family}]:{ip} for service {name}/{namespace} is "
                           f"not within the service CIDR {ip_range.spec}; please recreate")
                    continue
                if not rebuilt.allocate(index):
                    report(f"the cluster IP [{family}]:{ip} for service {name}/{namespace} was "
                           "assigned to multiple services; please recreate")
                    continue
                if not stored.has(index):
                    report(f"the cluster IP [{family}]:{ip} for service {name}/{namespace} is "
                           "not allocated; repairing")
        for index in stored.offsets():
            if not rebuilt.has(index):
                report(f"the cluster IP [{family}]:{ip_range.ip_at(index)} appears to have "
                       "leaked: cleaning up")
        if rebuilt.bits != stored.bits or store.mismatched:
            await store.apply(_set(rebuilt))

    port_range = allocators.network.node_port_range
    stored = await allocators.ports.load()
    rebuilt = port_range.bitmap()
    for svc in services:
        spec = svc.get("spec") or {}
        md = svc.get("metadata") or {}
        name, namespace = md.get("name", ""), md.get("namespace", "")
        ports = collect_node_ports(spec)
        if spec.get("healthCheckNodePort"):
            ports.append(int(spec["healthCheckNodePort"]))
        for port in dict.fromkeys(ports):
            if not port_range.contains(port):
                report(f"the node port {port} for service {name}/{namespace} is not within "
                       f"the port range {port_range.spec}; please recreate")
                continue
            index = port_range.index_of(port)
            if not rebuilt.allocate(index):
                report(f"the node port {port} for service {name}/{namespace} was assigned to "
                       "multiple services; please recreate")
                continue
            if not stored.has(index):
                report(f"the node port {port} for service {name}/{namespace} is not "
                       "allocated; repairing")
    for index in stored.offsets():
        if not rebuilt.has(index):
            report(f"the node port {port_range.port_at(index)} appears to have leaked: "
                   "cleaning up")
    if rebuilt.bits != stored.bits or allocators.ports.mismatched:
        await allocators.ports.apply(_set(rebuilt))
    return messages
