"""ClusterIP and NodePort allocation for Services (upstream ``storage/alloc.go``).

:class:`Allocators` owns one persisted bitmap per service CIDR and one for the
node-port range. ``allocate_create`` / ``allocate_update`` take what a Service
needs *before* it is written and return a :class:`Transaction`: the store
commits it once the Service is stored (releasing what the update gave up) or
reverts it when the write fails (releasing what was taken). Deletes release
everything through :meth:`Allocators.release`.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from apiserver.api import errors
from apiserver.registry.service.allocator import StoredRange
from apiserver.registry.service.bitmap import (
    AlreadyAllocatedError,
    Bitmap,
    IPRange,
    NotInRangeError,
    PortRange,
    RangeError,
    RangeFullError,
)
from apiserver.registry.service.defaults import needs_health_check, ports_of
from apiserver.registry.service.validation import (
    go_list,
    go_value,
    invalid,
    ip_family,
    validate_cluster_ips_related_fields,
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


def internal_error(message: str) -> errors.ApiError:
    """Upstream's ``NewInternalError`` (500, with the cause in details)."""
    return errors.ApiError(500, "InternalError", f"Internal error occurred: {message}",
                           {"causes": [{"message": message}]})


def _invalid(name: str, causes: list[dict[str, str]]) -> errors.ApiError:
    from apiserver.api.resources import SERVICES

    return errors.invalid(SERVICES, name, causes)


def _name(svc: dict[str, Any]) -> str:
    return str((svc.get("metadata") or {}).get("name") or "")


def _spec(svc: dict[str, Any]) -> dict[str, Any]:
    spec = svc.get("spec")
    return spec if isinstance(spec, dict) else {}


def _strs(spec: dict[str, Any], key: str) -> list[str]:
    value = spec.get(key)
    return [str(v) for v in value] if isinstance(value, list) else []


def needs_cluster_ip(spec: dict[str, Any]) -> bool:
    return spec.get("type") != "ExternalName"


def needs_node_port(spec: dict[str, Any]) -> bool:
    return spec.get("type") in ("NodePort", "LoadBalancer")


def _should_allocate_node_ports(spec: dict[str, Any]) -> bool:
    if spec.get("type") == "NodePort":
        return True
    if spec.get("type") == "LoadBalancer":
        return spec.get("allocateLoadBalancerNodePorts") is not False
    return False


def _node_port(port: dict[str, Any]) -> int:
    value = port.get("nodePort")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def collect_node_ports(spec: dict[str, Any]) -> list[int]:
    """Every non-zero ``nodePort`` of the ports (not the health-check port)."""
    return [np for np in (_node_port(p) for p in ports_of(spec)) if np]


def _is_headless_ips(spec: dict[str, Any]) -> bool:
    ips = _strs(spec, "clusterIPs")
    return bool(ips) and ips[0] == "None"


class _PortOp:
    """Node-port changes of one Service, applied to a bitmap copy in one CAS write."""

    def __init__(self, bitmap: Bitmap, ports: PortRange) -> None:
        self.bitmap = bitmap
        self.range = ports
        self.allocated: list[int] = []

    def allocate(self, port: int) -> None:
        index = self.range.index_of(port)
        if not self.bitmap.allocate(index):
            raise AlreadyAllocatedError("port")
        self.allocated.append(port)

    def allocate_next(self) -> int:
        index = self.bitmap.allocate_next()
        if index is None:
            raise RangeFullError()
        port = self.range.port_at(index)
        self.allocated.append(port)
        return port


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

    # -- IP families -------------------------------------------------------------

    def init_ip_family_fields(self, svc: dict[str, Any], old: dict[str, Any] | None) -> None:
        """Upstream ``initIPFamilyFields``: default policy/families; 422 on conflicts."""
        spec = _spec(svc)
        if spec.get("type") == "ExternalName":
            return
        if old is not None and _matching_prefer_dual_stack(spec, _spec(old)):
            return
        old_spec = _spec(old) if old is not None else None
        if spec.get("ipFamilyPolicy") is None:
            if old_spec is not None and old_spec.get("ipFamilyPolicy") is not None:
                spec["ipFamilyPolicy"] = old_spec["ipFamilyPolicy"]
            elif spec.get("clusterIP") == "None" and not spec.get("selector"):
                spec["ipFamilyPolicy"] = "RequireDualStack"
            else:
                spec["ipFamilyPolicy"] = "SingleStack"
        causes = validate_cluster_ips_related_fields(spec)
        if causes:
            raise _invalid(_name(svc), causes)
        policy = spec["ipFamilyPolicy"]
        shown_policy = go_value(policy)
        if old_spec is not None:
            if policy == "SingleStack":
                if _strs(old_spec, "clusterIPs") == _strs(spec, "clusterIPs") and \
                        len(_strs(spec, "clusterIPs")) > 1:
                    spec["clusterIPs"] = _strs(spec, "clusterIPs")[:1]
                if _strs(old_spec, "ipFamilies") == _strs(spec, "ipFamilies") and \
                        len(_strs(spec, "ipFamilies")) > 1:
                    spec["ipFamilies"] = _strs(spec, "ipFamilies")[:1]
            else:
                new_ips, old_ips = _strs(spec, "clusterIPs"), _strs(old_spec, "clusterIPs")
                if new_ips and len(new_ips) < len(old_ips):
                    causes.append(invalid("spec.ipFamilyPolicy", shown_policy,
                                          "must be 'SingleStack' to release the secondary "
                                          "cluster IP"))
                new_f, old_f = _strs(spec, "ipFamilies"), _strs(old_spec, "ipFamilies")
                if new_f and len(new_f) < len(old_f):
                    causes.append(invalid("spec.ipFamilyPolicy", shown_policy,
                                          "must be 'SingleStack' to release the secondary IP "
                                          "family"))
        if policy == "SingleStack":
            if len(_strs(spec, "clusterIPs")) == 2:
                causes.append(invalid("spec.ipFamilyPolicy", shown_policy,
                                      "must be 'RequireDualStack' or 'PreferDualStack' when "
                                      "multiple cluster IPs are specified"))
            if len(_strs(spec, "ipFamilies")) == 2:
                causes.append(invalid("spec.ipFamilyPolicy", shown_policy,
                                      "must be 'RequireDualStack' or 'PreferDualStack' when "
                                      "multiple IP families are specified"))
        families = _strs(spec, "ipFamilies")
        ips = _strs(spec, "clusterIPs")
        for i, ip in enumerate(ips):
            if ip == "None":
                break
            fam = ip_family(ip) or "IPv4"
            if i >= len(families):
                if fam not in self.ip_ranges:
                    causes.append(invalid(f"spec.clusterIPs[{i}]", go_list(ips),
                                          f"{fam} is not configured on this cluster"))
                else:
                    families.append(fam)
        if causes:
            raise _invalid(_name(svc), causes)
        if families:
            spec["ipFamilies"] = families
        if spec.get("clusterIP") == "None" and not spec.get("selector"):
            if not families:
                families = [self.default_family]
            if len(families) < 2 and policy != "SingleStack":
                families.append("IPv6" if families[0] == "IPv4" else "IPv4")
            spec["ipFamilies"] = families
            return
        if policy == "RequireDualStack" and len(self.ip_ranges) < 2:
            causes.append(invalid("spec.ipFamilyPolicy", shown_policy,
                                  "this cluster is not configured for dual-stack services"))
        for i, fam in enumerate(families):
            if fam not in self.ip_ranges:
                causes.append(invalid(f"spec.ipFamilies[{i}]", go_value(fam),
                                      "not configured on this cluster"))
        if causes:
            raise _invalid(_name(svc), causes)
        if not families:
            families = [self.default_family]
        if policy != "SingleStack" and len(families) == 1 and len(self.ip_ranges) == 2:
            families.append("IPv6" if families[0] == "IPv4" else "IPv4")
        spec["ipFamilies"] = families

    # -- cluster IPs -----------------------------------------------------------------

    async def _alloc_ips(self, svc: dict[str, Any], wanted: dict[str, str],
                         dry_run: bool) -> dict[str, str]:
        """Allocate ``family → ip`` ("" = any); all or nothing."""
        done: dict[str, str] = {}
        spec = _spec(svc)
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
                    raise _invalid(_name(svc), [invalid(
                        "spec.clusterIPs", go_list(_strs(spec, "clusterIPs")),
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
        spec = _spec(svc)
        if spec.get("type") == "ExternalName" or _is_headless_ips(spec):
            return {}
        families = _strs(spec, "ipFamilies")
        ips = _strs(spec, "clusterIPs")
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
        ips = _strs(spec, "clusterIPs")
        if not ips and spec.get("clusterIP"):
            ips = [str(spec["clusterIP"])]
        out: dict[str, str] = {}
        for ip in ips:
            fam = ip_family(ip)
            if fam is not None:
                out[fam] = ip
        return out

    # -- node ports --------------------------------------------------------------------

    async def _port_change(self, change: Callable[[_PortOp], None], dry_run: bool) -> list[int]:
        """Run ``change`` in one CAS write; the ports it newly took."""
        port_range = self.network.node_port_range

        def run(bitmap: Bitmap) -> list[int]:
            op = _PortOp(bitmap, port_range)
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

    def _init_node_ports(self, svc: dict[str, Any], op: _PortOp) -> None:
        spec = _spec(svc)
        ports = ports_of(spec)
        by_port: dict[Any, int] = {}
        for i, port in enumerate(ports):
            if not _node_port(port) and not _should_allocate_node_ports(spec):
                continue
            allocated = by_port.get(port.get("port"), 0)
            if not allocated:
                requested = next((_node_port(p) for p in ports[i:]
                                  if p.get("port") == port.get("port") and _node_port(p)), 0)
                if requested:
                    try:
                        op.allocate(requested)
                    except RangeError as exc:
                        raise _invalid(_name(svc), [invalid(
                            f"spec.ports[{i}].nodePort", go_value(requested), str(exc))]) from None
                    port["nodePort"] = requested
                    by_port[port.get("port")] = requested
                else:
                    try:
                        chosen = op.allocate_next()
                    except RangeError as exc:
                        raise internal_error(f"failed to allocate a nodePort: {exc}") from None
                    port["nodePort"] = chosen
                    by_port[port.get("port")] = chosen
            elif _node_port(port) != allocated:
                if not _node_port(port):
                    port["nodePort"] = allocated
                else:
                    try:
                        op.allocate(_node_port(port))
                    except RangeError as exc:
                        raise _invalid(_name(svc), [invalid(
                            f"spec.ports[{i}].nodePort", go_value(port["nodePort"]),
                            str(exc))]) from None

    @staticmethod
    def _alloc_health_check(spec: dict[str, Any], op: _PortOp) -> None:
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

    # -- create / update / delete ------------------------------------------------------

    async def allocate_create(self, svc: dict[str, Any], dry_run: bool) -> Transaction:
        """Fill IP-family fields, take cluster IPs and node ports (``allocateCreate``)."""
        self.init_ip_family_fields(svc, None)
        txn = Transaction()
        ips = await self._alloc_cluster_ips(svc, dry_run)
        if ips and not dry_run:
            txn.on_revert.append(lambda: self.release_ips(ips))
        spec = _spec(svc)
        work = _copy_ports(spec)
        hc_before = spec.get("healthCheckNodePort")

        def change(op: _PortOp) -> None:
            _restore_ports(spec, work)
            if hc_before is None:
                spec.pop("healthCheckNodePort", None)
            else:
                spec["healthCheckNodePort"] = hc_before
            if needs_node_port(spec):
                self._init_node_ports(svc, op)
            if needs_health_check(spec):
                self._alloc_health_check(spec, op)

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
        self.init_ip_family_fields(new, old)
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
        spec, old_spec = _spec(new), _spec(old)
        if _matching_prefer_dual_stack(spec, old_spec):
            return {}, {}
        if old_spec.get("type") == "ExternalName" and spec.get("type") != "ExternalName":
            return await self._alloc_cluster_ips(new, dry_run), {}
        if _is_headless_ips(old_spec):
            return {}, {}
        if old_spec.get("type") != "ExternalName" and spec.get("type") == "ExternalName":
            return {}, self._family_ips(old_spec)
        old_f, new_f = _strs(old_spec, "ipFamilies"), _strs(spec, "ipFamilies")
        if len(old_f) == 1 and len(new_f) == 2:
            ips = _strs(spec, "clusterIPs")
            if len(ips) < 2:
                ips.append("")
            allocated = await self._alloc_ips(new, {new_f[1]: ips[1]}, dry_run)
            ips[1] = allocated[new_f[1]]
            spec["clusterIPs"] = ips
            return allocated, {}
        if len(old_f) == 2 and len(new_f) == 1:
            old_ips = _strs(old_spec, "clusterIPs")
            if len(old_ips) > 1:
                return {}, {old_f[1]: old_ips[1]}
        return {}, {}

    async def _update_node_ports(self, new: dict[str, Any], old: dict[str, Any],
                                 dry_run: bool) -> Transaction:
        spec, old_spec = _spec(new), _spec(old)
        txn = Transaction()
        deferred: list[int] = []
        if needs_node_port(old_spec) and spec.get("type") in ("ExternalName", "ClusterIP"):
            deferred += collect_node_ports(old_spec)
        work = _copy_ports(spec)
        old_ports = collect_node_ports(old_spec)
        hc_before = spec.get("healthCheckNodePort")

        def change(op: _PortOp) -> None:
            _restore_ports(spec, work)
            if hc_before is None:
                spec.pop("healthCheckNodePort", None)
            else:
                spec["healthCheckNodePort"] = hc_before
            released[:] = deferred
            if needs_node_port(spec):
                self._update_ports(new, old_ports, op, released)
            if not needs_health_check(old_spec) and needs_health_check(spec):
                self._alloc_health_check(spec, op)
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

    def _update_ports(self, new: dict[str, Any], old_ports: list[int], op: _PortOp,
                      released: list[int]) -> None:
        spec = _spec(new)
        seen: list[tuple[Any, int]] = []
        taken_here: set[int] = set()
        for i, port in enumerate(ports_of(spec)):
            if not _node_port(port) and not _should_allocate_node_ports(spec):
                continue
            node_port = _node_port(port)
            if node_port:
                if node_port not in old_ports and node_port not in taken_here:
                    try:
                        op.allocate(node_port)
                    except RangeError as exc:
                        raise _invalid(_name(new), [invalid(
                            f"spec.ports[{i}].nodePort", go_value(node_port),
                            str(exc))]) from None
                    taken_here.add(node_port)
            else:
                try:
                    node_port = op.allocate_next()
                except RangeError as exc:
                    raise internal_error(f"failed to allocate a nodePort: {exc}") from None
                port["nodePort"] = node_port
            key = (port.get("protocol"), node_port)
            if key in seen:
                raise internal_error(f"duplicate nodePort: {{{key[0]} {node_port}}}")
            seen.append(key)
        new_ports = collect_node_ports(spec)
        released += [p for p in old_ports if p not in new_ports]

    async def release(self, svc: dict[str, Any]) -> None:
        """Give back everything a deleted Service held (``releaseAllocatedResources``)."""
        spec = _spec(svc)
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


def _copy_ports(spec: dict[str, Any]) -> list[tuple[dict[str, Any], Any]]:
    return [(p, p.get("nodePort")) for p in ports_of(spec)]


def _restore_ports(spec: dict[str, Any], saved: list[tuple[dict[str, Any], Any]]) -> None:
    """Undo the node ports a previous (conflicted) attempt wrote into ``spec``."""
    for port, value in saved:
        if value is None:
            port.pop("nodePort", None)
        else:
            port["nodePort"] = value


def _matching_prefer_dual_stack(spec: dict[str, Any], old: dict[str, Any]) -> bool:
    """``isMatchingPreferDualStackClusterIPFields``."""
    ip_types = ("ClusterIP", "NodePort", "LoadBalancer")
    return (
        spec.get("ipFamilyPolicy") == "PreferDualStack"
        and old.get("ipFamilyPolicy") in (None, "PreferDualStack")
        and spec.get("type") == old.get("type")
        and spec.get("type") in ip_types
        and _strs(spec, "clusterIPs") == _strs(old, "clusterIPs")
        and _strs(spec, "ipFamilies") == _strs(old, "ipFamilies")
    )


__all__ = [
    "DEFAULT_NODE_PORT_RANGE",
    "DEFAULT_SERVICE_CIDR",
    "Allocators",
    "NotInRangeError",
    "ServiceNetwork",
    "Transaction",
    "collect_node_ports",
    "internal_error",
]
