"""kube-aggregator end to end: a real extension API server behind an APIService.

The test starts a secured apiserver with the front-proxy flags and
``--enable-aggregator-routing``, and a small HTTPS extension server (a thread) serving
``wardle.example.com/v1alpha1`` ``flunders``: it requires the front-proxy client
certificate and records the headers of every request. A selector-less Service with
Endpoints at 127.0.0.1:<port> and an APIService (caBundle: the extension's CA) register it.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from kubemu.pki import ensure_pki
from tests.support.apiserver import HOST
from tests.support.kubectl import Kubectl
from tests.support.secure import SecureApiServer, start_secure_apiserver
from tests.support.webhook_server import make_certificates

GROUP = "wardle.example.com"
VERSION = "v1alpha1"
GV = f"/apis/{GROUP}/{VERSION}"
NAMESPACE = "wardle"
TIMEOUT = 30.0

RESOURCES = {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{GROUP}/{VERSION}",
             "resources": [{"name": "flunders", "singularName": "flunder", "namespaced": True,
                            "kind": "Flunder", "verbs": ["get", "list"]}]}


def _flunder(name: str) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Flunder",
            "metadata": {"name": name, "namespace": NAMESPACE,
                         "creationTimestamp": "2025-01-01T00:00:00Z"}}


class Extension:
    """The extension API server (see the module docstring)."""

    def __init__(self, directory: Path, front_proxy_ca: Path) -> None:
        ca_pem, cert, key = make_certificates(directory, [f"wardle-api.{NAMESPACE}.svc"])
        self.ca_bundle = base64.b64encode(ca_pem).decode()
        self.seen: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        #: Set to let a watch send its second event.
        self.release = threading.Event()
        extension = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.partition("?")[0]
                with extension.lock:
                    extension.seen.append({"path": path, "user": self.headers["X-Remote-User"],
                                           "groups": self.headers.get_all("X-Remote-Group"),
                                           "authorization": self.headers["Authorization"]})
                if not self.headers["X-Remote-User"]:
                    return self._answer(401, {"kind": "Status", "code": 401})
                items = [_flunder("alpha"), _flunder("beta")]
                if "watch=1" in self.path:
                    return self._watch(items)
                if path == GV:
                    return self._answer(200, RESOURCES)
                if path == f"{GV}/namespaces/{NAMESPACE}/flunders":
                    return self._answer(200, {"apiVersion": f"{GROUP}/{VERSION}",
                                              "kind": "FlunderList", "metadata": {},
                                              "items": items})
                for item in items:
                    if path == f"{GV}/namespaces/{NAMESPACE}/flunders/" \
                            f"{item['metadata']['name']}":
                        return self._answer(200, item)
                self._answer(404, {"kind": "Status", "code": 404})

            def _watch(self, items: list[dict[str, Any]]) -> None:
                # HTTP/1.0 without a length: the body ends when the connection closes.
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                for index, item in enumerate(items):
                    if index:
                        extension.release.wait(10)
                    self.wfile.write(json.dumps({"type": "ADDED", "object": item}).encode()
                                     + b"\n")
                    self.wfile.flush()

            def _answer(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer((HOST, 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        context.load_verify_locations(cafile=str(front_proxy_ca))
        context.verify_mode = ssl.CERT_REQUIRED  # only the front proxy may call
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def requests(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.seen)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[SecureApiServer]:
    pki = ensure_pki(tmp_path / "cluster")
    secured = start_secure_apiserver(tmp_path, "sqlite", [
        "--requestheader-client-ca-file", str(pki.front_proxy_ca_cert),
        "--requestheader-allowed-names", "front-proxy-client",
        "--proxy-client-cert-file", str(pki.client_cert("front-proxy-client")),
        "--proxy-client-key-file", str(pki.client_key("front-proxy-client")),
        "--enable-aggregator-routing"])
    try:
        yield secured
    finally:
        secured.stop()


def _register(cluster: SecureApiServer, extension: Extension) -> None:
    cluster.create_namespace(NAMESPACE)
    cluster.admin("POST", f"/api/v1/namespaces/{NAMESPACE}/services", {
        "metadata": {"name": "wardle-api"},
        "spec": {"ports": [{"name": "https", "port": 443, "targetPort": extension.port}]}})
    cluster.admin("POST", f"/api/v1/namespaces/{NAMESPACE}/endpoints", {
        "metadata": {"name": "wardle-api"},
        "subsets": [{"addresses": [{"ip": HOST}],
                     "ports": [{"name": "https", "port": extension.port}]}]})
    cluster.admin("POST", "/apis/apiregistration.k8s.io/v1/apiservices", {
        "metadata": {"name": f"{VERSION}.{GROUP}"},
        "spec": {"group": GROUP, "version": VERSION, "groupPriorityMinimum": 1000,
                 "versionPriority": 15, "caBundle": extension.ca_bundle,
                 "service": {"namespace": NAMESPACE, "name": "wardle-api", "port": 443}}})


def _available(cluster: SecureApiServer) -> dict[str, str]:
    body = cluster.admin("GET", f"/apis/apiregistration.k8s.io/v1/apiservices/{VERSION}.{GROUP}")
    for condition in (body.get("status") or {}).get("conditions") or []:
        if condition["type"] == "Available":
            return dict(condition)
    return {}


def _wait_available(cluster: SecureApiServer, status: str) -> dict[str, str]:
    deadline = time.monotonic() + TIMEOUT
    while (condition := _available(cluster)).get("status") != status:
        assert time.monotonic() < deadline, f"APIService not Available={status}: {condition}"
        time.sleep(0.2)
    return condition


def test_an_apiservice_routes_to_its_extension_server(
        cluster: SecureApiServer, kubectl_announced: Kubectl, tmp_path: Path) -> None:
    extension = Extension(tmp_path / "extension", cluster.pki.front_proxy_ca_cert)
    try:
        _register(cluster, extension)
        condition = _wait_available(cluster, "True")
        assert (condition["reason"], condition["message"]) == ("Passed", "all checks passed")

        # The trust ConfigMap extension servers read.
        trust = cluster.admin(
            "GET", "/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication")
        assert trust["data"]["requestheader-username-headers"] == '["X-Remote-User"]'
        assert trust["data"]["requestheader-allowed-names"] == '["front-proxy-client"]'
        assert "BEGIN CERTIFICATE" in trust["data"]["requestheader-client-ca-file"]
        assert "BEGIN CERTIFICATE" in trust["data"]["client-ca-file"]

        # Discovery: legacy and aggregated, then real kubectl.
        groups = cluster.admin("GET", "/apis")["groups"]
        assert {"groupVersion": f"{GROUP}/{VERSION}", "version": VERSION} in \
            next(g for g in groups if g["name"] == GROUP)["versions"]
        assert cluster.admin("GET", f"/apis/{GROUP}")["preferredVersion"]["version"] == VERSION
        resources = kubectl_announced("api-resources", f"--api-group={GROUP}", "-o", "wide",
                                      kubeconfig=cluster.kubeconfig, check=True).stdout
        assert "flunders" in resources and "Flunder" in resources
        listed = kubectl_announced("get", "flunders", "-n", NAMESPACE,
                                   kubeconfig=cluster.kubeconfig, check=True).stdout
        assert "alpha" in listed and "beta" in listed
        one = kubectl_announced("get", "flunder", "beta", "-n", NAMESPACE, "-o", "json",
                                kubeconfig=cluster.kubeconfig, check=True).stdout
        assert json.loads(one)["metadata"]["name"] == "beta"
        # A watch streams: the first event arrives before the second is even written.
        with cluster.client() as http, http.stream(
                "GET", f"{GV}/namespaces/{NAMESPACE}/flunders?watch=1") as stream:
            assert stream.status_code == 200
            lines = stream.iter_lines()
            assert json.loads(next(lines))["object"]["metadata"]["name"] == "alpha"
            extension.release.set()
            assert json.loads(next(lines))["object"]["metadata"]["name"] == "beta"
        admin_calls = [r for r in extension.requests() if r["user"] == "kubernetes-admin"]
        assert admin_calls and all("system:masters" in r["groups"] for r in admin_calls)

        # A token user: authorized by kubemu's RBAC, its token never reaches the extension.
        cluster.admin("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", {
            "metadata": {"name": "flunder-reader"},
            "rules": [{"apiGroups": [GROUP], "resources": ["flunders"],
                       "verbs": ["get", "list"]}]})
        reader = cluster.service_account(NAMESPACE, "reader", cluster_roles=["flunder-reader"])
        nobody = cluster.service_account(NAMESPACE, "nobody")
        path = f"{GV}/namespaces/{NAMESPACE}/flunders"
        with cluster.client(None, token=reader.token) as http:
            answer = http.get(path)
        assert answer.status_code == 200, answer.text
        assert [i["metadata"]["name"] for i in answer.json()["items"]] == ["alpha", "beta"]
        reader_calls = [r for r in extension.requests() if r["user"] == reader.user]
        assert reader_calls and all(r["authorization"] is None for r in reader_calls)
        with cluster.client(None, token=nobody.token) as http:
            refused = http.get(path)
        assert refused.status_code == 403, refused.text
        assert not [r for r in extension.requests() if r["user"] == nobody.user]
        # A client cannot smuggle a user in the front-proxy headers.
        with cluster.client(None, token=reader.token) as http:
            http.get(path, headers={"X-Remote-User": "mallory", "X-Remote-Group": "x"})
        assert not [r for r in extension.requests() if r["user"] == "mallory"]
    finally:
        extension.stop()

    condition = _wait_available(cluster, "False")
    assert condition["reason"] == "FailedDiscoveryCheck", condition
    assert "failing or missing response from" in condition["message"]
    with cluster.client() as http:
        gone = http.get(f"{GV}/namespaces/{NAMESPACE}/flunders")
    assert gone.status_code == 503
    assert gone.text == "service unavailable\n"


def test_a_front_proxy_certificate_authenticates_the_header_user(
        cluster: SecureApiServer) -> None:
    """kubemu itself trusts its front proxy: X-Remote-User with the proxy's certificate."""
    pki = cluster.pki
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    context.load_cert_chain(str(pki.client_cert("front-proxy-client")),
                            str(pki.client_key("front-proxy-client")))
    with httpx.Client(base_url=cluster.url, verify=context, timeout=10) as http:
        review = http.post("/apis/authentication.k8s.io/v1/selfsubjectreviews", json={
            "apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
            headers={"X-Remote-User": "alice", "X-Remote-Group": "devs",
                     "X-Remote-Extra-Scopes": "a"})
        assert review.status_code == 201, review.text
        info = review.json()["status"]["userInfo"]
        assert info["username"] == "alice"
        assert info["groups"] == ["devs", "system:authenticated"]
        assert info["extra"] == {"scopes": ["a"]}
        # Without a username header the certificate is nobody's (its CN is no user).
        anonymous = http.get("/api/v1/namespaces")
        assert anonymous.status_code in (401, 403)


AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def test_an_apiservice_without_its_service_is_unavailable(apiserver_factory: Any) -> None:
    server = apiserver_factory()
    with httpx.Client(base_url=server.url, timeout=10) as http:
        created = http.post("/apis/apiregistration.k8s.io/v1/apiservices", json={
            "metadata": {"name": f"{VERSION}.{GROUP}"},
            "spec": {"group": GROUP, "version": VERSION, "groupPriorityMinimum": 1000,
                     "versionPriority": 15, "insecureSkipTLSVerify": True,
                     "service": {"namespace": "nowhere", "name": "missing"}}})
        assert created.status_code == 201, created.text
        local = http.post("/apis/apiregistration.k8s.io/v1/apiservices", json={
            "metadata": {"name": "v1.local.example.com"},
            "spec": {"group": "local.example.com", "version": "v1",
                     "groupPriorityMinimum": 100, "versionPriority": 1}})
        assert local.status_code == 201, local.text
        deadline = time.monotonic() + TIMEOUT
        while True:
            items = http.get("/apis/apiregistration.k8s.io/v1/apiservices").json()["items"]
            conditions = {i["metadata"]["name"]: i.get("status", {}).get("conditions") or []
                          for i in items}
            if conditions[f"{VERSION}.{GROUP}"] and conditions["v1.local.example.com"]:
                break
            assert time.monotonic() < deadline, conditions
            time.sleep(0.2)
        remote = conditions[f"{VERSION}.{GROUP}"][0]
        assert (remote["status"], remote["reason"], remote["message"]) == (
            "False", "ServiceNotFound", 'service/missing in "nowhere" is not present')
        assert conditions["v1.local.example.com"][0]["reason"] == "Local"
        gone = http.get(f"{GV}/namespaces/default/flunders")
        assert (gone.status_code, gone.text) == (503, "service unavailable\n")
        # Listed anyway (as upstream: kubectl then reports the group version it cannot
        # reach); in aggregated discovery as Stale.
        assert GROUP in [g["name"] for g in http.get("/apis").json()["groups"]]
        assert http.get(f"/apis/{GROUP}").json()["preferredVersion"]["version"] == VERSION
        items = http.get("/apis", headers={"accept": AGGREGATED}).json()["items"]
        wardle = next(i for i in items if i["metadata"]["name"] == GROUP)
        assert wardle["versions"] == [{"version": VERSION, "resources": [],
                                       "freshness": "Stale"}]


def test_the_served_group_versions_have_local_apiservices(
        apiserver_factory: Any, kubectl: Kubectl) -> None:
    server = apiserver_factory(extra_args=("--metric-resolution", "15s"))

    def rows() -> dict[str, list[str]]:
        out = kubectl("get", "apiservices", kubeconfig=server.kubeconfig, check=True).stdout
        return {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:]}

    deadline = time.monotonic() + TIMEOUT
    while not {"v1.", "v1.apps", "v2.autoscaling", "v1beta1.metrics.k8s.io"} <= set(
            name for name, row in rows().items() if row[:2] == ["Local", "True"]):
        assert time.monotonic() < deadline, rows()
        time.sleep(0.2)
    with httpx.Client(base_url=server.url, timeout=10) as http:
        apps = http.get("/apis/apiregistration.k8s.io/v1/apiservices/v1.apps").json()
    assert apps["metadata"]["labels"] == {"kube-aggregator.kubernetes.io/automanaged":
                                          "onstart"}
    assert apps["spec"] == {"group": "apps", "version": "v1", "groupPriorityMinimum": 17800,
                            "versionPriority": 15}
