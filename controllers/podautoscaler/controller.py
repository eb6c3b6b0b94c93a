"""kube-controller-manager's ``horizontalpodautoscaling`` controller, without a metrics API.

Every ``--horizontal-pod-autoscaler-sync-period`` (15 s) and on each change, an HPA
(``autoscaling/v2``, key ``namespace/name``) is reconciled as upstream's
``reconcileAutoscaler`` does:

1. the target's ``scale`` subresource is read: on failure a ``FailedGetScale`` Warning and
   ``AbleToScale=False``; else ``AbleToScale=True`` (``SucceededGetScale``);
2. a target scaled to 0 disables autoscaling (``ScalingActive=False``, ``ScalingDisabled``);
   a replica count above ``maxReplicas`` or below ``minReplicas`` (default 1) is brought
   back within them, with a ``SuccessfulRescale`` Event (``New size: 2; reason: Current
   number of replicas below Spec.MinReplicas``);
3. otherwise the replica count comes from the metrics. kubemu serves no metrics API
   (``metrics.k8s.io``, custom or external metrics), so, as a cluster without
   metrics-server, each metric fails with upstream's message (``failed to get cpu
   utilization: unable to get metrics for resource cpu: unable to fetch metrics from
   resource metrics API: the server could not find the requested resource (get
   pods.metrics.k8s.io)``): a ``FailedGetResourceMetric`` Warning (by metric type), the
   ``ScalingActive=False`` condition, a ``FailedComputeMetricsReplicas`` Warning, and the
   replica count is left alone.

The status (``currentReplicas``, ``desiredReplicas``, ``currentMetrics``, ``conditions``,
``lastScaleTime``) is written when it changed.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from apiserver.api.resources import ResourceInfo, by_kind, served
from controllers.client.errors import ApiError
from controllers.client.rest import RestClient, resource_path
from controllers.client.store import DeletedFinalStateUnknown, Store, meta_namespace_key
from controllers.runtime.controller import KeyedController
from controllers.runtime.events import EventRecorder
from controllers.runtime.writer import Writer

__all__ = ["HPAS", "SYNC_PERIOD", "HorizontalController", "metric_failure"]

HPAS = served("autoscaling", "v2", "horizontalpodautoscalers")
#: Seconds between two syncs of every HPA (``--horizontal-pod-autoscaler-sync-period``).
SYNC_PERIOD = 15.0

_NO_RESOURCE_METRICS = ("unable to fetch metrics from resource metrics API: the server could "
                        "not find the requested resource (get pods.metrics.k8s.io)")
_NO_CUSTOM_METRICS = ("unable to fetch metrics from custom metrics API: no custom metrics API "
                      "(custom.metrics.k8s.io) registered")
_NO_EXTERNAL_METRICS = ("unable to fetch metrics from external metrics API: no external "
                        "metrics API (external.metrics.k8s.io) registered")
#: Metric type → the Warning reason of its failure.
_FAILED_REASON = {"Resource": "FailedGetResourceMetric",
                  "ContainerResource": "FailedGetContainerResourceMetric",
                  "Pods": "FailedGetPodsMetric", "Object": "FailedGetObjectMetric",
                  "External": "FailedGetExternalMetric"}


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def metric_failure(metric: Mapping[str, Any]) -> tuple[str, str, str]:
    """(reason, the metric's own error, the error the replica count reports) of one
    metric with no metrics API to read it from."""
    kind = str(metric.get("type") or "")
    source = _m(metric.get({"Resource": "resource", "ContainerResource": "containerResource",
                            "Pods": "pods", "Object": "object",
                            "External": "external"}.get(kind, "")))
    if kind in ("Resource", "ContainerResource"):
        name = str(source.get("name") or "")
        how = "usage" if "averageValue" in _m(source.get("target")) else "utilization"
        inner = (f"failed to get {name} {how}: unable to get metrics for resource {name}: "
                 f"{_NO_RESOURCE_METRICS}")
        return (_FAILED_REASON[kind], inner,
                f"failed to get {name} {'container ' if kind != 'Resource' else ''}"
                f"resource metric value: {inner}")
    name = str(_m(source.get("metric")).get("name") or "")
    api = _NO_EXTERNAL_METRICS if kind == "External" else _NO_CUSTOM_METRICS
    inner = f"unable to get metric {name}: {api}"
    word = {"Pods": "pods", "Object": "object", "External": "external"}.get(kind, kind)
    return (_FAILED_REASON.get(kind, "FailedGetMetric"), inner,
            f"failed to get {word} metric value: {inner}")


class HorizontalController(KeyedController):
    """Reconciles each HorizontalPodAutoscaler (see the module docstring)."""

    name = "horizontalpodautoscaling"

    def __init__(self, hpas: Store, reader: RestClient, writer: Writer,
                 period: float = SYNC_PERIOD, clock: Callable[[], str] = _now) -> None:
        super().__init__()
        self.hpas = hpas
        self.period = period
        self._resync: asyncio.Task[None] | None = None
        self.reader = reader
        self.writer = writer
        self.clock = clock
        self.recorder = EventRecorder(writer, "horizontal-pod-autoscaler")

    def on_hpa(self, obj: Any, new: Any = None) -> None:
        """Handler for HPA events."""
        obj = new if new is not None else obj
        if not isinstance(obj, DeletedFinalStateUnknown):
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
        await self._reconcile(hpa, original, target, scale)

    async def _reconcile(self, hpa: dict[str, Any], original: Mapping[str, Any],
                         target: ResourceInfo, scale: Mapping[str, Any]) -> None:
        spec, status = _m(hpa.get("spec")), hpa["status"]
        # Upstream's ``currentReplicas`` is the target's desired count, not what runs.
        current = int(_m(scale.get("spec")).get("replicas") or 0)
        low = int(spec.get("minReplicas") or 1)
        high = int(spec.get("maxReplicas") or 0)
        desired, reason = current, ""
        if current == 0 and low != 0:
            desired = 0
            self._condition(hpa, "ScalingActive", "False", "ScalingDisabled",
                            "scaling is disabled since the replica count of the target is "
                            "zero")
        elif current > high:
            desired, reason = high, "Current number of replicas above Spec.MaxReplicas"
        elif current < low:
            desired, reason = low, "Current number of replicas below Spec.MinReplicas"
        else:
            await self._metrics_failed(hpa, original, current)
            return
        if desired != current and reason:
            body = {**scale, "spec": {**_m(scale.get("spec")), "replicas": desired}}
            try:
                await self.writer.update(target, hpa["metadata"]["namespace"], body,
                                         subresource="scale")
            except ApiError as exc:
                self._condition(hpa, "AbleToScale", "False", "FailedUpdateScale",
                                f"the HPA controller was unable to update the target scale: "
                                f"{exc.message}")
                await self._event(hpa, "Warning", "FailedRescale",
                                  f"New size: {desired}; reason: {reason}; error: "
                                  f"{exc.message}")
                await self._write_status(hpa, original)
                return
            self._condition(hpa, "AbleToScale", "True", "SucceededRescale",
                            f"the HPA controller was able to update the target scale to "
                            f"{desired}")
            await self._event(hpa, "Normal", "SuccessfulRescale",
                              f"New size: {desired}; reason: {reason}")
            status["lastScaleTime"] = self.clock()
        status.update(currentReplicas=current, desiredReplicas=desired)
        status.pop("currentMetrics", None)  # no metrics were read
        await self._write_status(hpa, original)

    async def _metrics_failed(self, hpa: dict[str, Any], original: Mapping[str, Any],
                              current: int) -> None:
        """Every metric fails (no metrics API): upstream's events, condition and status;
        the replica count stays."""
        specs = list(_m(hpa.get("spec")).get("metrics") or [])
        first: tuple[str, str, str] | None = None
        for metric in specs:
            failure = metric_failure(_m(metric))
            await self._event(hpa, "Warning", failure[0], failure[1])
            first = first or failure
        status = hpa["status"]
        status["currentReplicas"] = current
        status.setdefault("desiredReplicas", 0)
        if specs and first is not None:
            status["currentMetrics"] = [{"type": ""} for _ in specs]
            self._condition(hpa, "ScalingActive", "False", first[0],
                            f"the HPA was unable to compute the replica count: {first[1]}")
            await self._write_status(hpa, original)
            await self._event(hpa, "Warning", "FailedComputeMetricsReplicas",
                              f"invalid metrics ({len(specs)} invalid out of {len(specs)}), "
                              f"first error is: {first[2]}")
            return
        await self._write_status(hpa, original)

    async def _write_status(self, hpa: dict[str, Any], original: Mapping[str, Any]) -> None:
        if hpa["status"] == original:
            return
        try:
            await self.writer.update(HPAS, hpa["metadata"]["namespace"], hpa,
                                     subresource="status")
        except ApiError as exc:
            if exc.code not in (404, 409):
                raise
