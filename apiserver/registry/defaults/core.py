"""Defaults of the core/v1 kinds other than Pods and workloads.

Not here, on purpose: Service (its strategy defaults it, with the allocators), Node
(its strategy copies capacity to allocatable), ConfigMap (upstream's only default is an
empty ``data`` map, which the wire omits) and ResourceQuota (only quantity rounding).
"""

from __future__ import annotations

from collections.abc import Callable

from apiserver.registry.defaults.fields import Obj, child, each, ensure, fill, fill_zero
from apiserver.registry.defaults.podspec import default_pvc, default_sources

PERSISTENT_VOLUME_SPEC = {"volumeMode": "Filesystem"}
PERSISTENT_VOLUME_SPEC_ZERO = {"persistentVolumeReclaimPolicy": "Retain"}
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


def default_secret(obj: Obj) -> None:
    """Secret ``type`` Opaque."""
    fill_zero(obj, {"type": "Opaque"})


def default_persistent_volume(obj: Obj) -> None:
    """PersistentVolume: reclaim Retain, ``volumeMode`` Filesystem, phase Pending."""
    spec = ensure(obj, "spec")
    if spec is not None:
        fill_zero(spec, PERSISTENT_VOLUME_SPEC_ZERO)
        fill(spec, PERSISTENT_VOLUME_SPEC)
        default_sources(spec)
    status = ensure(obj, "status")
    if status is not None:
        fill_zero(status, {"phase": "Pending"})


def default_endpoints(obj: Obj) -> None:
    """Endpoints: every subset port's protocol TCP."""
    for subset in each(obj, "subsets"):
        for port in each(subset, "ports"):
            fill_zero(port, {"protocol": "TCP"})


def default_namespace(obj: Obj) -> None:
    """Namespace: the ``kubernetes.io/metadata.name`` label (when named), phase Active.

    The label always carries the name: upstream overwrites a client's value.
    """
    md = child(obj, "metadata")
    name = md.get("name") if md is not None else None
    if md is not None and isinstance(name, str) and name:
        labels = ensure(md, "labels")
        if labels is not None:
            labels[NAMESPACE_NAME_LABEL] = name
    status = ensure(obj, "status")
    if status is not None:
        fill_zero(status, {"phase": "Active"})


def default_limit_range(obj: Obj) -> None:
    """LimitRange Container items: ``default`` from ``max``, ``defaultRequest`` from
    ``default`` then ``min`` (each only for resources the target does not name)."""
    for item in each(child(obj, "spec") or {}, "limits"):
        if item.get("type") != "Container":
            continue
        for target, sources in (("default", ("max",)), ("defaultRequest", ("default", "min"))):
            merged = item.get(target)
            if merged is None:
                merged = {}
            elif not isinstance(merged, dict):
                continue
            for source in sources:
                for key, value in (child(item, source) or {}).items():
                    merged.setdefault(key, value)
            # An empty map is what upstream makes too, but the wire omits it.
            if merged:
                item[target] = merged


#: Kind defaulters of this module, by (group, version, kind).
DEFAULTERS: dict[tuple[str, str, str], Callable[[Obj], None]] = {
    ("", "v1", "Secret"): default_secret,
    ("", "v1", "PersistentVolume"): default_persistent_volume,
    ("", "v1", "PersistentVolumeClaim"): default_pvc,
    ("", "v1", "Endpoints"): default_endpoints,
    ("", "v1", "Namespace"): default_namespace,
    ("", "v1", "LimitRange"): default_limit_range,
}
