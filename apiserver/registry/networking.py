"""networking.k8s.io/v1 Ingresses and IngressClasses.

Counterparts of the path and backend rules of ``ValidateIngressSpec`` and of
``ValidateIngressClass``/``Update`` (``pkg/apis/networking/validation``).
"""

from __future__ import annotations

from typing import Any

from apiserver.registry import common as c
from apiserver.registry.strategy import Cause
from apiserver.registry.table_strategy import TableStrategy
from apiserver.registry.workloads.validation import spec_of

PATH_TYPES = ("Exact", "ImplementationSpecific", "Prefix")
_CONTROLLER_MAX = 250


def _backend(backend: Any, path: str) -> list[Cause]:
    """A backend names a service (name and port) or a resource, not both."""
    if not isinstance(backend, dict):
        return [c.required(path)]
    service = backend.get("service")
    resource = backend.get("resource")
    if service is not None and resource is not None:
        return [c.invalid(path, '""', "cannot set both resource and service backends")]
    if isinstance(service, dict):
        causes: list[Cause] = []
        if not service.get("name"):
            causes.append(c.required(f"{path}.service.name"))
        port = service.get("port")
        if not isinstance(port, dict) or (port.get("name") is None
                                          and port.get("number") is None):
            causes.append(c.required(f"{path}.service.port",
                                     "port name or number is required"))
        return causes
    if isinstance(resource, dict):
        causes = []
        if not resource.get("kind"):
            causes.append(c.required(f"{path}.resource.kind"))
        if not resource.get("name"):
            causes.append(c.required(f"{path}.resource.name"))
        return causes
    return [c.invalid(path, '""', "resource or service backend is required")]


def validate_ingress(obj: dict[str, Any]) -> list[Cause]:
    """Rules need a backend; every HTTP path a ``pathType`` and, for Exact/Prefix, a ``/``."""
    spec = spec_of(obj)
    causes: list[Cause] = []
    rules = spec.get("rules")
    rules = rules if isinstance(rules, list) else []
    default = spec.get("defaultBackend")
    if default is None and not rules:
        causes.append(c.invalid("spec", "networking.IngressSpec{…}",
                                "either `defaultBackend` or `rules` must be specified"))
    if default is not None:
        causes += _backend(default, "spec.defaultBackend")
    for i, rule in enumerate(rules):
        http = rule.get("http") if isinstance(rule, dict) else None
        if not isinstance(http, dict):
            continue
        paths = http.get("paths")
        if not isinstance(paths, list) or not paths:
            causes.append(c.required(f"spec.rules[{i}].http.paths"))
            continue
        for j, entry in enumerate(paths):
            ppath = f"spec.rules[{i}].http.paths[{j}]"
            if not isinstance(entry, dict):
                causes.append(c.required(ppath))
                continue
            kind = entry.get("pathType")
            value = entry.get("path")
            if kind is None:
                causes.append(c.required(f"{ppath}.pathType", "pathType must be specified"))
            elif kind not in PATH_TYPES:
                causes.append(c.not_supported(f"{ppath}.pathType", kind, PATH_TYPES))
            elif kind in ("Exact", "Prefix") and not str(value or "").startswith("/"):
                causes.append(c.invalid(f"{ppath}.path", c.go_value(value or ""),
                                        "must be an absolute path"))
            causes += _backend(entry.get("backend"), f"{ppath}.backend")
    return causes


class IngressStrategy(TableStrategy):
    """networking.k8s.io/v1 Ingresses."""

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_ingress(obj)


def validate_ingress_class(obj: dict[str, Any]) -> list[Cause]:
    """``spec.controller`` required and at most 250 characters."""
    controller = spec_of(obj).get("controller")
    if not controller:
        return [c.required("spec.controller")]
    if len(str(controller)) > _CONTROLLER_MAX:
        return [{"reason": "FieldValueTooLong", "field": "spec.controller",
                 "message": f"Too long: may not be more than {_CONTROLLER_MAX} bytes"}]
    return []


class IngressClassStrategy(TableStrategy):
    """networking.k8s.io/v1 IngressClasses: the controller is fixed after create."""

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_ingress_class(obj)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        controller = spec_of(new).get("controller")
        return validate_ingress_class(new) + c.immutable(
            "spec.controller", controller, spec_of(old).get("controller"))
