"""LimitRanger (``plugin/pkg/admission/limitranger``): LimitRange defaults and bounds.

Mutating phase (pod create): each container (and init container) missing a limit or a
request for a resource gets the namespace's LimitRange ``default``/``defaultRequest`` for
it, and the pod is annotated ``kubernetes.io/limit-ranger: LimitRanger plugin set: …``.

Validating phase (pod create, PersistentVolumeClaim create and update): ``min``, ``max`` and
``maxLimitRequestRatio`` of ``Container`` and ``Pod`` items (``min``/``max`` of
``PersistentVolumeClaim`` items) are enforced; every violation is reported in one 403,
with upstream's messages. Subresources and pod updates are left alone, as upstream.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from apiserver.admission.attributes import AdmissionAttributes, ObjectSource, Operation, forbidden
from apiserver.api.podresources import (
    ResourceList,
    container_resources,
    pod_limits,
    pod_requests,
    resource_list,
)
from apiserver.api.quantity import Quantity
from apiserver.api.resources import served

LIMITRANGES = served("", "v1", "limitranges")
ANNOTATION = "kubernetes.io/limit-ranger"


def _items(limit_range: dict[str, Any], limit_type: str) -> list[dict[str, Any]]:
    limits = (limit_range.get("spec") or {}).get("limits")
    return [i for i in limits or [] if isinstance(i, dict) and i.get("type") == limit_type]


def _merge(container: dict[str, Any], limits: dict[str, Any], requests: dict[str, Any],
           what: str, notes: list[str]) -> None:
    resources = container.get("resources")
    if not isinstance(resources, dict):
        resources = {}
    set_limits: list[str] = []
    set_requests: list[str] = []
    for field, defaults, changed in (("limits", limits, set_limits),
                                     ("requests", requests, set_requests)):
        current = resources.get(field)
        current = dict(current) if isinstance(current, dict) else {}
        for key, value in defaults.items():
            if key not in current:
                current[key] = value
                changed.append(key)
        if changed:
            resources[field] = current
    if set_limits or set_requests:
        container["resources"] = resources
    name = container.get("name", "")
    if set_requests:
        notes.append(f"{', '.join(sorted(set_requests))} request for {what} {name}")
    if set_limits:
        notes.append(f"{', '.join(sorted(set_limits))} limit for {what} {name}")


def apply_defaults(pod: dict[str, Any], limit_range: dict[str, Any]) -> None:
    """Merge ``limit_range``'s Container defaults into ``pod`` and annotate what was set."""
    limits: dict[str, Any] = {}
    requests: dict[str, Any] = {}
    for item in _items(limit_range, "Container"):
        if isinstance(item.get("default"), dict):
            limits.update(item["default"])
        if isinstance(item.get("defaultRequest"), dict):
            requests.update(item["defaultRequest"])
    spec = pod.get("spec")
    if not isinstance(spec, dict) or not (limits or requests):
        return
    notes: list[str] = []
    for group, what in (("containers", "container"), ("initContainers", "init container")):
        for container in spec.get(group) or []:
            if isinstance(container, dict):
                _merge(container, limits, requests, what, notes)
    if notes:
        md = pod.setdefault("metadata", {})
        annotations = md.get("annotations")
        if not isinstance(annotations, dict):
            annotations = md["annotations"] = {}
        annotations[ANNOTATION] = "LimitRanger plugin set: " + "; ".join(notes)


def _min(kind: str, name: str, enforced: Quantity, req: ResourceList,
         lim: ResourceList) -> str | None:
    if name not in req:
        return f"minimum {name} usage per {kind} is {enforced}.  No request is specified"
    if req[name].value < enforced.value:
        return f"minimum {name} usage per {kind} is {enforced}, but request is {req[name]}"
    if name in lim and lim[name].value < enforced.value:
        return f"minimum {name} usage per {kind} is {enforced}, but limit is {lim[name]}"
    return None


def _max(kind: str, name: str, enforced: Quantity, req: ResourceList,
         lim: ResourceList) -> str | None:
    if name not in lim:
        return f"maximum {name} usage per {kind} is {enforced}.  No limit is specified"
    if lim[name].value > enforced.value:
        return f"maximum {name} usage per {kind} is {enforced}, but limit is {lim[name]}"
    if name in req and req[name].value > enforced.value:
        return f"maximum {name} usage per {kind} is {enforced}, but request is {req[name]}"
    return None


def _max_request(kind: str, name: str, enforced: Quantity, req: ResourceList) -> str | None:
    if name in req and req[name].value > enforced.value:
        return f"maximum {name} usage per {kind} is {enforced}, but request is {req[name]}"
    return None


def _ratio(kind: str, name: str, enforced: Quantity, req: ResourceList,
           lim: ResourceList) -> str | None:
    prefix = f"{name} max limit to request ratio per {kind} is {enforced}"
    if name not in req or req[name].value == 0:
        return f"{prefix}, but no request is specified or request is 0"
    if name not in lim or lim[name].value == 0:
        return f"{prefix}, but no limit is specified or limit is 0"
    observed = lim[name].value / req[name].value
    if observed > enforced.value:
        return f"{prefix}, but provided ratio is {float(observed):f}"
    return None


def _bounds(item: dict[str, Any], kind: str, req: ResourceList, lim: ResourceList) -> list[str]:
    errs: list[str] = []
    for name, value in resource_list(item.get("min")).items():
        errs.append(_min(kind, name, value, req, lim) or "")
    for name, value in resource_list(item.get("max")).items():
        errs.append(_max(kind, name, value, req, lim) or "")
    for name, value in resource_list(item.get("maxLimitRequestRatio")).items():
        errs.append(_ratio(kind, name, value, req, lim) or "")
    return [e for e in errs if e]


def pod_violations(pod: dict[str, Any], limit_range: dict[str, Any]) -> list[str]:
    """Every way ``pod`` breaks ``limit_range`` (upstream ``PodValidateLimitFunc``)."""
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return []
    errs: list[str] = []
    for item in (limit_range.get("spec") or {}).get("limits") or []:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "Container":
            for group in ("containers", "initContainers"):
                for container in spec.get(group) or []:
                    errs += _bounds(item, "Container", container_resources(container, "requests"),
                                    container_resources(container, "limits"))
        elif item.get("type") == "Pod":
            errs += _bounds(item, "Pod", pod_requests(pod), pod_limits(pod))
    return errs


def claim_violations(claim: dict[str, Any], limit_range: dict[str, Any]) -> list[str]:
    """Every way a PersistentVolumeClaim breaks ``limit_range``'s storage bounds."""
    resources = (claim.get("spec") or {}).get("resources")
    req = resource_list(resources.get("requests")) if isinstance(resources, dict) else {}
    errs: list[str] = []
    for item in _items(limit_range, "PersistentVolumeClaim"):
        for name, value in resource_list(item.get("min")).items():
            errs.append(_min("PersistentVolumeClaim", name, value, req, {}) or "")
        for name, value in resource_list(item.get("max")).items():
            errs.append(_max_request("PersistentVolumeClaim", name, value, req) or "")
    return [e for e in errs if e]


def aggregate(messages: Sequence[str]) -> str:
    """Upstream ``utilerrors.NewAggregate(...).Error()``."""
    return messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"


class LimitRanger:
    """Applies the namespace's LimitRanges to pods and claims."""

    name = "LimitRanger"
    core_resources = frozenset({"pods", "persistentvolumeclaims"})
    config_resources = (LIMITRANGES,)

    def __init__(self, source: ObjectSource) -> None:
        self.source = source

    def handles(self, operation: Operation) -> bool:
        return operation in (Operation.CREATE, Operation.UPDATE)

    def _ranges(self, attrs: AdmissionAttributes) -> list[dict[str, Any]]:
        ranges = self.source.cached_list(LIMITRANGES, attrs.namespace)
        return sorted(ranges, key=lambda r: str((r.get("metadata") or {}).get("name", "")))

    @staticmethod
    def _pod(attrs: AdmissionAttributes) -> bool:
        # Containers cannot change on a pod update: upstream skips them.
        return attrs.is_core("pods") and attrs.operation is Operation.CREATE

    async def admit(self, attrs: AdmissionAttributes) -> None:
        if attrs.object is None or not self._pod(attrs):
            return
        for limit_range in self._ranges(attrs):
            apply_defaults(attrs.object, limit_range)

    async def validate(self, attrs: AdmissionAttributes) -> None:
        obj = attrs.object
        if obj is None:
            return
        check: Callable[[dict[str, Any], dict[str, Any]], list[str]]
        if self._pod(attrs):
            check = pod_violations
        elif attrs.is_core("persistentvolumeclaims"):
            check = claim_violations
        else:
            return
        for limit_range in self._ranges(attrs):
            errs = check(obj, limit_range)
            if errs:
                raise forbidden(attrs, aggregate(errs))
