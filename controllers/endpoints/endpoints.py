"""The endpoints controller (upstream ``pkg/controller/endpoint/endpoints_controller.go``).

Event handlers only enqueue Service keys (pod events after ``batch_period``);
workers pop keys and run :meth:`EndpointsController.sync_service`, which is
level-triggered: it recomputes the Endpoints of the Service from the informer
caches and writes only when the subsets, labels or capacity annotation differ
from the cached Endpoints. Failed syncs are retried with rate-limited backoff
and dropped after :data:`MAX_RETRIES`.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from apiserver.api.resources import ENDPOINTS
from controllers.client.errors import ApiError
from controllers.client.store import (
    DeletedFinalStateUnknown,
    Store,
    meta_namespace_key,
    split_key,
)
from controllers.client.workqueue import RateLimitingQueue
from controllers.endpoints.handlers import ServicePodController
from controllers.endpoints.podutil import (
    HEADLESS_LABEL,
    find_port,
    format_rfc3339_nano,
    is_ipv6,
    is_pod_ready,
    is_service_ip_set,
    meta,
    pod_ips,
    service_selector,
    should_pod_be_in_endpoints,
    should_set_hostname,
    spec,
)
from controllers.endpoints.selection import (
    ensure_selection_indexes,
    pods_selected,
)
from controllers.endpoints.subsets import (
    MAX_CAPACITY,
    repack_subsets,
    subsets_equal,
    total_addresses,
    truncate_subsets,
)
from controllers.endpoints.trigger import TriggerTimeTracker
from controllers.runtime.controller import SyncMetrics
from controllers.runtime.writer import ObjectWriter

__all__ = [
    "LAST_CHANGE_TRIGGER_TIME",
    "LEADER_ANNOTATION",
    "MAX_RETRIES",
    "OVER_CAPACITY",
    "EndpointsController",
    "SyncMetrics",
    "build_subsets",
    "pod_to_endpoint_address",
]

log = logging.getLogger(__name__)

Obj = dict[str, Any]

#: ``v1.EndpointsLastChangeTriggerTime``.
LAST_CHANGE_TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
#: ``v1.EndpointsOverCapacity``.
OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"
#: Leader-election record annotation; such Endpoints are never treated as orphans.
LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"
#: Retries before a key is dropped (upstream ``maxRetries``).
MAX_RETRIES = 15


def pod_to_endpoint_address(service: Mapping[str, Any], pod: Mapping[str, Any]) -> Obj | None:
    """``podToEndpointAddressForService``: the address for the Service's IP family.

    The family is ``spec.ipFamilies[0]``; without it, that of the clusterIP, or
    for a headless Service that of the pod's IP. ``None`` when the pod has no IP
    of that family.
    """
    families = spec(service).get("ipFamilies") or []
    if families:
        want_v6 = families[0] == "IPv6"
    elif is_service_ip_set(service):
        want_v6 = is_ipv6(str(spec(service).get("clusterIP")))
    else:
        want_v6 = is_ipv6(str((pod.get("status") or {}).get("podIP") or ""))
    ip = next((i for i in pod_ips(pod) if is_ipv6(i) == want_v6), None)
    if ip is None:
        return None
    md = meta(pod)
    addr: Obj = {"ip": ip}
    if should_set_hostname(pod, service):
        addr["hostname"] = spec(pod).get("hostname")
    node = spec(pod).get("nodeName")
    if node:
        addr["nodeName"] = node
    addr["targetRef"] = {
        "kind": "Pod",
        "namespace": md.get("namespace"),
        "name": md.get("name"),
        "uid": md.get("uid"),
    }
    return addr


def _endpoint_port(service_port: Mapping[str, Any], number: int) -> Obj:
    port: Obj = {}
    if service_port.get("name"):
        port["name"] = service_port["name"]
    port["port"] = number
    port["protocol"] = service_port.get("protocol") or "TCP"
    if service_port.get("appProtocol"):
        port["appProtocol"] = service_port["appProtocol"]
    return port


def build_subsets(
    service: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]
) -> tuple[list[Obj], int, int]:
    """The repacked subsets of ``service`` over ``pods`` (already selected).

    Returns ``(subsets, ready, not_ready)`` counts as upstream logs them.
    """
    publish = bool(spec(service).get("publishNotReadyAddresses"))
    ports = [p for p in spec(service).get("ports") or [] if isinstance(p, Mapping)]
    headless_no_ports = not ports and spec(service).get("clusterIP") == "None"
    raw: list[Obj] = []
    ready_count = not_ready_count = 0
    for pod in pods:
        if not should_pod_be_in_endpoints(pod, publish):
            continue
        addr = pod_to_endpoint_address(service, pod)
        if addr is None:
            continue
        ready = publish or is_pod_ready(pod)
        field_name = "addresses" if ready else "notReadyAddresses"
        if not ports:
            if headless_no_ports:
                raw.append({field_name: [addr]})
                ready_count, not_ready_count = (1, 0) if ready else (0, 1)
            continue
        for sp in ports:
            number = find_port(pod, sp)
            if number is None:
                continue
            raw.append({field_name: [addr], "ports": [_endpoint_port(sp, number)]})
            if ready:
                ready_count += 1
            else:
                not_ready_count += 1
    return repack_subsets(raw), ready_count, not_ready_count


def _without_headless(labels: Mapping[str, str] | None) -> dict[str, str]:
    return {k: v for k, v in (labels or {}).items() if k != HEADLESS_LABEL}


class EndpointsController(ServicePodController):
    """Maintains one Endpoints object per selector Service."""

    name = "endpoint"
    max_retries = MAX_RETRIES

    def __init__(
        self,
        services: Store,
        pods: Store,
        endpoints: Store,
        writer: ObjectWriter,
        *,
        batch_period: float = 0.0,
        queue: RateLimitingQueue[str] | None = None,
    ) -> None:
        super().__init__(queue)
        self.services = services
        self.pods = pods
        ensure_selection_indexes(services, pods)
        self.endpoints = endpoints
        self.writer = writer
        self.batch_period = batch_period
        self.tracker = TriggerTimeTracker()

    # -- event handlers (enqueue only) ----------------------------------------------

    def on_endpoints_delete(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        """Endpoints deleted: queue its Service (recreate it if the Service still exists)."""
        self.queue.add(meta_namespace_key(obj))

    def startup(self) -> None:
        """Queue leftovers before the workers start."""
        self.check_leftover_endpoints()

    async def sync(self, key: str) -> None:
        """The worker entry point: :meth:`sync_service`."""
        await self.sync_service(key)

    def check_leftover_endpoints(self) -> None:
        """Queue every cached Endpoints so orphans (Service gone) get deleted."""
        for ep in self.endpoints.list():
            if LEADER_ANNOTATION in (meta(ep).get("annotations") or {}):
                continue
            self.queue.add(meta_namespace_key(ep))

    # -- sync -------------------------------------------------------------------------

    async def sync_service(self, key: str) -> None:
        """Bring the Endpoints of Service ``key`` in line with the caches."""
        namespace, name = split_key(key)
        service = self.services.get(namespace, name)
        if service is None:
            try:
                await self.writer.delete(ENDPOINTS, namespace, name)
                self.metrics.writes += 1
            except ApiError as exc:
                if exc.code != 404:
                    raise
            self.tracker.delete_service(namespace, name)
            return
        if spec(service).get("type") == "ExternalName":
            return
        selector = service_selector(service)
        if selector is None:
            return
        pods = pods_selected(self.pods, namespace, selector)
        trigger = self.tracker.compute(service, pods)
        subsets, ready, not_ready = build_subsets(service, pods)

        current = self.endpoints.get(namespace, name)
        svc_labels = dict(meta(service).get("labels") or {})
        desired = copy.deepcopy(subsets)
        truncated = truncate_subsets(desired, MAX_CAPACITY)
        if current is not None and meta(current).get("resourceVersion"):
            cur_annotations = meta(current).get("annotations") or {}
            capacity_ok = (OVER_CAPACITY in cur_annotations) == truncated
            if (
                subsets_equal(current.get("subsets"), desired)
                and _without_headless(meta(current).get("labels")) == svc_labels
                and capacity_ok
                and total_addresses(current.get("subsets")) <= MAX_CAPACITY
            ):
                log.debug("endpoints are equal for %s, skipping update", key)
                return
            new = copy.deepcopy(current)
            create = False
        else:
            new = {
                "kind": "Endpoints",
                "apiVersion": "v1",
                "metadata": {"name": name, "namespace": namespace},
            }
            create = True
        md = new.setdefault("metadata", {})
        annotations = dict(md.get("annotations") or {})
        if trigger is not None:
            annotations[LAST_CHANGE_TRIGGER_TIME] = format_rfc3339_nano(trigger)
        else:
            annotations.pop(LAST_CHANGE_TRIGGER_TIME, None)
        if truncated:
            annotations[OVER_CAPACITY] = "truncated"
        else:
            annotations.pop(OVER_CAPACITY, None)
        labels = dict(svc_labels)
        if not is_service_ip_set(service):
            labels[HEADLESS_LABEL] = ""
        else:
            labels.pop(HEADLESS_LABEL, None)
        md["labels"] = labels
        if annotations:
            md["annotations"] = annotations
        else:
            md.pop("annotations", None)
        new["subsets"] = desired
        log.debug("update endpoints for %s: ready %d, not ready %d", key, ready, not_ready)
        try:
            if create:
                await self.writer.create(ENDPOINTS, namespace, new)
            else:
                await self.writer.update(ENDPOINTS, namespace, new)
            self.metrics.writes += 1
        except ApiError as exc:
            if create and exc.code == 403 and exc.has_cause("NamespaceTerminating"):
                return
            raise
