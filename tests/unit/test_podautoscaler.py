"""The HPA controller on an apiserver without ``metrics.k8s.io``: scale bounds, upstream's
failures, status."""

from __future__ import annotations

import asyncio
from typing import Any

from apiserver.api.resources import ResourceInfo
from controllers.client.errors import ApiError
from controllers.client.store import Store
from controllers.podautoscaler.controller import HorizontalController, metric_failure

NO_METRICS = ("unable to get metrics for resource cpu: unable to fetch metrics from resource "
              "metrics API: the server could not find the requested resource (get "
              "pods.metrics.k8s.io)")


class Cluster:
    """The target's scale (read and written) and what the controller wrote."""

    def __init__(self, replicas: int) -> None:
        self.scale: dict[str, Any] = {
            "apiVersion": "autoscaling/v1", "kind": "Scale",
            "metadata": {"name": "web", "namespace": "d"},
            "spec": {"replicas": replicas},
            "status": {"replicas": replicas, "selector": "app=web"}}
        self.events: list[tuple[str, str, str]] = []
        self.statuses: list[dict[str, Any]] = []
        self.scaled: list[int] = []

    async def request(self, method: str, path: str, **_: Any) -> dict[str, Any]:
        if path == "/apis/metrics.k8s.io/v1beta1/namespaces/d/pods":
            # An apiserver without metrics.k8s.io answers NotFound.
            raise ApiError(404, {"kind": "Status", "code": 404, "reason": "NotFound",
                                 "message": "the server could not find the requested "
                                            "resource"})
        assert (method, path) == ("GET", "/apis/apps/v1/namespaces/d/deployments/web/scale")
        return self.scale

    async def update(self, info: ResourceInfo, namespace: str | None, obj: dict[str, Any],
                     subresource: str | None = None) -> dict[str, Any]:
        if subresource == "scale":
            self.scaled.append(obj["spec"]["replicas"])
        else:
            assert subresource == "status"
            self.statuses.append(obj["status"])
        return obj

    async def create(self, info: ResourceInfo, namespace: str | None, obj: dict[str, Any]
                     ) -> dict[str, Any]:
        self.events.append((obj["type"], obj["reason"], obj["message"]))
        return obj

    async def patch(self, *_: Any, **__: Any) -> dict[str, Any]:
        return {}


def _run(cluster: Cluster, **spec: Any) -> None:
    hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
           "metadata": {"name": "web", "namespace": "d", "uid": "u"},
           "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                       "name": "web"}, "maxReplicas": 5, **spec},
           "status": {}}
    store = Store()
    store.add(hpa)
    controller = HorizontalController(store, cluster, cluster,  # type: ignore[arg-type]
                                      clock=lambda: "2026-12-05T10:00:00Z")
    asyncio.run(controller.sync("d/web"))


def test_below_min_replicas_is_scaled_up_without_metrics() -> None:
    cluster = Cluster(replicas=1)
    _run(cluster, minReplicas=2)
    assert cluster.scaled == [2]
    assert cluster.events == [("Normal", "SuccessfulRescale",
                               "New size: 2; reason: Current number of replicas below "
                               "Spec.MinReplicas")]
    status = cluster.statuses[-1]
    assert (status["currentReplicas"], status["desiredReplicas"],
            status["lastScaleTime"]) == (1, 2, "2026-12-05T10:00:00Z")
    assert [(c["type"], c["status"], c["reason"]) for c in status["conditions"]] == [
        ("AbleToScale", "True", "SucceededRescale")]


def test_within_bounds_the_missing_metrics_api_is_reported_as_upstream() -> None:
    cluster = Cluster(replicas=3)
    _run(cluster, minReplicas=2, metrics=[{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}])
    assert cluster.scaled == []
    assert cluster.events == [
        ("Warning", "FailedGetResourceMetric", f"failed to get cpu utilization: {NO_METRICS}"),
        ("Warning", "FailedComputeMetricsReplicas",
         "invalid metrics (1 invalid out of 1), first error is: failed to get cpu resource "
         f"metric value: failed to get cpu utilization: {NO_METRICS}")]
    status = cluster.statuses[-1]
    assert status["currentReplicas"] == 3 and status["currentMetrics"] == [{"type": ""}]
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["AbleToScale"]["reason"] == "SucceededGetScale"
    assert conditions["ScalingActive"]["status"] == "False"
    assert conditions["ScalingActive"]["message"] == (
        f"the HPA was unable to compute the replica count: failed to get cpu utilization: "
        f"{NO_METRICS}")


def test_a_target_scaled_to_zero_disables_scaling_and_a_missing_target_is_reported() -> None:
    cluster = Cluster(replicas=0)
    _run(cluster, minReplicas=1)
    conditions = {c["type"]: c["reason"] for c in cluster.statuses[-1]["conditions"]}
    assert conditions == {"AbleToScale": "SucceededGetScale",
                          "ScalingActive": "ScalingDisabled"}

    class Missing(Cluster):
        async def request(self, method: str, path: str, **_: Any) -> dict[str, Any]:
            raise ApiError(404, {"message": 'deployments.apps "web" not found'})

    missing = Missing(replicas=0)
    _run(missing)
    assert missing.events == [("Warning", "FailedGetScale", 'deployments.apps "web" not found')]
    assert missing.statuses[-1]["conditions"][0]["message"] == (
        "the HPA controller was unable to get the target's current scale: deployments.apps "
        '"web" not found')


def test_other_metric_types_fail_with_their_reasons() -> None:
    pods = metric_failure({"type": "Pods", "pods": {"metric": {"name": "qps"}}}, "default")
    assert pods == (
        "FailedGetPodsMetric", "unable to get metric qps: unable to fetch metrics from custom "
        "metrics API: no custom metrics API (custom.metrics.k8s.io) registered",
        "failed to get pods metric value: unable to get metric qps: unable to fetch metrics "
        "from custom metrics API: no custom metrics API (custom.metrics.k8s.io) registered")
    external = metric_failure({"type": "External", "external": {
        "metric": {"name": "queue_messages_ready",
                   "selector": {"matchLabels": {"queue": "worker_tasks"}}},
        "target": {"type": "AverageValue", "averageValue": "30"}}}, "default")
    inner = ("unable to get external metric default/queue_messages_ready/&LabelSelector{"
             "MatchLabels:map[string]string{queue: worker_tasks,},"
             "MatchExpressions:[]LabelSelectorRequirement{},}: unable to fetch metrics from "
             "external metrics API: the server could not find the requested resource (get "
             "queue_messages_ready.external.metrics.k8s.io)")
    assert external == ("FailedGetExternalMetric", inner,
                        "failed to get queue_messages_ready external metric value: failed to "
                        f"get queue_messages_ready external metric: {inner}")
    value = metric_failure({"type": "External", "external": {
        "metric": {"name": "q", "selector": {"matchExpressions": [
            {"key": "a", "operator": "In", "values": ["x", "y"]}]}},
        "target": {"type": "Value", "value": "3"}}}, "ns")
    assert value[1].startswith(
        "unable to get external metric ns/q/&LabelSelector{MatchLabels:map[string]string{},"
        "MatchExpressions:[]LabelSelectorRequirement{LabelSelectorRequirement{Key:a,"
        "Operator:In,Values:[x y],},},}: ")
    assert value[2].startswith("failed to get q external metric value: failed to get "
                               "external metric q: unable to get external metric ns/q/")
    obj = metric_failure({"type": "Object", "object": {
        "metric": {"name": "requests-per-second"},
        "describedObject": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                            "name": "main-route"},
        "target": {"type": "Value", "value": "10k"}}}, "default")
    # Upstream's arguments out of order, as kube-controller-manager prints them.
    assert obj[1] == ("unable to get metric requests-per-second: Ingress on default "
                      "main-route/unable to fetch metrics from custom metrics API: no custom "
                      "metrics API (custom.metrics.k8s.io) registered")
    assert obj[2] == f"failed to get object metric value: {obj[1]}"


def test_the_current_count_is_the_targets_spec_not_what_runs_yet() -> None:
    cluster = Cluster(replicas=3)
    cluster.scale["status"]["replicas"] = 0  # just created: nothing runs yet
    _run(cluster, minReplicas=2)
    assert cluster.scaled == []
    assert cluster.statuses[-1]["currentReplicas"] == 3
