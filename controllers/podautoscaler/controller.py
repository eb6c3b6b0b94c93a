"""kube-controller-manager's ``horizontalpodautoscaling`` controller (upstream
``horizontal.go``).

Every ``--horizontal-pod-autoscaler-sync-period`` (15 s) and on each change, an HPA
(``autoscaling/v2``, key ``namespace/name``) is reconciled as upstream's
``reconcileAutoscaler`` does:

1. the target's ``scale`` subresource is read: on failure a ``FailedGetScale`` Warning and
   ``AbleToScale=False``; else ``AbleToScale=True`` (``SucceededGetScale``);
2. a target scaled to 0 disables autoscaling (``ScalingActive=False``, ``ScalingDisabled``);
   a replica count above ``maxReplicas`` or below ``minReplicas`` (default 1) is brought
   back within them, with a ``SuccessfulRescale`` Event (``New size: 2; reason: Current
   number of replicas below Spec.MinReplicas``);
3. otherwise each metric proposes a count (:mod:`.compute`: resource metrics from
   ``metrics.k8s.io`` and the pod cache, custom/external metrics fail as without an
   adapter) for the pods of the scale's ``status.selector``. A failing metric gets a
   Warning (``FailedGetResourceMetric`` …); the highest proposal wins
   (``ScalingActive=True``, ``ValidMetricFound``) unless every metric failed or some
   failed and the rest would scale down: then ``ScalingActive=False`` with the first
   failure, a ``FailedComputeMetricsReplicas`` Warning, and the count is left alone;
4. the proposal is stabilized and rate-limited (:mod:`.behavior`: ``AbleToScale`` and
   ``ScalingLimited`` conditions) and applied through the scale subresource
   (``SuccessfulRescale``: ``New size: 4; reason: cpu resource utilization (percentage of
   request) above target`` or ``… reason: All metrics below target``).

The status (``currentReplicas``, ``desiredReplicas``, ``currentMetrics``, ``conditions``,
``lastScaleTime``) is written when it changed.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from apiserver.api.labels import LabelSelector, SelectorError, parse_label_selector
from apiserver.api.resources import ResourceInfo, by_kind, served
from controllers.client.errors import ApiError
from controllers.client.rest import RestClient, resource_path
from controllers.client.store import DeletedFinalStateUnknown, Store, meta_namespace_key
from controllers.podautoscaler.behavior import DOWNSCALE_STABILIZATION, ScalingHistory
from controllers.podautoscaler.compute import (
    MetricFailure,
    compute_metric,
    metric_failure,
    tolerances_for,
)
from controllers.podautoscaler.metricsclient import ResourceMetricsClient
from controllers.podautoscaler.replicas import (
    CPU_INITIALIZATION_PERIOD,
    INITIAL_READINESS_DELAY,
    TOLERANCE,
    ReplicaCalculator,
)
from controllers.runtime.controller import KeyedController
from controllers.runtime.events import EventRecorder
from controllers.runtime.writer import Writer

__all__ = ["HPAS", "PODS", "SYNC_PERIOD", "HorizontalController", "metric_failure"]

HPAS = served("autoscaling", "v2", "horizontalpodautoscalers")
PODS = served("", "v1", "pods")
#: Seconds between two syncs of every HPA (``--horizontal-pod-autoscaler-sync-period``).
SYNC_PERIOD = 15.0

Obj = Mapping[str, Any]


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _utcnow() -> datetime:
    return datetime.now(UTC)


class _MetricsFailed(Exception):
    """``computeReplicasForMetrics`` gave no count: the error and the metric statuses."""

    def __init__(self, message: str, statuses: list[dict[str, Any]] | None) -> None:
        super().__init__(message)
        self.statuses = statuses


class HorizontalController(KeyedController):
    """Reconciles each HorizontalPodAutoscaler (see the module docstring).

    ``pods`` is the pod cache (a shared informer's store); ``now`` the clock of the
    stabilization windows and CPU-initialization checks, ``clock`` the text of the
    timestamps written (derived from ``now`` unless given).
    """

    name = "horizontalpodautoscaling"

    def __init__(self, hpas: Store, reader: RestClient, writer: Writer,
                 period: float = SYNC_PERIOD, clock: Callable[[], str] | None = None, *,
                 pods: Store | None = None, tolerance: float = TOLERANCE,
                 downscale_stabilization: float = DOWNSCALE_STABILIZATION,
                 cpu_initialization_period: float = CPU_INITIALIZATION_PERIOD,
                 initial_readiness_delay: float = INITIAL_READINESS_DELAY,
                 now: Callable[[], datetime] = _utcnow) -> None:
        super().__init__()
        self.hpas = hpas
        self.pods = pods if pods is not None else Store()
        self.period = period
        self._resync: asyncio.Task[None] | None = None
        self.reader = reader
        self.writer = writer
        self.now = now
        self.clock = clock or (lambda: self.now().strftime("%Y-%m-%dT%H:%M:%SZ"))
        self.tolerance = tolerance
        self.recorder = EventRecorder(writer, "horizontal-pod-autoscaler")
        self.history = ScalingHistory(downscale_stabilization)
        self.calculator = ReplicaCalculator(
            ResourceMetricsClient(reader), self._list_pods, cpu_initialization_period,
            initial_readiness_delay, now)
        #: Each HPA's last parsed selector, to refuse pods claimed by two HPAs.
        self._selectors: dict[str, LabelSelector] = {}

    def on_hpa(self, obj: Any, new: Any = None) -> None:
        """Handler for HPA adds and updates."""
        obj = new if new is not None else obj
        if not isinstance(obj, DeletedFinalStateUnknown):
            self.queue.add(meta_namespace_key(obj))

    def on_hpa_deleted(self, obj: Any) -> None:
        """Handler for HPA deletions: the sync forgets the HPA's history."""
        self.queue.add(meta_namespace_key(obj))

    def startup(self) -> None:
        """Start the periodic sync of every HPA."""
        self._resync = asyncio.create_task(self._periodic(), name="hpa-resync")

    async def run(self, workers: int = 1) -> None:
        """The workers and the periodic sync, until cancelled."""
        try:
            await super().run(workers)
        finally:
            if self._resync is not None:
                self._resync.cancel()

    async def _periodic(self) -> None:
        while True:
            await asyncio.sleep(self.period)
            for hpa in self.hpas.list():
                self.queue.add(meta_namespace_key(hpa))

    def _list_pods(self, namespace: str, selector: LabelSelector) -> list[Obj]:
        return [pod for pod in self.pods.in_namespace(namespace)
                if selector.matches(_m(_m(pod.get("metadata")).get("labels")))]

    def _condition(self, hpa: dict[str, Any], ctype: str, status: str, reason: str,
                   message: str) -> None:
        conditions = hpa["status"].setdefault("conditions", [])
        current = next((c for c in conditions if c.get("type") == ctype), None)
        if current is None:
            current = {"type": ctype}
            conditions.append(current)
        if current.get("status") != status:
            current["lastTransitionTime"] = self.clock()
        current.update(status=status, reason=reason, message=message)

    async def _event(self, hpa: Mapping[str, Any], type_: str, reason: str,
                     message: str) -> None:
        await self.recorder.event(hpa, type_, reason, message)

    async def sync(self, key: str) -> None:
        namespace, _, name = key.partition("/")
        found = self.hpas.get(namespace, name)
        if found is None:
            self.history.forget(key)
            self._selectors.pop(key, None)
            return
        hpa = copy.deepcopy(dict(found))
        original = copy.deepcopy(hpa.get("status") or {})
        hpa["status"] = dict(hpa.get("status") or {})
        spec = _m(hpa.get("spec"))
        ref = _m(spec.get("scaleTargetRef"))
        target = by_kind(str(ref.get("apiVersion") or ""), str(ref.get("kind") or ""))
        try:
            if target is None or target.subresource("scale") is None:
                raise LookupError(f'no matches for kind "{ref.get("kind")}" in group '
                                  f'"{str(ref.get("apiVersion") or "").rpartition("/")[0]}"')
            scale = await self.reader.request(
                "GET", resource_path(target, namespace, str(ref.get("name") or ""), "scale"))
        except (ApiError, LookupError) as exc:
            message = exc.message if isinstance(exc, ApiError) else str(exc)
            await self._event(hpa, "Warning", "FailedGetScale", message)
            self._condition(hpa, "AbleToScale", "False", "FailedGetScale",
                            f"the HPA controller was unable to get the target's current "
                            f"scale: {message}")
            await self._write_status(hpa, original)
            return
        self._condition(hpa, "AbleToScale", "True", "SucceededGetScale",
                        "the HPA controller was able to get the target's current scale")
        # Upstream's ``currentReplicas`` is the target's desired count, not what runs.
        current = int(_m(scale.get("spec")).get("replicas") or 0)
        self.history.record_initial(key, current, self.now())
        await self._reconcile(key, hpa, original, target, scale, current)

    async def _reconcile(self, key: str, hpa: dict[str, Any], original: Mapping[str, Any],
                         target: ResourceInfo, scale: Mapping[str, Any], current: int
                         ) -> None:
        spec, status = _m(hpa.get("spec")), hpa["status"]
        low = int(spec["minReplicas"]) if spec.get("minReplicas") is not None else 1
        high = int(spec.get("maxReplicas") or 0)
        desired, reason, rescale = 0, "", True
        statuses: list[dict[str, Any]] | None = None
        if current == 0 and low != 0:
            rescale = False
            self._condition(hpa, "ScalingActive", "False", "ScalingDisabled",
                            "scaling is disabled since the replica count of the target is "
                            "zero")
        elif current > high:
            desired, reason = high, "Current number of replicas above Spec.MaxReplicas"
        elif current < low:
            desired, reason = low, "Current number of replicas below Spec.MinReplicas"
        elif not spec.get("metrics"):
            # The API defaults a cpu metric; an HPA without any has nothing to compute.
            status["currentReplicas"] = current
            await self._write_status(hpa, original)
            return
        else:
            try:
                proposed, metric, statuses = await self._compute_metrics(key, hpa, scale)
            except _MetricsFailed as exc:
                self._set_status(hpa, current, int(status.get("desiredReplicas") or 0),
                                 exc.statuses)
                await self._write_status(hpa, original)
                await self._event(hpa, "Warning", "FailedComputeMetricsReplicas", str(exc))
                return
            if proposed > desired:
                desired = proposed
            if desired > current:
                reason = f"{metric} above target"
            elif desired < current:
                reason = "All metrics below target"
            desired = self._normalize(key, hpa, current, desired, low)
            rescale = desired != current
        if rescale and not await self._rescale(key, hpa, original, target, scale, current,
                                               desired, reason, statuses):
            return
        if not rescale:
            desired = current
        self._set_status(hpa, current, desired, statuses)
        await self._write_status(hpa, original)

    async def _rescale(self, key: str, hpa: dict[str, Any], original: Mapping[str, Any],
                       target: ResourceInfo, scale: Mapping[str, Any], current: int,
                       desired: int, reason: str, statuses: list[dict[str, Any]] | None
                       ) -> bool:
        """Write the new count to the scale subresource; False (status written) when the
        write failed."""
        body = {**scale, "spec": {**_m(scale.get("spec")), "replicas": desired}}
        try:
            await self.writer.update(target, hpa["metadata"]["namespace"], body,
                                     subresource="scale")
        except ApiError as exc:
            await self._event(hpa, "Warning", "FailedRescale",
                              f"New size: {desired}; reason: {reason}; error: {exc.message}")
            self._condition(hpa, "AbleToScale", "False", "FailedUpdateScale",
                            f"the HPA controller was unable to update the target scale: "
                            f"{exc.message}")
            self._set_status(hpa, current, int(hpa["status"].get("desiredReplicas") or 0),
                             statuses)
            await self._write_status(hpa, original)
            return False
        self._condition(hpa, "AbleToScale", "True", "SucceededRescale",
                        f"the HPA controller was able to update the target scale to "
                        f"{desired}")
        await self._event(hpa, "Normal", "SuccessfulRescale",
                          f"New size: {desired}; reason: {reason}")
        self.history.store_scale_event(key, _m(hpa.get("spec")), current, desired, self.now())
        hpa["status"]["lastScaleTime"] = self.clock()
        return True

    def _normalize(self, key: str, hpa: dict[str, Any], current: int, desired: int,
                   low: int) -> int:
        normalized = self.history.normalize(key, _m(hpa.get("spec")), current, desired, low,
                                            self.now())
        self._condition(hpa, "AbleToScale", "True", *normalized.able_to_scale)
        self._condition(hpa, "ScalingLimited", "True" if normalized.limited else "False",
                        *normalized.scaling_limited)
        return normalized.replicas

    @staticmethod
    def _set_status(hpa: dict[str, Any], current: int, desired: int,
                    statuses: list[dict[str, Any]] | None) -> None:
        """Upstream's ``setStatus``: no metric statuses means no ``currentMetrics``."""
        status = hpa["status"]
        status.update(currentReplicas=current, desiredReplicas=desired)
        if statuses:
            status["currentMetrics"] = statuses
        else:
            status.pop("currentMetrics", None)

    async def _compute_metrics(self, key: str, hpa: dict[str, Any], scale: Mapping[str, Any]
                               ) -> tuple[int, str, list[dict[str, Any]]]:
        """``computeReplicasForMetrics``: (replicas, metric, statuses); raises
        :class:`_MetricsFailed`."""
        spec = _m(hpa.get("spec"))
        namespace = str(hpa["metadata"]["namespace"])
        selector = await self._selector(key, hpa, str(_m(scale.get("status")).get("selector")
                                                      or ""))
        current = int(_m(scale.get("spec")).get("replicas") or 0)
        tolerances = tolerances_for(spec, self.tolerance)
        metrics = [_m(metric) for metric in spec.get("metrics") or []]
        statuses: list[dict[str, Any]] = []
        replicas, metric_name, invalid = 0, "", 0
        first: MetricFailure | None = None
        for metric in metrics:
            outcome = await compute_metric(self.calculator, metric, current, namespace,
                                           selector, tolerances)
            if isinstance(outcome, MetricFailure):
                await self._event(hpa, "Warning", outcome.reason, outcome.message)
                statuses.append({"type": ""})  # upstream's zero MetricStatus
                first, invalid = first or outcome, invalid + 1
                continue
            statuses.append(outcome.status)
            if replicas == 0 or outcome.replicas > replicas:
                replicas, metric_name = outcome.replicas, outcome.metric
        # Every metric failed, or some failed and the others would scale down: a failed
        # metric might have asked for more, so nothing is changed.
        if first is not None and (invalid >= len(metrics) or replicas < current):
            self._condition(hpa, "ScalingActive", "False", first.reason,
                            f"the HPA was unable to compute the replica count: "
                            f"{first.message}")
            raise _MetricsFailed(f"invalid metrics ({invalid} invalid out of {len(metrics)}), "
                                 f"first error is: {first.error}", statuses)
        self._condition(hpa, "ScalingActive", "True", "ValidMetricFound",
                        f"the HPA was able to successfully calculate a replica count from "
                        f"{metric_name}")
        return replicas, metric_name, statuses

    async def _selector(self, key: str, hpa: dict[str, Any], text: str) -> LabelSelector:
        """``validateAndParseSelector``: the scale's selector, unless missing, invalid or
        selecting pods another HPA selects (Warning and ``ScalingActive=False``)."""
        if not text:
            await self._event(hpa, "Warning", "SelectorRequired", "selector is required")
            self._condition(hpa, "ScalingActive", "False", "InvalidSelector",
                            "the HPA target's scale is missing a selector")
            raise _MetricsFailed("selector is required", None)
        try:
            selector = parse_label_selector(text)
        except SelectorError as exc:
            message = (f"couldn't convert selector into a corresponding internal selector "
                       f"object: {exc}")
            await self._event(hpa, "Warning", "InvalidSelector", message)
            self._condition(hpa, "ScalingActive", "False", "InvalidSelector", message)
            raise _MetricsFailed(message, None) from exc
        self._selectors[key] = selector
        namespace = key.partition("/")[0]
        pods = self._list_pods(namespace, selector)
        controlling = {key} if pods else set()
        for other, theirs in self._selectors.items():
            if other != key and other.partition("/")[0] == namespace and any(
                    theirs.matches(_m(_m(p.get("metadata")).get("labels"))) for p in pods):
                controlling.add(other)
        if len(controlling) > 1:
            message = (f"pods by selector {text} are controlled by multiple HPAs: "
                       f"[{' '.join(sorted(controlling))}]")
            await self._event(hpa, "Warning", "AmbiguousSelector", message)
            self._condition(hpa, "ScalingActive", "False", "AmbiguousSelector", message)
            raise _MetricsFailed(message, None)
        return selector

    async def _write_status(self, hpa: dict[str, Any], original: Mapping[str, Any]) -> None:
        if hpa["status"] == original:
            return
        try:
            await self.writer.update(HPAS, hpa["metadata"]["namespace"], hpa,
                                     subresource="status")
        except ApiError as exc:
            if exc.code not in (404, 409):
                raise
