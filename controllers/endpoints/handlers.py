"""Informer handlers shared by the controllers that keep one object set per Service.

The Endpoints and EndpointSlice controllers react to the same events the same
way, as upstream's do: a Service change queues that Service at once; a pod
change queues, after the batch period, every Service that selects the pod now
or selected it before (only when something endpoints depend on changed).
Handlers only enqueue keys; the subclass's ``sync`` does the work.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controllers.client.store import DeletedFinalStateUnknown, Store, meta_namespace_key
from controllers.endpoints.podutil import Obj, meta, pod_endpoints_changed
from controllers.endpoints.selection import services_selecting
from controllers.runtime.controller import KeyedController


class ServicePodController(KeyedController):
    """A :class:`KeyedController` keyed by Service, fed by Service and Pod events.

    Subclasses set ``services`` (the Service informer's store) and
    ``batch_period`` (seconds pod-triggered syncs are delayed to batch changes).
    """

    services: Store
    batch_period: float

    def on_service(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        """Service added or deleted: queue it."""
        self.queue.add(meta_namespace_key(obj))

    def on_service_update(self, old: Obj, new: Obj) -> None:
        """Service updated: queue it."""
        self.queue.add(meta_namespace_key(new))

    def pod_services(self, pod: Mapping[str, Any]) -> set[str]:
        """Keys of the Services whose selector selects ``pod``."""
        return services_selecting(self.services, pod)

    def on_pod_add(self, pod: Obj) -> None:
        """Pod added: queue its Services after the batch period."""
        for key in self.pod_services(pod):
            self.queue.add_after(key, self.batch_period)

    def on_pod_update(self, old: Obj, new: Obj) -> None:
        """Pod changed: queue the Services it left, joined or (if it changed) belongs to."""
        if meta(old).get("resourceVersion") == meta(new).get("resourceVersion"):
            return
        changed, labels_changed = pod_endpoints_changed(old, new)
        if not changed and not labels_changed:
            return
        keys = self.pod_services(new)
        if labels_changed:
            before = self.pod_services(old)
            keys = (keys | before) if changed else (keys ^ before)
        for key in keys:
            self.queue.add_after(key, self.batch_period)

    def on_pod_delete(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        """Pod deleted: queue the Services it belonged to."""
        self.on_pod_add(obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj)
