"""Pod spec validation shared by Pods and every pod template (workloads, Jobs, CronJobs).

A subset of upstream ``ValidatePodSpec``: containers present, container names valid DNS-1123
labels and unique, images required, container ports in range. Callers pass the field path
of the spec (``spec`` for a Pod, ``spec.template.spec`` for a Deployment) so errors carry
upstream's paths. Malformed input is reported, never raised.
"""

from __future__ import annotations

from typing import Any

from apiserver.api import errors, meta
from apiserver.registry.strategy import Cause


def validate_pod_spec(spec: dict[str, Any], path: str) -> list[Cause]:
    """Field errors of the pod spec ``spec`` found at field path ``path``."""
    causes: list[Cause] = []
    containers = spec.get("containers")
    if not containers or not isinstance(containers, list):
        return [errors.required(f"{path}.containers")]
    seen: set[str] = set()
    for i, container in enumerate(containers):
        cpath = f"{path}.containers[{i}]"
        if not isinstance(container, dict):
            causes.append(errors.invalid_value(cpath, str(container), "must be an object"))
            continue
        name = container.get("name") or ""
        if not name:
            causes.append(errors.required(f"{cpath}.name"))
        else:
            for msg in meta.dns1123_label_errors(str(name)):
                causes.append(errors.invalid_value(f"{cpath}.name", name, msg))
            if name in seen:
                causes.append(errors.field_cause("FieldValueDuplicate", f"{cpath}.name",
                                                 f'Duplicate value: "{name}"'))
            seen.add(str(name))
        if not container.get("image"):
            causes.append(errors.required(f"{cpath}.image"))
        ports = container.get("ports") or []
        for j, port in enumerate(ports if isinstance(ports, list) else []):
            number = port.get("containerPort") if isinstance(port, dict) else None
            if not isinstance(number, int) or not 1 <= number <= 65535:
                causes.append(errors.invalid_value(
                    f"{cpath}.ports[{j}].containerPort", number,
                    "must be between 1 and 65535, inclusive"))
    return causes
