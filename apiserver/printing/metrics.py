"""Tables of ``metrics.k8s.io``: NodeMetrics and PodMetrics, as metrics-server prints them
(``Name``, one column per resource in name order — ``cpu``, ``memory`` — and ``Window``;
a pod's usage is the sum of its containers')."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from apiserver.api.quantity import Quantity
from apiserver.printing.cells import lst, m, s
from apiserver.printing.columns import column
from apiserver.printing.spec import KindTable

__all__ = ["TABLES"]

_RESOURCES = ("cpu", "memory")
_COLUMNS = (
    column("Name", "Name of the resource", fmt="name"),
    *(column(name, "", fmt="quantity") for name in _RESOURCES),
    column("Window", "", fmt="duration"),
)


def _sum(usages: list[Mapping[str, Any]], resource: str) -> str:
    total = Quantity(Decimal(0))
    for usage in usages:
        parsed = Quantity.parse(usage.get(resource))
        if parsed is not None:
            total = total + parsed
    return str(total)


def print_node_metrics(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    del now
    usage = m(obj.get("usage"))
    return [s(m(obj.get("metadata")).get("name")), *(_sum([usage], r) for r in _RESOURCES),
            s(obj.get("window"))]


def print_pod_metrics(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    del now
    usages = [m(m(c).get("usage")) for c in lst(obj.get("containers"))]
    return [s(m(obj.get("metadata")).get("name")), *(_sum(usages, r) for r in _RESOURCES),
            s(obj.get("window"))]


TABLES = (
    KindTable("metrics.k8s.io", "NodeMetrics", _COLUMNS, print_node_metrics),
    KindTable("metrics.k8s.io", "PodMetrics", _COLUMNS, print_pod_metrics),
)
