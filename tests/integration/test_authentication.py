"""Authentication over real sockets: TLS client certificates, bearer tokens (static and
ServiceAccount), anonymous, impersonation and issuer discovery — with curl, httpx,
kubectl, websockets and the official Python client against ``python -m apiserver``."""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets.exceptions
import websockets.sync.client
from kubernetes import client, config

from kubemu.identities import write_component_kubeconfigs
from kubemu.kubeconfig import Credentials, write_kubeconfig
from kubemu.pki import Pki, ensure_pki
from tests.support.apiserver import ApiServerProcess, free_port, start_apiserver
from tests.support.kubectl import Kubectl

UNAUTHORIZED = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "Unauthorized", "reason": "Unauthorized", "code": 401}
SSR_PATH = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
SSR = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
ISSUER = "https://kubernetes.default.svc.cluster.local"


@dataclass
class Cluster:
    server: ApiServerProcess
    pki: Pki
    https: str
    alice: Path  # kubeconfig of the client certificate alice (O dev)

    def context(self, cert: str | None = None) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.pki.ca_cert))
        if cert is not None:
            ctx.load_cert_chain(str(self.pki.client_cert(cert)), str(self.pki.client_key(cert)))
        return ctx

    def whoami(self, verify: ssl.SSLContext, headers: dict[str, str] | None = None,
               base: str | None = None) -> httpx.Response:
        return httpx.post((base or self.https) + SSR_PATH, json=SSR, headers=headers or {},
                          verify=verify, timeout=10)

    def admin(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        resp = httpx.request(method, self.https + path, json=body, verify=self.context("admin"),
                             timeout=10)
        assert resp.status_code < 300, resp.text
        data: dict[str, Any] = resp.json()
        return data


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = tmp_path_factory.mktemp("authn")
    pki = ensure_pki(base / "cluster")
    pki.ensure_client("alice", "alice", ("dev",))
    tokens = base / "tokens.csv"
    tokens.write_text('static-token,carol,carol-uid,"g1,g2"\n')
    secure = free_port()
    server = start_apiserver(base, "sqlite", [
        "--secure-port", str(secure),
        "--tls-cert-file", str(pki.serving_cert), "--tls-private-key-file", str(pki.serving_key),
        "--client-ca-file", str(pki.ca_cert), "--token-auth-file", str(tokens),
        "--service-account-signing-key-file", str(pki.sa_key),
        "--service-account-key-file", str(pki.sa_pub), "--service-account-issuer", ISSUER])
    https = f"https://127.0.0.1:{secure}"
    alice = base / "alice.kubeconfig"
    write_kubeconfig(alice, https, credentials=Credentials(
        pki.ca_cert, pki.client_cert("alice"), pki.client_key("alice")))
    try:
        yield Cluster(server, pki, https, alice)
    finally:
        server.stop()


def test_curl_with_a_client_certificate_is_its_user(cluster: Cluster) -> None:
    pki = cluster.pki
    out = subprocess.run(
        ["curl", "-sS", "--cacert", str(pki.ca_cert), "--cert", str(pki.client_cert("alice")),
         "--key", str(pki.client_key("alice")), "-H", "Content-Type: application/json",
         "-d", json.dumps(SSR), cluster.https + SSR_PATH],
        capture_output=True, text=True, timeout=30, check=True)
    user = json.loads(out.stdout)["status"]["userInfo"]
    assert user["username"] == "alice"
    assert user["groups"] == ["dev", "system:authenticated"]
    assert user["extra"]["authentication.kubernetes.io/credential-id"][0].startswith(
        "X509SHA256=")


def test_bogus_bearer_token_is_401_over_https_http_and_websocket(cluster: Cluster) -> None:
    bogus = {"Authorization": "Bearer not-a-token"}
    for base, verify in ((cluster.https, cluster.context()), (cluster.server.url, True)):
        resp = httpx.get(base + "/api/v1/namespaces/default/pods", headers=bogus,
                         verify=verify, timeout=10)
        assert resp.status_code == 401
        assert resp.json() == UNAUTHORIZED
    url = cluster.https.replace("https://", "wss://") + "/api/v1/pods?watch=true"
    with pytest.raises(websockets.exceptions.InvalidStatus) as caught:
        websockets.sync.client.connect(url, ssl=cluster.context(), origin="https://x",
                                       additional_headers=bogus, open_timeout=10)
    assert caught.value.response.status_code == 401
    assert json.loads(caught.value.response.body or b"{}") == UNAUTHORIZED
    # A browser's way: the token as a subprotocol, which the server then does not pick.
    encoded = base64.urlsafe_b64encode(b"static-token").rstrip(b"=").decode()
    protocol = f"base64url.bearer.authorization.k8s.io.{encoded}"
    with websockets.sync.client.connect(
            url, ssl=cluster.context(), origin="https://x", open_timeout=10,
            subprotocols=[protocol]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol is None


def test_basic_auth_is_not_a_credential(cluster: Cluster) -> None:
    resp = cluster.whoami(cluster.context(), {"Authorization": "Basic YWRtaW46YWRtaW4="})
    assert resp.status_code == 201
    assert resp.json()["status"]["userInfo"] == {"username": "system:anonymous",
                                                 "groups": ["system:unauthenticated"]}


def test_static_token_and_kubectl_auth_whoami(cluster: Cluster, kubectl: Kubectl) -> None:
    resp = cluster.whoami(cluster.context(), {"Authorization": "Bearer static-token"})
    assert resp.json()["status"]["userInfo"] == {
        "username": "carol", "uid": "carol-uid",
        "groups": ["g1", "g2", "system:authenticated"]}
    out = kubectl("auth", "whoami", "-o", "json", kubeconfig=cluster.alice, check=True)
    assert json.loads(out.stdout)["status"]["userInfo"]["username"] == "alice"
    out = kubectl("auth", "whoami", "--as", "bob", "--as-group", "qa", "-o", "json",
                  kubeconfig=cluster.alice, check=True)
    assert json.loads(out.stdout)["status"]["userInfo"] == {
        "username": "bob", "groups": ["qa", "system:authenticated"]}


def test_a_bound_token_stops_working_when_its_pod_is_deleted(
        cluster: Cluster, kubectl: Kubectl) -> None:
    cluster.admin("POST", "/api/v1/namespaces/default/serviceaccounts",
                  {"metadata": {"name": "builder"}})
    cluster.admin("POST", "/api/v1/namespaces/default/pods", {
        "metadata": {"name": "job-pod"},
        "spec": {"serviceAccountName": "builder",
                 "containers": [{"name": "c", "image": "busybox"}]}})
    out = kubectl("create", "token", "builder", "--bound-object-kind", "Pod",
                  "--bound-object-name", "job-pod", kubeconfig=cluster.alice, check=True)
    token = out.stdout.strip()
    bearer = {"Authorization": f"Bearer {token}"}
    resp = cluster.whoami(cluster.context(), bearer)
    user = resp.json()["status"]["userInfo"]
    assert user["username"] == "system:serviceaccount:default:builder"
    assert user["extra"]["authentication.kubernetes.io/pod-name"] == ["job-pod"]
    review = cluster.admin("POST", "/apis/authentication.k8s.io/v1/tokenreviews", {
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
        "spec": {"token": token}})
    assert review["status"]["authenticated"] is True
    assert review["status"]["audiences"] == [ISSUER]
    cluster.admin("DELETE", "/api/v1/namespaces/default/pods/job-pod?gracePeriodSeconds=0")
    deadline = time.monotonic() + 10
    while cluster.whoami(cluster.context(), bearer).status_code != 401:
        assert time.monotonic() < deadline, "the token still works after its pod was deleted"
        time.sleep(0.1)
    assert cluster.whoami(cluster.context(), bearer).json() == UNAUTHORIZED
    review = cluster.admin("POST", "/apis/authentication.k8s.io/v1/tokenreviews", {
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
        "spec": {"token": token}})
    assert review["status"].get("authenticated") is None
    assert review["status"]["error"] == "service account token has been invalidated"


def test_official_client_over_tls(cluster: Cluster) -> None:
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(cluster.alice), client_configuration=configuration)
    with client.ApiClient(configuration) as api:
        review = client.AuthenticationV1Api(api).create_self_subject_review(
            client.V1SelfSubjectReview())
        assert review.status.user_info.username == "alice"
        namespaces = client.CoreV1Api(api).list_namespace().items
        assert "default" in {ns.metadata.name for ns in namespaces}


def test_issuer_discovery_documents(cluster: Cluster) -> None:
    resp = httpx.get(cluster.https + "/.well-known/openid-configuration",
                     verify=cluster.context(), timeout=10)
    assert resp.headers["cache-control"] == "public, max-age=3600"
    doc = resp.json()
    assert doc["issuer"] == ISSUER
    assert doc["jwks_uri"] == cluster.https + "/openid/v1/jwks"
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    jwks = httpx.get(cluster.https + "/openid/v1/jwks", verify=cluster.context(), timeout=10)
    assert jwks.headers["content-type"] == "application/jwk-set+json"
    assert [k["kty"] for k in jwks.json()["keys"]] == ["RSA"]


def test_plain_http_refuses_a_non_loopback_bind() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "apiserver", "--bind-address", "0.0.0.0", "--port", str(free_port()),
         "--storage", "memory"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    assert "refusing to bind 0.0.0.0" in out.stderr


def test_legacy_token_secret_is_filled_by_the_controller_manager(cluster: Cluster,
                                                                  tmp_path: Path) -> None:
    kubeconfigs = write_component_kubeconfigs(cluster.pki, tmp_path, cluster.https,
                                              ["controller-manager"])
    manager = subprocess.Popen(
        [sys.executable, "-m", "controllers.manager", "--kubeconfig",
         str(kubeconfigs["controller-manager"]), "--controllers", "serviceaccount-token",
         "--leader-elect=false", "--service-account-private-key-file", str(cluster.pki.sa_key),
         "--root-ca-file", str(cluster.pki.ca_cert)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        cluster.admin("POST", "/api/v1/namespaces/default/serviceaccounts",
                      {"metadata": {"name": "legacy"}})
        cluster.admin("POST", "/api/v1/namespaces/default/secrets", {
            "metadata": {"name": "legacy-token",
                         "annotations": {"kubernetes.io/service-account.name": "legacy"}},
            "type": "kubernetes.io/service-account-token"})
        deadline = time.monotonic() + 20
        secret = cluster.admin("GET", "/api/v1/namespaces/default/secrets/legacy-token")
        while not (secret.get("data") or {}).get("token"):
            assert time.monotonic() < deadline, "the token Secret was not filled"
            time.sleep(0.2)
            secret = cluster.admin("GET", "/api/v1/namespaces/default/secrets/legacy-token")
        assert base64.b64decode(secret["data"]["ca.crt"]) == cluster.pki.ca_cert.read_bytes()
        assert base64.b64decode(secret["data"]["namespace"]) == b"default"
        account = cluster.admin("GET", "/api/v1/namespaces/default/serviceaccounts/legacy")
        assert secret["metadata"]["annotations"]["kubernetes.io/service-account.uid"] == \
            account["metadata"]["uid"]
        bearer = {"Authorization": "Bearer " + base64.b64decode(secret["data"]["token"]).decode()}
        user = cluster.whoami(cluster.context(), bearer).json()["status"]["userInfo"]
        assert user["username"] == "system:serviceaccount:default:legacy"
        cluster.admin("DELETE", "/api/v1/namespaces/default/serviceaccounts/legacy")
        while cluster.whoami(cluster.context(), bearer).status_code != 401:
            assert time.monotonic() < deadline + 10, "the legacy token outlived its account"
            time.sleep(0.2)
        # The controller deletes the Secret of a ServiceAccount that is gone.
        secrets = "/api/v1/namespaces/default/secrets"
        while "legacy-token" in {s["metadata"]["name"] for s in
                                 cluster.admin("GET", secrets)["items"]}:
            assert time.monotonic() < deadline + 20, "the orphaned token Secret was kept"
            time.sleep(0.2)
    finally:
        manager.terminate()
        manager.wait(10)


def test_other_clients_over_tls_with_a_client_certificate(cluster: Cluster) -> None:
    import asyncio

    import kr8s
    from kubernetes_asyncio import client as aclient
    from kubernetes_asyncio import config as aconfig
    from lightkube import Client, KubeConfig
    from lightkube.resources.core_v1 import Namespace

    async def with_asyncio() -> set[str]:
        configuration = aclient.Configuration()
        await aconfig.load_kube_config(config_file=str(cluster.alice),
                                       client_configuration=configuration)
        async with aclient.ApiClient(configuration) as api:
            items = (await aclient.CoreV1Api(api).list_namespace()).items
            return {ns.metadata.name for ns in items}

    assert "default" in asyncio.run(with_asyncio())
    light = Client(KubeConfig.from_file(str(cluster.alice)))
    assert "default" in {ns.metadata.name for ns in light.list(Namespace) if ns.metadata}
    api = kr8s.api(kubeconfig=str(cluster.alice))
    assert "default" in {ns.name for ns in api.get("namespaces")}


def test_kubemu_rest_client_with_embedded_certificates(cluster: Cluster) -> None:
    import asyncio

    from controllers.client.config import load_kubeconfig
    from controllers.client.rest import RestClient

    config_ = load_kubeconfig(cluster.alice)
    assert config_.cert_data is not None and config_.cert_file is None

    async def whoami() -> dict[str, Any]:
        async with RestClient(config_) as rest:
            return await rest.request("POST", SSR_PATH, body=SSR)

    assert asyncio.run(whoami())["status"]["userInfo"]["username"] == "alice"


def _csr_pem_b64() -> str:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509 import CertificateSigningRequestBuilder, Name, NameAttribute
    from cryptography.x509.oid import NameOID

    request = CertificateSigningRequestBuilder().subject_name(
        Name([NameAttribute(NameOID.COMMON_NAME, "carol")])).sign(
        ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())
    return base64.b64encode(request.public_bytes(serialization.Encoding.PEM)).decode()


def test_a_certificate_signing_request_names_its_requester(cluster: Cluster) -> None:
    # The client claims another user and a pre-approved request; the server keeps neither.
    csr = {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
           "metadata": {"name": "carol-csr"},
           "spec": {"request": _csr_pem_b64(), "signerName": "kubernetes.io/kube-apiserver-client",
                    "usages": ["client auth"], "username": "mallory", "groups": ["system:masters"]},
           "status": {"conditions": [{"type": "Approved", "status": "True"}]}}
    resp = httpx.post(cluster.https + "/apis/certificates.k8s.io/v1/certificatesigningrequests",
                      json=csr, headers={"Authorization": "Bearer static-token"},
                      verify=cluster.context(), timeout=10)
    assert resp.status_code == 201, resp.text
    created = resp.json()
    assert {k: created["spec"].get(k) for k in ("username", "uid", "groups", "extra")} == {
        "username": "carol", "uid": "carol-uid",
        "groups": ["g1", "g2", "system:authenticated"], "extra": None}
    assert created["status"] == {}


def _csr_body(name: str, signer: str, organization: str | None = None) -> dict[str, Any]:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509 import CertificateSigningRequestBuilder, Name, NameAttribute
    from cryptography.x509.oid import NameOID

    attrs = [NameAttribute(NameOID.COMMON_NAME, name)]
    if organization:
        attrs.append(NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    pem = CertificateSigningRequestBuilder().subject_name(Name(attrs)).sign(
        ec.generate_private_key(ec.SECP256R1()), hashes.SHA256()).public_bytes(
        serialization.Encoding.PEM)
    return {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
            "metadata": {"name": name},
            "spec": {"request": base64.b64encode(pem).decode(), "signerName": signer,
                     "usages": ["client auth"]}}


def test_requests_that_could_mint_an_admin_are_refused(cluster: Cluster) -> None:
    path = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
    masters = httpx.post(cluster.https + path, json=_csr_body(
        "mallory", "kubernetes.io/kube-apiserver-client", "system:masters"),
        verify=cluster.context("admin"), timeout=10)
    assert masters.status_code == 403
    assert masters.json()["message"] == (
        'certificatesigningrequests.certificates.k8s.io "mallory" is forbidden: use of '
        "kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed")
    legacy = httpx.post(cluster.https + path, json=_csr_body(
        "old", "kubernetes.io/legacy-unknown"), verify=cluster.context("admin"), timeout=10)
    assert legacy.status_code == 422
    assert ('spec.signerName: Invalid value: "kubernetes.io/legacy-unknown": the legacy '
            "signerName is not allowed via this API version") in legacy.json()["message"]
