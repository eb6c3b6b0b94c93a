"""The ``proxy`` subresources of services, pods and nodes, through a real apiserver to
real pods (the built-in server, and a host-command HTTP/HTTPS server that shows what it
received), with ``kubectl get --raw`` and ``kubectl proxy`` running as a process."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from kubemu.addresses import Addresses
from tests.support.apiserver import ApiServerProcess, free_port
from tests.support.kubectl import find_kubectl, find_kubectl_announced
from tests.support.kubemu_up import wait_for
from tests.support.process import node_cluster

NODE = 6

BACKEND = r'''
import http.server, json, os, ssl, sys, threading

class H(http.server.BaseHTTPRequestHandler):
    def _send(self, code, body, extra=()):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Keep-Alive", "timeout=5")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("X-Custom", "yes")
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/redirect":
            return self._send(302, b"", [("Location", "/landed?x=1")])
        if self.path == "/absolute":
            host = self.headers["Host"]
            return self._send(302, b"", [("Location", f"http://{host}/landed")])
        if self.path == "/elsewhere":
            return self._send(302, b"", [("Location", "http://example.invalid/x")])
        if self.path.startswith("/headers"):
            return self._send(200, json.dumps(dict(self.headers.items())).encode())
        self._send(200, f"{self.command} {self.path}".encode())

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._send(201, self.command.encode() + b" " + body)

    do_PUT = do_PATCH = do_DELETE = do_POST

    def log_message(self, *args):
        pass

ip = os.environ["POD_IP"]
plain = http.server.ThreadingHTTPServer((ip, 8081), H)
tls = http.server.ThreadingHTTPServer((ip, 8443), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
threading.Thread(target=tls.serve_forever, daemon=True).start()
print("backend up", flush=True)
plain.serve_forever()
'''

MANIFESTS = """
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  containers:
  - {name: web, image: nginx, ports: [{name: http, containerPort: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: backend, labels: {app: backend}}
spec:
  containers:
  - name: b
    image: python
    command: [python3, SCRIPT, CERT, KEY]
    ports: [{name: http, containerPort: 8081}, {name: https, containerPort: 8443}]
---
apiVersion: v1
kind: Service
metadata: {name: backend}
spec:
  selector: {app: backend}
  ports:
  - {name: http, port: 80, targetPort: 8081}
  - {name: https, port: 443, targetPort: 8443}
---
apiVersion: v1
kind: Pod
metadata: {name: wsecho}
spec:
  containers:
  - name: ws
    image: python
    command: [PYTHON, -c, WSECHO]
    ports: [{name: ws, containerPort: 8765}]
"""

WSECHO = ("import os; from websockets.sync.server import serve; "
          "s = serve(lambda ws: [ws.send(m) for m in ws], os.environ['POD_IP'], 8765, "
          "subprotocols=['echo.v1']); s.serve_forever()")


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "backend")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "tls.crt", directory / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory,
            address_block: Addresses) -> Iterator[ApiServerProcess]:
    base = tmp_path_factory.mktemp("proxy")
    script = base / "backend.py"
    script.write_text(BACKEND)
    cert, key = _self_signed(base)
    with node_cluster(base, "proxy-node", address_block.node_ip(NODE),
                      address_block.pod_cidr(NODE), "--allow-host-commands") as server:
        manifests = (MANIFESTS.replace("SCRIPT", str(script)).replace("CERT", str(cert))
                     .replace("KEY", str(key)).replace("PYTHON", sys.executable)
                     .replace("WSECHO", json.dumps(WSECHO)))
        out = subprocess.run([str(find_kubectl()), "--kubeconfig", str(server.kubeconfig),
                              "apply", "-f", "-"], input=manifests, text=True,
                             capture_output=True)
        assert out.returncode == 0, out.stderr

        def ready() -> bool:
            for name in ("web", "backend"):
                eps = httpx.get(f"{server.url}/api/v1/namespaces/default/endpoints/{name}",
                                timeout=5).json()
                if not any(s.get("addresses") for s in eps.get("subsets") or []):
                    return False
            return True

        wait_for("endpoints ready", ready)
        wait_for("backend serving", lambda: httpx.get(
            f"{server.url}/api/v1/namespaces/default/services/backend:http/proxy/x",
            timeout=5).status_code == 200)
        yield server


def get(server: ApiServerProcess, path: str, **kw: Any) -> httpx.Response:
    return httpx.get(server.url + path, timeout=10, **kw)


SVC = "/api/v1/namespaces/default/services"
PODS = "/api/v1/namespaces/default/pods"


@pytest.mark.parametrize("find", [find_kubectl, find_kubectl_announced],
                         ids=["kubectl-1.37", "kubectl-1.33"])
def test_kubectl_get_raw_reaches_a_service(cluster: ApiServerProcess, find: Any) -> None:
    binary = find()
    if binary is None:
        pytest.skip("kubectl binary not installed (scripts/bootstrap installs it)")
    out = subprocess.run([str(binary), "--kubeconfig", str(cluster.kubeconfig), "get", "--raw",
                          f"{SVC}/web:80/proxy/"], capture_output=True, text=True, timeout=30)
    assert (out.returncode, out.stdout) == (0, "web\n"), out.stderr


def test_kubectl_proxy_reaches_a_service_and_a_pod(cluster: ApiServerProcess,
                                                   tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen([str(find_kubectl()), "--kubeconfig", str(cluster.kubeconfig),
                             "proxy", "--address=127.0.0.1", f"--port={port}"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={"HOME": str(tmp_path)})
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("Starting to serve on 127.0.0.1:")
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}{SVC}/web/proxy/hostname", timeout=10).text == "web"
        assert httpx.get(f"{base}{SVC}/web:http/proxy/echo?msg=hi", timeout=10).text == "hi"
        assert httpx.get(f"{base}{PODS}/web:8080/proxy/hostname", timeout=10).text == "web"
        posted = httpx.post(f"{base}{PODS}/backend:8081/proxy/form", content=b"a=1",
                            timeout=10)
        assert (posted.status_code, posted.text) == (201, "POST a=1")
    finally:
        proc.terminate()
        proc.wait(10)


def test_methods_schemes_and_ports(cluster: ApiServerProcess) -> None:
    for method in ("PUT", "PATCH", "DELETE"):
        resp = httpx.request(method, f"{cluster.url}{SVC}/backend:http/proxy/m", content=b"b",
                             timeout=10)
        assert (resp.status_code, resp.text) == (201, f"{method} b")
    resp = get(cluster, f"{SVC}/https:backend:443/proxy/secure?q=1")
    assert (resp.status_code, resp.text) == (200, "GET /secure?q=1")
    resp = get(cluster, f"{PODS}/https:backend:8443/proxy/p")
    assert (resp.status_code, resp.text) == (200, "GET /p")
    resp = get(cluster, f"{SVC}/backend:nope/proxy/")
    assert resp.status_code == 503
    assert resp.json()["message"] == 'no service port "nope" found for service "backend"'
    resp = get(cluster, f"{SVC}/ghost/proxy/")
    assert (resp.status_code, resp.json()["message"]) == (404, 'services "ghost" not found')
    resp = get(cluster, f"{SVC}/ftp:backend:80/proxy/")
    assert resp.status_code == 400
    resp = get(cluster, f"{SVC}/web:80/proxy")
    assert resp.status_code == 301
    assert resp.headers["location"] == f"{SVC}/web:80/proxy/"


def test_header_handling(cluster: ApiServerProcess) -> None:
    resp = get(cluster, f"{SVC}/backend:http/proxy/headers",
               headers={"X-Forwarded-For": "10.1.2.3", "X-Mine": "kept",
                        "X-Forwarded-Uri": "/spoofed", "Connection": "X-Drop-Me",
                        "X-Drop-Me": "1"})
    seen = {k.lower(): v for k, v in json.loads(resp.text).items()}
    assert seen["x-mine"] == "kept" and "x-drop-me" not in seen
    assert seen["x-forwarded-for"] == "10.1.2.3, 127.0.0.1"
    assert seen["x-forwarded-uri"] == f"{SVC}/backend:http/proxy/headers"
    assert seen["x-forwarded-host"] == cluster.url.removeprefix("http://")
    assert seen["x-forwarded-proto"] == "http"
    assert "authorization" not in seen
    assert resp.headers["x-custom"] == "yes"
    assert "keep-alive" not in resp.headers
    assert "access-control-allow-origin" not in resp.headers
    # Redirects to the backend come back through the proxy path.
    prefix = f"{SVC}/backend:http/proxy"
    for path in ("redirect", "absolute"):
        resp = get(cluster, f"{prefix}/{path}")
        assert resp.status_code == 302
        expected = f"{prefix}/landed" + ("?x=1" if path == "redirect" else "")
        assert resp.headers["location"] == expected
    assert get(cluster, f"{prefix}/elsewhere").headers["location"] == "http://example.invalid/x"


def test_node_proxy_reaches_the_kubelet(cluster: ApiServerProcess) -> None:
    assert get(cluster, "/api/v1/nodes/proxy-node/proxy/healthz").text == "ok"
    pods = get(cluster, "/api/v1/nodes/proxy-node/proxy/pods").json()
    assert {p["metadata"]["name"] for p in pods["items"]} >= {"web", "backend"}
    assert get(cluster, "/api/v1/nodes/ghost/proxy/healthz").status_code == 404


def test_a_websocket_goes_through_the_pod_proxy(cluster: ApiServerProcess) -> None:
    path = f"{PODS}/wsecho:8765/proxy/chat"
    wait_for("wsecho serving", lambda: get(cluster, path).status_code == 426)
    url = cluster.url.replace("http://", "ws://") + path
    with connect(url, subprotocols=[Subprotocol("echo.v1")]) as ws:
        assert ws.subprotocol == "echo.v1"
        ws.send("hello")
        assert ws.recv() == "hello"
        ws.send(b"\x00\x01")
        assert ws.recv() == b"\x00\x01"
