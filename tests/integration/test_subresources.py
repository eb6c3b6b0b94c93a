"""scale, pods/eviction, bindings, componentstatuses and the review kinds over HTTP and kubectl."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.apiserver import ApiServerProcess
from tests.support.kubectl import Kubectl

_MERGE = {"content-type": "application/merge-patch+json"}


@pytest.fixture
def client(apiserver: ApiServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=apiserver.url, timeout=10) as c:
        yield c


def _ns(client: httpx.Client) -> str:
    name = f"sub-{uuid.uuid4().hex[:8]}"
    r = client.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace",
                                                 "metadata": {"name": name}})
    assert r.status_code == 201, r.text
    return name


def _deployment(name: str, replicas: int = 1) -> dict[str, Any]:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}


def _running_pod(client: httpx.Client, ns: str, name: str, labels: dict[str, str],
                 node: str | None = None) -> None:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "nginx"}]}
    if node:
        spec["nodeName"] = node
    r = client.post(f"/api/v1/namespaces/{ns}/pods", json={
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
        "spec": spec})
    assert r.status_code == 201, r.text
    pod = r.json()
    pod["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    r = client.put(f"/api/v1/namespaces/{ns}/pods/{name}/status", json=pod)
    assert r.status_code == 200, r.text


def _budget(client: httpx.Client, ns: str, name: str, allowed: int, app: str = "web") -> None:
    base = f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets"
    r = client.post(base, json={"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                                "metadata": {"name": name},
                                "spec": {"minAvailable": 1,
                                         "selector": {"matchLabels": {"app": app}}}})
    assert r.status_code == 201, r.text
    pdb = r.json()
    pdb["status"] = {"disruptionsAllowed": allowed, "currentHealthy": 2, "desiredHealthy": 1,
                     "expectedPods": 2,
                     "observedGeneration": pdb["metadata"].get("generation", 0)}
    r = client.put(f"{base}/{name}/status", json=pdb)
    assert r.status_code == 200, r.text


def _eviction(name: str, **delete_options: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"apiVersion": "policy/v1", "kind": "Eviction",
                            "metadata": {"name": name}}
    if delete_options:
        body["deleteOptions"] = delete_options
    return body


# -- scale ----------------------------------------------------------------------------


def test_scale_get_put_patch(client: httpx.Client) -> None:
    ns = _ns(client)
    base = f"/apis/apps/v1/namespaces/{ns}/deployments"
    dep = client.post(base, json=_deployment("web", 2)).json()
    r = client.get(f"{base}/web/scale")
    assert r.status_code == 200, r.text
    scale = r.json()
    assert scale == {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {k: dep["metadata"][k] for k in ("name", "namespace", "uid",
                                                     "resourceVersion", "creationTimestamp")},
        "spec": {"replicas": 2}, "status": {"replicas": 0, "selector": "app=web"},
    }
    scale["spec"]["replicas"] = 5
    r = client.put(f"{base}/web/scale", json=scale)
    assert r.status_code == 200, r.text
    assert r.json()["spec"] == {"replicas": 5}
    # The same resourceVersion again is a stale precondition.
    r = client.put(f"{base}/web/scale", json=scale)
    assert r.status_code == 409
    assert r.json()["message"].startswith('Operation cannot be fulfilled on deployments.apps '
                                          '"web"')
    for media, body in (
        ("application/merge-patch+json", b'{"spec":{"replicas":3}}'),
        ("application/strategic-merge-patch+json", b'{"spec":{"replicas":4}}'),
        ("application/json-patch+json", b'[{"op":"replace","path":"/spec/replicas","value":6}]'),
    ):
        r = client.patch(f"{base}/web/scale", content=body, headers={"content-type": media})
        assert r.status_code == 200, (media, r.text)
    assert r.json()["spec"]["replicas"] == 6
    assert client.get(f"{base}/web").json()["spec"]["replicas"] == 6
    r = client.patch(f"{base}/web/scale", content=b'{"spec":{"replicas":-1}}', headers=_MERGE)
    assert r.status_code == 422
    assert r.json()["message"] == ('Scale.autoscaling "web" is invalid: spec.replicas: '
                                   "Invalid value: -1: must be greater than or equal to 0")
    assert r.json()["details"]["kind"] == "Scale"
    r = client.put(f"{base}/web/scale?dryRun=All", json={
        "apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "web"},
        "spec": {"replicas": 9}})
    assert r.status_code == 200 and r.json()["spec"]["replicas"] == 9
    assert client.get(f"{base}/web").json()["spec"]["replicas"] == 6
    r = client.patch(f"{base}/web/scale?fieldManager=hpa", content=(
        b"apiVersion: autoscaling/v1\nkind: Scale\nmetadata:\n  name: web\n"
        b"spec:\n  replicas: 7\n"), headers={"content-type": "application/apply-patch+yaml"})
    assert r.status_code == 200, r.text
    assert client.get(f"{base}/web").json()["spec"]["replicas"] == 7


def test_scale_of_missing_parent_and_other_kinds(client: httpx.Client) -> None:
    ns = _ns(client)
    r = client.get(f"/apis/apps/v1/namespaces/{ns}/deployments/nope/scale")
    assert r.status_code == 404
    assert r.json()["message"] == 'deployments.apps "nope" not found'
    r = client.patch(f"/apis/apps/v1/namespaces/{ns}/deployments/nope/scale",
                     content=b'{"spec":{"replicas":1}}', headers=_MERGE)
    assert r.status_code == 404
    assert r.json()["message"] == 'deployments/scale.apps "nope" not found'
    r = client.post(f"/api/v1/namespaces/{ns}/replicationcontrollers", json={
        "apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "rc"},
        "spec": {"replicas": 1, "selector": {"app": "rc"},
                 "template": {"metadata": {"labels": {"app": "rc"}},
                              "spec": {"containers": [{"name": "c", "image": "i"}]}}}})
    assert r.status_code == 201, r.text
    r = client.patch(f"/api/v1/namespaces/{ns}/replicationcontrollers/rc/scale",
                     content=b'{"spec":{"replicas":2}}', headers=_MERGE)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == {"replicas": 0, "selector": "app=rc"}
    r = client.post(f"/api/v1/namespaces/{ns}/replicationcontrollers/rc/scale", json={})
    assert r.status_code == 405


# -- eviction -------------------------------------------------------------------------


def test_eviction_honours_the_disruption_budget(client: httpx.Client) -> None:
    ns = _ns(client)
    for name in ("a", "b"):
        _running_pod(client, ns, name, {"app": "web"})
    _budget(client, ns, "budget", 1)
    pods = f"/api/v1/namespaces/{ns}/pods"
    pdb_url = f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets/budget"
    r = client.post(f"{pods}/a/eviction?dryRun=All", json=_eviction("a"))
    assert r.status_code == 201, r.text
    assert client.get(f"{pods}/a").status_code == 200
    assert client.get(pdb_url).json()["status"]["disruptionsAllowed"] == 1
    r = client.post(f"{pods}/a/eviction", json=_eviction("a"))
    assert r.status_code == 201, r.text
    assert r.json() == {"kind": "Status", "apiVersion": "v1", "metadata": {},
                        "status": "Success", "code": 201}
    assert client.get(f"{pods}/a").status_code == 404
    status = client.get(pdb_url).json()["status"]
    assert status["disruptionsAllowed"] == 0
    assert list(status["disruptedPods"]) == ["a"]
    r = client.post(f"{pods}/b/eviction", json=_eviction("b"))
    assert r.status_code == 429, r.text
    body = r.json()
    assert body["reason"] == "TooManyRequests"
    assert body["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    assert body["details"]["causes"] == [{
        "reason": "DisruptionBudget",
        "message": "The disruption budget budget needs 1 healthy pods and has 2 currently"}]
    assert client.get(f"{pods}/b").status_code == 200


def test_eviction_edge_cases(client: httpx.Client) -> None:
    ns = _ns(client)
    pods = f"/api/v1/namespaces/{ns}/pods"
    _running_pod(client, ns, "free", {"app": "free"})
    r = client.post(f"{pods}/free/eviction", json=_eviction("free", gracePeriodSeconds=0))
    assert r.status_code == 201, r.text
    assert client.get(f"{pods}/free").status_code == 404
    _running_pod(client, ns, "two", {"app": "web"})
    _budget(client, ns, "one", 1)
    _budget(client, ns, "other", 1)
    r = client.post(f"{pods}/two/eviction", json=_eviction("two"))
    assert r.status_code == 500
    assert r.json()["message"] == ("This pod has more than one PodDisruptionBudget, which the "
                                   "eviction subresource does not support.")
    r = client.post(f"{pods}/two/eviction", json=_eviction("elsewhere"))
    assert r.status_code == 400
    assert client.post(f"{pods}/ghost/eviction", json=_eviction("ghost")).status_code == 404
    _running_pod(client, ns, "solo", {"app": "solo"})
    r = client.post(f"{pods}/solo/eviction", json=_eviction(
        "solo", preconditions={"uid": "not-the-uid"}))
    assert r.status_code == 409, r.text
    assert "Precondition failed: UID in precondition: not-the-uid" in r.json()["message"]
    assert client.get(f"{pods}/solo").status_code == 200


# -- bindings, componentstatuses --------------------------------------------------------


def test_bindings_resource_binds_the_pod(client: httpx.Client) -> None:
    ns = _ns(client)
    r = client.post(f"/api/v1/namespaces/{ns}/pods", json={
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "i"}]}})
    assert r.status_code == 201
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"},
               "target": {"kind": "Node", "name": "node-1"}}
    r = client.post(f"/api/v1/namespaces/{ns}/bindings", json=binding)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "Success"
    assert client.get(f"/api/v1/namespaces/{ns}/pods/p").json()["spec"]["nodeName"] == "node-1"
    assert client.post(f"/api/v1/namespaces/{ns}/bindings", json=binding).status_code == 409
    assert client.get(f"/api/v1/namespaces/{ns}/bindings").status_code == 405


def test_componentstatuses_are_read_only(client: httpx.Client) -> None:
    r = client.get("/api/v1/componentstatuses")
    assert r.status_code == 200, r.text
    assert r.headers["warning"] == '299 - "v1 ComponentStatus is deprecated in v1.19+"'
    items = r.json()["items"]
    assert len(items) == 1
    assert items[0]["conditions"] == [{"type": "Healthy", "status": "True", "message": "ok"}]
    name = items[0]["metadata"]["name"]
    assert client.get(f"/api/v1/componentstatuses/{name}").json()["metadata"]["name"] == name
    table = client.get("/api/v1/componentstatuses",
                       headers={"accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    assert table.status_code == 200 and table.json()["kind"] == "Table"
    assert client.get("/api/v1/componentstatuses/nope").status_code == 404
    assert client.delete(f"/api/v1/componentstatuses/{name}").status_code == 405
    assert client.post("/api/v1/componentstatuses", json={}).status_code == 405


# -- reviews --------------------------------------------------------------------------


_AUTHZ = "/apis/authorization.k8s.io/v1"
_AUTHN = "/apis/authentication.k8s.io/v1"


def _post_review(client: httpx.Client, path: str, kind: str, spec: Any) -> httpx.Response:
    group = "authentication.k8s.io" if path.startswith(_AUTHN) else "authorization.k8s.io"
    body: dict[str, Any] = {"apiVersion": f"{group}/v1", "kind": kind}
    if spec is not None:
        body["spec"] = spec
    return client.post(path, json=body)


def test_access_reviews_are_allowed(client: httpx.Client) -> None:
    attrs = {"verb": "create", "resource": "pods", "namespace": "default"}
    r = _post_review(client, f"{_AUTHZ}/selfsubjectaccessreviews", "SelfSubjectAccessReview",
                     {"resourceAttributes": attrs})
    assert r.status_code == 201, r.text
    assert r.json()["status"] == {"allowed": True}
    assert r.json()["spec"] == {"resourceAttributes": attrs}
    r = _post_review(client, f"{_AUTHZ}/subjectaccessreviews", "SubjectAccessReview",
                     {"user": "bob", "nonResourceAttributes": {"path": "/healthz",
                                                               "verb": "get"}})
    assert r.status_code == 201 and r.json()["status"] == {"allowed": True}
    r = _post_review(client, f"{_AUTHZ}/namespaces/default/localsubjectaccessreviews",
                     "LocalSubjectAccessReview", {"groups": ["g"], "resourceAttributes": attrs})
    assert r.status_code == 201, r.text
    assert r.json()["metadata"]["namespace"] == "default"
    r = _post_review(client, f"{_AUTHZ}/namespaces/kube-system/localsubjectaccessreviews",
                     "LocalSubjectAccessReview", {"groups": ["g"], "resourceAttributes": attrs})
    assert r.status_code == 422
    r = _post_review(client, f"{_AUTHZ}/subjectaccessreviews", "SubjectAccessReview",
                     {"user": "bob"})
    assert r.status_code == 422
    assert "exactly one of nonResourceAttributes or resourceAttributes" in r.json()["message"]
    assert client.get(f"{_AUTHZ}/subjectaccessreviews").status_code == 405
    assert client.get(f"{_AUTHZ}/subjectaccessreviews/x").status_code == 405


def test_rules_token_and_self_subject_reviews(client: httpx.Client) -> None:
    r = _post_review(client, f"{_AUTHZ}/selfsubjectrulesreviews", "SelfSubjectRulesReview",
                     {"namespace": "default"})
    assert r.status_code == 201, r.text
    assert r.json()["status"]["resourceRules"] == [
        {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]
    assert r.json()["status"]["incomplete"] is False
    r = _post_review(client, f"{_AUTHN}/tokenreviews", "TokenReview", {"token": "abc"})
    assert r.status_code == 201, r.text
    assert r.json()["status"] == {"user": {}}
    r = _post_review(client, f"{_AUTHN}/tokenreviews", "TokenReview", {})
    assert r.status_code == 400
    r = _post_review(client, f"{_AUTHN}/selfsubjectreviews", "SelfSubjectReview", None)
    assert r.status_code == 201, r.text
    assert r.json()["status"]["userInfo"] == {"username": "system:anonymous",
                                              "groups": ["system:unauthenticated"]}


# -- kubectl 1.33 ---------------------------------------------------------------------


def _kubectl_ns(client: httpx.Client) -> str:
    return _ns(client)


def test_kubectl_scale_deployment(client: httpx.Client, kubectl_announced: Kubectl) -> None:
    ns = _kubectl_ns(client)
    manifest = _deployment("web")
    manifest["metadata"]["namespace"] = ns
    kubectl_announced("apply", "-f", "-", input=json.dumps(manifest), check=True)
    out = kubectl_announced("scale", "deployment", "web", "--replicas=3", "-n", ns)
    assert out.returncode == 0, out.stderr
    assert "deployment.apps/web scaled" in out.stdout
    r = client.get(f"/apis/apps/v1/namespaces/{ns}/deployments/web")
    assert r.json()["spec"]["replicas"] == 3


def test_kubectl_auth(kubectl_announced: Kubectl) -> None:
    out = kubectl_announced("auth", "can-i", "create", "pods")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "yes"
    out = kubectl_announced("auth", "can-i", "--list")
    assert out.returncode == 0, out.stderr
    assert "*.*" in out.stdout
    out = kubectl_announced("auth", "whoami")
    assert out.returncode == 0, out.stderr
    assert "system:anonymous" in out.stdout


def test_kubectl_drain(client: httpx.Client, kubectl_announced: Kubectl) -> None:
    ns = _kubectl_ns(client)
    node = f"node-{uuid.uuid4().hex[:8]}"
    r = client.post("/api/v1/nodes", json={"apiVersion": "v1", "kind": "Node",
                                            "metadata": {"name": node}})
    assert r.status_code == 201, r.text
    _running_pod(client, ns, "p", {"app": "drained"}, node=node)
    out = kubectl_announced("drain", node, "--dry-run=server", "--ignore-daemonsets", "--force")
    assert out.returncode == 0, out.stderr
    assert f"evicting pod {ns}/p (server dry run)" in out.stdout
    assert client.get(f"/api/v1/namespaces/{ns}/pods/p").status_code == 200
    assert not client.get(f"/api/v1/nodes/{node}").json()["spec"].get("unschedulable")
    out = kubectl_announced("drain", node, "--ignore-daemonsets", "--force",
                            "--grace-period=0", "--timeout=30s")
    assert out.returncode == 0, out.stderr
    assert f"node/{node} drained" in out.stdout
    assert client.get(f"/api/v1/namespaces/{ns}/pods/p").status_code == 404
    assert client.get(f"/api/v1/nodes/{node}").json()["spec"]["unschedulable"] is True
