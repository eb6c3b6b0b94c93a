"""The HPA controller with a resource metrics API: rescaling, stabilization and rate limits
(with and without ``behavior``), mixed valid/invalid metrics, selectors, status, Events."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from controllers.client.store import Store
from controllers.podautoscaler.behavior import (
    ScalingHistory,
    convert_with_rules,
    rules_with_defaults,
)
from controllers.podautoscaler.controller import HorizontalController
from tests.unit.test_podautoscaler import Cluster

T0 = datetime(2026, 12, 5, 10, 0, 0, tzinfo=UTC)
CPU_50 = [{"type": "Resource", "resource": {
    "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]
QPS = {"type": "Pods", "pods": {"metric": {"name": "qps"},
                                "target": {"type": "AverageValue", "averageValue": "10"}}}


class MetricsCluster(Cluster):
    """A cluster serving ``metrics.k8s.io``: every pod of the scale uses ``usage`` cpu."""

    def __init__(self, replicas: int, usage: str | None = "500m") -> None:
        super().__init__(replicas)
        self.usage = usage

    async def request(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        if path == "/apis/metrics.k8s.io/v1beta1/namespaces/d/pods":
            assert kw["params"] == {"labelSelector": "app=web"}
            if self.usage is None:
                return {"kind": "PodMetricsList", "items": []}
            return {"kind": "PodMetricsList", "items": [
                {"metadata": {"name": f"web-{i}", "namespace": "d"},
                 "timestamp": "2026-12-05T09:59:50Z", "window": "15s",
                 "containers": [{"name": "nginx", "usage": {"cpu": self.usage}}]}
                for i in range(self.scale["spec"]["replicas"])]}
        return await super().request(method, path, **kw)


class Harness:
    """One HPA, its pods and a controller whose clock the test moves."""

    def __init__(self, cluster: Cluster, *, requests: dict[str, str] | None = None,
                 **spec: Any) -> None:
        self.cluster = cluster
        self.now = T0
        self.hpas = Store()
        self.hpa: dict[str, Any] = {
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "d", "uid": "u"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                        "name": "web"},
                     "minReplicas": 1, "maxReplicas": 10, "metrics": CPU_50, **spec},
            "status": {}}
        self.hpas.add(self.hpa)
        self.pods = Store()
        self.requests = {"cpu": "500m"} if requests is None else requests
        self.controller = HorizontalController(
            self.hpas, cluster, cluster, pods=self.pods,  # type: ignore[arg-type]
            now=lambda: self.now)

    def sync(self, after: float = 0.0) -> dict[str, Any]:
        """Advance the clock, make the pods match the scale, sync; the written status."""
        self.now += timedelta(seconds=after)
        for key in self.pods.list_keys():
            self.pods.delete_key(key)
        for i in range(self.cluster.scale["spec"]["replicas"]):
            self.pods.add({
                "metadata": {"name": f"web-{i}", "namespace": "d", "labels": {"app": "web"}},
                "spec": {"containers": [{"name": "nginx", "resources": {
                    "requests": self.requests}}]},
                "status": {"phase": "Running", "startTime": "2026-12-05T09:00:00Z",
                           "conditions": [{"type": "Ready", "status": "True",
                                           "lastTransitionTime": "2026-12-05T09:00:10Z"}]}})
        asyncio.run(self.controller.sync("d/web"))
        if self.cluster.scaled:
            self.cluster.scale["spec"]["replicas"] = self.cluster.scaled[-1]
        if self.cluster.statuses:
            self.hpa["status"] = self.cluster.statuses[-1]
        return self.hpa["status"]


def conditions(status: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


def test_scale_up_on_cpu_writes_upstreams_status_conditions_and_event() -> None:
    cluster = MetricsCluster(replicas=2, usage="400m")  # 80 % of request, target 50 %
    status = Harness(cluster).sync()
    assert cluster.scaled == [4]  # ceil(1.6 * 2)
    assert cluster.events == [("Normal", "SuccessfulRescale", "New size: 4; reason: cpu "
                               "resource utilization (percentage of request) above target")]
    assert (status["currentReplicas"], status["desiredReplicas"]) == (2, 4)
    assert status["lastScaleTime"] == "2026-12-05T10:00:00Z"
    assert status["currentMetrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "current": {"averageUtilization": 80, "averageValue": "400m"}}}]
    assert [c["type"] for c in status["conditions"]] == [
        "AbleToScale", "ScalingActive", "ScalingLimited"]
    assert conditions(status) == {"AbleToScale": ("True", "SucceededRescale"),
                                  "ScalingActive": ("True", "ValidMetricFound"),
                                  "ScalingLimited": ("False", "DesiredWithinRange")}
    active = next(c for c in status["conditions"] if c["type"] == "ScalingActive")
    assert active["message"] == ("the HPA was able to successfully calculate a replica count "
                                 "from cpu resource utilization (percentage of request)")


def test_within_tolerance_nothing_changes() -> None:
    cluster = MetricsCluster(replicas=3, usage="260m")  # 52 % of request
    status = Harness(cluster).sync()
    assert cluster.scaled == [] and cluster.events == []
    assert (status["currentReplicas"], status["desiredReplicas"]) == (3, 3)
    assert "lastScaleTime" not in status
    assert conditions(status)["AbleToScale"] == ("True", "ReadyForNewScale")


def test_without_behavior_scale_up_is_capped_and_scale_down_stabilized() -> None:
    cluster = MetricsCluster(replicas=1, usage="5")  # 1000 % of request: 20 pods
    status = Harness(cluster).sync()
    assert cluster.scaled == [4]  # max(2 * 1, 4)
    assert conditions(status)["ScalingLimited"] == ("True", "ScaleUpLimit")

    cluster = MetricsCluster(replicas=4, usage="400m")  # 80 %: 7 pods
    harness = Harness(cluster)
    harness.sync()
    assert cluster.scaled == [7]
    cluster.usage = "50m"  # 10 %: the metrics ask for 2
    status = harness.sync(after=60)
    assert cluster.scaled == [7]
    assert conditions(status)["AbleToScale"] == ("True", "ScaleDownStabilized")
    assert status["desiredReplicas"] == 7
    harness.sync(after=301)  # the 7-pod recommendation left the 5 min window
    assert cluster.scaled == [7, 2]
    assert cluster.events[-1] == ("Normal", "SuccessfulRescale",
                                  "New size: 2; reason: All metrics below target")


def test_behavior_policies_limit_the_rate_and_default_the_rest() -> None:
    cluster = MetricsCluster(replicas=6, usage="50m")  # 10 %: the metrics ask for 2
    harness = Harness(cluster, behavior={"scaleDown": {
        "stabilizationWindowSeconds": 0,
        "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}})
    status = harness.sync()
    assert cluster.scaled == [5]
    assert conditions(status)["ScalingLimited"] == ("True", "ScaleDownLimit")
    status = harness.sync(after=30)  # one pod already removed within the 60 s period
    assert cluster.scaled == [5]
    assert conditions(status)["ScalingLimited"] == ("True", "ScaleDownLimit")
    harness.sync(after=31)
    assert cluster.scaled == [5, 4]


def test_behavior_scale_up_disabled_and_default_scale_down_window() -> None:
    cluster = MetricsCluster(replicas=2, usage="500m")
    harness = Harness(cluster, behavior={"scaleUp": {"selectPolicy": "Disabled"}})
    status = harness.sync()
    assert cluster.scaled == []
    assert conditions(status)["ScalingLimited"] == ("True", "ScaleUpLimit")
    cluster.usage = "50m"
    status = harness.sync(after=15)
    # scaleDown left unset: the 300 s window of the flag holds the initial count of 2.
    assert cluster.scaled == []
    assert conditions(status)["AbleToScale"] == ("True", "ScaleDownStabilized")


def test_mixed_metrics_scale_up_on_the_valid_one_but_never_down() -> None:
    cluster = MetricsCluster(replicas=2, usage="500m")
    status = Harness(cluster, metrics=[QPS, *CPU_50]).sync()
    assert cluster.scaled == [4]
    assert status["currentMetrics"][0] == {"type": ""}
    assert conditions(status)["ScalingActive"] == ("True", "ValidMetricFound")
    assert cluster.events[0][:2] == ("Warning", "FailedGetPodsMetric")

    cluster = MetricsCluster(replicas=4, usage="50m")
    status = Harness(cluster, metrics=[QPS, *CPU_50]).sync()
    assert cluster.scaled == []
    assert conditions(status)["ScalingActive"] == ("False", "FailedGetPodsMetric")
    assert cluster.events[-1] == (
        "Warning", "FailedComputeMetricsReplicas",
        "invalid metrics (1 invalid out of 2), first error is: failed to get pods metric "
        "value: unable to get metric qps: unable to fetch metrics from custom metrics API: "
        "no custom metrics API (custom.metrics.k8s.io) registered")


def test_no_metrics_for_the_pods_and_missing_requests() -> None:
    # (b) of the integration test: metrics.k8s.io served, but nothing measured the pods.
    cluster = MetricsCluster(replicas=2, usage=None)
    status = Harness(cluster, requests={}).sync()
    inner = ("failed to get cpu utilization: unable to get metrics for resource cpu: no "
             "metrics returned from resource metrics API")
    assert cluster.events == [
        ("Warning", "FailedGetResourceMetric", inner),
        ("Warning", "FailedComputeMetricsReplicas", "invalid metrics (1 invalid out of 1), "
         f"first error is: failed to get cpu resource metric value: {inner}")]
    assert conditions(status)["ScalingActive"] == ("False", "FailedGetResourceMetric")
    assert status["currentMetrics"] == [{"type": ""}]
    # Measured, but the nginx pods request no cpu.
    cluster = MetricsCluster(replicas=2, usage="1m")
    Harness(cluster, requests={}).sync()
    assert cluster.events[0] == ("Warning", "FailedGetResourceMetric",
                                 "failed to get cpu utilization: missing request for cpu in "
                                 "container nginx of Pod web-0")


def test_average_value_and_container_resource_statuses() -> None:
    cluster = MetricsCluster(replicas=2, usage="150m")
    status = Harness(cluster, metrics=[{"type": "ContainerResource", "containerResource": {
        "name": "cpu", "container": "nginx",
        "target": {"type": "AverageValue", "averageValue": "100m"}}}]).sync()
    assert cluster.scaled == [3]
    assert status["currentMetrics"] == [{"type": "ContainerResource", "containerResource": {
        "name": "cpu", "container": "nginx", "current": {"averageValue": "150m"}}}]
    assert cluster.events[-1][2] == "New size: 3; reason: cpu resource above target"


def test_selector_problems() -> None:
    cluster = MetricsCluster(replicas=2)
    del cluster.scale["status"]["selector"]
    status = Harness(cluster).sync()
    assert cluster.events == [("Warning", "SelectorRequired", "selector is required"),
                              ("Warning", "FailedComputeMetricsReplicas",
                               "selector is required")]
    assert conditions(status)["ScalingActive"] == ("False", "InvalidSelector")
    assert "currentMetrics" not in status

    cluster = MetricsCluster(replicas=2)
    harness = Harness(cluster)
    twin = {**harness.hpa, "metadata": {"name": "twin", "namespace": "d", "uid": "v"}}
    harness.hpas.add(twin)
    harness.sync()
    asyncio.run(harness.controller.sync("d/twin"))
    assert cluster.events[-2] == ("Warning", "AmbiguousSelector", "pods by selector app=web "
                                  "are controlled by multiple HPAs: [d/twin d/web]")


def test_history_rules() -> None:
    up, down = rules_with_defaults({"scaleDown": {"selectPolicy": "Min"}}, 120)
    assert up["policies"] == [{"type": "Pods", "value": 4, "periodSeconds": 15},
                              {"type": "Percent", "value": 100, "periodSeconds": 15}]
    assert (down["selectPolicy"], down["stabilizationWindowSeconds"]) == ("Min", 120)
    assert convert_with_rules(3, 0, 2, 10) == (2, (
        "TooFewReplicas", "the desired replica count is less than the minimum replica count"))
    assert convert_with_rules(3, 20, 1, 5)[0] == 5
    history = ScalingHistory()
    spec = {"maxReplicas": 100, "behavior": {}}
    history.record_initial("k", 10, T0)
    # Default scale-up: max(10 + 4, 10 * 2) = 20 within 15 s.
    result = history.normalize("k", spec, 10, 50, 1, T0)
    assert (result.replicas, result.scaling_limited[0]) == (20, "ScaleUpLimit")
    history.store_scale_event("k", spec, 10, 20, T0)
    # 5 s later the period still started at 10: nothing more.
    assert history.normalize("k", spec, 20, 50, 1, T0 + timedelta(seconds=5)).replicas == 20
    assert history.normalize("k", spec, 20, 50, 1, T0 + timedelta(seconds=16)).replicas == 40
    history.forget("k")
    assert "k" not in history.recommendations and "k" not in history.scale_ups
