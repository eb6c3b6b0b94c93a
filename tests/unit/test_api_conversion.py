"""Built-in kinds of two versions: Events and HPAs converted both ways without loss."""

from __future__ import annotations

import pytest

from apiserver.api.conversion import convert

HPA_V2 = {
    "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "web", "annotations": {"team": "a"}},
    "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 4,
             "metrics": [
                 {"type": "Pods", "pods": {"metric": {"name": "qps"},
                                           "target": {"type": "AverageValue",
                                                      "averageValue": "10"}}},
                 {"type": "Resource", "resource": {"name": "cpu", "target": {
                     "type": "Utilization", "averageUtilization": 60}}}],
             "behavior": {"scaleDown": {"stabilizationWindowSeconds": 30}}},
    "status": {"currentReplicas": 2, "desiredReplicas": 3,
               "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {
                   "averageUtilization": 41, "averageValue": "41m"}}}],
               "conditions": [{"type": "AbleToScale", "status": "True"}]},
}


def test_an_hpa_round_trips_through_v1() -> None:
    v1 = convert(HPA_V2, "autoscaling/v1")
    assert v1["apiVersion"] == "autoscaling/v1"
    assert v1["spec"] == {"scaleTargetRef": {"kind": "Deployment", "name": "web"},
                          "maxReplicas": 4, "targetCPUUtilizationPercentage": 60}
    assert v1["status"] == {"currentReplicas": 2, "desiredReplicas": 3,
                            "currentCPUUtilizationPercentage": 41}
    assert set(v1["metadata"]["annotations"]) == {
        "team", "autoscaling.alpha.kubernetes.io/metrics",
        "autoscaling.alpha.kubernetes.io/behavior",
        "autoscaling.alpha.kubernetes.io/conditions"}
    back = convert(v1, "autoscaling/v2")
    assert back["spec"]["metrics"] == [HPA_V2["spec"]["metrics"][1],
                                       HPA_V2["spec"]["metrics"][0]]
    assert back["spec"]["behavior"] == HPA_V2["spec"]["behavior"]
    assert back["status"]["conditions"] == HPA_V2["status"]["conditions"]
    assert back["status"]["currentMetrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "current": {"averageUtilization": 41}}}]
    assert back["metadata"]["annotations"] == {"team": "a"}
    assert HPA_V2["apiVersion"] == "autoscaling/v2"  # the input is left alone


def test_events_rename_their_fields_both_ways() -> None:
    core = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"},
            "involvedObject": {"kind": "Pod", "name": "p"}, "message": "m", "count": 2,
            "source": {"component": "kubelet"}, "reportingComponent": "kubelet",
            "firstTimestamp": "t1", "lastTimestamp": "t2", "reason": "R", "type": "Normal"}
    new = convert(core, "events.k8s.io/v1")
    assert new == {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"},
                   "regarding": {"kind": "Pod", "name": "p"}, "note": "m",
                   "deprecatedCount": 2, "deprecatedSource": {"component": "kubelet"},
                   "reportingController": "kubelet", "deprecatedFirstTimestamp": "t1",
                   "deprecatedLastTimestamp": "t2", "reason": "R", "type": "Normal"}
    assert convert(new, "v1") == core


def test_unknown_pairs_are_refused() -> None:
    with pytest.raises(ValueError, match="cannot convert"):
        convert({"apiVersion": "v1", "kind": "Pod"}, "apps/v1")
