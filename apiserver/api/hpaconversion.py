"""HorizontalPodAutoscaler ``autoscaling/v2`` (stored) ↔ ``autoscaling/v1``, as upstream's
``pkg/apis/autoscaling/v1/conversion.go``.

v1 has one CPU utilization target (``targetCPUUtilizationPercentage``) and current value.
Everything else travels in annotations of the v1 object:

* ``autoscaling.alpha.kubernetes.io/metrics``: the metrics other than CPU utilization, as
  v1 ``MetricSpec`` JSON (``{"type":"Resource","resource":{"name":"memory",
  "targetAverageValue":"100Mi"}}``);
* ``…/current-metrics``: every current metric, CPU included, as v1 ``MetricStatus``;
* ``…/conditions``: the conditions;
* ``…/behavior``: ``spec.behavior`` with Go's field names (upstream marshals its
  internal type, which has no JSON tags).

Converting to v2 takes them out again; the other metrics come first and the CPU target
last, and an HPA with no metric gets v2's default (CPU at 80%). Upstream drops these
annotations from every v2 object (:func:`drop_round_trip_annotations`).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["ANNOTATIONS", "drop_round_trip_annotations", "to_v1", "to_v2"]

METRICS = "autoscaling.alpha.kubernetes.io/metrics"
CURRENT_METRICS = "autoscaling.alpha.kubernetes.io/current-metrics"
CONDITIONS = "autoscaling.alpha.kubernetes.io/conditions"
BEHAVIOR = "autoscaling.alpha.kubernetes.io/behavior"
ANNOTATIONS = (METRICS, CURRENT_METRICS, CONDITIONS, BEHAVIOR)
DEFAULT_CPU_UTILIZATION = 80


def _m(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _some(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def drop_round_trip_annotations(obj: dict[str, Any]) -> dict[str, Any]:
    """Remove the v1 round-trip annotations from ``obj``'s metadata; returns what they
    held (parsed JSON, unreadable ones left out)."""
    md = _m(obj.get("metadata"))
    annotations = _m(md.get("annotations"))
    found: dict[str, Any] = {}
    for key in ANNOTATIONS:
        if key in annotations:
            raw = annotations.pop(key)
            try:
                found[key] = json.loads(raw) if isinstance(raw, str) else None
            except ValueError:
                continue
    if "annotations" in md and not annotations:
        del md["annotations"]
    return found


# -- metrics: v2 <-> v1 ----------------------------------------------------------------

#: Metric type → the member holding its source (the same in both versions).
_SOURCE = {"Resource": "resource", "ContainerResource": "containerResource", "Pods": "pods",
           "Object": "object", "External": "external"}
#: (metric type, "target" or "current") → (v1 field, v2 path within the source, the v1
#: value when the v2 one is missing: Go's zero Quantity "0" for required quantities).
_FIELDS: dict[tuple[str, str], tuple[tuple[str, tuple[str, ...], Any], ...]] = {}
for _part, _v1 in (("target", "target"), ("current", "current")):
    _resource = (("name", ("name",), None),
                 (f"{_v1}AverageUtilization", (_part, "averageUtilization"), None),
                 (f"{_v1}AverageValue", (_part, "averageValue"),
                  "0" if _part == "current" else None),
                 ("container", ("container",), None))
    _FIELDS[("Resource", _part)] = _FIELDS[("ContainerResource", _part)] = _resource
    _FIELDS[("Pods", _part)] = (("metricName", ("metric", "name"), None),
                                (f"{_v1}AverageValue", (_part, "averageValue"), "0"),
                                ("selector", ("metric", "selector"), None))
    _FIELDS[("Object", _part)] = (("target", ("describedObject",), None),
                                  ("metricName", ("metric", "name"), None),
                                  (f"{_v1}Value", (_part, "value"), "0"),
                                  ("selector", ("metric", "selector"), None),
                                  ("averageValue", (_part, "averageValue"), None))
    _FIELDS[("External", _part)] = (("metricName", ("metric", "name"), None),
                                    ("metricSelector", ("metric", "selector"), None),
                                    (f"{_v1}Value", (_part, "value"),
                                     "0" if _part == "current" else None),
                                    (f"{_v1}AverageValue", (_part, "averageValue"), None))


def _dig(value: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        value = _m(value).get(key)
    return value


def _metric_to_v1(metric: dict[str, Any], part: str) -> dict[str, Any]:
    """A v2 ``MetricSpec`` (``part`` "target") or ``MetricStatus`` ("current") in v1."""
    kind = str(metric.get("type") or "")
    out: dict[str, Any] = {"type": kind}
    if (key := _SOURCE.get(kind)) is not None:
        src = _m(metric.get(key))
        fields = ((name, _dig(src, path), zero) for name, path, zero in _FIELDS[(kind, part)])
        out[key] = {name: value if value is not None else zero
                    for name, value, zero in fields if value is not None or zero is not None}
    return out


def _metric_to_v2(metric: dict[str, Any], part: str) -> dict[str, Any]:
    """A v1 ``MetricSpec`` or ``MetricStatus`` in v2 (the inverse of :func:`_metric_to_v1`);
    a target gets its ``type`` (``Utilization``, ``AverageValue`` or ``Value``)."""
    kind = str(metric.get("type") or "")
    out: dict[str, Any] = {"type": kind}
    if (key := _SOURCE.get(kind)) is None:
        return out
    src = _m(metric.get(key))
    built: dict[str, Any] = {}
    for name, path, _zero in _FIELDS[(kind, part)]:
        if src.get(name) is not None:
            node = built
            for step in path[:-1]:
                node = node.setdefault(step, {})
            node[path[-1]] = src[name]
    if part == "target":
        target = built.setdefault("target", {})
        target["type"] = ("Utilization" if "averageUtilization" in target else
                          "AverageValue" if "averageValue" in target or kind == "Pods"
                          else "Value")
    out[key] = built
    return out


# -- behavior: Go field names ----------------------------------------------------------

_RULE_FIELDS = (("stabilizationWindowSeconds", "StabilizationWindowSeconds"),
                ("selectPolicy", "SelectPolicy"), ("policies", "Policies"),
                ("tolerance", "Tolerance"))
_POLICY_FIELDS = (("type", "Type"), ("value", "Value"), ("periodSeconds", "PeriodSeconds"))


def _behavior_to_go(behavior: dict[str, Any]) -> dict[str, Any]:
    def rules(value: Any) -> Any:
        if not isinstance(value, dict):
            return None
        out = {go: value.get(name) for name, go in _RULE_FIELDS}
        if isinstance(out["Policies"], list):
            out["Policies"] = [{go: _m(p).get(name) for name, go in _POLICY_FIELDS}
                               for p in out["Policies"]]
        return out
    return {"ScaleUp": rules(behavior.get("scaleUp")),
            "ScaleDown": rules(behavior.get("scaleDown"))}


def _behavior_from_go(raw: Any) -> dict[str, Any]:
    def rules(value: Any) -> Any:
        if not isinstance(value, dict):
            return None
        out = {name: value.get(go) for name, go in _RULE_FIELDS if value.get(go) is not None}
        policies = out.get("policies")
        if isinstance(policies, list):
            out["policies"] = [{name: _m(p).get(go) for name, go in _POLICY_FIELDS}
                               for p in policies]
        return out
    raw = _m(raw)
    return _some(scaleUp=rules(raw.get("ScaleUp")), scaleDown=rules(raw.get("ScaleDown")))


# -- the objects -----------------------------------------------------------------------


def _is_cpu_target(metric: dict[str, Any]) -> bool:
    resource = _m(metric.get("resource"))
    return (metric.get("type") == "Resource" and resource.get("name") == "cpu"
            and _m(resource.get("target")).get("averageUtilization") is not None)


def _annotate(obj: dict[str, Any], key: str, value: Any) -> None:
    obj.setdefault("metadata", {}).setdefault("annotations", {})[key] = json.dumps(
        value, separators=(",", ":"))


def to_v1(obj: dict[str, Any]) -> None:
    """Convert the v2 ``obj`` to v1 in place (see the module docstring)."""
    drop_round_trip_annotations(obj)
    spec = obj.setdefault("spec", {})
    status = obj["status"] = _m(obj.get("status"))
    metrics = [_m(m) for m in spec.pop("metrics", None) or []]
    cpu = next((m for m in metrics if _is_cpu_target(m)), None)
    if cpu is not None:
        spec["targetCPUUtilizationPercentage"] = cpu["resource"]["target"]["averageUtilization"]
    others = [_metric_to_v1(m, "target") for m in metrics if not _is_cpu_target(m)]
    if others:
        _annotate(obj, METRICS, others)
    current = [_m(m) for m in status.pop("currentMetrics", None) or []]
    for metric in current:
        resource = _m(metric.get("resource"))
        value = _m(resource.get("current")).get("averageUtilization")
        if metric.get("type") == "Resource" and resource.get("name") == "cpu" and \
                value is not None:
            status["currentCPUUtilizationPercentage"] = value
    if current:
        _annotate(obj, CURRENT_METRICS, [_metric_to_v1(m, "current") for m in current])
    behavior = spec.pop("behavior", None)
    if isinstance(behavior, dict):
        _annotate(obj, BEHAVIOR, _behavior_to_go(behavior))
    conditions = status.pop("conditions", None)
    if conditions:
        _annotate(obj, CONDITIONS, conditions)
    # v1's replica counts are never omitted.
    status.setdefault("currentReplicas", 0)
    status.setdefault("desiredReplicas", 0)


def to_v2(obj: dict[str, Any]) -> None:
    """Convert the v1 ``obj`` to v2 in place (see the module docstring)."""
    spec = obj.setdefault("spec", {})
    kept = drop_round_trip_annotations(obj)
    metrics = [_metric_to_v2(_m(m), "target") for m in kept.get(METRICS) or []
               if isinstance(m, dict)]
    target = spec.pop("targetCPUUtilizationPercentage", None)
    if isinstance(target, int):
        metrics.append({"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": target}}})
    if not metrics:  # v2's default, which upstream applies when it reads storage
        metrics.append({"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": DEFAULT_CPU_UTILIZATION}}})
    spec["metrics"] = metrics
    if BEHAVIOR in kept and (behavior := _behavior_from_go(kept[BEHAVIOR])):
        spec["behavior"] = behavior
    status = obj.get("status")
    if not isinstance(status, dict):
        return
    cpu = status.pop("currentCPUUtilizationPercentage", None)
    if CURRENT_METRICS in kept and isinstance(kept[CURRENT_METRICS], list):
        status["currentMetrics"] = [_metric_to_v2(_m(m), "current") for m in kept[CURRENT_METRICS]]
    elif isinstance(cpu, int):
        status["currentMetrics"] = [{"type": "Resource", "resource": {
            "name": "cpu", "current": {"averageUtilization": cpu}}}]
    if isinstance(kept.get(CONDITIONS), list):
        status["conditions"] = kept[CONDITIONS]
