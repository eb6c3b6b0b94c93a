"""APIServices (apiregistration.k8s.io/v1) and ControllerRevisions (apps/v1).

Counterparts of kube-aggregator's ``ValidateAPIService`` and of ``ValidateControllerRevision``
/``Update`` (``pkg/apis/apps/validation``), with upstream's field paths and messages.
"""

from __future__ import annotations

from typing import Any

from apiserver.api import meta
from apiserver.registry import common as c
from apiserver.registry.strategy import Cause
from apiserver.registry.table_strategy import TableStrategy


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def validate_api_service(obj: dict[str, Any]) -> list[Cause]:
    """Name ``<version>.<group>``, priorities in range, local xor service-backed rules."""
    spec = _dict(obj.get("spec"))
    group = str(spec.get("group") or "")
    version = str(spec.get("version") or "")
    causes: list[Cause] = []
    name = meta.metadata(obj).get("name")
    required_name = f"{version}.{group}"
    if name and name != required_name:
        causes.append(c.invalid("metadata.name", c.go_value(name),
                                f'must be `spec.version+"."+spec.group`: '
                                f"{c.go_value(required_name)}"))
    if not group and version != "v1":
        causes.append(c.required("spec.group", "only v1 may have an empty group and it better "
                                 "be legacy kube"))
    if group:
        causes += [c.invalid("spec.group", c.go_value(group), e)
                   for e in meta.dns1123_subdomain_errors(group)]
    causes += [c.invalid("spec.version", c.go_value(version), e)
               for e in meta.dns1035_label_errors(version)]
    minimum = spec.get("groupPriorityMinimum", 0)
    if not c.is_int(minimum) or not 0 < minimum <= 20000:
        causes.append(c.invalid("spec.groupPriorityMinimum", c.go_value(minimum),
                                "must be positive and less than 20000"))
    priority = spec.get("versionPriority", 0)
    if not c.is_int(priority) or not 0 < priority <= 1000:
        causes.append(c.invalid("spec.versionPriority", c.go_value(priority),
                                "must be positive and less than 1000"))
    ca_bundle = str(spec.get("caBundle") or "")
    insecure = spec.get("insecureSkipTLSVerify") is True
    service = spec.get("service")
    if service is None:
        if ca_bundle:
            causes.append(c.invalid("spec.caBundle", c.go_value(f"{len(ca_bundle) * 3 // 4} bytes"),
                                    "local APIServices may not have a caBundle"))
        if insecure:
            causes.append(c.invalid("spec.insecureSkipTLSVerify", "true",
                                    "local APIServices may not have insecureSkipTLSVerify"))
        return causes
    svc = _dict(service)
    if not svc.get("namespace"):
        causes.append(c.required("spec.service.namespace"))
    if not svc.get("name"):
        causes.append(c.required("spec.service.name"))
    port = svc.get("port")
    if port is not None and (not c.is_int(port) or not 1 <= port <= 65535):
        causes.append(c.invalid("spec.service.port", c.go_value(port), "port is not valid: "
                                "must be between 1 and 65535, inclusive"))
    if insecure and ca_bundle:
        causes.append(c.invalid("spec.insecureSkipTLSVerify", "true",
                                "may not be true if caBundle is present"))
    return causes


class APIServiceStrategy(TableStrategy):
    """apiregistration.k8s.io/v1 APIServices."""

    def name_errors(self, name: str) -> list[str]:
        # Upstream checks path-segment rules only: the core group's is ``v1.``.
        return c.path_segment_name_errors(name)

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_api_service(obj)


def validate_controller_revision(obj: dict[str, Any]) -> list[Cause]:
    """``data`` required, ``revision`` ≥ 0."""
    causes: list[Cause] = []
    if obj.get("data") is None:
        causes.append(c.required("data", "data is mandatory"))
    causes += c.nonnegative("revision", obj.get("revision"))
    return causes


class ControllerRevisionStrategy(TableStrategy):
    """apps/v1 ControllerRevisions: ``data`` is fixed once created."""

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_controller_revision(obj)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        causes = validate_controller_revision(new)
        if new.get("data") != old.get("data"):
            causes.append(c.invalid("data", "<object>", c.IMMUTABLE))
        return causes
