"""Indexed Service ↔ pod selection for the caches (no scan of a whole namespace per event).

A Service selector is a set of ``key=value`` equalities, so the pods it selects
all carry its rarest pair, and the Services selecting a pod all have a pair the
pod carries. Two store indexes make both lookups proportional to the matches:

* pods by ``namespace/key=value`` of each label (:data:`POD_LABEL_INDEX`);
* Services by ``namespace/key=value`` of each selector pair (:data:`SERVICE_SELECTOR_INDEX`).

Candidates are then checked with the full selector, as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controllers.client.store import Store, meta_namespace_key
from controllers.endpoints.podutil import selects, service_selector

__all__ = [
    "POD_LABEL_INDEX",
    "SERVICE_SELECTOR_INDEX",
    "ensure_selection_indexes",
    "pods_selected",
    "services_selecting",
]

POD_LABEL_INDEX = "pod-labels"
SERVICE_SELECTOR_INDEX = "service-selector"

Obj = dict[str, Any]


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    md = obj.get("metadata")
    return md if isinstance(md, Mapping) else {}


def pod_label_index(pod: Obj) -> list[str]:
    """``namespace/key=value`` for every label of the pod."""
    ns = str(_meta(pod).get("namespace") or "")
    labels = _meta(pod).get("labels")
    if not isinstance(labels, Mapping):
        return []
    return [f"{ns}/{k}={v}" for k, v in labels.items()]


def service_selector_index(service: Obj) -> list[str]:
    """``namespace/key=value`` for every pair of the Service's (non-empty) selector."""
    sel = service_selector(service)
    if sel is None:
        return []
    ns = str(_meta(service).get("namespace") or "")
    return [f"{ns}/{k}={v}" for k, v in sel.items()]


def ensure_selection_indexes(services: Store, pods: Store) -> None:
    """Add the two indexes to the caches (once; controllers share the caches)."""
    if SERVICE_SELECTOR_INDEX not in services.indexer_names():
        services.add_indexers({SERVICE_SELECTOR_INDEX: service_selector_index})
    if POD_LABEL_INDEX not in pods.indexer_names():
        pods.add_indexers({POD_LABEL_INDEX: pod_label_index})


def pods_selected(pods: Store, namespace: str, selector: Mapping[str, str]) -> list[Obj]:
    """Pods of ``namespace`` whose labels match every pair of ``selector`` (sorted by key)."""
    if not selector:
        return []
    pairs = [f"{namespace}/{k}={v}" for k, v in selector.items()]
    rarest = min(pairs, key=lambda p: pods.index_size(POD_LABEL_INDEX, p))
    out: list[Obj] = []
    for pod in pods.by_index(POD_LABEL_INDEX, rarest):
        labels = _meta(pod).get("labels")
        if isinstance(labels, Mapping) and all(labels.get(k) == v for k, v in selector.items()):
            out.append(pod)
    return out


def services_selecting(services: Store, pod: Mapping[str, Any]) -> set[str]:
    """Keys of the Services whose selector selects ``pod``."""
    keys: set[str] = set()
    for value in pod_label_index(dict(pod)):
        for svc in services.by_index(SERVICE_SELECTOR_INDEX, value):
            if selects(svc, dict(pod)):
                keys.add(meta_namespace_key(svc))
    return keys
