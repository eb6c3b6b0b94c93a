"""Service registry wiring: allocators, the Service store, repair and the ``kubernetes`` Service.

Like kube-apiserver's bootstrap controller and lease endpoint reconciler, the
apiserver itself keeps ``default/kubernetes`` (ClusterIP = first address of
the service range, port 443 named ``https``) and its Endpoints (and
EndpointSlice, when that resource is served) listing every live apiserver: each
replica renews its master lease (:mod:`apiserver.registry.service.masterleases`)
every reconcile interval, then writes the IPs of all unexpired leases, sorted, if
the objects say otherwise. A replica that stops removes its lease and rewrites the
list without itself; one that is killed drops out once its lease expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from apiserver.admission import AdmissionChain
from apiserver.api import errors
from apiserver.api.resources import ResourceInfo
from apiserver.registry.service.alloc import (
    DEFAULT_NODE_PORT_RANGE,
    DEFAULT_SERVICE_CIDR,
    Allocators,
    ServiceNetwork,
)
from apiserver.registry.service.bitmap import parse_port_range, parse_service_cidrs
from apiserver.registry.service.masterleases import DEFAULT_TTL, MasterLeases
from apiserver.registry.service.repair import repair
from apiserver.registry.service.store import ServiceStore
from apiserver.registry.service.strategy import ServiceStrategy
from apiserver.registry.store import Clock, Store
from apiserver.storage.cache import WatchCache
from apiserver.storage.errors import StorageError
from apiserver.storage.interface import Storage

log = logging.getLogger(__name__)

KUBERNETES_SERVICE = "kubernetes"
_LABELS = {"component": "apiserver", "provider": "kubernetes"}
_RECONCILE_INTERVAL = 10.0

StoreKey = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class ServiceOptions:
    """Service flags of the apiserver (names as kube-apiserver's)."""

    network: ServiceNetwork
    #: ``--advertise-address``: the IP in the ``kubernetes`` Endpoints.
    advertise_ip: str = "127.0.0.1"
    #: The port clients reach the apiserver on (our plain-HTTP ``--port``).
    advertise_port: int = 8080
    reconcile_interval: float = _RECONCILE_INTERVAL
    #: Seconds a master lease lives without renewal.
    lease_ttl: float = DEFAULT_TTL

    @staticmethod
    def parse(
        cluster_ip_range: str = DEFAULT_SERVICE_CIDR,
        node_port_range: str = DEFAULT_NODE_PORT_RANGE,
        advertise_ip: str = "127.0.0.1",
        advertise_port: int = 8080,
    ) -> ServiceOptions:
        """Options from flag values; ``ValueError`` on a bad range."""
        network = ServiceNetwork(parse_service_cidrs(cluster_ip_range),
                                 parse_port_range(node_port_range))
        return ServiceOptions(network, advertise_ip, advertise_port)


class ServiceREST:
    """Everything the apiserver does for Services beyond the generic store."""

    def __init__(self, storage: Storage, options: ServiceOptions | None = None) -> None:
        self.options = options or ServiceOptions.parse()
        self.allocators = Allocators(storage, self.options.network)
        self.strategy = ServiceStrategy()
        self._reconciler: asyncio.Task[None] | None = None
        self._stores: Mapping[StoreKey, Store] = {}
        self.leases = MasterLeases(storage, self.options.lease_ttl)

    def make_store(
        self,
        info: ResourceInfo,
        storage: Storage,
        watch_cache: WatchCache,
        clock: Clock,
        admission: AdmissionChain | None,
    ) -> ServiceStore:
        return ServiceStore(info, self.strategy, storage, watch_cache, clock, admission,
                            self.allocators)

    async def start(self, stores: Mapping[StoreKey, Store]) -> None:
        """Repair the allocation maps, then create/fix the ``kubernetes`` Service."""
        self._stores = stores
        services = stores[("", "v1", "services")]
        await repair(self.allocators, [o.obj for o in services.cache.objects()])
        try:
            await self.reconcile()
        except errors.ApiError as exc:
            log.error("could not reconcile the kubernetes service: %s", exc.message)
        except StorageError as exc:
            log.error("could not reconcile the kubernetes service: %s", exc)
        if self.options.reconcile_interval > 0:
            self._reconciler = asyncio.create_task(self._run(), name="kubernetes-service")

    async def stop(self) -> None:
        """Stop reconciling, then take this apiserver out of the ``kubernetes`` endpoints."""
        if self._reconciler is not None:
            self._reconciler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconciler
            self._reconciler = None
        if not self._stores:
            return  # never started
        try:
            bound = 2 * (self.options.reconcile_interval or _RECONCILE_INTERVAL)
            await asyncio.wait_for(self._remove_self(), bound)
        except Exception as exc:
            log.warning("could not remove this apiserver from the kubernetes endpoints: %s",
                        exc)

    async def _remove_self(self) -> None:
        await self.leases.remove(self.options.advertise_ip)
        await self._reconcile_endpoints(renew=False)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.options.reconcile_interval)
            try:
                await self.reconcile()
            except Exception:
                log.exception("reconciling the kubernetes service failed")

    # -- the kubernetes Service ----------------------------------------------------

    def _ports(self) -> list[dict[str, Any]]:
        return [{"name": "https", "protocol": "TCP", "port": 443,
                 "targetPort": self.options.advertise_port}]

    async def reconcile(self) -> None:
        """Create or correct ``default/kubernetes`` and its endpoints."""
        services = self._stores[("", "v1", "services")]
        first = self.options.network.cluster_ip_ranges[0].first()
        current = services.cache.get(services.key("default", KUBERNETES_SERVICE))
        if current is None:
            await services.create("default", {
                    "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": KUBERNETES_SERVICE, "namespace": "default",
                             "labels": dict(_LABELS)},
                "spec": {"type": "ClusterIP", "clusterIP": first, "clusterIPs": [first],
                         "ports": self._ports(), "sessionAffinity": "None"},
            })
        else:
            spec = current.obj.get("spec") or {}
            have = [{k: p.get(k) for k in ("name", "protocol", "port", "targetPort")}
                    for p in spec.get("ports") or []]
            if have != self._ports() or spec.get("type") != "ClusterIP":
                def fix(obj: dict[str, Any]) -> dict[str, Any]:
                    obj["spec"]["ports"] = self._ports()
                    obj["spec"]["type"] = "ClusterIP"
                    return obj

                await services.guaranteed_update("default", KUBERNETES_SERVICE, fix)
        await self._reconcile_endpoints()

    async def _reconcile_endpoints(self, renew: bool = True) -> None:
        ip, port = self.options.advertise_ip, self.options.advertise_port
        if renew:
            # Renewed first, whatever happens below, so some replica lists this one.
            await self.leases.update(ip)
        ips = await self.leases.live_ips()
        if not ips:
            # The last apiserver stopping leaves its endpoint, as upstream's.
            log.log(logging.WARNING if renew else logging.DEBUG,
                    "no API server IP addresses were listed in storage, refusing to erase "
                    "all endpoints for the kubernetes Service")
            return
        endpoints = self._stores.get(("", "v1", "endpoints"))
        if endpoints is not None:
            subsets = [{"addresses": [{"ip": i} for i in ips],
                        "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}]
            labels = {"endpointslice.kubernetes.io/skip-mirror": "true"}
            await _ensure(endpoints, {
                "apiVersion": "v1", "kind": "Endpoints",
                "metadata": {"name": KUBERNETES_SERVICE, "namespace": "default",
                             "labels": labels},
                "subsets": subsets,
            }, ("subsets",))
        slices = self._stores.get(("discovery.k8s.io", "v1", "endpointslices"))
        if slices is not None:
            family = "IPv6" if ":" in ip else "IPv4"
            await _ensure(slices, {
                "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"name": KUBERNETES_SERVICE, "namespace": "default",
                             "labels": {"kubernetes.io/service-name": KUBERNETES_SERVICE}},
                "addressType": family,
                "endpoints": [{"addresses": [i], "conditions": {"ready": True}} for i in ips],
                "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
            }, ("addressType", "endpoints", "ports"))


async def _ensure(store: Store, desired: dict[str, Any], fields: tuple[str, ...]) -> None:
    """Create ``desired`` or rewrite ``fields`` (and labels) of the existing object."""
    name = desired["metadata"]["name"]
    current = store.cache.get(store.key("default", name))
    if current is None:
        await store.create("default", desired)
        return
    obj = current.obj
    labels = obj["metadata"].get("labels") or {}
    if all(obj.get(f) == desired[f] for f in fields) and \
            all(labels.get(k) == v for k, v in desired["metadata"]["labels"].items()):
        return

    def fix(obj: dict[str, Any]) -> dict[str, Any]:
        for f in fields:
            obj[f] = desired[f]
        md = obj["metadata"]
        md["labels"] = {**(md.get("labels") or {}), **desired["metadata"]["labels"]}
        return obj

    await store.guaranteed_update("default", name, fix)
