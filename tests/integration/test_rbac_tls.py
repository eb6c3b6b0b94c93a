"""RBAC with real identities: an apiserver on TLS with client certificates and
``--authorization-mode=Node,RBAC``, driven by kubectl 1.33 and httpx.

* ``kubectl auth can-i ... --as=system:serviceaccount:ns:sa`` answers as upstream before
  and after a Role grants ``get,list`` on pods, and ``--list`` prints the rules;
* a ServiceAccount's own bound token (TokenRequest) lists pods and gets upstream's 403 on
  create;
* a user without the ``impersonate`` verb cannot impersonate, one with it acts as the other;
* anonymous writes are 403, a bad token 401.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from kubemu.kubeconfig import Credentials, write_kubeconfig
from kubemu.pki import Pki, ensure_pki
from tests.support.apiserver import ApiServerProcess, free_port, start_apiserver
from tests.support.kubectl import Kubectl

pytestmark = pytest.mark.integration

G = "rbac.authorization.k8s.io"
NS = "team"


@dataclass
class Secured:
    server: ApiServerProcess
    pki: Pki
    https: str
    admin: Path  # kubeconfig: kubernetes-admin in system:masters
    dev: Path  # kubeconfig: a user with no rights beyond discovery

    def verify(self, cert: str | None = None) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.pki.ca_cert))
        if cert is not None:
            ctx.load_cert_chain(str(self.pki.client_cert(cert)), str(self.pki.client_key(cert)))
        return ctx

    def as_admin(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        resp = httpx.request(method, self.https + path, json=body, timeout=10,
                             verify=self.verify("admin"))
        assert resp.status_code < 300, resp.text
        data: dict[str, Any] = resp.json()
        return data


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    base = tmp_path_factory.mktemp("rbac-tls")
    pki = ensure_pki(base / "cluster")
    pki.ensure_client("admin", "kubernetes-admin", ("system:masters",))
    pki.ensure_client("dev", "dev", ("developers",))
    secure = free_port()
    server = start_apiserver(base, "sqlite", [
        "--secure-port", str(secure), "--authorization-mode", "Node,RBAC",
        "--tls-cert-file", str(pki.serving_cert), "--tls-private-key-file", str(pki.serving_key),
        "--client-ca-file", str(pki.ca_cert),
        "--service-account-signing-key-file", str(pki.sa_key),
        "--service-account-key-file", str(pki.sa_pub),
        "--service-account-issuer", "https://kubernetes.default.svc.cluster.local"])
    https = f"https://127.0.0.1:{secure}"
    kubeconfigs = {}
    for name in ("admin", "dev"):
        kubeconfigs[name] = base / f"{name}.kubeconfig"
        write_kubeconfig(kubeconfigs[name], https, credentials=Credentials(
            pki.ca_cert, pki.client_cert(name), pki.client_key(name)))
    cluster = Secured(server, pki, https, kubeconfigs["admin"], kubeconfigs["dev"])
    cluster.as_admin("POST", "/api/v1/namespaces", {"metadata": {"name": NS}})
    for sa in ("default", "robot"):
        cluster.as_admin("POST", f"/api/v1/namespaces/{NS}/serviceaccounts",
                         {"metadata": {"name": sa}})
    try:
        yield cluster
    finally:
        server.stop()


def test_can_i_for_a_service_account_follows_its_role(secured: Secured,
                                                      kubectl_announced: Kubectl) -> None:
    def can_i(*args: str) -> str:
        out = kubectl_announced("auth", "can-i", *args,
                                f"--as=system:serviceaccount:{NS}:robot", "-n", NS,
                                kubeconfig=secured.admin)
        return out.stdout.strip()

    assert can_i("get", "pods") == "no"
    secured.as_admin("POST", f"/apis/{G}/v1/namespaces/{NS}/roles", {
        "metadata": {"name": "pod-reader"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]})
    secured.as_admin("POST", f"/apis/{G}/v1/namespaces/{NS}/rolebindings", {
        "metadata": {"name": "robot-reads-pods"},
        "subjects": [{"kind": "ServiceAccount", "name": "robot", "namespace": NS}],
        "roleRef": {"apiGroup": G, "kind": "Role", "name": "pod-reader"}})
    assert can_i("get", "pods") == "yes"
    assert can_i("list", "pods") == "yes"
    assert can_i("create", "pods") == "no"
    listed = kubectl_announced("auth", "can-i", "--list", f"--as=system:serviceaccount:{NS}:robot",
                               "-n", NS, kubeconfig=secured.admin, check=True).stdout
    header, *rows = listed.splitlines()
    assert header.split() == ["Resources", "Non-Resource", "URLs", "Resource", "Names", "Verbs"]
    assert any(row.split()[0] == "pods" and row.rstrip().endswith("[get list]")
               for row in rows), listed

    # The ServiceAccount's own bound token: lists pods, and create gets upstream's 403.
    token = secured.as_admin("POST", f"/api/v1/namespaces/{NS}/serviceaccounts/robot/token",
                             {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                              "spec": {}})["status"]["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    listed_pods = httpx.get(f"{secured.https}/api/v1/namespaces/{NS}/pods", headers=bearer,
                            verify=secured.verify(), timeout=10)
    assert listed_pods.status_code == 200, listed_pods.text
    denied = httpx.post(f"{secured.https}/api/v1/namespaces/{NS}/pods", headers=bearer,
                        verify=secured.verify(), timeout=10,
                        json={"metadata": {"name": "p"},
                              "spec": {"containers": [{"name": "c", "image": "i"}]}})
    assert denied.status_code == 403
    assert denied.json()["message"] == (
        f'pods is forbidden: User "system:serviceaccount:{NS}:robot" cannot create resource '
        f'"pods" in API group "" in the namespace "{NS}"')


def test_impersonation_needs_the_impersonate_verb(secured: Secured) -> None:
    denied = httpx.get(f"{secured.https}/api/v1/namespaces/{NS}/pods", timeout=10,
                       headers={"Impersonate-User": "admin-wannabe"}, verify=secured.verify("dev"))
    assert denied.status_code == 403
    assert denied.json()["message"] == (
        'users "admin-wannabe" is forbidden: User "dev" cannot impersonate resource "users" '
        'in API group "" at the cluster scope')
    # The admin (system:masters) may impersonate; the request is then the other user's.
    allowed = httpx.get(f"{secured.https}/api/v1/namespaces/{NS}/pods", timeout=10,
                        headers={"Impersonate-User": "dev"}, verify=secured.verify("admin"))
    assert allowed.status_code == 403
    assert 'User "dev" cannot list resource "pods"' in allowed.json()["message"]


def test_anonymous_writes_are_forbidden_and_bad_tokens_unauthorized(secured: Secured) -> None:
    anonymous = httpx.post(f"{secured.https}/api/v1/namespaces", verify=secured.verify(),
                           json={"metadata": {"name": "x"}}, timeout=10)
    assert anonymous.status_code == 403
    assert anonymous.json()["message"] == (
        'namespaces is forbidden: User "system:anonymous" cannot create resource "namespaces" '
        'in API group "" at the cluster scope')
    bad = httpx.get(f"{secured.https}/api/v1/namespaces", verify=secured.verify(), timeout=10,
                    headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert json.loads(bad.text)["reason"] == "Unauthorized"


def test_tls_answers_arrive_whole_large_streamed_and_closing(secured: Secured) -> None:
    """A connection's writes are coalesced per event-loop iteration: a body past the
    join limit, a watch's events and a ``Connection: close`` answer all arrive intact."""
    big = "x" * 200_000
    secured.as_admin("POST", f"/api/v1/namespaces/{NS}/configmaps",
                     {"metadata": {"name": "big"}, "data": {"blob": big}})
    admin = secured.verify("admin")
    with httpx.Client(base_url=secured.https, verify=admin, timeout=10) as client:
        got = client.get(f"/api/v1/namespaces/{NS}/configmaps/big")
        assert got.status_code == 200 and got.json()["data"]["blob"] == big
        closing = client.get(f"/api/v1/namespaces/{NS}/configmaps/big",
                             headers={"connection": "close"})
        assert closing.status_code == 200 and closing.json()["data"]["blob"] == big
        rv = client.get(f"/api/v1/namespaces/{NS}/configmaps").json()["metadata"][
            "resourceVersion"]
        with client.stream("GET", f"/api/v1/namespaces/{NS}/configmaps",
                           params={"watch": "1", "resourceVersion": rv}) as watch:
            secured.as_admin("POST", f"/api/v1/namespaces/{NS}/configmaps",
                             {"metadata": {"name": "small"}, "data": {"a": "b"}})
            event = json.loads(next(watch.iter_lines()))
        assert event["type"] == "ADDED" and event["object"]["metadata"]["name"] == "small"
