"""The EndpointSlice mirroring controller (upstream ``pkg/controller/endpointslicemirroring``).

User-written Endpoints of Services **without a selector** are mirrored into
EndpointSlices managed by ``endpointslicemirroring-controller.k8s.io``: one
group per subset port list and address type, ready addresses with
``ready: true``, not-ready ones with ``ready: false``, at most 1000 addresses
per subset. Mirrored slices carry the Endpoints' labels and annotations (but
not the trigger-time or last-applied annotations), ``kubernetes.io/service-name``
and the managed-by label, and an owner reference to the Endpoints. Endpoints
labelled ``endpointslice.kubernetes.io/skip-mirror=true``, leader-election
Endpoints, and Endpoints whose Service is missing or has a selector are not
mirrored (their mirrored slices are removed).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from typing import Any

from apiserver.api.resources import ENDPOINTSLICES
from controllers.client.store import DeletedFinalStateUnknown, Store, meta_namespace_key, split_key
from controllers.endpoints.endpoints import LEADER_ANNOTATION
from controllers.endpoints.podutil import meta, service_selector
from controllers.endpoints.slices import (
    LAST_CHANGE_TRIGGER_TIME,
    MANAGED_BY,
    SERVICE_INDEX,
    SERVICE_NAME,
    SliceTracker,
    SliceWriter,
    owner_reference,
    slices_index,
)
from controllers.endpoints.slicing import SliceGroup, plan_slices, ports_key
from controllers.runtime.controller import KeyedController
from controllers.runtime.writer import ObjectWriter

__all__ = ["MIRRORING_CONTROLLER_NAME", "SKIP_MIRROR", "EndpointSliceMirroringController",
           "mirrored_groups"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]

MIRRORING_CONTROLLER_NAME = "endpointslicemirroring-controller.k8s.io"
#: ``discovery.LabelSkipMirror``.
SKIP_MIRROR = "endpointslice.kubernetes.io/skip-mirror"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
#: Upstream ``mirroringMaxEndpointsPerSubset``.
MAX_PER_SUBSET = 1000


def _address_type(ip: str) -> str | None:
    try:
        return "IPv6" if ipaddress.ip_address(ip).version == 6 else "IPv4"
    except ValueError:
        return None


def _to_endpoint(address: Mapping[str, Any], ready: bool) -> Obj:
    ep: Obj = {"addresses": [address.get("ip")], "conditions": {"ready": ready}}
    if address.get("hostname"):
        ep["hostname"] = address["hostname"]
    if isinstance(address.get("targetRef"), Mapping):
        ep["targetRef"] = dict(address["targetRef"])
    if address.get("nodeName"):
        ep["nodeName"] = address["nodeName"]
    return ep


def mirrored_groups(endpoints: Mapping[str, Any]) -> list[SliceGroup]:
    """The slice groups mirroring ``endpoints``' subsets."""
    groups: dict[Any, SliceGroup] = {}
    for subset in endpoints.get("subsets") or []:
        ports = [
            {
                "name": p.get("name") or "",
                "protocol": p.get("protocol") or "TCP",
                "port": p.get("port"),
                **({"appProtocol": p["appProtocol"]} if p.get("appProtocol") else {}),
            }
            for p in subset.get("ports") or []
        ]
        count = 0
        for field_name, ready in (("addresses", True), ("notReadyAddresses", False)):
            for address in subset.get(field_name) or []:
                if count >= MAX_PER_SUBSET:
                    break
                address_type = _address_type(str(address.get("ip") or ""))
                if address_type is None:
                    continue
                key = (address_type, ports_key(ports))
                group = groups.get(key)
                if group is None:
                    group = groups[key] = SliceGroup(address_type, [dict(p) for p in ports])
                group.endpoints.append(_to_endpoint(address, ready))
                count += 1
    return list(groups.values())


class EndpointSliceMirroringController(KeyedController):
    """Mirrors custom Endpoints into EndpointSlices."""

    name = "endpointslice-mirroring"

    def __init__(
        self,
        services: Store,
        endpoints: Store,
        slices: Store,
        writer: ObjectWriter,
        *,
        max_per_slice: int = 1000,
    ) -> None:
        super().__init__()
        self.services = services
        self.endpoints = endpoints
        self.slices = slices
        if SERVICE_INDEX not in slices.indexer_names():
            slices.add_indexers({SERVICE_INDEX: slices_index})
        self.max_per_slice = max_per_slice
        self.tracker = SliceTracker()
        self.slice_writer = SliceWriter(writer, self.tracker)

    # -- handlers ----------------------------------------------------------------

    def on_object(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        """Endpoints or Service added/deleted: queue its key."""
        self.queue.add(meta_namespace_key(obj))

    def on_object_update(self, old: Obj, new: Obj) -> None:
        """Endpoints or Service updated."""
        self.queue.add(meta_namespace_key(new))

    def on_slice(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        """A mirrored slice changed: queue its Endpoints."""
        s = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        labels = meta(s).get("labels") or {}
        if labels.get(MANAGED_BY) == MIRRORING_CONTROLLER_NAME and labels.get(SERVICE_NAME):
            self.queue.add(f"{meta(s).get('namespace')}/{labels[SERVICE_NAME]}")

    def on_slice_update(self, old: Obj, new: Obj) -> None:
        """A slice was updated."""
        self.on_slice(old)
        self.on_slice(new)

    def startup(self) -> None:
        """Queue every Endpoints and every mirrored slice's owner."""
        for ep in self.endpoints.list():
            self.queue.add(meta_namespace_key(ep))
        for s in self.slices.list():
            self.on_slice(s)

    # -- sync --------------------------------------------------------------------

    def _should_mirror(self, ep: Mapping[str, Any]) -> bool:
        md = meta(ep)
        if (md.get("labels") or {}).get(SKIP_MIRROR) == "true":
            return False
        return LEADER_ANNOTATION not in (md.get("annotations") or {})

    async def sync(self, key: str) -> None:
        """Reconcile the mirrored slices of Endpoints ``key``."""
        namespace, name = split_key(key)
        if self.tracker.stale(key, namespace, self.slices):
            self.queue.add_after(key, 1.0)
            return
        existing = [
            s for s in self.slices.by_index(SERVICE_INDEX, key)
            if (meta(s).get("labels") or {}).get(MANAGED_BY) == MIRRORING_CONTROLLER_NAME
        ]
        ep = self.endpoints.get(namespace, name)
        service = self.services.get(namespace, name)
        if (
            ep is None
            or not self._should_mirror(ep)
            or service is None
            or service_selector(service) is not None
        ):
            for s in existing:
                await self.slice_writer.delete(key, namespace, s)
            return
        labels = {str(k): str(v) for k, v in (meta(ep).get("labels") or {}).items()}
        labels[SERVICE_NAME] = name
        labels[MANAGED_BY] = MIRRORING_CONTROLLER_NAME
        annotations = {
            str(k): str(v) for k, v in (meta(ep).get("annotations") or {}).items()
            if k not in (LAST_CHANGE_TRIGGER_TIME, LAST_APPLIED)
        }
        owner = owner_reference(ep, "v1", "Endpoints")

        def fix(s: Obj) -> None:
            md = s.setdefault("metadata", {})
            md["labels"] = dict(labels)
            md["ownerReferences"] = [owner]
            if annotations:
                md["annotations"] = dict(annotations)
            else:
                md.pop("annotations", None)

        def metadata_ok(s: Obj) -> bool:
            md = meta(s)
            return (
                md.get("labels") == labels
                and md.get("ownerReferences") == [owner]
                and (md.get("annotations") or {}) == annotations
            )

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
            existing,
            mirrored_groups(ep),
            new_slice=new_slice,
            metadata_ok=metadata_ok,
            fix_metadata=fix,
            max_per_slice=self.max_per_slice,
        )
        if plan.empty:
            return
        await self.slice_writer.apply(key, namespace, plan)
        self.metrics.writes = self.slice_writer.writes
