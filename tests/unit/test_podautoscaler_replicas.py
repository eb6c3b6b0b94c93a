"""The HPA's replica calculator and resource metrics client, on the cases of upstream's
``replica_calculator_test.go`` (one container per pod, so levels are per pod)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from apiserver.api.labels import LabelSelector, parse_label_selector
from controllers.client.errors import ApiError
from controllers.podautoscaler.metricsclient import (
    MetricsError,
    ResourceMetricsClient,
    milli_value,
    parse_window,
)
from controllers.podautoscaler.replicas import CalculationError, ReplicaCalculator, Tolerances

NOW = datetime(2026, 12, 5, 10, 0, 0, tzinfo=UTC)
LONG_AGO = NOW - timedelta(hours=1)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(name: str, requests: Mapping[str, str] | None = None, *, ready: str = "True",
        phase: str = "Running", started: datetime = LONG_AGO,
        transition: datetime = LONG_AGO, deleting: bool = False,
        containers: Sequence[dict[str, Any]] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "d", "labels": {"app": "web"}}
    if deleting:
        meta["deletionTimestamp"] = stamp(NOW)
    return {
        "metadata": meta,
        "spec": {"containers": list(containers) if containers is not None else [
            {"name": "c", "resources": {"requests": dict(requests or {})}}]},
        "status": {"phase": phase, "startTime": stamp(started), "conditions": [
            {"type": "Ready", "status": ready, "lastTransitionTime": stamp(transition)}]}}


def pod_metrics(name: str, usage: Mapping[str, str], container: str = "c",
                timestamp: datetime = NOW) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "d", "labels": {"app": "web"}},
            "timestamp": stamp(timestamp), "window": "15s",
            "containers": [{"name": container, "usage": dict(usage)}]}


class MetricsAPI:
    """A reader serving a PodMetricsList (or an error) and recording what was asked."""

    def __init__(self, items: list[dict[str, Any]] | None = None,
                 error: ApiError | None = None) -> None:
        self.items = items or []
        self.error = error
        self.asked: list[tuple[str, Mapping[str, str] | None]] = []

    async def request(self, method: str, path: str, *,
                      params: Mapping[str, str] | None = None) -> dict[str, Any]:
        self.asked.append((path, params))
        if self.error is not None:
            raise self.error
        return {"kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1",
                "items": self.items}


def calculator(pods: list[dict[str, Any]], api: MetricsAPI) -> ReplicaCalculator:
    def list_pods(namespace: str, selector: LabelSelector) -> list[dict[str, Any]]:
        return [p for p in pods if selector.matches(p["metadata"]["labels"])]
    return ReplicaCalculator(ResourceMetricsClient(api), list_pods, now=lambda: NOW)


SELECTOR = parse_label_selector("app=web")


def cpu_case(current: int, levels: Sequence[int], target: int, *,
             requests: Sequence[str] | None = None, readiness: Sequence[str] | None = None,
             pods: int | None = None) -> tuple[int, int, int]:
    """Run GetResourceReplicas for cpu: ``levels`` are milli-cores of the first pods."""
    count = pods if pods is not None else len(requests or levels)
    reqs = list(requests or ["1.0"] * count)
    ready = list(readiness or ["True"] * count)
    listed = [pod(f"p-{i}", {"cpu": reqs[i]}, ready=ready[i]) for i in range(count)]
    api = MetricsAPI([pod_metrics(f"p-{i}", {"cpu": f"{level}m"})
                      for i, level in enumerate(levels)])
    return asyncio.run(calculator(listed, api).resource_replicas(
        current, target, "cpu", Tolerances(), "d", SELECTOR))


@pytest.mark.parametrize(("current", "levels", "target", "readiness", "expected"), [
    # TestReplicaCalcScaleUp
    (3, [300, 500, 700], 30, None, (5, 50, 500)),
    # TestReplicaCalcScaleUpUnreadyLessScale: the unready pod counts as 0 on a scale-up
    (3, [300, 500, 700], 30, ["False", "True", "True"], (4, 60, 600)),
    # TestReplicaCalcScaleUpUnreadyNoScale: with unready pods at 0 it would scale down
    (3, [400, 500, 700], 30, ["True", "False", "False"], (3, 40, 400)),
    # TestReplicaCalcScaleDown
    (5, [100, 300, 500, 250, 250], 50, None, (3, 28, 280)),
    # TestReplicaCalcScaleDownIgnoresUnreadyPods
    (5, [100, 300, 500, 250, 250], 50, ["True", "True", "True", "False", "False"],
     (2, 30, 300)),
])
def test_scale_up_and_down_with_unready_pods(current: int, levels: list[int], target: int,
                                             readiness: list[str] | None,
                                             expected: tuple[int, int, int]) -> None:
    assert cpu_case(current, levels, target, readiness=readiness) == expected


def test_tolerance_keeps_the_count() -> None:
    # TestReplicaCalcTolerance: 102 % of a 100 % target is within 10 %.
    assert cpu_case(3, [1010, 1030, 1020], 100, requests=["0.9", "1.0", "1.1"]) == (
        3, 102, 1020)
    # Just outside: 111 % of target.
    assert cpu_case(3, [1110, 1110, 1110], 100)[0] == 4


def test_superfluous_metrics_of_unknown_pods_are_counted_as_upstream() -> None:
    # TestReplicaCalcSuperfluousMetrics: 6 metrics, 4 pods.
    listed = [pod(f"p-{i}", {"cpu": "1.0"}) for i in range(4)]
    api = MetricsAPI([pod_metrics(f"p-{i}", {"cpu": f"{level}m"}) for i, level in
                      enumerate([4000, 9500, 3000, 7000, 3200, 2000])])
    result = asyncio.run(calculator(listed, api).resource_replicas(
        4, 100, "cpu", Tolerances(), "d", SELECTOR))
    assert result == (24, 587, 5875)


@pytest.mark.parametrize(("current", "levels", "pods", "readiness", "target", "expected"), [
    # TestReplicaCalcMissingMetrics: missing pods at 100 % on a scale-down
    (4, [400, 95], 4, None, 100, 3),
    # ...NoChangeEq / Gt / Lt: the assumed values bring it within tolerance
    (2, [1000], 2, None, 100, 2),
    (2, [1900], 2, None, 100, 2),
    (2, [600], 2, None, 100, 2),
    # ...UnreadyNoChange / UnreadyScaleUp / UnreadyScaleDown
    (3, [100, 450], 3, ["False", "True", "True"], 50, 3),
    (3, [100, 2000], 3, ["False", "True", "True"], 50, 4),
    (4, [100, 100, 100], 4, ["False", "True", "True", "True"], 50, 3),
])
def test_missing_metrics(current: int, levels: list[int], pods: int,
                         readiness: list[str] | None, target: int, expected: int) -> None:
    assert cpu_case(current, levels, target, pods=pods, readiness=readiness)[0] == expected


def test_missing_pods_count_at_the_target_when_it_is_above_100_percent() -> None:
    # 2 ready pods at 50 % of a 150 % target, 2 missing: at 100 % they would scale down
    # to 2 (ratio 0.5); at 150 % the ratio is 0.75 → ceil(0.75 * 4) = 3.
    assert cpu_case(4, [500, 500], 150, pods=4)[0] == 3


def test_deleted_failed_and_pending_pods() -> None:
    listed = [pod("p-0", {"cpu": "1"}), pod("p-1", {"cpu": "1"}),
              pod("gone", {"cpu": "1"}, deleting=True),
              pod("failed", {"cpu": "1"}, phase="Failed"),
              pod("pending", {"cpu": "1"}, phase="Pending")]
    api = MetricsAPI([pod_metrics(n, {"cpu": "900m"})
                      for n in ("p-0", "p-1", "gone", "failed", "pending")])
    # 90 % of a 50 % target over the two ready pods; the pending one counts as 0 on the
    # scale-up: 1800m / 3000m = 60 % → ratio 1.2 → ceil(1.2 * 3) = 4.
    replicas, utilization, _ = asyncio.run(calculator(listed, api).resource_replicas(
        3, 50, "cpu", Tolerances(), "d", SELECTOR))
    assert (replicas, utilization) == (4, 90)


def test_cpu_of_a_pod_still_initializing_is_ignored() -> None:
    fresh = NOW - timedelta(minutes=1)
    listed = [pod("old", {"cpu": "1"}),
              # Ready 10 s ago: the 15 s window sampled at NOW started before it was ready.
              pod("new", {"cpu": "1"}, started=fresh,
                  transition=NOW - timedelta(seconds=10)),
              # Ready 20 s ago: a whole window sampled since.
              pod("warm", {"cpu": "1"}, started=fresh,
                  transition=NOW - timedelta(seconds=20))]
    api = MetricsAPI([pod_metrics(n, {"cpu": "1000m"}) for n in ("old", "new", "warm")])
    replicas, utilization, _ = asyncio.run(calculator(listed, api).resource_replicas(
        3, 50, "cpu", Tolerances(), "d", SELECTOR))
    # old and warm at 100 % of a 50 % target; "new" counts as 0 on the scale-up:
    # 2000m / 3000m = 66 % → ratio 1.32 → ceil(1.32 * 3) = 4.
    assert (replicas, utilization) == (4, 100)


def test_a_pod_never_ready_since_its_start_is_ignored_but_not_one_that_was_ready() -> None:
    listed = [pod("p-0", {"cpu": "1"}),
              pod("never", {"cpu": "1"}, ready="False", transition=LONG_AGO),
              pod("was", {"cpu": "1"}, ready="False", transition=NOW - timedelta(minutes=5))]
    api = MetricsAPI([pod_metrics(n, {"cpu": "100m"}) for n in ("p-0", "never", "was")])
    # Scale-down: "never" is dropped, "was" counts: 200m / 2000m = 10 % of 50 % → 1.
    result = asyncio.run(calculator(listed, api).resource_replicas(
        3, 50, "cpu", Tolerances(), "d", SELECTOR))
    assert result[:2] == (1, 10)


def test_memory_ignores_readiness() -> None:
    listed = [pod("p-0", {"memory": "100Mi"}, ready="False"), pod("p-1", {"memory": "100Mi"})]
    api = MetricsAPI([pod_metrics(n, {"memory": "100Mi"}) for n in ("p-0", "p-1")])
    result = asyncio.run(calculator(listed, api).resource_replicas(
        2, 50, "memory", Tolerances(), "d", SELECTOR))
    assert result == (4, 100, 104857600000)


def test_errors_carry_upstreams_messages() -> None:
    with pytest.raises(CalculationError, match=r"^unable to get metrics for resource cpu: no "
                       r"metrics returned from resource metrics API$"):
        cpu_case(4, [], 100, pods=3)
    with pytest.raises(CalculationError, match=r"^missing request for cpu in container c of "
                       r"Pod p-0$"):
        asyncio.run(calculator([pod("p-0")], MetricsAPI([pod_metrics("p-0", {"cpu": "1"})]))
                    .resource_replicas(1, 100, "cpu", Tolerances(), "d", SELECTOR))
    with pytest.raises(CalculationError, match=r"^no pods returned by selector while "
                       r"calculating replica count$"):
        asyncio.run(calculator([], MetricsAPI([pod_metrics("p-0", {"cpu": "1"})]))
                    .resource_replicas(1, 100, "cpu", Tolerances(), "d", SELECTOR))
    with pytest.raises(CalculationError, match=r"^did not receive metrics for targeted pods "
                       r"\(pods might be unready\)$"):
        asyncio.run(calculator([pod("p-0", {"cpu": "1"}, phase="Pending")],
                               MetricsAPI([pod_metrics("p-0", {"cpu": "1"})]))
                    .resource_replicas(1, 100, "cpu", Tolerances(), "d", SELECTOR))
    with pytest.raises(CalculationError, match=r"^no metrics returned matched known pods$"):
        # TestReplicaCalcDisjointResourcesMetrics
        asyncio.run(calculator([pod("p-0", {"cpu": "1"})],
                               MetricsAPI([pod_metrics("other", {"cpu": "1"})]))
                    .resource_replicas(1, 100, "cpu", Tolerances(), "d", SELECTOR))


def test_container_resource_uses_one_containers_request_and_usage() -> None:
    containers = [{"name": "app", "resources": {"requests": {"cpu": "500m"}}},
                  {"name": "sidecar", "resources": {}}]  # no request: not read
    listed = [pod(f"p-{i}", containers=containers) for i in range(2)]
    api = MetricsAPI([{**pod_metrics(f"p-{i}", {"cpu": "1"}), "containers": [
        {"name": "app", "usage": {"cpu": "500m"}}, {"name": "sidecar", "usage": {"cpu": "2"}}]}
        for i in range(2)])
    result = asyncio.run(calculator(listed, api).resource_replicas(
        2, 50, "cpu", Tolerances(), "d", SELECTOR, container="app"))
    assert result == (4, 100, 500)
    with pytest.raises(CalculationError, match=r"^missing request for cpu in container "
                       r"sidecar of Pod p-0$"):
        asyncio.run(calculator(listed, api).resource_replicas(
            2, 50, "cpu", Tolerances(), "d", SELECTOR))
    with pytest.raises(CalculationError, match="container db not present in metrics for pod "
                       "d/p-0"):
        asyncio.run(calculator(listed, api).resource_replicas(
            2, 50, "cpu", Tolerances(), "d", SELECTOR, container="db"))


def test_sidecars_and_pod_level_requests() -> None:
    sidecar = pod("p-0", {"cpu": "300m"})
    sidecar["spec"]["initContainers"] = [
        {"name": "proxy", "restartPolicy": "Always",
         "resources": {"requests": {"cpu": "200m"}}},
        {"name": "init", "resources": {}}]  # a plain init container is not counted
    pod_level = pod("p-1", {})
    pod_level["spec"]["resources"] = {"requests": {"cpu": "500m"}}
    api = MetricsAPI([pod_metrics(n, {"cpu": "500m"}) for n in ("p-0", "p-1")])
    result = asyncio.run(calculator([sidecar, pod_level], api).resource_replicas(
        2, 100, "cpu", Tolerances(), "d", SELECTOR))
    assert result == (2, 100, 500)


def test_average_value_targets() -> None:
    listed = [pod(f"p-{i}") for i in range(3)]  # no requests needed for a value target
    api = MetricsAPI([pod_metrics(f"p-{i}", {"cpu": "250m"}) for i in range(3)])
    result = asyncio.run(calculator(listed, api).raw_resource_replicas(
        3, 100, "cpu", Tolerances(), "d", SELECTOR))
    assert result == (8, 250)
    # A missing pod counts as the target on a scale-down: (50 + 50 + 100) / 3 = 66m of
    # 100m → ratio 0.66 → ceil(0.66 * 3) = 2.
    api = MetricsAPI([pod_metrics(f"p-{i}", {"memory": "50Mi"}) for i in range(2)])
    replicas, usage = asyncio.run(calculator(listed, api).raw_resource_replicas(
        3, milli_value("100Mi") or 0, "memory", Tolerances(), "d", SELECTOR))
    assert (replicas, usage) == (2, 52428800000)


def test_per_direction_tolerances() -> None:
    listed = [pod(f"p-{i}", {"cpu": "1"}) for i in range(2)]
    api = MetricsAPI([pod_metrics(f"p-{i}", {"cpu": "1150m"}) for i in range(2)])
    calc = calculator(listed, api)
    assert asyncio.run(calc.resource_replicas(2, 100, "cpu", Tolerances(0.1, 0.2), "d",
                                              SELECTOR))[0] == 2
    assert asyncio.run(calc.resource_replicas(2, 100, "cpu", Tolerances(0.2, 0.1), "d",
                                              SELECTOR))[0] == 3


def test_metrics_client_reads_the_pod_metrics_list() -> None:
    api = MetricsAPI([
        {**pod_metrics("a", {}), "containers": [{"name": "x", "usage": {"cpu": "12345n"}},
                                                {"name": "y", "usage": {"cpu": "1m"}}]},
        {**pod_metrics("b", {}), "containers": [{"name": "x", "usage": {"memory": "1Ki"}}]},
        {**pod_metrics("c", {}), "containers": []}])
    got = asyncio.run(ResourceMetricsClient(api).resource_metric("cpu", "d", "app=web"))
    assert api.asked == [("/apis/metrics.k8s.io/v1beta1/namespaces/d/pods",
                          {"labelSelector": "app=web"})]
    # 12345n is 0.012345m, rounded up to 1m; b lacks cpu in a container, c has none.
    assert {name: (m.value, m.timestamp, m.window) for name, m in got.items()} == {
        "a": (2, NOW, 15.0)}


def test_metrics_client_errors() -> None:
    absent = MetricsAPI(error=ApiError(404, {"kind": "Status", "message": "not found"}))
    with pytest.raises(MetricsError, match=r"^unable to fetch metrics from resource metrics "
                       r"API: the server could not find the requested resource \(get "
                       r"pods.metrics.k8s.io\)$"):
        asyncio.run(ResourceMetricsClient(absent).resource_metric("cpu", "d", "app=web"))
    down = MetricsAPI(error=ApiError(503, {}))
    with pytest.raises(MetricsError, match=r"the server is currently unable to handle the "
                       r"request \(get pods.metrics.k8s.io\)$"):
        asyncio.run(ResourceMetricsClient(down).resource_metric("cpu", "d", "app=web"))


def test_windows_and_quantities() -> None:
    assert [parse_window(w) for w in ("15s", "1m0s", "500ms", "1m30.5s", "", "x", None)] == [
        15.0, 60.0, 0.5, 90.5, 0.0, 0.0, 0.0]
    assert [milli_value(q) for q in ("1", "0.1", "100m", "1Ki", "12345n", "bad")] == [
        1000, 100, 100, 1024000, 1, None]
