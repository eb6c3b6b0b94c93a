"""Tables of HorizontalPodAutoscalers, ``autoscaling/v2`` and ``autoscaling/v1``
(upstream ``printHorizontalPodAutoscaler`` / ``formatHPAMetrics``).

Upstream prints the internal object; a v1 object reaches it converted, its
``targetCPUUtilizationPercentage`` becoming a ``cpu`` Resource metric with that
average utilization and ``currentCPUUtilizationPercentage`` the matching
current metric. :func:`v1_metrics` does the same conversion here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from apiserver.printing.cells import age, i, lst, m, name, opt_int, s
from apiserver.printing.spec import AGE, NAME, Col, Doc, KindTable

__all__ = ["TABLES", "format_hpa_metrics", "v1_metrics"]

_MAX_METRICS = 2
_UNKNOWN = "<unknown>"


def _q(value: Any) -> str:
    """A quantity as text; ``<nil>`` for an absent one (Go's nil ``*Quantity``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return "<nil>"


def _percent(value: Any, missing: str) -> str:
    number = opt_int(value)
    return missing if number is None else f"{number}%"


def _value_metric(target: Mapping[str, Any], status: Mapping[str, Any] | None) -> str:
    """External and Object metrics: ``cur/avg (avg)`` or ``cur/value``."""
    if target.get("averageValue") is not None:
        current = _UNKNOWN
        if status is not None and m(status.get("current")).get("averageValue") is not None:
            current = _q(m(status.get("current")).get("averageValue"))
        return f"{current}/{_q(target.get('averageValue'))} (avg)"
    current = _UNKNOWN if status is None else _q(m(status.get("current")).get("value"))
    return f"{current}/{_q(target.get('value'))}"


def _resource_metric(source: Mapping[str, Any], status: Mapping[str, Any] | None) -> str:
    """Resource and ContainerResource metrics: ``name: cur/target`` (value or utilization)."""
    target = m(source.get("target"))
    current_status = m(status.get("current")) if status is not None else {}
    if target.get("averageValue") is not None:
        current = _UNKNOWN if status is None else _q(current_status.get("averageValue"))
        return f"{s(source.get('name'))}: {current}/{_q(target.get('averageValue'))}"
    current = _percent(current_status.get("averageUtilization"), _UNKNOWN)
    wanted = _percent(target.get("averageUtilization"), "<auto>")
    return f"{s(source.get('name'))}: {current}/{wanted}"


_FIELDS = {
    "External": "external",
    "Pods": "pods",
    "Object": "object",
    "Resource": "resource",
    "ContainerResource": "containerResource",
}


def _metric(spec: Mapping[str, Any], status: Mapping[str, Any]) -> str:
    mtype = s(spec.get("type"))
    key = _FIELDS.get(mtype)
    if key is None:
        return "<unknown type>"
    source = m(spec.get(key))
    state = status.get(key)
    matching = m(state) if isinstance(state, Mapping) else None
    if mtype in ("External", "Object"):
        return _value_metric(m(source.get("target")), matching)
    if mtype == "Pods":
        current = _UNKNOWN
        if matching is not None:
            current = _q(m(matching.get("current")).get("averageValue"))
        return f"{current}/{_q(m(source.get('target')).get('averageValue'))}"
    return _resource_metric(source, matching)


def format_hpa_metrics(specs: Any, statuses: Any) -> str:
    """``cpu: 50%/80%, memory: <unknown>/1Gi + 1 more...``; ``<none>`` without metrics.

    The i-th status is matched to the i-th spec; at most two metrics are shown.
    """
    specs, statuses = lst(specs), lst(statuses)
    if not specs:
        return "<none>"
    shown = [
        _metric(m(spec), m(statuses[index]) if index < len(statuses) else {})
        for index, spec in enumerate(specs)
    ]
    text = ", ".join(shown[:_MAX_METRICS])
    if len(shown) > _MAX_METRICS:
        return f"{text} + {len(shown) - _MAX_METRICS} more..."
    return text


def v1_metrics(hpa: Mapping[str, Any]) -> tuple[list[Any], list[Any]]:
    """The v2-style ``(spec.metrics, status.currentMetrics)`` of an ``autoscaling/v1`` object."""
    target = opt_int(m(hpa.get("spec")).get("targetCPUUtilizationPercentage"))
    current = opt_int(m(hpa.get("status")).get("currentCPUUtilizationPercentage"))
    specs: list[Any] = []
    statuses: list[Any] = []
    if target is not None:
        specs.append({"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}}})
    if current is not None:
        statuses.append({"type": "Resource", "resource": {
            "name": "cpu", "current": {"averageUtilization": current}}})
    return specs, statuses


def _print(hpa: Mapping[str, Any], now: datetime, metrics: str) -> list[Any]:
    spec, status = m(hpa.get("spec")), m(hpa.get("status"))
    ref = m(spec.get("scaleTargetRef"))
    min_pods = opt_int(spec.get("minReplicas"))
    return [
        name(hpa),
        f"{s(ref.get('kind'))}/{s(ref.get('name'))}",
        metrics,
        "<unset>" if min_pods is None else str(min_pods),
        i(spec.get("maxReplicas")),
        i(status.get("currentReplicas")),
        age(hpa, now),
    ]


def print_hpa_v2(hpa: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, Reference (``Kind/name``), Targets, MinPods (``<unset>``), MaxPods, Replicas, Age."""
    metrics = format_hpa_metrics(
        m(hpa.get("spec")).get("metrics"), m(hpa.get("status")).get("currentMetrics")
    )
    return _print(hpa, now, metrics)


def print_hpa_v1(hpa: Mapping[str, Any], now: datetime) -> list[Any]:
    """The v2 cells of an ``autoscaling/v1`` object (CPU utilization as a Resource metric)."""
    return _print(hpa, now, format_hpa_metrics(*v1_metrics(hpa)))


_HPA = "autoscaling.v2.HorizontalPodAutoscaler"
_COLUMNS = (
    NAME,
    Col("Reference", Doc(_HPA + "Spec", "scaleTargetRef")),
    Col("Targets", Doc(_HPA + "Spec", "metrics")),
    Col("MinPods", Doc(_HPA + "Spec", "minReplicas")),
    Col("MaxPods", Doc(_HPA + "Spec", "maxReplicas")),
    Col("Replicas", Doc(_HPA + "Status", "currentReplicas")),
    AGE,
)

TABLES = (
    KindTable("autoscaling", "HorizontalPodAutoscaler", _COLUMNS, print_hpa_v2),
    KindTable("autoscaling", "HorizontalPodAutoscaler", _COLUMNS, print_hpa_v1, version="v1"),
)
