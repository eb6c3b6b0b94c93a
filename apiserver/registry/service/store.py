"""The Service store: the generic store plus allocation hooks (upstream ``storage/storage.go``)."""

from __future__ import annotations

from typing import Any

from apiserver.admission import AdmissionChain
from apiserver.api.resources import ResourceInfo
from apiserver.registry.service.alloc import Allocators
from apiserver.registry.store import Clock, Finisher, Store
from apiserver.registry.strategy import Strategy
from apiserver.storage.cache import WatchCache
from apiserver.storage.interface import Storage

_SPEC_ORDER = (
    "ports", "selector", "clusterIP", "clusterIPs", "type", "externalIPs", "sessionAffinity",
    "loadBalancerIP", "loadBalancerSourceRanges", "externalName", "externalTrafficPolicy",
    "healthCheckNodePort", "publishNotReadyAddresses", "sessionAffinityConfig", "ipFamilies",
    "ipFamilyPolicy", "allocateLoadBalancerNodePorts", "loadBalancerClass",
    "internalTrafficPolicy", "trafficDistribution",
)
_PORT_ORDER = ("name", "protocol", "appProtocol", "port", "targetPort", "nodePort")


def _ordered(obj: dict[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    out = {k: obj[k] for k in order if k in obj}
    out.update((k, v) for k, v in obj.items() if k not in out)
    return out


def order_spec(svc: dict[str, Any]) -> None:
    """Spec and port fields in the order of upstream's Go structs (as kube-apiserver prints)."""
    spec = svc.get("spec")
    if not isinstance(spec, dict):
        return
    ports = spec.get("ports")
    if isinstance(ports, list):
        spec["ports"] = [_ordered(p, _PORT_ORDER) if isinstance(p, dict) else p for p in ports]
    ordered = _ordered(spec, _SPEC_ORDER)
    spec.clear()
    spec.update(ordered)


class ServiceStore(Store):
    """Allocates cluster IPs and node ports before writes and releases them after deletes."""

    def __init__(
        self,
        info: ResourceInfo,
        strategy: Strategy,
        storage: Storage,
        watch_cache: WatchCache,
        clock: Clock,
        admission: AdmissionChain | None,
        allocators: Allocators,
    ) -> None:
        super().__init__(info, strategy, storage, watch_cache, clock, admission)
        self.allocators = allocators

    async def begin_create(self, obj: dict[str, Any], dry_run: bool) -> Finisher | None:
        txn = await self.allocators.allocate_create(obj, dry_run)
        order_spec(obj)
        return txn

    async def begin_update(
        self, new: dict[str, Any], old: dict[str, Any], dry_run: bool
    ) -> Finisher | None:
        txn = await self.allocators.allocate_update(new, old, dry_run)
        order_spec(new)
        return txn

    async def after_delete(self, obj: dict[str, Any]) -> None:
        await self.allocators.release(obj)
