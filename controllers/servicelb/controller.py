"""The service-lb reconcile loop: LoadBalancer ingress IPs from an address pool.

Level-triggered, like every controller here: informer handlers only enqueue
``namespace/name`` keys; :meth:`ServiceLBController.sync` reads the Service from
the informer cache, decides which pool address it should have and writes
``status.loadBalancer`` through ``/status`` only when that differs from what is
stored. The allocation map (:class:`~controllers.servicelb.pool.Allocator`) is
rebuilt from the Services' stored status in :meth:`ServiceLBController.startup`
(caches are synced by then, and no worker runs yet), so a restarted controller
keeps every address where it was.

Which Services are ours: ``spec.type: LoadBalancer`` and ``spec.loadBalancerClass``
equal to ``--load-balancer-class`` (unset when the flag is unset). Others are
never written; an address this controller held for one is released.

Requested addresses: the ``metallb.io/loadBalancerIPs`` /
``metallb.universe.tf/loadBalancerIPs`` annotation (comma-separated; the first
address of the Service's family is used), else ``spec.loadBalancerIP``. A
requested address outside the pool or held by another Service leaves the
Service ``<pending>`` with an ``AllocationFailed`` Warning Event, as does an
exhausted pool; pending Services are retried whenever an address is released.
"""

from __future__ import annotations

import copy
import logging
import socket
from collections.abc import Mapping
from typing import Any, Protocol

from apiserver.api.resources import SERVICES, ResourceInfo
from controllers.client.errors import ApiError, is_not_found
from controllers.client.store import DeletedFinalStateUnknown, Store, meta_namespace_key
from controllers.runtime.controller import KeyedController
from controllers.runtime.events import EventRecorder
from controllers.servicelb.pool import Allocator, parse_ip

__all__ = [
    "ANNOTATION_IPS",
    "COMPONENT",
    "ServiceLBController",
    "StatusWriter",
    "handles",
    "ingress_ips",
    "requested_ips",
]

log = logging.getLogger("controllers.servicelb")

#: The Event source component and the controller's name.
COMPONENT = "service-lb"
#: Annotations requesting specific addresses (MetalLB's current and legacy names).
ANNOTATION_IPS = ("metallb.io/loadBalancerIPs", "metallb.universe.tf/loadBalancerIPs")

Obj = dict[str, Any]


class StatusWriter(Protocol):
    """The calls the controller makes (satisfied by ``RestClient``)."""

    async def update_status(
        self, info: ResourceInfo, namespace: str | None, obj: Mapping[str, Any]
    ) -> dict[str, Any]:
        """PUT ``/status``."""
        ...

    async def create(
        self, info: ResourceInfo, namespace: str | None, obj: Mapping[str, Any]
    ) -> dict[str, Any]:
        """POST an object."""
        ...

    async def patch(
        self,
        info: ResourceInfo,
        namespace: str | None,
        name: str,
        patch: Any,
        *,
        content_type: str = ...,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        """PATCH an object."""
        ...


def _spec(svc: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = svc.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def handles(svc: Mapping[str, Any], load_balancer_class: str | None) -> bool:
    """Whether a controller for ``load_balancer_class`` (None: the default) owns ``svc``."""
    spec = _spec(svc)
    if spec.get("type") != "LoadBalancer":
        return False
    cls = spec.get("loadBalancerClass") or None
    return cls == (load_balancer_class or None)


def ingress_ips(svc: Mapping[str, Any]) -> list[str]:
    """The ``ip`` of each ``status.loadBalancer.ingress`` entry."""
    status = svc.get("status") if isinstance(svc.get("status"), Mapping) else {}
    assert isinstance(status, Mapping)
    lb = status.get("loadBalancer") if isinstance(status.get("loadBalancer"), Mapping) else {}
    assert isinstance(lb, Mapping)
    return [str(i["ip"]) for i in lb.get("ingress") or []
            if isinstance(i, Mapping) and i.get("ip")]


def _ingress(svc: Mapping[str, Any]) -> list[Any]:
    status = svc.get("status") if isinstance(svc.get("status"), Mapping) else {}
    assert isinstance(status, Mapping)
    lb = status.get("loadBalancer") if isinstance(status.get("loadBalancer"), Mapping) else {}
    assert isinstance(lb, Mapping)
    return list(lb.get("ingress") or [])


def ip_version(svc: Mapping[str, Any]) -> int:
    """The Service's primary IP family as 4 or 6."""
    families = _spec(svc).get("ipFamilies") or []
    return 6 if families and families[0] == "IPv6" else 4


def requested_ips(svc: Mapping[str, Any]) -> list[str]:
    """Addresses the Service asks for (annotation first, then ``spec.loadBalancerIP``)."""
    md = svc.get("metadata") if isinstance(svc.get("metadata"), Mapping) else {}
    assert isinstance(md, Mapping)
    annotations = md.get("annotations") or {}
    for name in ANNOTATION_IPS:
        value = annotations.get(name)
        if value:
            return [p.strip() for p in str(value).split(",") if p.strip()]
    lb_ip = _spec(svc).get("loadBalancerIP")
    return [str(lb_ip)] if lb_ip else []




def _creation(svc: Mapping[str, Any]) -> tuple[str, str]:
    md = svc.get("metadata") or {}
    return str(md.get("creationTimestamp") or ""), meta_namespace_key(svc)


class ServiceLBController(KeyedController):
    """Assigns and releases LoadBalancer ingress IPs."""

    name = COMPONENT

    def __init__(
        self,
        services: Store,
        client: StatusWriter,
        allocator: Allocator,
        *,
        load_balancer_class: str | None = None,
        host: str | None = None,
    ) -> None:
        super().__init__()
        self.services = services
        self.client = client
        self.allocator = allocator
        self.load_balancer_class = load_balancer_class or None
        self.host = host if host is not None else socket.gethostname()
        #: Services of ours that have no address (retried when one is released).
        self.pending: set[str] = set()
        #: Last failure Event per Service key: (message, event name, count).
        self.events = EventRecorder(client, COMPONENT, host=self.host)

    # -- handlers (enqueue only) ---------------------------------------------------

    def _relevant(self, svc: Mapping[str, Any]) -> bool:
        key = meta_namespace_key(svc)
        return (_spec(svc).get("type") == "LoadBalancer"
                or self.allocator.ip_of(key) is not None or bool(_ingress(svc)))

    def on_add(self, svc: Obj) -> None:
        """Informer add."""
        if self._relevant(svc):
            self.queue.add(meta_namespace_key(svc))

    def on_update(self, old: Obj, new: Obj) -> None:
        """Informer update."""
        if self._relevant(new) or self._relevant(old):
            self.queue.add(meta_namespace_key(new))

    def on_delete(self, svc: Obj | DeletedFinalStateUnknown) -> None:
        """Informer delete (tombstones too)."""
        self.queue.add(meta_namespace_key(svc))

    # -- startup: rebuild the allocation map ------------------------------------------

    def extra_metrics(self) -> str:
        """The pool's size and use, and the Services still waiting for an address."""
        return "\n".join([
            "# HELP servicelb_addresses_total Addresses in the pool.",
            "# TYPE servicelb_addresses_total gauge",
            f"servicelb_addresses_total {self.allocator.size()}",
            "# HELP servicelb_addresses_in_use Addresses assigned to Services.",
            "# TYPE servicelb_addresses_in_use gauge",
            f"servicelb_addresses_in_use {len(self.allocator)}",
            "# HELP servicelb_pending_services Services of ours without an address.",
            "# TYPE servicelb_pending_services gauge",
            f"servicelb_pending_services {len(self.pending)}",
        ]) + "\n"

    def startup(self) -> None:
        """Adopt the addresses stored in our Services' status (oldest Service wins a clash)."""
        adopted = 0
        for svc in sorted(self.services.list(), key=_creation):
            if not handles(svc, self.load_balancer_class):
                continue
            key = meta_namespace_key(svc)
            for ip in ingress_ips(svc):
                if self.allocator.assign(key, ip):
                    adopted += 1
                    break
        log.info("adopted %d assigned addresses; pool has %d addresses",
                 adopted, self.allocator.size())

    # -- reconcile -----------------------------------------------------------------

    def _release(self, key: str) -> None:
        ip = self.allocator.release(key)
        if ip is None:
            return
        log.info("released %s from %s", ip, key)
        for other in sorted(self.pending):
            if other != key:
                self.queue.add(other)

    def decide(self, key: str, svc: Mapping[str, Any]) -> tuple[str | None, str | None]:
        """Update the allocation for a Service we own: ``(ip, failure message)``."""
        version = ip_version(svc)
        held = self.allocator.ip_of(key)
        requested = requested_ips(svc)
        if requested:
            wanted = [ip for ip in requested
                      if (a := parse_ip(ip)) is not None and a.version == version]
            if not wanted:
                self._release(key)
                return None, (f'Failed to allocate IP for "{key}": no requested IP of '
                              f"family IPv{version} in {requested}")
            target = str(parse_ip(wanted[0]))
            if held == target:
                return held, None
            if self.allocator.assign(key, target):
                if held is not None:
                    self._release_other(held)
                return target, None
            if not self.allocator.contains(target):
                reason = f'["{target}"] is not allowed in config'
            else:
                reason = f'["{target}"] is already in use by "{self.allocator.owner(target)}"'
            self._release(key)
            return None, f'Failed to allocate IP for "{key}": {reason}'
        if held is not None and (a := parse_ip(held)) is not None and a.version == version:
            return held, None
        chosen: str | None = None
        for stored in ingress_ips(svc):
            addr = parse_ip(stored)
            if addr is not None and addr.version == version and \
                    self.allocator.assign(key, stored):
                chosen = str(addr)
                break
        else:
            chosen = self.allocator.allocate(key, version)
        if held is not None and chosen != held:
            self._release_other(held)
        if chosen is None:
            return None, f'Failed to allocate IP for "{key}": no available IPs'
        return chosen, None

    def _release_other(self, ip: str) -> None:
        # ``ip`` was given up by a Service that now holds another address.
        if self.allocator.owner(ip) is None:
            for other in sorted(self.pending):
                self.queue.add(other)

    async def sync(self, key: str) -> None:
        """Reconcile one Service."""
        svc = self.services.get_by_key(key)
        if svc is None or not handles(svc, self.load_balancer_class):
            self.pending.discard(key)
            self._release(key)
            return
        ip, failure = self.decide(key, svc)
        desired: list[Obj] = [{"ip": ip, "ipMode": "VIP"}] if ip is not None else []
        if failure is not None:
            self.pending.add(key)
        else:
            self.pending.discard(key)
        current = _ingress(svc)
        if current != desired:
            new = copy.deepcopy(svc)
            status = new.setdefault("status", {})
            status["loadBalancer"] = {"ingress": desired} if desired else {}
            ns = str((new.get("metadata") or {}).get("namespace") or "")
            try:
                await self.client.update_status(SERVICES, ns, new)
            except ApiError as exc:
                if is_not_found(exc):
                    self.pending.discard(key)
                    self._release(key)
                    return
                raise
            self.metrics.writes += 1
            if ip is not None:
                log.info("assigned %s to %s", ip, key)
                await self.events.event(svc, "Normal", "IPAllocated", f'Assigned IP ["{ip}"]')
            else:
                log.info("cleared the ingress of %s", key)
        if failure is not None:
            log.warning("%s", failure)
            # A repeated failure bumps the earlier Event's count (the recorder correlates).
            await self.events.event(svc, "Warning", "AllocationFailed", failure)
