"""The ``scale`` subresource: an ``autoscaling/v1`` Scale view of a workload.

As upstream's ``ScaleREST`` (deployments, replicasets, statefulsets,
replicationcontrollers): a read builds a Scale from the parent; a write reads the
parent, builds its current Scale, lets the caller turn it into the new Scale (the
request body for PUT, the patched Scale for PATCH), validates that, and writes
``spec.replicas`` back to the parent through the parent's own update path (its
strategy runs, so ``metadata.generation`` moves as on any spec change). A
``metadata.resourceVersion`` on the new Scale is a precondition on the parent (409
on mismatch), a ``metadata.uid`` one too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from apiserver.api import errors
from apiserver.api.labels import selector_from_label_selector_object, selector_from_set
from apiserver.api.resources import ResourceInfo, SubresourceInfo
from apiserver.registry.store import Store
from apiserver.storage.cache import CachedObject

#: Upstream's default for an unset ``spec.replicas`` of every scalable kind.
_DEFAULT_REPLICAS = 1
_SCALE_SCHEMA = "io.k8s.api.autoscaling.v1.Scale"

ScaleTransform = Callable[[dict[str, Any]], dict[str, Any]]


def scale_info(parent: ResourceInfo) -> ResourceInfo:
    """The description of the Scale kind served under ``parent``'s ``scale`` subresource.

    Used to decode and check request bodies and to name the kind in 422 answers
    (``Scale.autoscaling "web" is invalid``).
    """
    sub = parent.subresource("scale") or SubresourceInfo("scale", "Scale", (),
                                                         "autoscaling", "v1")
    return replace(parent, group=sub.group or "autoscaling", version=sub.version or "v1",
                   kind=sub.kind, schema_ref=_SCALE_SCHEMA, list_kind="", subresources=(),
                   short_names=(), categories=())


def selector_string(parent: ResourceInfo, obj: dict[str, Any]) -> str:
    """``status.selector`` of the Scale: the parent's selector as a label-selector string.

    ReplicationControllers carry a plain label map; the apps kinds a
    ``metav1.LabelSelector`` (an invalid one raises :class:`SelectorError`, a 400).
    """
    selector = (obj.get("spec") or {}).get("selector")
    if not parent.group:
        return str(selector_from_set(selector if isinstance(selector, dict) else None))
    return str(selector_from_label_selector_object(selector if isinstance(selector, dict)
                                                   else None))


def _path(text: str) -> list[str]:
    """``.spec.replicas`` → ``["spec", "replicas"]``."""
    return [part for part in text.split(".") if part]


def _read(obj: Any, text: str) -> Any:
    for part in _path(text):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def _custom_scale(parent: ResourceInfo, obj: dict[str, Any],
                  scale_md: dict[str, Any]) -> dict[str, Any]:
    """The Scale of a custom resource, from its CRD's replica and selector paths
    (missing values read as 0 and no selector, as upstream)."""
    assert parent.scale_paths is not None
    spec_path, status_path, selector_path = parent.scale_paths
    replicas = _read(obj, spec_path)
    status_replicas = _read(obj, status_path) if status_path else 0
    status: dict[str, Any] = {"replicas": status_replicas
                              if isinstance(status_replicas, int) else 0}
    selector = _read(obj, selector_path) if selector_path else None
    if isinstance(selector, str) and selector:
        status["selector"] = selector
    return {"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": scale_md,
            "spec": {"replicas": replicas} if isinstance(replicas, int) and replicas else {},
            "status": status}


def to_scale(parent: ResourceInfo, obj: dict[str, Any]) -> dict[str, Any]:
    """The Scale of ``obj``, an object of ``parent``'s kind (upstream ``scaleFrom<Kind>``)."""
    md = obj.get("metadata") or {}
    scale_md = {k: md[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                   "creationTimestamp") if md.get(k) is not None}
    if parent.scale_paths is not None:
        return _custom_scale(parent, obj, scale_md)
    spec = obj.get("spec") or {}
    replicas = spec.get("replicas", _DEFAULT_REPLICAS)
    status_replicas = (obj.get("status") or {}).get("replicas") or 0
    scale_spec: dict[str, Any] = {"replicas": replicas} if replicas else {}
    scale_status: dict[str, Any] = {"replicas": status_replicas}
    selector = selector_string(parent, obj)
    if selector:
        scale_status["selector"] = selector
    return {"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": scale_md,
            "spec": scale_spec, "status": scale_status}


def validation_causes(scale: dict[str, Any]) -> list[dict[str, str]]:
    """Field errors of a Scale (upstream ``ValidateScale``: replicas must not be negative)."""
    replicas = (scale.get("spec") or {}).get("replicas", 0)
    if isinstance(replicas, int) and replicas < 0:
        return [errors.invalid_value("spec.replicas", replicas,
                                     "must be greater than or equal to 0")]
    return []


def _scale_resource(parent: ResourceInfo) -> ResourceInfo:
    """``parent`` renamed ``<plural>/scale``, as upstream names it in write errors."""
    return replace(parent, plural=f"{parent.plural}/scale")


def apply_scale(parent: ResourceInfo, obj: dict[str, Any], scale: dict[str, Any]) -> None:
    """Move the new Scale's replicas (and its preconditions) onto ``obj`` in place.

    Raises 422 on an invalid Scale and 409 when ``scale.metadata.uid`` names
    another object.
    """
    md = obj.setdefault("metadata", {})
    name = md.get("name", "")
    causes = validation_causes(scale)
    if causes:
        raise errors.invalid(scale_info(parent), name, causes)
    scale_md = scale.get("metadata") or {}
    uid = scale_md.get("uid")
    if uid and uid != md.get("uid"):
        raise errors.conflict(
            _scale_resource(parent), name,
            f"Precondition failed: UID in precondition: {uid}, UID in object meta: "
            f"{md.get('uid')}")
    replicas = (scale.get("spec") or {}).get("replicas", 0)
    if parent.scale_paths is not None:
        *parents, last = _path(parent.scale_paths[0]) or ["spec", "replicas"]
        node = obj
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[last] = replicas
    else:
        obj.setdefault("spec", {})["replicas"] = replicas
    rv = scale_md.get("resourceVersion")
    if rv:
        md["resourceVersion"] = rv


class ScaleREST:
    """The ``scale`` subresource of one scalable resource, over that resource's store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.parent = store.info

    async def get(self, namespace: str | None, name: str,
                  resource_version: str | None = None) -> dict[str, Any]:
        """The current Scale; 404 (``deployments.apps "x" not found``) without a parent."""
        found = await self.store.get(namespace, name, resource_version)
        return to_scale(self.parent, found.obj)

    async def update(self, namespace: str | None, name: str, transform: ScaleTransform,
                     *, dry_run: bool = False) -> dict[str, Any]:
        """Replace the Scale by ``transform(current Scale)``; returns the resulting Scale.

        ``transform`` may raise :class:`ApiError`. Conflicts on the parent without
        a resourceVersion precondition are retried by the store.
        """
        def mutate(current: dict[str, Any]) -> dict[str, Any]:
            new_scale = transform(to_scale(self.parent, current))
            apply_scale(self.parent, current, new_scale)
            return current

        try:
            written, _ = await self.store.guaranteed_update(
                namespace, name, mutate, dry_run=dry_run)
        except errors.ApiError as exc:
            if exc.code == 404 and exc.reason == "NotFound" and \
                    (exc.details or {}).get("kind") == self.parent.plural:
                raise errors.not_found(_scale_resource(self.parent), name) \
                    from None
            raise
        return scale_of(self.parent, written)


def scale_of(parent: ResourceInfo, written: CachedObject) -> dict[str, Any]:
    """The Scale of an object as the store returned it."""
    return to_scale(parent, written.obj)
