"""One object, two versions: ``autoscaling/v1``+``v2`` HPAs and core+``events.k8s.io/v1``
Events share their storage, as upstream serves them (read, list, watch, write, select)."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx

from tests.support.kubectl import Kubectl

_MERGE = {"content-type": "application/merge-patch+json"}


def _hpa_v2(name: str) -> dict[str, Any]:
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                        "name": "web"},
                     "minReplicas": 2, "maxReplicas": 5,
                     "metrics": [
                         {"type": "Resource", "resource": {"name": "cpu", "target": {
                             "type": "Utilization", "averageUtilization": 50}}},
                         {"type": "Resource", "resource": {"name": "memory", "target": {
                             "type": "AverageValue", "averageValue": "100Mi"}}}]}}


def test_an_hpa_is_one_object_in_both_versions(client: httpx.Client, ns: str) -> None:
    v2 = f"/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers"
    v1 = f"/apis/autoscaling/v1/namespaces/{ns}/horizontalpodautoscalers"
    created = client.post(v2, json=_hpa_v2("web"))
    assert created.status_code == 201, created.text
    seen = client.get(f"{v1}/web").json()
    assert seen["apiVersion"] == "autoscaling/v1"
    assert seen["spec"] == {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                               "name": "web"},
                            "minReplicas": 2, "maxReplicas": 5,
                            "targetCPUUtilizationPercentage": 50}
    kept = json.loads(seen["metadata"]["annotations"]["autoscaling.alpha.kubernetes.io/metrics"])
    assert kept == [{"type": "Resource", "resource": {"name": "memory",
                                                      "targetAverageValue": "100Mi"}}]
    assert seen["metadata"]["resourceVersion"] == created.json()["metadata"]["resourceVersion"]
    assert [i["metadata"]["name"] for i in client.get(v1).json()["items"]] == ["web"]

    # A write through v1 keeps what only v2 can say.
    patched = client.patch(f"{v1}/web", json={"spec": {"targetCPUUtilizationPercentage": 70}},
                           headers=_MERGE)
    assert patched.status_code == 200, patched.text
    back = client.get(f"{v2}/web").json()
    # As upstream orders them after a v1 write: the other metrics, then the CPU target.
    assert back["spec"]["metrics"] == [
        {"type": "Resource", "resource": {"name": "memory", "target": {
            "type": "AverageValue", "averageValue": "100Mi"}}},
        {"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": 70}}}]
    assert "annotations" not in back["metadata"]

    # Only a v1 object carries the round-trip annotations: a v2 write drops them.
    tagged = _hpa_v2("tagged")
    tagged["metadata"]["annotations"] = {"autoscaling.alpha.kubernetes.io/metrics": "[]",
                                         "team": "a"}
    made = client.post(v2, json=tagged)
    assert made.status_code == 201 and made.json()["metadata"]["annotations"] == {"team": "a"}
    # Created through v1 without a target: v2 shows its default 80% CPU.
    plain = client.post(v1, json={"apiVersion": "autoscaling/v1",
                                  "kind": "HorizontalPodAutoscaler", "metadata": {"name": "db"},
                                  "spec": {"scaleTargetRef": {"kind": "Deployment",
                                                              "name": "db"},
                                           "maxReplicas": 3}})
    assert plain.status_code == 201, plain.text
    assert plain.json()["apiVersion"] == "autoscaling/v1"
    assert client.get(f"{v2}/db").json()["spec"]["metrics"][0]["resource"]["target"] == {
        "type": "Utilization", "averageUtilization": 80}
    assert client.delete(f"{v1}/db").status_code == 200
    assert client.get(f"{v2}/db").status_code == 404


def test_events_are_one_object_in_both_groups(client: httpx.Client, ns: str) -> None:
    core = f"/api/v1/namespaces/{ns}/events"
    v1 = f"/apis/events.k8s.io/v1/namespaces/{ns}/events"
    watched: list[dict[str, Any]] = []
    ready = threading.Event()

    def watch() -> None:
        with httpx.stream("GET", client.base_url.join(v1), params={
                "watch": "1", "timeoutSeconds": "10",
                "fieldSelector": "regarding.name=web-1"}, timeout=15) as resp:
            ready.set()
            for line in resp.iter_lines():
                if line:
                    watched.append(json.loads(line))
                    return

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    ready.wait(5)
    body = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "web-1.abc"},
            "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": ns},
            "reason": "Started", "message": "Started container web", "type": "Normal",
            "source": {"component": "kubelet", "host": "node-1"}, "count": 1,
            "firstTimestamp": "2026-12-05T10:00:00Z", "lastTimestamp": "2026-12-05T10:00:00Z"}
    assert client.post(core, json=body).status_code == 201
    thread.join(10)
    assert watched and watched[0]["type"] == "ADDED"
    event = watched[0]["object"]
    assert event["apiVersion"] == "events.k8s.io/v1"
    assert (event["note"], event["regarding"]["name"], event["deprecatedSource"],
            event["deprecatedCount"]) == ("Started container web", "web-1",
                                          {"component": "kubelet", "host": "node-1"}, 1)
    assert "message" not in event and "involvedObject" not in event
    # Field selectors under each version's names; a write through events.k8s.io.
    listed = client.get(v1, params={"fieldSelector": "regarding.kind=Pod,reason=Started"})
    assert [e["metadata"]["name"] for e in listed.json()["items"]] == ["web-1.abc"]
    wrong = client.get(v1, params={"fieldSelector": "involvedObject.kind=Pod"})
    assert wrong.status_code == 400
    assert wrong.json()["message"] == "field label not supported: involvedObject.kind"
    new = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "web-2.x"},
           "eventTime": "2026-12-05T10:00:01.000000Z", "reportingController": "kubemu/test",
           "reportingInstance": "test-1", "action": "Testing", "reason": "Checked",
           "type": "Normal", "note": "through the new group",
           "regarding": {"kind": "Pod", "name": "web-2", "namespace": ns}}
    made = client.post(v1, json=new)
    assert made.status_code == 201, made.text
    assert made.json()["note"] == "through the new group"
    legacy = client.get(f"{core}/web-2.x").json()
    assert (legacy["apiVersion"], legacy["message"], legacy["reportingComponent"],
            legacy["involvedObject"]["name"]) == ("v1", "through the new group",
                                                  "kubemu/test", "web-2")
    by_component = client.get(core, params={"fieldSelector": "reportingComponent=kubemu/test"})
    assert [e["metadata"]["name"] for e in by_component.json()["items"]] == ["web-2.x"]


def test_kubectl_sees_both_versions(kubectl: Kubectl, client: httpx.Client, ns: str) -> None:
    assert client.post(f"/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers",
                       json=_hpa_v2("web")).status_code == 201
    out = kubectl("get", "hpa.v1.autoscaling", "-n", ns, check=True).stdout
    assert out.split("\n")[1].split()[:2] == ["web", "Deployment/web"]
    client.post(f"/api/v1/namespaces/{ns}/events", json={
        "apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1"},
        "involvedObject": {"kind": "Pod", "name": "p", "namespace": ns}, "reason": "Seen",
        "message": "hello", "type": "Normal", "count": 1,
        "firstTimestamp": "2026-12-05T10:00:00Z", "lastTimestamp": "2026-12-05T10:00:00Z"})
    out = kubectl("get", "events.v1.events.k8s.io", "-n", ns, check=True).stdout
    assert "Seen" in out and "pod/p" in out and "hello" in out
