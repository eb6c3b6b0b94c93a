"""A pod's aggregate resource requests and limits (upstream ``resourcehelper.PodRequests``
and ``PodLimits``), shared by admission (LimitRanger, ResourceQuota) and controllers.

Requests/limits of the app containers are summed; each init container's are a floor the
pod needs while it runs (the maximum is taken, restartable sidecars being added to the
sum instead); ``spec.overhead`` is added. Values are :class:`~apiserver.api.quantity.Quantity`
keyed by resource name; malformed quantities are skipped (validation reports them).
"""

from __future__ import annotations

from typing import Any

from apiserver.api.quantity import Quantity

ResourceList = dict[str, Quantity]


def resource_list(value: Any) -> ResourceList:
    """The parseable entries of a ``ResourceList`` map."""
    out: ResourceList = {}
    if isinstance(value, dict):
        for key, raw in value.items():
            quantity = Quantity.parse(raw)
            if quantity is not None:
                out[str(key)] = quantity
    return out


def container_resources(container: Any, field: str) -> ResourceList:
    """``resources.requests`` or ``resources.limits`` of one container."""
    if not isinstance(container, dict):
        return {}
    resources = container.get("resources")
    return resource_list(resources.get(field)) if isinstance(resources, dict) else {}


def add(into: ResourceList, other: ResourceList) -> ResourceList:
    """``into`` + ``other`` (a new map; the first operand's format wins, as upstream)."""
    out = dict(into)
    for key, value in other.items():
        out[key] = out[key] + value if key in out else value
    return out


def _max_into(into: ResourceList, other: ResourceList) -> ResourceList:
    out = dict(into)
    for key, value in other.items():
        if key not in out or value.value > out[key].value:
            out[key] = value
    return out


def _containers(spec: dict[str, Any], group: str) -> list[Any]:
    value = spec.get(group)
    return value if isinstance(value, list) else []


def _aggregate(pod: dict[str, Any], field: str) -> ResourceList:
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return {}
    total: ResourceList = {}
    for container in _containers(spec, "containers"):
        total = add(total, container_resources(container, field))
    sidecars: ResourceList = {}
    init_floor: ResourceList = {}
    for container in _containers(spec, "initContainers"):
        own = container_resources(container, field)
        if isinstance(container, dict) and container.get("restartPolicy") == "Always":
            sidecars = add(sidecars, own)
            init_floor = _max_into(init_floor, sidecars)
        else:
            init_floor = _max_into(init_floor, add(own, sidecars))
    total = _max_into(add(total, sidecars), init_floor)
    overhead = resource_list(spec.get("overhead"))
    if field == "requests":
        return add(total, overhead)
    # Overhead counts toward a limit only where the pod sets that limit.
    return {k: v + overhead[k] if k in overhead else v for k, v in total.items()}


def pod_requests(pod: dict[str, Any]) -> ResourceList:
    """The pod's effective requests."""
    return _aggregate(pod, "requests")


def pod_limits(pod: dict[str, Any]) -> ResourceList:
    """The pod's effective limits."""
    return _aggregate(pod, "limits")
