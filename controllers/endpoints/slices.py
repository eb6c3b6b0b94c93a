"""The EndpointSlice controller (upstream ``pkg/controller/endpointslice``).

Per selector Service it maintains EndpointSlices (``discovery.k8s.io/v1``):
``generateName: <service>-``, a controller owner reference to the Service, the
Service's labels plus ``kubernetes.io/service-name`` and
``endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io``,
endpoints with ready/serving/terminating conditions (terminating pods are kept),
grouped by address type and resolved port list, at most ``max_per_slice`` per
slice; an empty placeholder slice when the Service has no endpoints. kubemu has
no garbage collector, so this controller deletes the slices of a deleted
Service itself (and orphans at start-up).

Its informer cache of slices can lag behind its own writes (a created slice has
a generated name), so it remembers the resourceVersions it wrote and skips a
sync while the cache has not caught up (upstream ``EndpointSliceTracker``); the
slice events that follow re-queue the Service.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from apiserver.api.resources import ENDPOINTSLICES
from controllers.client.errors import ApiError
from controllers.client.store import DeletedFinalStateUnknown, Store, split_key
from controllers.client.workqueue import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    RateLimitingQueue,
)
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
from controllers.endpoints.slicing import SliceGroup, plan_slices, ports_key
from controllers.endpoints.trigger import TriggerTimeTracker
from controllers.runtime.writer import ObjectWriter

__all__ = [
    "CONTROLLER_NAME",
    "MANAGED_BY",
    "SERVICE_NAME",
    "EndpointSliceController",
    "SliceTracker",
    "address_types",
    "desired_groups",
    "service_slice_labels",
]

log = logging.getLogger(__name__)

Obj = dict[str, Any]

#: ``discovery.LabelServiceName``.
SERVICE_NAME = "kubernetes.io/service-name"
#: ``discovery.LabelManagedBy``.
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
#: The value this controller puts in :data:`MANAGED_BY`.
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
LAST_CHANGE_TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"


def _rv_int(value: Any) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


class SliceTracker:
    """What this process last wrote per owner key: slice name → RV (``None``: deleted)."""

    def __init__(self) -> None:
        self._written: dict[str, dict[str, str | None]] = {}

    def wrote(self, owner: str, name: str, rv: str | None) -> None:
        """Remember a create/update (``rv``) or a delete (``None``)."""
        self._written.setdefault(owner, {})[name] = rv

    def stale(self, owner: str, namespace: str, slices: Store) -> bool:
        """True while the cache does not yet show every write for ``owner``."""
        written = self._written.get(owner)
        if not written:
            return False
        for name, rv in list(written.items()):
            cached = slices.get(namespace, name)
            if rv is None:
                if cached is not None:
                    return True
            elif cached is None or _rv_int(meta(cached).get("resourceVersion")) < _rv_int(rv):
                return True
            del written[name]
        return False

    def forget(self, owner: str) -> None:
        """Drop the memory of ``owner``."""
        self._written.pop(owner, None)


def address_types(service: Mapping[str, Any]) -> list[str]:
    """``getAddressTypesForService``: from ipFamilies, else the clusterIP, else both."""
    types: list[str] = []
    for family in spec(service).get("ipFamilies") or []:
        if family in ("IPv4", "IPv6") and family not in types:
            types.append(family)
    if types:
        return types
    if is_service_ip_set(service):
        return ["IPv6" if is_ipv6(str(spec(service).get("clusterIP"))) else "IPv4"]
    return ["IPv4", "IPv6"]


def _slice_ports(service: Mapping[str, Any], pod: Mapping[str, Any]) -> list[Obj]:
    out: list[Obj] = []
    for sp in spec(service).get("ports") or []:
        if not isinstance(sp, Mapping):
            continue
        number = find_port(pod, sp)
        if number is None:
            continue
        port: Obj = {
            "name": sp.get("name") or "",
            "protocol": sp.get("protocol") or "TCP",
            "port": number,
        }
        if sp.get("appProtocol"):
            port["appProtocol"] = sp["appProtocol"]
        out.append(port)
    return out


def pod_to_endpoint(
    pod: Mapping[str, Any], service: Mapping[str, Any], address_type: str
) -> Obj:
    """``podToEndpoint``: addresses of the family and the three conditions."""
    serving = is_pod_ready(pod)
    terminating = bool(meta(pod).get("deletionTimestamp"))
    ready = bool(spec(service).get("publishNotReadyAddresses")) or (serving and not terminating)
    want_v6 = address_type == "IPv6"
    md = meta(pod)
    ep: Obj = {
        "addresses": [ip for ip in pod_ips(pod) if is_ipv6(ip) == want_v6],
        "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
    }
    if should_set_hostname(pod, service):
        ep["hostname"] = spec(pod).get("hostname")
    ep["targetRef"] = {
        "kind": "Pod",
        "namespace": md.get("namespace"),
        "name": md.get("name"),
        "uid": md.get("uid"),
    }
    if spec(pod).get("nodeName"):
        ep["nodeName"] = spec(pod)["nodeName"]
    return ep


def desired_groups(
    service: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]
) -> list[SliceGroup]:
    """The Service's endpoints grouped by address type and resolved ports."""
    groups: dict[Any, SliceGroup] = {}
    for address_type in address_types(service):
        for pod in pods:
            if not should_pod_be_in_endpoints(pod, True):
                continue
            ports = _slice_ports(service, pod)
            key = (address_type, ports_key(ports))
            group = groups.get(key)
            if group is None:
                group = groups[key] = SliceGroup(address_type, ports)
            ep = pod_to_endpoint(pod, service, address_type)
            if ep["addresses"]:
                group.endpoints.append(ep)
    for group in groups.values():
        group.endpoints.sort(key=lambda e: (e["addresses"], e["targetRef"]["name"] or ""))
    return list(groups.values())


def service_slice_labels(service: Mapping[str, Any], controller: str) -> dict[str, str]:
    """``setEndpointSliceLabels``: the Service's labels, headless flag, name, managed-by."""
    labels = {
        k: v for k, v in (meta(service).get("labels") or {}).items()
        if k not in (SERVICE_NAME, MANAGED_BY, HEADLESS_LABEL)
    }
    if not is_service_ip_set(service):
        labels[HEADLESS_LABEL] = ""
    labels[SERVICE_NAME] = str(meta(service).get("name") or "")
    labels[MANAGED_BY] = controller
    return labels


def owner_reference(owner: Mapping[str, Any], api_version: str, kind: str) -> Obj:
    """A controller owner reference (``metav1.NewControllerRef``)."""
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": meta(owner).get("name"),
        "uid": meta(owner).get("uid"),
        "controller": True,
        "blockOwnerDeletion": True,
    }


class SliceWriter:
    """Applies a plan with the writer and records the writes in a tracker."""

    def __init__(self, writer: ObjectWriter, tracker: SliceTracker) -> None:
        self.writer = writer
        self.tracker = tracker
        self.writes = 0

    async def delete(self, owner: str, namespace: str, s: Mapping[str, Any]) -> None:
        """Delete one slice (a 404 is fine)."""
        name = str(meta(s).get("name") or "")
        try:
            await self.writer.delete(ENDPOINTSLICES, namespace, name)
            self.writes += 1
        except ApiError as exc:
            if exc.code != 404:
                raise
        self.tracker.wrote(owner, name, None)

    async def apply(self, owner: str, namespace: str, plan: Any) -> None:
        """Create, update, then delete."""
        for s in plan.create:
            stored = await self.writer.create(ENDPOINTSLICES, namespace, s)
            self.writes += 1
            self.tracker.wrote(owner, str(meta(stored).get("name")),
                               str(meta(stored).get("resourceVersion")))
        for s in plan.update:
            stored = await self.writer.update(ENDPOINTSLICES, namespace, s)
            self.writes += 1
            self.tracker.wrote(owner, str(meta(stored).get("name")),
                               str(meta(stored).get("resourceVersion")))
        for s in plan.delete:
            await self.delete(owner, namespace, s)


def slices_index(obj: Obj) -> list[str]:
    """Index function: ``<namespace>/<service-name>`` of slices carrying the label."""
    md = obj.get("metadata") or {}
    name = (md.get("labels") or {}).get(SERVICE_NAME)
    return [f"{md.get('namespace')}/{name}"] if name else []


SERVICE_INDEX = "service"


class EndpointSliceController(ServicePodController):
    """Maintains the EndpointSlices of selector Services."""

    name = "endpointslice"

    def __init__(
        self,
        services: Store,
        pods: Store,
        slices: Store,
        writer: ObjectWriter,
        *,
        batch_period: float = 0.0,
        max_per_slice: int = 100,
        queue: RateLimitingQueue[str] | None = None,
    ) -> None:
        if queue is None:
            queue = RateLimitingQueue[str](
                MaxOfRateLimiter[str](
                    ItemExponentialFailureRateLimiter[str](1.0, 1000.0),
                    BucketRateLimiter[str](10.0, 100),
                ),
                name=self.name,
            )
        super().__init__(queue)
        self.services = services
        self.pods = pods
        ensure_selection_indexes(services, pods)
        self.slices = slices
        if SERVICE_INDEX not in slices.indexer_names():
            slices.add_indexers({SERVICE_INDEX: slices_index})
        self.batch_period = batch_period
        self.max_per_slice = max_per_slice
        self.tracker = SliceTracker()
        self.slice_writer = SliceWriter(writer, self.tracker)
        self.triggers = TriggerTimeTracker()

    # -- handlers --------------------------------------------------------------

    def on_slice(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        """A slice of ours changed or vanished: queue its Service."""
        s = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        labels = meta(s).get("labels") or {}
        if labels.get(MANAGED_BY) == CONTROLLER_NAME and labels.get(SERVICE_NAME):
            self.queue.add(f"{meta(s).get('namespace')}/{labels[SERVICE_NAME]}")

    def on_slice_update(self, old: Obj, new: Obj) -> None:
        """A slice was updated (by anyone)."""
        self.on_slice(old)
        self.on_slice(new)

    def startup(self) -> None:
        """Queue the Service of every slice of ours (orphans get deleted)."""
        for s in self.slices.list():
            self.on_slice(s)

    # -- sync ------------------------------------------------------------------

    def owned_slices(self, namespace: str, name: str) -> list[Obj]:
        """Cached slices labelled for this Service and managed by this controller."""
        return [
            s for s in self.slices.by_index(SERVICE_INDEX, f"{namespace}/{name}")
            if (meta(s).get("labels") or {}).get(MANAGED_BY) == CONTROLLER_NAME
        ]

    async def sync(self, key: str) -> None:
        """Reconcile the slices of Service ``key``."""
        namespace, name = split_key(key)
        if self.tracker.stale(key, namespace, self.slices):
            log.debug("endpointslice cache of %s is stale; waiting for it", key)
            self.queue.add_after(key, 1.0)
            return
        service = self.services.get(namespace, name)
        existing = self.owned_slices(namespace, name)
        if service is None:
            for s in existing:
                await self.slice_writer.delete(key, namespace, s)
            self.triggers.delete_service(namespace, name)
            return
        if spec(service).get("type") == "ExternalName":
            return
        selector = service_selector(service)
        if selector is None:
            return
        pods = pods_selected(self.pods, namespace, selector)
        trigger = self.triggers.compute(service, pods)
        labels = service_slice_labels(service, CONTROLLER_NAME)
        owner = owner_reference(service, "v1", "Service")
        types = address_types(service)
        existing_ok = [s for s in existing if s.get("addressType") in types]
        stale_types = [s for s in existing if s.get("addressType") not in types]

        def fix(s: Obj) -> None:
            md = s.setdefault("metadata", {})
            md["labels"] = dict(labels)
            md["ownerReferences"] = [owner]
            annotations = dict(md.get("annotations") or {})
            if trigger is not None:
                annotations[LAST_CHANGE_TRIGGER_TIME] = format_rfc3339_nano(trigger)
            if annotations:
                md["annotations"] = annotations

        def metadata_ok(s: Obj) -> bool:
            md = meta(s)
            return md.get("labels") == labels and md.get("ownerReferences") == [owner]

        def new_slice(group: SliceGroup) -> Obj:
            s: Obj = {
                "apiVersion": ENDPOINTSLICES.api_version,
                "kind": "EndpointSlice",
                "metadata": {"generateName": f"{name}-", "namespace": namespace},
                "addressType": group.address_type,
                "endpoints": [],
                "ports": [dict(p) for p in group.ports],
            }
            fix(s)
            return s

        plan = plan_slices(
            existing_ok,
            desired_groups(service, pods),
            new_slice=new_slice,
            metadata_ok=metadata_ok,
            fix_metadata=fix,
            max_per_slice=self.max_per_slice,
            placeholder_types=types[:1] if len(types) == 1 else types,
        )
        plan.delete.extend(stale_types)
        if plan.empty:
            return
        await self.slice_writer.apply(key, namespace, plan)
        self.metrics.writes = self.slice_writer.writes
