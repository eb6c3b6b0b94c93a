"""Built-in kinds of two versions: Events and HPAs converted both ways without loss."""

from __future__ import annotations

import copy
import json

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
    annotations = v1["metadata"]["annotations"]
    # Upstream's v1 shapes: MetricSpec/MetricStatus of autoscaling/v1, every current
    # metric (CPU too), behavior with Go's field names.
    assert json.loads(annotations["autoscaling.alpha.kubernetes.io/metrics"]) == [
        {"type": "Pods", "pods": {"metricName": "qps", "targetAverageValue": "10"}}]
    assert json.loads(annotations["autoscaling.alpha.kubernetes.io/current-metrics"]) == [
        {"type": "Resource", "resource": {"name": "cpu", "currentAverageUtilization": 41,
                                          "currentAverageValue": "41m"}}]
    assert json.loads(annotations["autoscaling.alpha.kubernetes.io/behavior"]) == {
        "ScaleUp": None, "ScaleDown": {"StabilizationWindowSeconds": 30,
                                       "SelectPolicy": None, "Policies": None,
                                       "Tolerance": None}}
    assert annotations["team"] == "a"
    back = convert(v1, "autoscaling/v2")
    # The other metrics first, the CPU target last, as upstream's conversion orders them.
    assert back["spec"]["metrics"] == [HPA_V2["spec"]["metrics"][0],
                                       HPA_V2["spec"]["metrics"][1]]
    assert back["spec"]["behavior"] == HPA_V2["spec"]["behavior"]
    assert back["status"]["conditions"] == HPA_V2["status"]["conditions"]
    assert back["status"]["currentMetrics"] == HPA_V2["status"]["currentMetrics"]
    assert back["metadata"]["annotations"] == {"team": "a"}
    assert HPA_V2["apiVersion"] == "autoscaling/v2"  # the input is left alone


def test_round_trip_annotations_never_reach_v2_from_a_user() -> None:
    v2 = copy.deepcopy(HPA_V2)
    v2["metadata"]["annotations"]["autoscaling.alpha.kubernetes.io/metrics"] = "[]"
    v1 = convert(v2, "autoscaling/v1")
    assert json.loads(v1["metadata"]["annotations"][
        "autoscaling.alpha.kubernetes.io/metrics"])[0]["type"] == "Pods"


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


def test_every_metric_type_round_trips() -> None:
    described = {"kind": "Ingress", "name": "main", "apiVersion": "networking.k8s.io/v1"}
    metrics = [
        {"type": "ContainerResource", "containerResource": {
            "name": "memory", "container": "app",
            "target": {"type": "AverageValue", "averageValue": "1Gi"}}},
        {"type": "Object", "object": {"describedObject": described,
                                      "metric": {"name": "rps"},
                                      "target": {"type": "Value", "value": "10k"}}},
        {"type": "External", "external": {
            "metric": {"name": "queue", "selector": {"matchLabels": {"q": "jobs"}}},
            "target": {"type": "AverageValue", "averageValue": "30"}}},
    ]
    current = [{"type": "Object", "object": {"describedObject": described,
                                             "metric": {"name": "rps"},
                                             "current": {"value": "9k"}}}]
    hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
           "metadata": {"name": "h"}, "spec": {"maxReplicas": 3, "metrics": metrics},
           "status": {"currentMetrics": current, "desiredReplicas": 1}}
    v1 = convert(hpa, "autoscaling/v1")
    assert json.loads(v1["metadata"]["annotations"][
        "autoscaling.alpha.kubernetes.io/metrics"])[1] == {
        "type": "Object", "object": {"target": described, "metricName": "rps",
                                     "targetValue": "10k"}}
    back = convert(v1, "autoscaling/v2")
    assert back["spec"]["metrics"] == metrics
    assert back["status"]["currentMetrics"] == current
