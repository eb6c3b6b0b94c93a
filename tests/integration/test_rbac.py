"""``--authorization-mode=RBAC`` on a real apiserver, with kubectl and plain HTTP.

Until authentication is configured every request is ``system:anonymous``, so the server is
first started open (AlwaysAllow) to create the policy this module needs — a namespace, a
ServiceAccount with a Role granting ``get,list`` on pods, and bindings that let the
anonymous user discover the API and ask access reviews — and then restarted on the same
data with ``--authorization-mode=RBAC``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.apiserver import ApiServerProcess, start_apiserver
from tests.support.kubectl import Kubectl
from tests.support.process import Process

G = "rbac.authorization.k8s.io"
RBAC = f"/apis/{G}/v1"
NS = "team"


def _binding(kind: str, name: str, role_kind: str, role: str, subjects: list[dict[str, Any]],
             namespace: str = "") -> dict[str, Any]:
    md: dict[str, Any] = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": f"{G}/v1", "kind": kind, "metadata": md, "subjects": subjects,
            "roleRef": {"apiGroup": G, "kind": role_kind, "name": role}}


ANONYMOUS = {"kind": "User", "name": "system:anonymous", "apiGroup": G}


def _setup(client: httpx.Client) -> None:
    def post(path: str, body: dict[str, Any]) -> None:
        response = client.post(path, json=body)
        assert response.status_code == 201, response.text

    post("/api/v1/namespaces", {"metadata": {"name": NS}})
    post(f"/api/v1/namespaces/{NS}/serviceaccounts", {"metadata": {"name": "robot"}})
    post(f"{RBAC}/namespaces/{NS}/roles", {
        "metadata": {"name": "pod-reader"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]})
    post(f"{RBAC}/namespaces/{NS}/rolebindings", _binding(
        "RoleBinding", "robot-reads-pods", "Role", "pod-reader",
        [{"kind": "ServiceAccount", "name": "robot", "namespace": NS}], NS))
    # what the anonymous requester of these tests may do
    for role in ("system:discovery", "system:basic-user", "system:auth-delegator"):
        post(f"{RBAC}/clusterrolebindings", _binding(
            "ClusterRoleBinding", f"test-anonymous-{role.split(':')[1]}", "ClusterRole", role,
            [ANONYMOUS]))
    post(f"{RBAC}/namespaces/{NS}/roles", {
        "metadata": {"name": "role-maker"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]},
                  {"apiGroups": [G], "resources": ["roles", "rolebindings"],
                   "verbs": ["create"]}]})
    post(f"{RBAC}/namespaces/{NS}/rolebindings", _binding(
        "RoleBinding", "anonymous-makes-roles", "Role", "role-maker", [ANONYMOUS], NS))


@pytest.fixture(scope="module")
def rbac_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    server = start_apiserver(tmp_path_factory.mktemp("rbac"))
    try:
        with httpx.Client(base_url=server.url, timeout=10.0) as client:
            _setup(client)
        server.stop()
        server.extra_args = ("--authorization-mode=RBAC",)
        server.start()
        yield server
    finally:
        server.stop()


def test_anonymous_requests_get_upstream_403s(rbac_server: ApiServerProcess) -> None:
    with httpx.Client(base_url=rbac_server.url, timeout=10.0) as client:
        for path in ("/healthz", "/readyz", "/livez", "/version", "/api", "/apis/apps/v1"):
            assert client.get(path).status_code == 200, path
        response = client.get(f"/api/v1/namespaces/{NS}/pods")
        assert response.status_code == 403
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.json() == {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": f'pods is forbidden: User "system:anonymous" cannot list resource '
                       f'"pods" in API group "" in the namespace "{NS}"',
            "reason": "Forbidden", "details": {"kind": "pods"}, "code": 403}
        response = client.delete("/apis/apps/v1/namespaces/default/deployments/web")
        assert response.status_code == 403
        assert response.json()["message"] == (
            'deployments.apps "web" is forbidden: User "system:anonymous" cannot delete '
            'resource "deployments" in API group "apps" in the namespace "default"')
        assert response.json()["details"] == {"name": "web", "group": "apps",
                                               "kind": "deployments"}
        response = client.get("/metrics")
        assert response.status_code == 403
        assert response.json()["message"] == \
            'forbidden: User "system:anonymous" cannot get path "/metrics"'
        # a namespaced grant reaches only its namespace
        assert client.get(f"/api/v1/namespaces/{NS}/configmaps").status_code == 200
        assert client.get("/api/v1/namespaces/default/configmaps").status_code == 403


def _sar(kubectl: Kubectl, server: ApiServerProcess, verb: str, resource: str,
         user: str, groups: list[str]) -> dict[str, Any]:
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
              "spec": {"user": user, "groups": groups, "resourceAttributes": {
                  "namespace": NS, "verb": verb, "resource": resource}}}
    # --validate=false: kubectl would list CRDs first, which this requester may not
    result = kubectl("create", "--validate=false", "-f", "-", "-o", "json", kubeconfig=server,
                     input=json.dumps(review), check=True)
    status: dict[str, Any] = json.loads(result.stdout)["status"]
    return status


def test_subject_access_review_for_a_service_account(rbac_server: ApiServerProcess,
                                                      kubectl: Kubectl) -> None:
    sa = f"system:serviceaccount:{NS}:robot"
    groups = ["system:serviceaccounts", f"system:serviceaccounts:{NS}",
              "system:authenticated"]
    assert _sar(kubectl, rbac_server, "get", "pods", sa, groups) == {
        "allowed": True,
        "reason": f'RBAC: allowed by RoleBinding "robot-reads-pods/{NS}" of Role '
                  f'"pod-reader" to ServiceAccount "robot/{NS}"'}
    assert _sar(kubectl, rbac_server, "create", "pods", sa, groups) == {"allowed": False}
    assert _sar(kubectl, rbac_server, "list", "secrets", "someone-else", []) == \
        {"allowed": False}


def test_kubectl_auth_can_i(rbac_server: ApiServerProcess, kubectl: Kubectl) -> None:
    yes = kubectl("auth", "can-i", "list", "configmaps", "-n", NS, kubeconfig=rbac_server)
    assert (yes.returncode, yes.stdout.strip()) == (0, "yes"), yes.stderr
    no = kubectl("auth", "can-i", "create", "pods", "-n", NS, kubeconfig=rbac_server)
    assert (no.returncode, no.stdout.strip()) == (1, "no"), no.stderr
    listed = kubectl("auth", "can-i", "--list", "-n", NS, kubeconfig=rbac_server, check=True)
    rows = [line.split() for line in listed.stdout.splitlines()]
    assert rows[0] == ["Resources", "Non-Resource", "URLs", "Resource", "Names", "Verbs"]
    assert ["configmaps", "[]", "[]", "[get", "list]"] in rows
    assert ["roles.rbac.authorization.k8s.io", "[]", "[]", "[create]"] in rows
    assert ["selfsubjectaccessreviews.authorization.k8s.io", "[]", "[]", "[create]"] in rows
    assert ["[/healthz]", "[]", "[get]"] in rows


def test_escalation_is_refused(rbac_server: ApiServerProcess) -> None:
    with httpx.Client(base_url=rbac_server.url, timeout=10.0) as client:
        allowed = {"metadata": {"name": "cm-reader"}, "rules": [
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]}
        response = client.post(f"{RBAC}/namespaces/{NS}/roles", json=allowed)
        assert response.status_code == 201, response.text
        wider = {"metadata": {"name": "secret-reader"}, "rules": [
            {"apiGroups": [""], "resources": ["secrets", "configmaps"],
             "verbs": ["get", "watch"]}]}
        response = client.post(f"{RBAC}/namespaces/{NS}/roles", json=wider)
        assert response.status_code == 403
        assert response.json()["message"] == (
            'roles.rbac.authorization.k8s.io "secret-reader" is forbidden: user '
            '"system:anonymous" (groups=["system:unauthenticated"]) is attempting to grant '
            'RBAC permissions not currently held:\n'
            '{APIGroups:[""], Resources:["configmaps"], Verbs:["watch"]}\n'
            '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "watch"]}')
        binding = _binding("RoleBinding", "bob-edits", "ClusterRole", "system:node-proxier",
                           [{"kind": "User", "name": "bob", "apiGroup": G}])
        response = client.post(f"{RBAC}/namespaces/{NS}/rolebindings", json=binding)
        assert response.status_code == 403
        assert response.json()["message"].startswith(
            'rolebindings.rbac.authorization.k8s.io "bob-edits" is forbidden: user '
            '"system:anonymous"')


def _wait_for_rules(client: httpx.Client, role: str, wanted: dict[str, Any]) -> None:
    deadline = time.monotonic() + 20.0
    rules: list[Any] = []
    while time.monotonic() < deadline:
        rules = client.get(f"{RBAC}/clusterroles/{role}").json().get("rules") or []
        if wanted in rules:
            return
        time.sleep(0.1)
    raise AssertionError(f"{role} never got {wanted}: {rules}")


def test_clusterrole_aggregation_controller(fresh_apiserver: ApiServerProcess,
                                            tmp_path: Path) -> None:
    argv = ["-m", "controllers.manager", "--kubeconfig", str(fresh_apiserver.kubeconfig),
            "--leader-elect=false", "--controllers=clusterrole-aggregation"]
    manager = Process(argv, tmp_path / "manager.log").start()
    try:
        with httpx.Client(base_url=fresh_apiserver.url, timeout=10.0) as client:
            pods = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}
            for role in ("view", "edit", "admin"):
                _wait_for_rules(client, role, {**pods, "resources": [
                    "configmaps", "endpoints", "persistentvolumeclaims",
                    "persistentvolumeclaims/status", "pods", "replicationcontrollers",
                    "replicationcontrollers/scale", "serviceaccounts", "services",
                    "services/status"]})
            widgets = {"apiGroups": ["example.com"], "resources": ["widgets"],
                       "verbs": ["get"]}
            response = client.post(f"{RBAC}/clusterroles", json={
                "metadata": {"name": "widget-viewer", "labels": {
                    "rbac.authorization.k8s.io/aggregate-to-view": "true"}},
                "rules": [widgets]})
            assert response.status_code == 201, response.text
            for role in ("view", "edit", "admin"):
                _wait_for_rules(client, role, widgets)
    finally:
        manager.stop()
