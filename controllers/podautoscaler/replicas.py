"""Upstream's ``ReplicaCalculator`` for resource metrics (``replica_calculator.go`` and
``metrics/utilization.go``).

Given the current replica count, a target and the pods the scale's selector selects, the
calculator proposes a replica count:

* pods being deleted or ``Failed`` are ignored; ``Pending`` pods, and for ``cpu`` pods
  not yet ready or whose CPU is not initialized (within
  ``--horizontal-pod-autoscaler-cpu-initialization-period`` of their start, unready or
  sampled less than one metric window after becoming ready; later, unready and never ready
  since ``--horizontal-pod-autoscaler-initial-readiness-delay``) are *unready*; pods with
  no metric are *missing*;
* the usage ratio is computed over the ready pods with metrics; within the tolerance the
  count stays, otherwise ``ceil(ratio * ready pods)``;
* with missing pods, or unready pods on a scale-up, the ratio is recomputed with missing
  pods at 100 % of their request (the target when higher; the target value for
  ``AverageValue``) on a scale-down and 0 on a scale-up, and unready pods at 0 on a
  scale-up; if that lands within the tolerance or would reverse the direction of the
  change, the count stays.

Errors raise :class:`CalculationError` with upstream's message (``missing request for cpu
in container web of Pod web-1``, ``unable to get metrics for resource cpu: …``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from apiserver.api.labels import LabelSelector
from controllers.podautoscaler.metricsclient import (
    MetricsError,
    PodMetric,
    ResourceMetricsClient,
    milli_value,
)
from controllers.runtime.objects import parse_time, ready_condition

__all__ = ["CPU_INITIALIZATION_PERIOD", "INITIAL_READINESS_DELAY", "TOLERANCE",
           "CalculationError", "PodGroups", "ReplicaCalculator", "Tolerances",
           "calculate_requests", "group_pods", "usage_ratio", "utilization_ratio"]

Obj = Mapping[str, Any]
#: Upstream's flag defaults (seconds for the periods).
TOLERANCE = 0.1
CPU_INITIALIZATION_PERIOD = 300.0
INITIAL_READINESS_DELAY = 30.0
#: Go's zero time: what an unset timestamp compares as.
_ZERO = datetime.min.replace(tzinfo=UTC)


class CalculationError(Exception):
    """No replica count could be computed; ``str()`` is upstream's message."""


@dataclass(frozen=True)
class Tolerances:
    """How far below/above 1 the usage ratio may be without a change."""

    scale_down: float = TOLERANCE
    scale_up: float = TOLERANCE

    def within(self, ratio: float) -> bool:
        """The ratio is close enough to 1 to keep the count."""
        return 1.0 - self.scale_down <= ratio <= 1.0 + self.scale_up


@dataclass
class PodGroups:
    """``groupPods``: ready pods with metrics counted, the others by name."""

    ready: int = 0
    unready: set[str] = field(default_factory=set)
    missing: set[str] = field(default_factory=set)
    ignored: set[str] = field(default_factory=set)


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _name(pod: Obj) -> str:
    return str(_m(pod.get("metadata")).get("name") or "")


def _cpu_unready(pod: Obj, metric: PodMetric, now: datetime, init_period: float,
                 readiness_delay: float) -> bool:
    condition = ready_condition(pod)
    started = parse_time(_m(pod.get("status")).get("startTime"))
    if condition is None or started is None:
        return True
    transition = parse_time(condition.get("lastTransitionTime")) or _ZERO
    if started + timedelta(seconds=init_period) > now:
        # Still initializing: its CPU is trusted only once a whole metric window was
        # sampled after it became ready (start-up bursts would scale up for nothing).
        sampled = metric.timestamp or _ZERO
        return (condition.get("status") == "False"
                or sampled < transition + timedelta(seconds=metric.window))
    # Later, only a pod that has never been ready since its start is left out.
    return (condition.get("status") == "False"
            and started + timedelta(seconds=readiness_delay) > transition)


def group_pods(pods: Sequence[Obj], metrics: Mapping[str, PodMetric], resource: str,
               now: datetime, init_period: float = CPU_INITIALIZATION_PERIOD,
               readiness_delay: float = INITIAL_READINESS_DELAY) -> PodGroups:
    """Sort ``pods`` as upstream's ``groupPods`` (see the module docstring)."""
    groups = PodGroups()
    for pod in pods:
        name, phase = _name(pod), _m(pod.get("status")).get("phase")
        if _m(pod.get("metadata")).get("deletionTimestamp") or phase == "Failed":
            groups.ignored.add(name)
        elif phase == "Pending":
            groups.unready.add(name)
        elif name not in metrics:
            groups.missing.add(name)
        elif resource == "cpu" and _cpu_unready(pod, metrics[name], now, init_period,
                                                readiness_delay):
            groups.unready.add(name)
        else:
            groups.ready += 1
    return groups


def _requests_of(container: Obj) -> Mapping[str, Any]:
    return _m(_m(container.get("resources")).get("requests"))


def _pod_request(pod: Obj, container: str, resource: str) -> int:
    spec = _m(pod.get("spec"))
    pod_level = _requests_of(spec)
    containers = [_m(c) for c in spec.get("containers") or []]
    # Sidecars (restartable init containers) run alongside and count as upstream does.
    containers += [_m(c) for c in spec.get("initContainers") or []
                   if _m(c).get("restartPolicy") == "Always"]
    if not container and ("cpu" in pod_level or "memory" in pod_level):
        # Pod-level resources (KEP-2837) replace the containers' sum when set.
        value = milli_value(pod_level.get(resource))
        if value is None:
            summed = [milli_value(_requests_of(c).get(resource)) for c in containers]
            if not any(v is not None for v in summed):
                raise CalculationError(
                    f"missing pod-level request for {resource} in Pod {_name(pod)}")
            value = sum(v for v in summed if v is not None)
        return value
    total = 0
    for entry in containers:
        if container and entry.get("name") != container:
            continue
        value = milli_value(_requests_of(entry).get(resource))
        if value is None:
            raise CalculationError(f"missing request for {resource} in container "
                                   f"{entry.get('name') or ''} of Pod {_name(pod)}")
        total += value
        if container:
            return total
    if container:
        raise CalculationError(f"container {container} not found in Pod {_name(pod)}")
    return total


def calculate_requests(pods: Sequence[Obj], container: str, resource: str) -> dict[str, int]:
    """Pod name → its request of ``resource`` in milli-units (one container's when
    ``container`` is set); raises :class:`CalculationError` on a missing request."""
    return {_name(pod): _pod_request(pod, container, resource) for pod in pods}


def utilization_ratio(metrics: Mapping[str, int], requests: Mapping[str, int],
                      target: int) -> tuple[float, int, int]:
    """(usage ratio, utilization %, average usage in milli-units) over the pods with both
    a metric and a request (``GetResourceUtilizationRatio``)."""
    used = [(value, requests[name]) for name, value in metrics.items() if name in requests]
    requested = sum(r for _, r in used)
    if requested == 0:
        raise CalculationError("no metrics returned matched known pods")
    total = sum(v for v, _ in used)
    utilization = _go_div(total * 100, requested)
    return utilization / target, utilization, _go_div(total, len(used))


def usage_ratio(metrics: Mapping[str, int], target: int) -> tuple[float, int]:
    """(usage ratio, average usage in milli-units) (``GetMetricUsageRatio``)."""
    usage = _go_div(sum(metrics.values()), len(metrics))
    return usage / target, usage


def _go_div(a: int, b: int) -> int:
    """Go's integer division, which truncates toward zero."""
    quotient = abs(a) // abs(b)
    return quotient if (a >= 0) == (b >= 0) else -quotient


class ReplicaCalculator:
    """Proposes replica counts from the resource metrics API and the pod cache.

    ``list_pods(namespace, selector)`` reads the pod cache; ``now()`` is the clock the
    CPU-initialization checks use.
    """

    def __init__(self, metrics: ResourceMetricsClient,
                 list_pods: Callable[[str, LabelSelector], list[Obj]],
                 cpu_initialization_period: float = CPU_INITIALIZATION_PERIOD,
                 initial_readiness_delay: float = INITIAL_READINESS_DELAY,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.metrics = metrics
        self.list_pods = list_pods
        self.cpu_initialization_period = cpu_initialization_period
        self.initial_readiness_delay = initial_readiness_delay
        self.now = now

    async def _fetch(self, resource: str, namespace: str, selector: LabelSelector,
                     container: str) -> tuple[dict[str, PodMetric], list[Obj], PodGroups]:
        try:
            raw = await self.metrics.resource_metric(resource, namespace, str(selector),
                                                     container)
        except MetricsError as exc:
            raise CalculationError(f"unable to get metrics for resource {resource}: {exc}"
                                   ) from exc
        pods = self.list_pods(namespace, selector)
        if not pods:
            raise CalculationError("no pods returned by selector while calculating replica "
                                   "count")
        groups = group_pods(pods, raw, resource, self.now(), self.cpu_initialization_period,
                            self.initial_readiness_delay)
        for name in groups.ignored | groups.unready:
            raw.pop(name, None)
        if not raw:
            raise CalculationError("did not receive metrics for targeted pods (pods might be "
                                   "unready)")
        return raw, pods, groups

    async def resource_replicas(self, current: int, target_utilization: int, resource: str,
                                tolerances: Tolerances, namespace: str,
                                selector: LabelSelector, container: str = ""
                                ) -> tuple[int, int, int]:
        """``GetResourceReplicas``: (replicas, utilization %, average usage in milli-units)
        for an ``averageUtilization`` target."""
        raw, pods, groups = await self._fetch(resource, namespace, selector, container)
        requests = calculate_requests(pods, container, resource)
        metrics = {name: sample.value for name, sample in raw.items()}
        ratio, utilization, average = utilization_ratio(metrics, requests, target_utilization)

        def ratio_of(values: Mapping[str, int]) -> float:
            return utilization_ratio(values, requests, target_utilization)[0]

        # Missing pods on a scale-down count at 100 % of their request, or at the target
        # when it is above 100 % (else they would push the count down by themselves).
        fallback = max(100, target_utilization)
        replicas = _rebalance(current, ratio, metrics, groups, tolerances, ratio_of,
                              lambda name: requests.get(name, 0) * fallback // 100)
        return replicas, utilization, average

    async def raw_resource_replicas(self, current: int, target_usage: int, resource: str,
                                    tolerances: Tolerances, namespace: str,
                                    selector: LabelSelector, container: str = ""
                                    ) -> tuple[int, int]:
        """``GetRawResourceReplicas``: (replicas, average usage in milli-units) for an
        ``averageValue`` target (milli-units)."""
        raw, _pods, groups = await self._fetch(resource, namespace, selector, container)
        metrics = {name: sample.value for name, sample in raw.items()}
        ratio, usage = usage_ratio(metrics, target_usage)
        replicas = _rebalance(current, ratio, metrics, groups, tolerances,
                              lambda values: usage_ratio(values, target_usage)[0],
                              lambda _name: target_usage)
        return replicas, usage


def _rebalance(current: int, ratio: float, metrics: dict[str, int], groups: PodGroups,
               tolerances: Tolerances, ratio_of: Callable[[Mapping[str, int]], float],
               missing_value: Callable[[str], int]) -> int:
    """The replica count from ``ratio`` over the ready pods, corrected for missing and
    unready pods as upstream (see the module docstring)."""
    scale_up_with_unready = bool(groups.unready) and ratio > 1.0
    if not scale_up_with_unready and not groups.missing:
        if tolerances.within(ratio):
            return current
        return math.ceil(ratio * groups.ready)
    if groups.missing and ratio < 1.0:
        metrics.update({name: missing_value(name) for name in groups.missing})
    elif groups.missing and ratio > 1.0:
        metrics.update(dict.fromkeys(groups.missing, 0))
    if scale_up_with_unready:
        metrics.update(dict.fromkeys(groups.unready, 0))
    new_ratio = ratio_of(metrics)
    if (tolerances.within(new_ratio) or (ratio < 1.0 < new_ratio)
            or (ratio > 1.0 > new_ratio)):
        # Too small a change, or the assumed values would reverse the direction.
        return current
    replicas = math.ceil(new_ratio * len(metrics))
    if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
        # Counting more pods than run would turn a scale-down into a scale-up (or back).
        return current
    return replicas
