"""Table-driven strategies over HTTP: status subresource, generation, 422s for new kinds."""

from __future__ import annotations

from typing import Any

import httpx
import pytest


def deployment(name: str = "web", **spec: Any) -> dict[str, Any]:
    spec.setdefault("replicas", 1)
    spec.setdefault("selector", {"matchLabels": {"app": name}})
    spec.setdefault("template", {"metadata": {"labels": {"app": name}}, "spec": {
        "containers": [{"name": "c", "image": "nginx"}]}})
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": spec}


def fields(r: httpx.Response) -> list[str]:
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["reason"] == "Invalid"
    return [c.get("field", "") for c in body["details"]["causes"]]


def test_deployment_status_subresource_and_generation(client: httpx.Client, ns: str) -> None:
    base = f"/apis/apps/v1/namespaces/{ns}/deployments"
    body = deployment()
    body["status"] = {"replicas": 42}
    r = client.post(base, json=body)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created.get("status", {}).get("replicas") is None
    assert created["metadata"]["generation"] == 1

    status_body = dict(created, status={"replicas": 3, "observedGeneration": 1})
    status_body["spec"] = dict(created["spec"], replicas=9)
    r = client.put(f"{base}/web/status", json=status_body)
    assert r.status_code == 200, r.text
    after_status = r.json()
    assert after_status["status"]["replicas"] == 3
    assert after_status["spec"]["replicas"] == 1
    assert after_status["metadata"]["generation"] == 1

    main = dict(after_status, status={"replicas": 100})
    main["spec"] = dict(after_status["spec"], replicas=2)
    r = client.put(f"{base}/web", json=main)
    assert r.status_code == 200, r.text
    updated = r.json()
    assert updated["status"]["replicas"] == 3
    assert updated["spec"]["replicas"] == 2
    assert updated["metadata"]["generation"] == 2

    same = dict(updated, metadata=dict(updated["metadata"]))
    same["metadata"]["labels"] = {"x": "y"}
    r = client.put(f"{base}/web", json=same)
    assert r.status_code == 200, r.text
    assert r.json()["metadata"]["generation"] == 2


def test_job_gets_generated_selector(client: httpx.Client, ns: str) -> None:
    r = client.post(f"/apis/batch/v1/namespaces/{ns}/jobs", json={
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi"},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}],
                                       "restartPolicy": "Never"}}}})
    assert r.status_code == 201, r.text
    job = r.json()
    uid = job["metadata"]["uid"]
    assert job["spec"]["selector"]["matchLabels"] == {"batch.kubernetes.io/controller-uid": uid}
    assert job["spec"]["template"]["metadata"]["labels"]["batch.kubernetes.io/job-name"] == "pi"


def test_configmap_put_does_not_create(client: httpx.Client, ns: str) -> None:
    r = client.put(f"/api/v1/namespaces/{ns}/configmaps/nope", json={
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "nope"}})
    assert r.status_code == 404, r.text


INVALID: list[tuple[str, str, dict[str, Any], str]] = [
    ("apis/apps/v1", "deployments",
     deployment("bad", selector={"matchLabels": {"app": "other"}}),
     "spec.template.metadata.labels"),
    ("apis/batch/v1", "jobs",
     {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "bad"},
      "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}],
                                     "restartPolicy": "Always"}}}},
     "spec.template.spec.restartPolicy"),
    ("apis/batch/v1", "cronjobs",
     {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "bad"},
      "spec": {"schedule": "not a schedule", "jobTemplate": {"spec": {"template": {"spec": {
          "containers": [{"name": "c", "image": "x"}], "restartPolicy": "Never"}}}}}},
     "spec.schedule"),
    ("apis/policy/v1", "poddisruptionbudgets",
     {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "bad"},
      "spec": {"minAvailable": 1, "maxUnavailable": 1}},
     "spec"),
    ("apis/rbac.authorization.k8s.io/v1", "roles",
     {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "bad"},
      "rules": [{"apiGroups": [""], "resources": ["pods"]}]},
     "rules[0].verbs"),
    ("api/v1", "secrets",
     {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bad"},
      "type": "kubernetes.io/tls", "data": {}},
     "data[tls.key]"),
]


@pytest.mark.parametrize(("prefix", "plural", "body", "field"), INVALID,
                         ids=[row[1] for row in INVALID])
def test_invalid_objects_get_422_with_upstream_paths(
    client: httpx.Client, ns: str, prefix: str, plural: str, body: dict[str, Any], field: str,
) -> None:
    r = client.post(f"/{prefix}/namespaces/{ns}/{plural}", json=body)
    assert field in fields(r)
