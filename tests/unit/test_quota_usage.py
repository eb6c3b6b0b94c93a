"""Quantities and quota usage evaluation (apiserver.api.quantity / apiserver.api.quota)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from apiserver.api import quota as q
from apiserver.api.podresources import pod_requests
from apiserver.api.quantity import Quantity, canonical

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(("text", "shown"), [
    ("1.5Gi", "1536Mi"), ("0.5", "500m"), ("2000m", "2"), ("1e3", "1e3"), ("1024", "1024"),
    ("1000Ki", "1000Ki"), ("0", "0"), ("100Mi", "100Mi"), ("1.5", "1500m"), ("2048Ki", "2Mi"),
])
def test_canonical_quantities(text: str, shown: str) -> None:
    assert canonical(text) == shown


def test_sums_keep_the_first_nonzero_format() -> None:
    mi, one = Quantity.parse("128Mi"), Quantity.parse("1")
    zero = Quantity.parse("0")
    assert mi is not None and one is not None and zero is not None
    assert str(mi + mi) == "256Mi"
    assert str(zero + mi) == "128Mi"
    assert str(Quantity.parse("500m") + one) == "1500m"  # type: ignore[operator]


def _pod(*containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"spec": {"containers": list(containers), **spec}}


def _c(requests: dict[str, str] | None = None, limits: dict[str, str] | None = None) \
        -> dict[str, Any]:
    return {"name": "c", "resources": {"requests": requests or {}, "limits": limits or {}}}


def test_pod_requests_take_the_larger_of_init_and_app_containers() -> None:
    pod = _pod(_c({"cpu": "100m"}), _c({"cpu": "200m"}),
               initContainers=[_c({"cpu": "500m", "memory": "1Gi"})],
               overhead={"cpu": "10m"})
    assert {k: str(v) for k, v in pod_requests(pod).items()} == {"cpu": "510m",
                                                                 "memory": "1Gi"}


def test_pod_usage_and_terminal_pods() -> None:
    pod = _pod(_c({"cpu": "250m", "memory": "64Mi", "example.com/gpu": "1"},
                  {"cpu": "1", "memory": "64Mi"}))
    assert q.to_api(q.usage("", "pods", pod, NOW)) == {
        "count/pods": "1", "cpu": "250m", "limits.cpu": "1", "limits.memory": "64Mi",
        "memory": "64Mi", "pods": "1", "requests.cpu": "250m",
        "requests.example.com/gpu": "1", "requests.memory": "64Mi"}
    pod["status"] = {"phase": "Succeeded"}
    assert q.to_api(q.usage("", "pods", pod, NOW)) == {"count/pods": "1"}
    gone = _pod(_c({"cpu": "1"}))
    gone["metadata"] = {"deletionTimestamp": "2025-12-31T23:59:00Z",
                        "deletionGracePeriodSeconds": 30}
    assert q.to_api(q.usage("", "pods", gone, NOW)) == {"count/pods": "1"}


def test_other_evaluators() -> None:
    lb = {"spec": {"type": "LoadBalancer", "ports": [{"port": 80}, {"port": 443}]}}
    assert q.to_api(q.usage("", "services", lb, NOW)) == {
        "count/services": "1", "services": "1", "services.loadbalancers": "1",
        "services.nodeports": "2"}
    claim = {"spec": {"storageClassName": "fast", "resources": {"requests": {"storage": "1Gi"}}}}
    assert q.to_api(q.usage("", "persistentvolumeclaims", claim, NOW)) == {
        "count/persistentvolumeclaims": "1", "fast.storageclass.storage.k8s.io/"
        "persistentvolumeclaims": "1", "fast.storageclass.storage.k8s.io/requests.storage":
        "1Gi", "persistentvolumeclaims": "1", "requests.storage": "1Gi"}
    assert q.to_api(q.usage("", "secrets", {}, NOW)) == {"count/secrets": "1", "secrets": "1"}
    assert q.to_api(q.usage("apps", "deployments", {}, NOW)) == {"count/deployments.apps": "1"}
    assert q.tracks("apps", "deployments", "count/deployments.apps")
    assert not q.tracks("", "pods", "services")


def test_scopes() -> None:
    best_effort = _pod(_c())
    burstable = _pod(_c({"cpu": "1"}), activeDeadlineSeconds=30, priorityClassName="high")

    def quota(*scopes: str, **selector: Any) -> dict[str, Any]:
        spec: dict[str, Any] = {"scopes": list(scopes)}
        if selector:
            spec["scopeSelector"] = {"matchExpressions": [selector]}
        return {"spec": spec}

    def matches(qu: dict[str, Any], pod: dict[str, Any]) -> bool:
        return q.matches_scopes(qu, "", "pods", pod)

    assert matches(quota("BestEffort"), best_effort)
    assert not matches(quota("BestEffort"), burstable)
    assert matches(quota("NotBestEffort", "Terminating"), burstable)
    assert matches(quota("NotTerminating"), best_effort)
    high = quota(scopeName="PriorityClass", operator="In", values=["high"])
    assert matches(high, burstable) and not matches(high, best_effort)
    assert not q.matches_scopes(quota("BestEffort"), "", "services", {})
    cross = _pod(_c(), affinity={"podAntiAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "podAffinityTerm": {
            "namespaceSelector": {}, "topologyKey": "zone"}}]}})
    assert matches(quota("CrossNamespacePodAffinity"), cross)
    assert not matches(quota("CrossNamespacePodAffinity"), best_effort)
    used = q.total_usage(quota("BestEffort"), {"pods": Quantity.parse("5")},  # type: ignore[dict-item]
                         {("", "pods"): [best_effort, burstable]}, NOW)
    assert q.to_api(used) == {"pods": "1"}
