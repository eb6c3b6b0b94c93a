"""One metric of an HPA → a replica proposal and its ``currentMetrics`` entry (upstream
``computeReplicasForMetric`` and ``computeStatusFor*Metric``).

``Resource`` and ``ContainerResource`` metrics are computed by the
:class:`~controllers.podautoscaler.replicas.ReplicaCalculator` (an ``averageValue`` target
takes precedence over ``averageUtilization``, as upstream checks the pointers in that
order). ``Pods``, ``Object`` and ``External`` metrics are not read (the controller has no
custom/external metrics client): they fail as on a cluster without an adapter
(:mod:`.unserved`).

A failure is a :class:`MetricFailure`: the Warning reason (also the ``ScalingActive``
reason), the metric's own error (the Event's message; the condition says "the HPA was
unable to compute the replica count: <error>") and the error as the replica count reports
it (``failed to get cpu resource metric value: …``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from apiserver.api.labels import LabelSelector
from apiserver.api.quantity import format_quantity
from controllers.podautoscaler.metricsclient import milli_value
from controllers.podautoscaler.replicas import CalculationError, ReplicaCalculator, Tolerances
from controllers.podautoscaler.unserved import unserved_failure

__all__ = ["MetricFailure", "Proposal", "compute_metric", "metric_failure", "milli_quantity",
           "tolerances_for"]

#: Metric type → the Warning reason of its failure.
_FAILED_REASON = {"Resource": "FailedGetResourceMetric",
                  "ContainerResource": "FailedGetContainerResourceMetric",
                  "Pods": "FailedGetPodsMetric", "Object": "FailedGetObjectMetric",
                  "External": "FailedGetExternalMetric"}
_SOURCE_FIELD = {"Resource": "resource", "ContainerResource": "containerResource",
                 "Pods": "pods", "Object": "object", "External": "external"}


@dataclass(frozen=True)
class MetricFailure:
    """A metric that gave no proposal (see the module docstring)."""

    reason: str
    message: str
    error: str


@dataclass(frozen=True)
class Proposal:
    """A metric's replica count, its description (``cpu resource utilization (percentage
    of request)``) and its ``currentMetrics`` entry."""

    replicas: int
    metric: str
    status: dict[str, Any]


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def milli_quantity(milli: int) -> str:
    """``resource.NewMilliQuantity(milli, DecimalSI).String()``: ``185m``, ``2``."""
    return format_quantity(Decimal(milli).scaleb(-3))


def tolerances_for(spec: Mapping[str, Any], default: float) -> Tolerances:
    """The flag's tolerance, or the behavior's per-direction ``tolerance`` where set
    (upstream's ``HPAConfigurableTolerance``: an apiserver that stores it has it on)."""
    behavior = _m(spec.get("behavior"))

    def tolerance(direction: str) -> float:
        value = milli_value(_m(behavior.get(direction)).get("tolerance"))
        return default if value is None else value / 1000

    return Tolerances(tolerance("scaleDown"), tolerance("scaleUp"))


def metric_failure(metric: Mapping[str, Any], namespace: str) -> tuple[str, str, str]:
    """(reason, the metric's own error, the error the replica count reports) of a
    ``Pods``, ``Object`` or ``External`` metric, whose API kubemu does not serve
    (:mod:`.unserved`)."""
    kind = str(metric.get("type") or "")
    source = _m(metric.get(_SOURCE_FIELD.get(kind, "")))
    inner, error = unserved_failure(kind, source, namespace)
    return _FAILED_REASON.get(kind, "FailedGetMetric"), inner, error


def _wrap(kind: str, source: Mapping[str, Any], inner: str) -> str:
    """The replica count's wording of a resource metric's error
    (``computeReplicasForMetric``)."""
    if kind == "ContainerResource":
        return (f"failed to get {source.get('container') or ''} container metric value: "
                f"{inner}")
    return f"failed to get {source.get('name') or ''} resource metric value: {inner}"


async def compute_metric(calculator: ReplicaCalculator, metric: Mapping[str, Any],
                         current: int, namespace: str, selector: LabelSelector,
                         tolerances: Tolerances) -> Proposal | MetricFailure:
    """The proposal of one ``spec.metrics`` entry (see the module docstring)."""
    kind = str(metric.get("type") or "")
    if kind not in _FAILED_REASON:
        message = f'unknown metric source type "{kind}"'
        return MetricFailure("InvalidMetricSourceType", message, message)
    if kind not in ("Resource", "ContainerResource"):
        reason, inner, error = metric_failure(metric, namespace)
        return MetricFailure(reason, inner, error)
    source = _m(metric.get(_SOURCE_FIELD[kind]))
    try:
        return await _resource_metric(calculator, kind, source, current, namespace,
                                      selector, tolerances)
    except CalculationError as exc:
        return MetricFailure(_FAILED_REASON[kind], str(exc), _wrap(kind, source, str(exc)))


async def _resource_metric(calculator: ReplicaCalculator, kind: str,
                           source: Mapping[str, Any], current: int, namespace: str,
                           selector: LabelSelector, tolerances: Tolerances) -> Proposal:
    """``computeStatusForResourceMetricGeneric``; raises :class:`CalculationError`."""
    name = str(source.get("name") or "")
    container = str(source.get("container") or "") if kind == "ContainerResource" else ""
    target = _m(source.get("target"))
    identity = {"name": name, **({"container": container} if container else {})}
    field = _SOURCE_FIELD[kind]
    average_value = milli_value(target.get("averageValue"))
    if average_value is not None and average_value > 0:
        try:
            replicas, usage = await calculator.raw_resource_replicas(
                current, average_value, name, tolerances, namespace, selector, container)
        except CalculationError as exc:
            raise CalculationError(f"failed to get {name} usage: {exc}") from exc
        return Proposal(replicas, f"{name} resource", {"type": kind, field: {
            **identity, "current": {"averageValue": milli_quantity(usage)}}})
    utilization_target = target.get("averageUtilization")
    # A zero target would divide by zero; validation forbids it, a cache is not trusted.
    if (not isinstance(utilization_target, int) or isinstance(utilization_target, bool)
            or utilization_target <= 0):
        raise CalculationError("invalid resource metric source: neither an average "
                               "utilization target nor an average value (usage) target was "
                               "set")
    try:
        replicas, utilization, raw = await calculator.resource_replicas(
            current, utilization_target, name, tolerances, namespace, selector, container)
    except CalculationError as exc:
        raise CalculationError(f"failed to get {name} utilization: {exc}") from exc
    described = f"{name} {'container ' if container else ''}resource utilization " \
                "(percentage of request)"
    return Proposal(replicas, described, {"type": kind, field: {
        **identity, "current": {"averageUtilization": utilization,
                                "averageValue": milli_quantity(raw)}}})
