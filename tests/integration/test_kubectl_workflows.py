"""Everyday kubectl 1.33 workflows that need the whole API surface.

``scale`` (the scale subresource), ``drain`` (evictions honouring a PodDisruptionBudget),
``apply --prune`` (kubectl's built-in prune allowlist must be served), client-side then
server-side apply, ``auth can-i`` (SelfSubjectAccessReview) and ``get all`` (the ``all``
category).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.apiserver import ApiServerProcess
from tests.support.kubectl import Kubectl

#: kube-apiserver 1.33's members of the ``all`` category, as ``kubectl api-resources -o name``.
ALL_CATEGORY = {
    "pods", "replicationcontrollers", "services", "daemonsets.apps", "deployments.apps",
    "replicasets.apps", "statefulsets.apps", "horizontalpodautoscalers.autoscaling",
    "cronjobs.batch", "jobs.batch",
}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def ns(kubectl_announced: Kubectl) -> Iterator[str]:
    name = unique("wf")
    kubectl_announced("create", "namespace", name, check=True)
    try:
        yield name
    finally:
        kubectl_announced("delete", "namespace", name, "--wait=false")


def apply(kubectl: Kubectl, ns: str, *objects: dict[str, Any]) -> None:
    doc = {"apiVersion": "v1", "kind": "List", "items": list(objects)}
    kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(doc), check=True)


def deployment(name: str, replicas: int = 1) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "nginx",
                                                           "image": "nginx:1.27"}]}}}}


def get_json(kubectl: Kubectl, *args: str) -> Any:
    return json.loads(kubectl("get", *args, "-o", "json", check=True).stdout)


def test_scale_deployment(kubectl_announced: Kubectl, ns: str) -> None:
    name = unique("web")
    apply(kubectl_announced, ns, deployment(name))
    result = kubectl_announced("scale", "-n", ns, "deployment", name, "--replicas=3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"deployment.apps/{name} scaled"
    assert get_json(kubectl_announced, "-n", ns, "deployment", name)["spec"]["replicas"] == 3


def write_pdb_status(server: ApiServerProcess, ns: str, name: str, allowed: int) -> None:
    url = f"{server.url}/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets/{name}/status"
    status = {"status": {"observedGeneration": 1, "disruptionsAllowed": allowed,
                         "currentHealthy": 2, "desiredHealthy": 2 - allowed,
                         "expectedPods": 2}}
    response = httpx.patch(url, content=json.dumps(status), timeout=10.0,
                           headers={"Content-Type": "application/merge-patch+json"})
    assert response.status_code == 200, response.text
    assert response.json()["status"]["disruptionsAllowed"] == allowed


def mark_running(server: ApiServerProcess, ns: str, name: str) -> None:
    url = f"{server.url}/api/v1/namespaces/{ns}/pods/{name}/status"
    status = {"status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}]}}
    response = httpx.patch(url, content=json.dumps(status), timeout=10.0,
                           headers={"Content-Type": "application/merge-patch+json"})
    assert response.status_code == 200, response.text


def test_drain_respects_pdb(kubectl_announced: Kubectl, apiserver: ApiServerProcess,
                            ns: str) -> None:
    kubectl = kubectl_announced
    node, app = unique("drain-node"), unique("guarded")
    kubectl("apply", "-f", "-", check=True, input=json.dumps(
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}}))
    try:
        pods = [{"apiVersion": "v1", "kind": "Pod",
                 "metadata": {"name": f"{app}-{i}", "labels": {"app": app}},
                 "spec": {"nodeName": node,
                          "containers": [{"name": "c", "image": "nginx:1.27"}]}}
                for i in range(2)]
        pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
               "metadata": {"name": app},
               "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": app}}}}
        apply(kubectl, ns, *pods, pdb)
        for pod in pods:
            # Only running, ready pods are guarded by the budget (Pending ones are evicted
            # at once, as upstream does); no node agent runs here, so say it by hand.
            mark_running(apiserver, ns, pod["metadata"]["name"])
        write_pdb_status(apiserver, ns, app, allowed=2)

        dry = kubectl("drain", node, "--dry-run=server", "--ignore-daemonsets", "--force",
                      "--timeout=20s")
        assert dry.returncode == 0, dry.stderr
        assert f"node/{node} drained (server dry run)" in dry.stdout
        assert not get_json(kubectl, "node", node).get("spec", {}).get("unschedulable")
        assert len(get_json(kubectl, "-n", ns, "pods", "-l", f"app={app}")["items"]) == 2

        write_pdb_status(apiserver, ns, app, allowed=0)
        real = kubectl("drain", node, "--ignore-daemonsets", "--force", "--timeout=3s")
        assert real.returncode != 0
        assert "Cannot evict pod as it would violate the pod's disruption budget" in real.stderr
        assert get_json(kubectl, "node", node)["spec"]["unschedulable"] is True
        assert len(get_json(kubectl, "-n", ns, "pods", "-l", f"app={app}")["items"]) == 2
    finally:
        kubectl("delete", "node", node, "--wait=false", "--ignore-not-found")


def test_apply_prune(kubectl_announced: Kubectl, ns: str, tmp_path: Path) -> None:
    label = unique("prune")
    names = [unique("keep"), unique("gone")]
    for name in names:
        (tmp_path / f"{name}.json").write_text(json.dumps(
            {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": name, "labels": {"app": label}}, "data": {"k": name}}))
    args = ("apply", "-n", ns, "--prune", "-l", f"app={label}", "-f", str(tmp_path))
    first = kubectl_announced(*args)
    assert first.returncode == 0, first.stderr
    (tmp_path / f"{names[1]}.json").unlink()
    second = kubectl_announced(*args)
    assert second.returncode == 0, second.stderr
    assert f"configmap/{names[1]} pruned" in second.stdout
    listed = get_json(kubectl_announced, "-n", ns, "configmaps", "-l", f"app={label}")
    assert [item["metadata"]["name"] for item in listed["items"]] == [names[0]]


@pytest.mark.parametrize("replicas", [2, 4], ids=["same-manifest", "changed-field"])
def test_client_side_then_server_side_apply(kubectl_announced: Kubectl, ns: str,
                                            tmp_path: Path, replicas: int) -> None:
    """The first ``apply --server-side`` after client-side applies never conflicts, even
    when it changes a field ``kubectl-client-side-apply`` owns: kube-apiserver forces
    conflicts that lie within the live last-applied-configuration (manager ``kubectl``)."""
    name = unique("ssa")
    path = tmp_path / "x.json"
    path.write_text(json.dumps(deployment(name, replicas=2)))
    kubectl_announced("apply", "-n", ns, "-f", str(path), check=True)
    path.write_text(json.dumps(deployment(name, replicas=replicas)))
    result = kubectl_announced("apply", "--server-side", "-n", ns, "-f", str(path))
    assert result.returncode == 0, result.stderr
    assert "conflict" not in result.stderr.lower()
    assert result.stdout.strip() == f"deployment.apps/{name} serverside-applied"
    live = get_json(kubectl_announced, "-n", ns, "deployment", name, "--show-managed-fields")
    assert live["spec"]["replicas"] == replicas
    managers = {entry["manager"]: entry["operation"] for entry in
                live["metadata"]["managedFields"]}
    assert managers.get("kubectl") == "Apply"
    assert "kubectl-client-side-apply" not in managers


def test_auth_can_i(kubectl_announced: Kubectl, ns: str) -> None:
    result = kubectl_announced("auth", "can-i", "create", "pods", "-n", ns)
    assert (result.returncode, result.stdout.strip()) == (0, "yes"), result.stderr


def test_all_category_members(kubectl_announced: Kubectl) -> None:
    result = kubectl_announced("api-resources", "--categories=all", "-o", "name")
    assert set(result.stdout.split()) == ALL_CATEGORY, result.stderr


def test_get_all(kubectl_announced: Kubectl, ns: str) -> None:
    name = unique("every")
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
               "spec": {"selector": {"app": name}, "ports": [{"port": 80}]}}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
           "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
           "spec": {"template": {"spec": {"restartPolicy": "Never",
                                          "containers": [{"name": "c", "image": "busybox"}]}}}}
    apply(kubectl_announced, ns, deployment(name), service, pod, job)
    result = kubectl_announced("get", "all", "-n", ns)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    for shown in (f"pod/{name}", f"service/{name}", f"deployment.apps/{name}",
                  f"job.batch/{name}"):
        assert shown in result.stdout
