"""ClusterIP and NodePort allocation for Services (upstream ``storage/alloc.go``).

:class:`Allocators` owns one persisted bitmap per service CIDR and one for the
node-port range. ``allocate_create`` / ``allocate_update`` take what a Service
needs *before* it is written and return a :class:`Transaction`: the store
commits it once the Service is stored (releasing what the update gave up) or
reverts it when the write fails (releasing what was taken). Deletes release
everything through :meth:`Allocators.release`.

This module is the flow and the persisted state; what a Service asks for is
decided in :mod:`~apiserver.registry.service.ipfamilies` (IP-family fields)
and :mod:`~apiserver.registry.service.nodeports` (node-port assignment).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from apiserver.registry.service.allocator import StoredRange
from apiserver.registry.service.allocerrors import internal_error, invalid_service
from apiserver.registry.service.bitmap import (
    AlreadyAllocatedError,
    Bitmap,
    IPRange,
    NotInRangeError,
    PortRange,
    RangeError,
    RangeFullError,
)
from apiserver.registry.service.defaults import needs_health_check, spec_view, strs_of
from apiserver.registry.service.fielderrors import go_list, invalid
from apiserver.registry.service.ipfamilies import init_ip_family_fields, matching_prefer_dual_stack
from apiserver.registry.service.ipvalidation import ip_family
from apiserver.registry.service.nodeports import (
    PortOp,
    alloc_health_check,
    collect_node_ports,
    copy_ports,
    init_node_ports,
    needs_node_port,
    restore_ports,
    update_node_ports,
)
from apiserver.storage.interface import Storage

log = logging.getLogger(__name__)

Step = Callable[[], Awaitable[None]]

DEFAULT_SERVICE_CIDR = "10.0.0.0/24"
DEFAULT_NODE_PORT_RANGE = "30000-32767"
_RANGE_NAMES = ("serviceips", "secondaryserviceips")
NODE_PORTS_NAME = "servicenodeports"


@dataclass(frozen=True, slots=True)
class ServiceNetwork:
    """The service ranges the apiserver was started with."""

    cluster_ip_ranges: tuple[IPRange, ...]
    node_port_range: PortRange

    @property
    def families(self) -> tuple[str, ...]:
        return tuple(r.family for r in self.cluster_ip_ranges)


@dataclass
class Transaction:
    """Steps to run once the Service write succeeded, or failed."""

    on_commit: list[Step] = field(default_factory=list)
    on_revert: list[Step] = field(default_factory=list)

    def extend(self, other: Transaction) -> None:
        self.on_commit += other.on_commit
        self.on_revert += other.on_revert

    async def commit(self) -> None:
        for step in self.on_commit:
            try:
                await step()
            except Exception:
                log.exception("releasing service allocations after an update failed")

    async def revert(self) -> None:
        for step in reversed(self.on_revert):
            try:
                await step()
            except Exception:
                log.exception("reverting service allocations failed")


def needs_cluster_ip(spec: dict[str, Any]) -> bool:
    """Whether the Service type holds cluster IPs (every type but ExternalName)."""
    return spec.get("type") != "ExternalName"


def _is_headless_ips(spec: dict[str, Any]) -> bool:
    ips = strs_of(spec, "clusterIPs")
    return bool(ips) and ips[0] == "None"


class Allocators:
    """The service IP and node-port allocators of this apiserver."""

    def __init__(self, storage: Storage, network: ServiceNetwork,
                 rng: random.Random | None = None) -> None:
        self.network = network
        self.rng = rng or random.Random()
        self.ip_ranges: dict[str, IPRange] = {}
        self.ip_stores: dict[str, StoredRange] = {}
        for name, ip_range in zip(_RANGE_NAMES, network.cluster_ip_ranges, strict=False):
            self.ip_ranges[ip_range.family] = ip_range
            self.ip_stores[ip_range.family] = StoredRange(
                storage, name, ip_range.spec, ip_range.size, ip_range.static_band, self.rng)
        self.default_family = network.cluster_ip_ranges[0].family
        ports = network.node_port_range
        self.ports = StoredRange(storage, NODE_PORTS_NAME, ports.spec, ports.size,
                                 ports.static_band, self.rng)

    def _init_ip_family_fields(self, svc: dict[str, Any], old: dict[str, Any] | None) -> None:
        """Fill/check the IP-family fields against this apiserver's ranges."""
        init_ip_family_fields(svc, old, self.ip_ranges, self.default_family)

    # -- cluster IPs -----------------------------------------------------------------

    async def _alloc_ips(self, svc: dict[str, Any], wanted: dict[str, str],
                         dry_run: bool) -> dict[str, str]:
        """Allocate ``family → ip`` ("" = any); all or nothing."""
        done: dict[str, str] = {}
        spec = spec_view(svc)
        try:
            for family, ip in wanted.items():
                ip_range = self.ip_ranges[family]
                store = self.ip_stores[family]
                if not ip:
                    if dry_run:
                        done[family] = str(ip_range.network.network_address)
                        continue
                    index = await store.apply(lambda b: b.allocate_next())
                    if index is None:
                        raise internal_error(
                            f"failed to allocate a serviceIP: {RangeFullError()}")
                    done[family] = ip_range.ip_at(index)
                    continue
                try:
                    index = ip_range.index_of(ip)
                    if not dry_run:
                        taken = await store.apply(_taker(index))
                        if not taken:
                            raise AlreadyAllocatedError("IP")
                except RangeError as exc:
                    raise invalid_service(svc, [invalid(
                        "spec.clusterIPs", go_list(strs_of(spec, "clusterIPs")),
                        f"failed to allocate IP {ip}: {exc}")]) from None
                done[family] = ip
        except BaseException:
            if not dry_run:
                await self.release_ips(done)
            raise
        return done

    async def release_ips(self, ips: dict[str, str]) -> None:
        for family, ip in ips.items():
            ip_range = self.ip_ranges.get(family)
            if ip_range is None or not ip_range.contains(ip):
                continue
            index = ip_range.index_of(ip)
            await self.ip_stores[family].apply(_releaser(index))

    async def _alloc_cluster_ips(self, svc: dict[str, Any], dry_run: bool) -> dict[str, str]:
        spec = spec_view(svc)
        if spec.get("type") == "ExternalName" or _is_headless_ips(spec):
            return {}
        families = strs_of(spec, "ipFamilies")
        ips = strs_of(spec, "clusterIPs")
        while len(ips) < len(families):
            ips.append("")
        wanted = {fam: ips[i] for i, fam in enumerate(families)}
        allocated = await self._alloc_ips(svc, wanted, dry_run)
        for i, fam in enumerate(families):
            if fam in allocated:
                ips[i] = allocated[fam]
        spec["clusterIPs"] = ips
        if ips:
            spec["clusterIP"] = ips[0]
        return {fam: ip for fam, ip in allocated.items() if fam in allocated}

    def _family_ips(self, spec: dict[str, Any]) -> dict[str, str]:
        ips = strs_of(spec, "clusterIPs")
        if not ips and spec.get("clusterIP"):
            ips = [str(spec["clusterIP"])]
        out: dict[str, str] = {}
        for ip in ips:
            fam = ip_family(ip)
            if fam is not None:
                out[fam] = ip
        return out

    # -- node ports --------------------------------------------------------------------

    async def _port_change(self, change: Callable[[PortOp], None], dry_run: bool) -> list[int]:
        """Run ``change`` in one CAS write; the ports it newly took."""
        port_range = self.network.node_port_range

        def run(bitmap: Bitmap) -> list[int]:
            op = PortOp(bitmap, port_range)
            change(op)
            return op.allocated

        return await self.ports.apply(run, dry_run=dry_run)

    async def release_ports(self, ports: list[int]) -> None:
        port_range = self.network.node_port_range
        indexes = [port_range.index_of(p) for p in ports if port_range.contains(p)]
        if not indexes:
            return

        def run(bitmap: Bitmap) -> None:
            for i in indexes:
                bitmap.release(i)

        await self.ports.apply(run)
    # -- create / update / delete ------------------------------------------------------

    async def allocate_create(self, svc: dict[str, Any], dry_run: bool) -> Transaction:
        """Fill IP-family fields, take cluster IPs and node ports (``allocateCreate``)."""
        self._init_ip_family_fields(svc, None)
        txn = Transaction()
        ips = await self._alloc_cluster_ips(svc, dry_run)
        if ips and not dry_run:
            txn.on_revert.append(lambda: self.release_ips(ips))
        spec = spec_view(svc)
        work = copy_ports(spec)
        hc_before = spec.get("healthCheckNodePort")

        def change(op: PortOp) -> None:
            restore_ports(spec, work)
            if hc_before is None:
                spec.pop("healthCheckNodePort", None)
            else:
                spec["healthCheckNodePort"] = hc_before
            if needs_node_port(spec):
                init_node_ports(svc, op)
            if needs_health_check(spec):
                alloc_health_check(spec, op)

        try:
            taken = await self._port_change(change, dry_run)
        except BaseException:
            await txn.revert()
            raise
        if taken and not dry_run:
            txn.on_revert.append(lambda: self.release_ports(taken))
        return txn

    async def allocate_update(self, new: dict[str, Any], old: dict[str, Any],
                              dry_run: bool) -> Transaction:
        """``allocateUpdate``: take what the new spec needs, release what it gave up."""
        self._init_ip_family_fields(new, old)
        txn = Transaction()
        allocated, released = await self._update_cluster_ips(new, old, dry_run)
        if not dry_run:
            if allocated:
                txn.on_revert.append(lambda: self.release_ips(allocated))
            if released:
                txn.on_commit.append(lambda: self.release_ips(released))
        try:
            txn.extend(await self._update_node_ports(new, old, dry_run))
        except BaseException:
            await txn.revert()
            raise
        return txn

    async def _update_cluster_ips(
        self, new: dict[str, Any], old: dict[str, Any], dry_run: bool
    ) -> tuple[dict[str, str], dict[str, str]]:
        spec, old_spec = spec_view(new), spec_view(old)
        if matching_prefer_dual_stack(spec, old_spec):
            return {}, {}
        if old_spec.get("type") == "ExternalName" and spec.get("type") != "ExternalName":
            return await self._alloc_cluster_ips(new, dry_run), {}
        if _is_headless_ips(old_spec):
            return {}, {}
        if old_spec.get("type") != "ExternalName" and spec.get("type") == "ExternalName":
            return {}, self._family_ips(old_spec)
        old_f, new_f = strs_of(old_spec, "ipFamilies"), strs_of(spec, "ipFamilies")
        if len(old_f) == 1 and len(new_f) == 2:
            ips = strs_of(spec, "clusterIPs")
            if len(ips) < 2:
                ips.append("")
            allocated = await self._alloc_ips(new, {new_f[1]: ips[1]}, dry_run)
            ips[1] = allocated[new_f[1]]
            spec["clusterIPs"] = ips
            return allocated, {}
        if len(old_f) == 2 and len(new_f) == 1:
            old_ips = strs_of(old_spec, "clusterIPs")
            if len(old_ips) > 1:
                return {}, {old_f[1]: old_ips[1]}
        return {}, {}

    async def _update_node_ports(self, new: dict[str, Any], old: dict[str, Any],
                                 dry_run: bool) -> Transaction:
        spec, old_spec = spec_view(new), spec_view(old)
        txn = Transaction()
        deferred: list[int] = []
        if needs_node_port(old_spec) and spec.get("type") in ("ExternalName", "ClusterIP"):
            deferred += collect_node_ports(old_spec)
        work = copy_ports(spec)
        old_ports = collect_node_ports(old_spec)
        hc_before = spec.get("healthCheckNodePort")

        def change(op: PortOp) -> None:
            restore_ports(spec, work)
            if hc_before is None:
                spec.pop("healthCheckNodePort", None)
            else:
                spec["healthCheckNodePort"] = hc_before
            released[:] = deferred
            if needs_node_port(spec):
                update_node_ports(new, old_ports, op, released)
            if not needs_health_check(old_spec) and needs_health_check(spec):
                alloc_health_check(spec, op)
            elif needs_health_check(old_spec) and not needs_health_check(spec):
                hc = old_spec.get("healthCheckNodePort") or 0
                if hc:
                    released.append(int(hc))

        released: list[int] = []
        taken = await self._port_change(change, dry_run)
        to_release = list(released)
        if not dry_run:
            if taken:
                txn.on_revert.append(lambda: self.release_ports(taken))
            if to_release:
                txn.on_commit.append(lambda: self.release_ports(to_release))
        return txn
    async def release(self, svc: dict[str, Any]) -> None:
        """Give back everything a deleted Service held (``releaseAllocatedResources``)."""
        spec = spec_view(svc)
        if needs_cluster_ip(spec) and not _is_headless_ips(spec):
            await self.release_ips(self._family_ips(spec))
        ports = collect_node_ports(spec)
        if needs_health_check(spec) and spec.get("healthCheckNodePort"):
            ports.append(int(spec["healthCheckNodePort"]))
        await self.release_ports(ports)


def _taker(index: int) -> Callable[[Bitmap], bool]:
    return lambda bitmap: bitmap.allocate(index)


def _releaser(index: int) -> Callable[[Bitmap], None]:
    return lambda bitmap: bitmap.release(index)


__all__ = [
    "DEFAULT_NODE_PORT_RANGE",
    "DEFAULT_SERVICE_CIDR",
    "Allocators",
    "NotInRangeError",
    "ServiceNetwork",
    "Transaction",
    "collect_node_ports",
]
