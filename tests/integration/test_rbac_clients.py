"""Issue 13's RBAC checklist with each of the official Python client, kubectl and curl,
against the secured session apiserver (TLS verified against the test CA, Node,RBAC):

* anonymous writes get upstream's 403, a bad token 401;
* a ServiceAccount bound to a Role granting ``get,list`` on pods lists pods and gets
  upstream's 403 on create;
* ``kubectl auth can-i create pods --as=system:serviceaccount:ns:sa`` answers ``no`` and
  ``--list`` prints the rules (the client and curl ask the same through
  SubjectAccessReview and SelfSubjectRulesReview);
* impersonation without the ``impersonate`` verb is denied;
* a token bound to a pod stops working when the pod is deleted;
* a client certificate of another CA is refused.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from kubemu.pki import ensure_pki
from tests.support.kubectl import Kubectl
from tests.support.secure import RBAC_GROUP, SecureApiServer, TokenUser

UNAUTHORIZED = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "Unauthorized", "reason": "Unauthorized", "code": 401}
POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
       "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


@dataclass
class Team:
    secure: SecureApiServer
    ns: str
    reader: TokenUser  # a Role granting get,list on pods
    anonymous: Path  # kubeconfig with the CA only

    def curl(self, method: str, path: str, *, token: str | None = None,
             body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """curl (verifying the server with the CA); (status code, decoded JSON body)."""
        argv = ["curl", "-sS", "--cacert", str(self.secure.pki.ca_cert), "-X", method,
                "-o", "-", "-w", "\n%{http_code}"]
        if token is not None:
            argv += ["-H", f"Authorization: Bearer {token}"]
        for key, value in (headers or {}).items():
            argv += ["-H", f"{key}: {value}"]
        if body is not None:
            argv += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
        out = subprocess.run([*argv, self.secure.url + path], capture_output=True, text=True,
                             timeout=30, check=True).stdout
        text, _, code = out.rpartition("\n")
        return int(code), json.loads(text)

    def basic_auth(self) -> Path:
        """A kubeconfig whose user has only a Basic-auth username and password."""
        document = yaml.safe_load(self.anonymous.read_text())
        document["users"][0]["user"] = {"username": "nobody", "password": "nothing"}
        path = self.anonymous.with_name(f"basic-{self.anonymous.name}")
        path.write_text(yaml.safe_dump(document))
        return path


def api_client(kubeconfig: Path) -> client.ApiClient:
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    return client.ApiClient(configuration)


@pytest.fixture(scope="module")
def team(secure_apiserver: SecureApiServer) -> Iterator[Team]:
    ns = secure_apiserver.create_namespace(f"rbac-{uuid.uuid4().hex[:8]}")
    secure_apiserver.admin("POST", f"/apis/{RBAC_GROUP}/v1/namespaces/{ns}/roles", {
        "metadata": {"name": "pod-reader"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]})
    reader = secure_apiserver.service_account(ns, "reader", roles=["pod-reader"])
    anonymous = secure_apiserver.user_kubeconfig(f"anonymous-{ns}")
    try:
        yield Team(secure_apiserver, ns, reader, anonymous)
    finally:
        secure_apiserver.admin("DELETE", f"/api/v1/namespaces/{ns}")


@pytest.fixture
def kc(kubectl: Kubectl, secure_apiserver: SecureApiServer) -> Kubectl:
    """The newest kubectl, by default as the secured apiserver's admin."""
    return Kubectl(kubectl.binary, kubectl.home, lambda: secure_apiserver.kubeconfig)


def forbidden(user: str, verb: str, resource: str, ns: str | None) -> str:
    scope = f'in the namespace "{ns}"' if ns else "at the cluster scope"
    return (f'{resource} is forbidden: User "{user}" cannot {verb} resource "{resource}" '
            f'in API group "" {scope}')


def test_anonymous_writes_are_403_and_bad_tokens_401(team: Team, kc: Kubectl) -> None:
    message = forbidden("system:anonymous", "create", "namespaces", None)
    with api_client(team.anonymous) as api, pytest.raises(ApiException) as denied:
        client.CoreV1Api(api).create_namespace({"metadata": {"name": "anon"}})
    assert denied.value.status == 403
    assert json.loads(denied.value.body)["message"] == message
    bad = team.secure.user_kubeconfig("bad-token", token="not-a-token")
    with api_client(bad) as api, pytest.raises(ApiException) as unauthorized:
        client.CoreV1Api(api).list_namespaced_pod(team.ns)
    assert unauthorized.value.status == 401
    assert json.loads(unauthorized.value.body) == UNAUTHORIZED

    # kubectl asks for a password when its user has no credential at all; Basic auth is
    # no credential to the server (as upstream since 1.19), so this user is anonymous.
    out = kc("create", "namespace", "anon", kubeconfig=team.basic_auth())
    assert out.returncode == 1
    assert out.stderr.strip() == f"Error from server (Forbidden): {message}"
    out = kc("get", "pods", "-n", team.ns, kubeconfig=bad)
    assert out.returncode == 1
    assert "error: You must be logged in to the server" in out.stderr

    code, body = team.curl("POST", "/api/v1/namespaces", body={"metadata": {"name": "anon"}})
    assert (code, body["message"]) == (403, message)
    code, body = team.curl("GET", f"/api/v1/namespaces/{team.ns}/pods", token="not-a-token")
    assert (code, body) == (401, UNAUTHORIZED)


def test_a_pod_reader_lists_pods_and_may_not_create_them(team: Team, kc: Kubectl) -> None:
    message = forbidden(team.reader.user, "create", "pods", team.ns)
    with api_client(team.reader.kubeconfig) as api:
        core = client.CoreV1Api(api)
        assert core.list_namespaced_pod(team.ns).items == []
        with pytest.raises(ApiException) as denied:
            core.create_namespaced_pod(team.ns, POD)
    assert denied.value.status == 403
    assert json.loads(denied.value.body)["message"] == message

    listed = kc("get", "pods", "-n", team.ns, kubeconfig=team.reader.kubeconfig,
                     check=True)
    assert listed.stderr.strip() == f"No resources found in {team.ns} namespace."
    out = kc("create", "-n", team.ns, "-f", "-", input=json.dumps(POD),
                  kubeconfig=team.reader.kubeconfig)
    assert out.returncode == 1
    assert out.stderr.strip() == \
        f'Error from server (Forbidden): error when creating "STDIN": {message}'

    pods = f"/api/v1/namespaces/{team.ns}/pods"
    code, body = team.curl("GET", pods, token=team.reader.token)
    assert (code, body["kind"], body["items"]) == (200, "PodList", [])
    code, body = team.curl("POST", pods, token=team.reader.token, body=POD)
    assert (code, body["reason"], body["message"]) == (403, "Forbidden", message)


def test_can_i_and_its_reviews(team: Team, kc: Kubectl) -> None:
    who = f"--as={team.reader.user}"
    assert kc("auth", "can-i", "create", "pods", who, "-n", team.ns).stdout.strip() == "no"
    assert kc("auth", "can-i", "list", "pods", who, "-n", team.ns,
                   check=True).stdout.strip() == "yes"
    listed = kc("auth", "can-i", "--list", who, "-n", team.ns, check=True).stdout
    header, *rows = listed.splitlines()
    assert header.split() == ["Resources", "Non-Resource", "URLs", "Resource", "Names", "Verbs"]
    assert any(row.split()[0] == "pods" and row.rstrip().endswith("[get list]")
               for row in rows), listed

    review = {"spec": {"user": team.reader.user,
                       "groups": ["system:serviceaccounts",
                                  f"system:serviceaccounts:{team.ns}",
                                  "system:authenticated"],
                       "resourceAttributes": {"namespace": team.ns, "verb": "create",
                                              "resource": "pods"}}}
    with api_client(team.secure.kubeconfig) as api:
        answer = client.AuthorizationV1Api(api).create_subject_access_review(review)
    assert answer.status.allowed is False
    with api_client(team.reader.kubeconfig) as api:
        rules = client.AuthorizationV1Api(api).create_self_subject_rules_review(
            {"spec": {"namespace": team.ns}}).status.resource_rules
    assert any(r.resources == ["pods"] and r.verbs == ["get", "list"] for r in rules)

    code, body = team.curl(
        "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        token=team.reader.token,
        body={"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
              "spec": {"resourceAttributes": {"namespace": team.ns, "verb": "create",
                                              "resource": "pods"}}})
    assert code == 201
    assert body["status"]["allowed"] is False


def test_impersonation_without_the_verb_is_denied(team: Team, kc: Kubectl) -> None:
    message = (f'users "admin-wannabe" is forbidden: User "{team.reader.user}" cannot '
               'impersonate resource "users" in API group "" at the cluster scope')
    with api_client(team.reader.kubeconfig) as api:
        api.set_default_header("Impersonate-User", "admin-wannabe")
        with pytest.raises(ApiException) as denied:
            client.CoreV1Api(api).list_namespaced_pod(team.ns)
    assert denied.value.status == 403
    assert json.loads(denied.value.body)["message"] == message

    out = kc("get", "--raw", f"/api/v1/namespaces/{team.ns}/pods", "--as=admin-wannabe",
             kubeconfig=team.reader.kubeconfig)
    assert out.returncode == 1
    assert out.stderr.strip() == f"Error from server (Forbidden): {message}"
    # Through discovery, client-go keeps only the status of a JSON error (it prints
    # "unknown" for the message).
    out = kc("get", "pods", "-n", team.ns, "--as=admin-wannabe",
             kubeconfig=team.reader.kubeconfig)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1].startswith("Error from server (Forbidden)")

    code, body = team.curl("GET", f"/api/v1/namespaces/{team.ns}/pods",
                           token=team.reader.token,
                           headers={"Impersonate-User": "admin-wannabe"})
    assert (code, body["message"]) == (403, message)


def test_a_bound_token_dies_with_its_pod(team: Team, kc: Kubectl) -> None:
    secure, ns = team.secure, team.ns
    secure.admin("POST", f"/api/v1/namespaces/{ns}/pods", {**POD, "metadata": {"name": "job"},
                                                           "spec": {**POD["spec"],
                                                                    "serviceAccountName":
                                                                    "reader"}})
    token = kc("create", "token", "reader", "-n", ns, "--bound-object-kind", "Pod",
                    "--bound-object-name", "job", check=True).stdout.strip()
    bound = secure.user_kubeconfig(f"bound-{ns}", token=token)
    with api_client(bound) as api:
        assert [p.metadata.name for p in client.CoreV1Api(api).list_namespaced_pod(ns).items] \
            == ["job"]
    secure.admin("DELETE", f"/api/v1/namespaces/{ns}/pods/job?gracePeriodSeconds=0")
    # The authenticator reads the pod from the watch cache: the deletion shows there first.
    deadline = time.monotonic() + 10
    while team.curl("GET", f"/api/v1/namespaces/{ns}/pods", token=token)[0] != 401:
        assert time.monotonic() < deadline, "the token still works after its pod was deleted"
        time.sleep(0.1)
    with api_client(bound) as api, pytest.raises(ApiException) as unauthorized:
        client.CoreV1Api(api).list_namespaced_pod(ns)
    assert unauthorized.value.status == 401
    out = kc("get", "pods", "-n", ns, kubeconfig=bound)
    assert out.returncode == 1
    assert "error: You must be logged in to the server" in out.stderr
    assert team.curl("GET", f"/api/v1/namespaces/{ns}/pods", token=token) == (401, UNAUTHORIZED)


def test_a_client_certificate_of_another_ca_gets_nothing(team: Team, tmp_path: Path) -> None:
    """A ``system:masters`` certificate from a CA the server does not trust: the TLS layer
    refuses it (Python's ssl verifies client certificates in the handshake; upstream's
    authenticator would answer 401), so nothing is created."""
    rogue = ensure_pki(tmp_path / "rogue")
    context = ssl.create_default_context(cafile=str(team.secure.pki.ca_cert))
    context.load_cert_chain(str(rogue.client_cert("admin")), str(rogue.client_key("admin")))
    name = f"rogue-{uuid.uuid4().hex[:6]}"
    with pytest.raises(httpx.TransportError):
        httpx.post(f"{team.secure.url}/api/v1/namespaces", json={"metadata": {"name": name}},
                   verify=context, timeout=10)
    with team.secure.client() as http:
        assert http.get(f"/api/v1/namespaces/{name}").status_code == 404
