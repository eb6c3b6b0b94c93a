"""Conversion between the served versions of one built-in kind.

Two built-in kinds of Kubernetes 1.33 are served in two versions over one storage:

* ``Event``: core ``v1`` (stored) and ``events.k8s.io/v1``, which renames fields
  (``message`` is ``note``, ``involvedObject`` is ``regarding``, ``source`` is
  ``deprecatedSource`` …; :data:`EVENT_FIELDS`);
* ``HorizontalPodAutoscaler``: ``autoscaling/v2`` (stored) and ``autoscaling/v1``, which
  has only a CPU utilization target. What v1 cannot say travels in annotations, as
  upstream's conversion keeps it: the other metrics (``autoscaling.alpha.kubernetes.io/
  metrics``), their current values (``…/current-metrics``), the conditions
  (``…/conditions``) and ``behavior`` (``…/behavior``); converting back to v2 takes them
  out of the annotations again, so a round trip through v1 loses nothing.

:func:`convert` returns a new object in the desired ``apiVersion``; the input is not
changed. An object already in that version is returned as it is.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["CONVERTIBLE", "EVENT_FIELDS", "convert"]

#: ``events.k8s.io/v1`` field → core ``v1`` field (upstream: one internal type).
EVENT_FIELDS: tuple[tuple[str, str], ...] = (
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
    ("reportingController", "reportingComponent"),
)

METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/metrics"
CURRENT_METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/current-metrics"
CONDITIONS_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions"
BEHAVIOR_ANNOTATION = "autoscaling.alpha.kubernetes.io/behavior"
#: The CPU utilization target v2 defaults an HPA without metrics to.
DEFAULT_CPU_UTILIZATION = 80

#: ``(kind, apiVersion)`` pairs :func:`convert` converts between, by kind.
CONVERTIBLE: dict[str, tuple[str, str]] = {
    "Event": ("v1", "events.k8s.io/v1"),
    "HorizontalPodAutoscaler": ("autoscaling/v2", "autoscaling/v1"),
}


def _m(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def convert(obj: Mapping[str, Any], api_version: str) -> dict[str, Any]:
    """``obj`` in ``api_version``. Raises ValueError for a pair it cannot convert."""
    kind = str(obj.get("kind") or "")
    have = str(obj.get("apiVersion") or "")
    out = copy.deepcopy(dict(obj))
    if have == api_version:
        return out
    pair = CONVERTIBLE.get(kind)
    if pair is None or {have, api_version} != set(pair):
        raise ValueError(f"cannot convert {have}, Kind={kind} to {api_version}")
    if kind == "Event":
        to_core = api_version == "v1"
        for new, old in ([(c, e) for e, c in EVENT_FIELDS] if to_core else EVENT_FIELDS):
            if old in out:
                out[new] = out.pop(old)
    elif api_version == "autoscaling/v1":
        _hpa_to_v1(out)
    else:
        _hpa_to_v2(out)
    out["apiVersion"] = api_version
    return out


def _cpu_utilization(metric: Mapping[str, Any], part: str) -> Any:
    """The CPU utilization of a ``Resource`` metric's ``target`` (of type
    ``Utilization``) or ``current`` part; None for any other metric."""
    resource = _m(metric.get("resource"))
    value = _m(resource.get(part))
    if metric.get("type") != "Resource" or resource.get("name") != "cpu" or (
            part == "target" and value.get("type") != "Utilization"):
        return None
    return value.get("averageUtilization")


def _take_cpu(metrics: Any, part: str, holder: dict[str, Any], field: str) -> list[Any]:
    """Put the first CPU utilization of ``metrics`` in ``holder[field]``; the others."""
    others = []
    for metric in metrics or []:
        value = _cpu_utilization(_m(metric), part)
        if isinstance(value, int) and field not in holder:
            holder[field] = value
        else:
            others.append(metric)
    return others


def _annotate(obj: dict[str, Any], key: str, value: Any) -> None:
    if value:
        md = obj.setdefault("metadata", {})
        md.setdefault("annotations", {})[key] = json.dumps(value, separators=(",", ":"))


def _take_annotation(obj: dict[str, Any], key: str) -> Any:
    annotations = _m(_m(obj.get("metadata")).get("annotations"))
    raw = annotations.pop(key, None)
    if not annotations and "annotations" in _m(obj.get("metadata")):
        del obj["metadata"]["annotations"]
    if not isinstance(raw, str):
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _hpa_to_v1(obj: dict[str, Any]) -> None:
    spec = _m(obj.get("spec"))
    status = obj["status"] = _m(obj.get("status"))
    others = _take_cpu(spec.pop("metrics", None), "target", spec,
                       "targetCPUUtilizationPercentage")
    _annotate(obj, METRICS_ANNOTATION, others)
    _annotate(obj, BEHAVIOR_ANNOTATION, spec.pop("behavior", None))
    current_others = _take_cpu(status.pop("currentMetrics", None), "current", status,
                               "currentCPUUtilizationPercentage")
    _annotate(obj, CURRENT_METRICS_ANNOTATION, current_others)
    _annotate(obj, CONDITIONS_ANNOTATION, status.pop("conditions", None))
    # v1's replica counts are never omitted.
    status.setdefault("currentReplicas", 0)
    status.setdefault("desiredReplicas", 0)


def _hpa_to_v2(obj: dict[str, Any]) -> None:
    spec = obj.setdefault("spec", {})
    metrics: list[Any] = []
    target = spec.pop("targetCPUUtilizationPercentage", None)
    if isinstance(target, int):
        metrics.append({"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": target}}})
    extra = _take_annotation(obj, METRICS_ANNOTATION)
    metrics.extend(m for m in extra or [] if isinstance(m, dict))
    if not metrics:  # v2's default, which upstream applies when it reads storage
        metrics.append({"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": DEFAULT_CPU_UTILIZATION}}})
    spec["metrics"] = metrics
    behavior = _take_annotation(obj, BEHAVIOR_ANNOTATION)
    if isinstance(behavior, dict):
        spec["behavior"] = behavior
    current_extra = _take_annotation(obj, CURRENT_METRICS_ANNOTATION)
    conditions = _take_annotation(obj, CONDITIONS_ANNOTATION)
    status = obj.get("status")
    if not isinstance(status, dict):
        return
    current: list[Any] = []
    cpu = status.pop("currentCPUUtilizationPercentage", None)
    if isinstance(cpu, int):
        current.append({"type": "Resource", "resource": {"name": "cpu", "current": {
            "averageUtilization": cpu}}})
    current.extend(m for m in current_extra or [] if isinstance(m, dict))
    if current:
        status["currentMetrics"] = current
    if isinstance(conditions, list):
        status["conditions"] = conditions
