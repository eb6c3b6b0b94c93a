"""Service and endpoints change trackers (``pkg/proxy/servicechangetracker.go``, ``endpoints.go``).

Informer handlers feed ``update(previous, current)``; a tracker keeps one
``(previous, current)`` pair of *derived* state per Service (the service-port
map of the Service, or its endpoints per service port) and drops pairs whose
two sides are equal, so ``update`` returns whether a sync is needed. At sync
time the proxier applies the pending changes to its :class:`ServicePortMap` /
:class:`EndpointsMap`, which return the Services that changed (and, for
endpoints, the ``endpoints.kubernetes.io/last-change-trigger-time`` values
for the network-programming-latency metric).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from controllers.proxy.types import (
    DEFAULT_AFFINITY_SECONDS,
    Endpoint,
    ServicePort,
    ServicePortName,
)

__all__ = [
    "EndpointsChangeTracker",
    "EndpointsMap",
    "ServiceChangeTracker",
    "ServicePortMap",
    "categorize_endpoints",
    "endpoints_from_endpoints",
    "endpoints_from_slices",
    "service_ports",
]

Obj = Mapping[str, Any]
PortMap = dict[ServicePortName, ServicePort]
EndpointsByPort = dict[ServicePortName, tuple[Endpoint, ...]]

TRIGGER_TIME_ANNOTATION = "endpoints.kubernetes.io/last-change-trigger-time"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def _meta(obj: Obj) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def service_key(obj: Obj) -> str:
    """``namespace/name`` of an object."""
    meta = _meta(obj)
    return f"{meta.get('namespace') or ''}/{meta.get('name') or ''}"


def service_ports(svc: Obj | None) -> PortMap:
    """The proxiable ports of a Service (nothing for headless or ExternalName Services)."""
    if not svc:
        return {}
    spec = svc.get("spec") or {}
    meta = _meta(svc)
    if spec.get("type") == "ExternalName":
        return {}
    cluster_ip = str(spec.get("clusterIP") or "")
    if not cluster_ip or cluster_ip == "None":
        return {}
    affinity: int | None = None
    if spec.get("sessionAffinity") == "ClientIP":
        cfg = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {})
        affinity = int(cfg.get("timeoutSeconds") or DEFAULT_AFFINITY_SECONDS)
    ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    lb_ips = tuple(str(i["ip"]) for i in ingress if isinstance(i, Mapping) and i.get("ip"))
    external_ips = tuple(str(ip) for ip in spec.get("externalIPs") or [])
    svc_type = spec.get("type") or "ClusterIP"
    out: PortMap = {}
    for port in spec.get("ports") or []:
        protocol = str(port.get("protocol") or "TCP")
        name = ServicePortName(str(meta.get("namespace") or ""), str(meta.get("name") or ""),
                               str(port.get("name") or ""), protocol)
        node_port = int(port.get("nodePort") or 0) if svc_type in ("NodePort",
                                                                   "LoadBalancer") else 0
        accessible = bool(node_port or external_ips or lb_ips)
        out[name] = ServicePort(
            name=name,
            cluster_ip=cluster_ip,
            port=int(port.get("port") or 0),
            protocol=protocol,
            node_port=node_port,
            external_ips=external_ips,
            load_balancer_ips=lb_ips if svc_type == "LoadBalancer" else (),
            load_balancer_source_ranges=tuple(spec.get("loadBalancerSourceRanges") or ()),
            affinity_seconds=affinity,
            external_policy_local=accessible and spec.get("externalTrafficPolicy") == "Local",
            internal_policy_local=spec.get("internalTrafficPolicy") == "Local",
            health_check_node_port=int(spec.get("healthCheckNodePort") or 0),
        )
    return out


def _trigger_time(obj: Obj | None) -> datetime | None:
    if not obj:
        return None
    value = (_meta(obj).get("annotations") or {}).get(TRIGGER_TIME_ANNOTATION)
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def endpoints_from_slices(
    namespace: str, service: str, slices: Iterable[Obj], hostname: str = ""
) -> EndpointsByPort:
    """Merge the IPv4 EndpointSlices of one Service into endpoints per service port.

    An endpoint's conditions default as upstream: ``ready`` nil means ready,
    ``serving`` nil means ``ready``, ``terminating`` nil means false. The same
    ``ip:port`` appearing in several slices counts once (the first wins).
    """
    merged: dict[ServicePortName, dict[str, Endpoint]] = {}
    for sl in sorted(slices, key=lambda s: str(_meta(s).get("name") or "")):
        if sl.get("addressType", "IPv4") != "IPv4":
            continue
        for port in sl.get("ports") or []:
            if port.get("port") is None:
                continue
            spn = ServicePortName(namespace, service, str(port.get("name") or ""),
                                  str(port.get("protocol") or "TCP"))
            bucket = merged.setdefault(spn, {})
            for ep in sl.get("endpoints") or []:
                addresses = ep.get("addresses") or []
                if not addresses:
                    continue
                cond = ep.get("conditions") or {}
                ready = cond.get("ready") is not False
                serving = ready if cond.get("serving") is None else bool(cond["serving"])
                node = str(ep.get("nodeName") or "")
                e = Endpoint(str(addresses[0]), int(port["port"]), ready=ready,
                             serving=serving, terminating=bool(cond.get("terminating")),
                             node_name=node, is_local=bool(hostname) and node == hostname)
                bucket.setdefault(str(e), e)
    return {spn: tuple(sorted(eps.values())) for spn, eps in merged.items() if eps}


def endpoints_from_endpoints(obj: Obj | None, hostname: str = "") -> EndpointsByPort:
    """Endpoints per service port from a core/v1 Endpoints object."""
    if not obj:
        return {}
    meta = _meta(obj)
    ns, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
    merged: dict[ServicePortName, dict[str, Endpoint]] = {}
    for subset in obj.get("subsets") or []:
        for port in subset.get("ports") or []:
            spn = ServicePortName(ns, name, str(port.get("name") or ""),
                                  str(port.get("protocol") or "TCP"))
            bucket = merged.setdefault(spn, {})
            for key, ready in (("addresses", True), ("notReadyAddresses", False)):
                for addr in subset.get(key) or []:
                    node = str(addr.get("nodeName") or "")
                    e = Endpoint(str(addr.get("ip") or ""), int(port.get("port") or 0),
                                 ready=ready, serving=ready, node_name=node,
                                 is_local=bool(hostname) and node == hostname)
                    bucket.setdefault(str(e), e)
    return {spn: tuple(sorted(eps.values())) for spn, eps in merged.items() if eps}


def _usable(eps: Iterable[Endpoint]) -> tuple[Endpoint, ...]:
    """Ready endpoints; when there are none, the serving-and-terminating ones (KEP-1669)."""
    eps = tuple(eps)
    ready = tuple(e for e in eps if e.ready)
    if ready:
        return ready
    return tuple(e for e in eps if e.serving and e.terminating)


def categorize_endpoints(
    port: ServicePort, eps: Iterable[Endpoint]
) -> tuple[tuple[Endpoint, ...], tuple[Endpoint, ...]]:
    """``(cluster endpoints, local endpoints)`` as ``pkg/proxy/topology.go`` picks them.

    Cluster endpoints serve cluster traffic (only this node's with
    ``internalTrafficPolicy: Local``); local endpoints serve external traffic
    of ``externalTrafficPolicy: Local`` Services.
    """
    eps = tuple(eps)
    local = _usable(e for e in eps if e.is_local)
    cluster = local if port.internal_policy_local else _usable(eps)
    return cluster, local


class ServicePortMap(dict[ServicePortName, ServicePort]):
    """Every proxied Service port (``ServicePortMap``)."""

    def update(self, tracker: ServiceChangeTracker) -> set[str]:  # type: ignore[override]
        """Apply and clear the tracker's pending changes; return the changed Services."""
        changes = tracker.drain()
        for previous, current in changes.values():
            for spn in previous:
                self.pop(spn, None)
            dict.update(self, current)
        return set(changes)


@dataclass
class EndpointsUpdate:
    """What ``EndpointsMap.update`` applied."""

    services: set[str] = field(default_factory=set)
    trigger_times: dict[str, datetime] = field(default_factory=dict)


class EndpointsMap(dict[ServicePortName, tuple[Endpoint, ...]]):
    """Endpoints of every Service port (``EndpointsMap``)."""

    def update(self, tracker: EndpointsChangeTracker) -> EndpointsUpdate:  # type: ignore[override]
        """Apply and clear the tracker's pending changes."""
        changes, times = tracker.drain()
        for previous, current in changes.values():
            for spn in previous:
                self.pop(spn, None)
            dict.update(self, current)
        return EndpointsUpdate(set(changes), times)


class ServiceChangeTracker:
    """Uncommitted Service changes, one ``(previous, current)`` port map per Service."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, tuple[PortMap, PortMap]] = {}

    def update(self, previous: Obj | None, current: Obj | None) -> bool:
        """Record a change (``None`` for a missing side); True if a sync is needed."""
        obj = current or previous
        if not obj:
            return False
        key = service_key(obj)
        with self._lock:
            before = self._items[key][0] if key in self._items else service_ports(previous)
            after = service_ports(current)
            if before == after:
                self._items.pop(key, None)
            else:
                self._items[key] = (before, after)
            return bool(self._items)

    def pending(self) -> int:
        """How many Services have uncommitted changes."""
        return len(self._items)

    def drain(self) -> dict[str, tuple[PortMap, PortMap]]:
        """Take the pending changes."""
        with self._lock:
            items, self._items = self._items, {}
        return items


class EndpointsChangeTracker:
    """Uncommitted endpoints changes per Service, from EndpointSlices or Endpoints."""

    def __init__(self, hostname: str = "") -> None:
        self.hostname = hostname
        self._lock = threading.Lock()
        self._items: dict[str, tuple[EndpointsByPort, EndpointsByPort]] = {}
        self._times: dict[str, datetime] = {}
        # EndpointSliceCache: service key -> slice name -> slice.
        self._slices: dict[str, dict[str, Obj]] = {}
        self._committed: dict[str, EndpointsByPort] = {}

    def _record(self, key: str, after: EndpointsByPort, trigger: datetime | None) -> bool:
        before = self._items[key][0] if key in self._items else self._committed.get(key, {})
        if before == after:
            self._items.pop(key, None)
            self._times.pop(key, None)
        else:
            self._items[key] = (before, after)
            if trigger is not None:
                old = self._times.get(key)
                self._times[key] = trigger if old is None else min(old, trigger)
        return bool(self._items)

    def endpoint_slice_update(self, sl: Obj, removed: bool) -> bool:
        """An EndpointSlice was added/updated (``removed=False``) or deleted; True if a sync
        is needed."""
        meta = _meta(sl)
        svc = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
        if not svc:
            return False
        ns = str(meta.get("namespace") or "")
        key = f"{ns}/{svc}"
        with self._lock:
            bucket = self._slices.setdefault(key, {})
            name = str(meta.get("name") or "")
            if removed:
                bucket.pop(name, None)
            else:
                bucket[name] = sl
            if not bucket:
                self._slices.pop(key, None)
            after = endpoints_from_slices(ns, str(svc), bucket.values(), self.hostname)
            return self._record(key, after, None if removed else _trigger_time(sl))

    def endpoints_update(self, previous: Obj | None, current: Obj | None) -> bool:
        """A core/v1 Endpoints object changed; True if a sync is needed."""
        obj = current or previous
        if not obj:
            return False
        with self._lock:
            after = endpoints_from_endpoints(current, self.hostname)
            return self._record(service_key(obj), after, _trigger_time(current))

    def pending(self) -> int:
        """How many Services have uncommitted endpoint changes."""
        return len(self._items)

    def drain(self) -> tuple[dict[str, tuple[EndpointsByPort, EndpointsByPort]],
                             dict[str, datetime]]:
        """Take the pending changes and their trigger times."""
        with self._lock:
            items, self._items = self._items, {}
            times, self._times = self._times, {}
            for key, (_, after) in items.items():
                if after:
                    self._committed[key] = after
                else:
                    self._committed.pop(key, None)
        return items, times
