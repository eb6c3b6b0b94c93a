"""The NodeResourcesFit filter: does a node have room for a pod's requests?

A pod's requests are upstream's ``resourcehelper.PodRequests`` (shared with admission in
:func:`apiserver.api.podresources.pod_requests`): the app containers and restartable init
containers (sidecars) summed, at least each regular init container plus the sidecars
started before it, plus ``spec.overhead``. Pod-level ``spec.resources`` is an alpha
feature in 1.33 (off by default) and is ignored, as upstream does by default.

Quantities become integers as upstream's ``framework.Resource`` holds them: CPU in
millicores (``MilliValue``, rounded up), everything else in whole units (``Value``,
rounded up). Only the resources kube-scheduler tracks are compared: ``cpu``, ``memory``,
``ephemeral-storage`` and the scalar resources (extended resources such as
``example.com/gpu``, ``hugepages-*``, ``attachable-volumes-*``); ``pods`` is the node's
pod-count limit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from apiserver.api.podresources import pod_requests, resource_list
from apiserver.api.quantity import Quantity

__all__ = [
    "Resources",
    "insufficient_resources",
    "is_scalar_resource",
    "node_allocatable",
    "pod_resource_request",
]

CPU, MEMORY, EPHEMERAL_STORAGE, PODS = "cpu", "memory", "ephemeral-storage", "pods"


def is_scalar_resource(name: str) -> bool:
    """Upstream ``IsScalarResourceName``: an extended resource (a domain-prefixed name),
    a prefixed native resource (``kubernetes.io/…``), hugepages or attachable volumes.

    Plain names kube-scheduler does not know (``storage``, a typo) are not compared:
    upstream ``Resource.Add`` drops them too."""
    if name.startswith("requests."):
        return False
    return "/" in name or name.startswith(("hugepages-", "attachable-volumes-"))


def _units(value: Decimal, scale: int = 1) -> int:
    return math.ceil(value * scale)


@dataclass
class Resources:
    """Upstream ``framework.Resource``: what a pod requests, a node offers or has committed."""

    milli_cpu: int = 0
    memory: int = 0
    ephemeral_storage: int = 0
    #: The ``pods`` count (allocatable only; pods never request it).
    allowed_pods: int = 0
    scalar: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_list(cls, resources: Mapping[str, Quantity]) -> Resources:
        """A ``ResourceList`` of parsed quantities, keeping only tracked resources."""
        out = cls()
        out.add_list(resources)
        return out

    def add_list(self, resources: Mapping[str, Quantity]) -> None:
        """Add a ``ResourceList`` (upstream ``Resource.Add``)."""
        for name, quantity in resources.items():
            if name == CPU:
                self.milli_cpu += _units(quantity.value, 1000)
            elif name == MEMORY:
                self.memory += _units(quantity.value)
            elif name == EPHEMERAL_STORAGE:
                self.ephemeral_storage += _units(quantity.value)
            elif name == PODS:
                self.allowed_pods += _units(quantity.value)
            elif is_scalar_resource(name):
                self.scalar[name] = self.scalar.get(name, 0) + _units(quantity.value)

    def add(self, other: Resources) -> None:
        """Add another pod's requests (a node's committed total grows by them)."""
        self.milli_cpu += other.milli_cpu
        self.memory += other.memory
        self.ephemeral_storage += other.ephemeral_storage
        for name, value in other.scalar.items():
            self.scalar[name] = self.scalar.get(name, 0) + value

    def is_zero(self) -> bool:
        """No cpu, memory, ephemeral storage nor scalar resource requested."""
        return not (self.milli_cpu or self.memory or self.ephemeral_storage or self.scalar)


def pod_resource_request(pod: Mapping[str, Any]) -> Resources:
    """The pod's effective requests (see the module docstring)."""
    return Resources.from_list(pod_requests(dict(pod)))


def node_allocatable(node: Mapping[str, Any]) -> Resources:
    """``status.allocatable`` of the node; a node that reports none offers nothing (not
    even a pod slot), as upstream."""
    status = node.get("status")
    allocatable = status.get("allocatable") if isinstance(status, Mapping) else None
    return Resources.from_list(resource_list(allocatable))


def insufficient_resources(request: Resources, allocatable: Resources,
                           requested: Resources, pod_count: int) -> list[str]:
    """Upstream ``fitsRequest``: every reason the node cannot take the pod, in upstream's
    order (pods, cpu, memory, ephemeral-storage, then scalar resources), or ``[]``.

    ``requested`` is the sum of the requests of the ``pod_count`` pods already on the
    node. A resource the pod does not request is never insufficient, even on an
    overcommitted node; the pod slot is checked for every pod.
    """
    reasons: list[str] = []
    if pod_count + 1 > allocatable.allowed_pods:
        reasons.append("Too many pods")
    if request.is_zero():
        return reasons
    if request.milli_cpu > 0 and request.milli_cpu > allocatable.milli_cpu - requested.milli_cpu:
        reasons.append("Insufficient cpu")
    if request.memory > 0 and request.memory > allocatable.memory - requested.memory:
        reasons.append("Insufficient memory")
    if (request.ephemeral_storage > 0 and request.ephemeral_storage
            > allocatable.ephemeral_storage - requested.ephemeral_storage):
        reasons.append("Insufficient ephemeral-storage")
    for name in sorted(request.scalar):
        wanted = request.scalar[name]
        if wanted and wanted > allocatable.scalar.get(name, 0) - requested.scalar.get(name, 0):
            reasons.append(f"Insufficient {name}")
    return reasons
