"""``kubemu up`` (secure, the default) wires the kubelet API: each node serves it over
HTTPS on its node IP and port 10250 with a certificate from the cluster CA, admits the
apiserver's ``kube-apiserver-kubelet-client`` certificate (and ``system:masters``) only,
and ``kubectl logs`` goes through it."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kubemu.addresses import KUBELET_PORT
from tests.support.kubemu_up import Kubemu, start_kubemu, stop_kubemu, wait_for

POD = """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - {name: web, image: nginx, ports: [{containerPort: 8080}]}
"""


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Kubemu]:
    cluster = start_kubemu(tmp_path / "data", 1)
    try:
        yield cluster
    finally:
        stop_kubemu(cluster)


def _context(pki: Path, name: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    if name is not None:
        context.load_cert_chain(str(pki / f"{name}.crt"), str(pki / f"{name}.key"))
    return context


def test_kubelet_api_is_https_for_the_apiserver_only(up: Kubemu) -> None:
    node_ip = up.addresses.node_ip(1)
    node = wait_for("node-1 registered", lambda: up.get("/api/v1/nodes/node-1"))
    assert node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"] == KUBELET_PORT
    pki = up.data_dir / "pki"
    url = f"https://{node_ip}:{KUBELET_PORT}/healthz"
    # The serving certificate names the node IP (verified against the cluster CA).
    ok = httpx.get(url, verify=_context(pki, "apiserver-kubelet-client"), timeout=5)
    assert (ok.status_code, ok.text) == (200, "ok")
    assert httpx.get(url, verify=_context(pki, "admin"), timeout=5).status_code == 200
    anonymous = httpx.get(url, verify=_context(pki, None), timeout=5)
    assert anonymous.status_code == 401
    other = httpx.get(url, verify=_context(pki, "node-1"), timeout=5)
    assert other.status_code == 403
    assert "user=system:node:node-1" in other.text

    wait_for("the default ServiceAccount", lambda: up.get(
        "/api/v1/namespaces/default/serviceaccounts/default"))
    up.kubectl("apply", "-f", "-", stdin=POD)
    wait_for("web running", lambda: "running" in up.get(
        "/api/v1/namespaces/default/pods/web")["status"]["containerStatuses"][0]["state"])
    logs = up.kubectl("logs", "web")
    assert logs.splitlines()[0].startswith("serving HTTP on ")
    raw = up.kubectl("get", "--raw", "/api/v1/nodes/node-1/proxy/healthz")
    assert raw == "ok"


def test_insecure_kubemu_up_serves_logs_over_plain_http(tmp_path: Path) -> None:
    cluster = start_kubemu(tmp_path / "data", 1, "--insecure")
    try:
        assert cluster.url.startswith("http://")
        node_ip = cluster.addresses.node_ip(1)
        wait_for("kubelet API", lambda: httpx.get(
            f"http://{node_ip}:{KUBELET_PORT}/healthz", timeout=5).text == "ok")
        wait_for("the default ServiceAccount", lambda: cluster.get(
            "/api/v1/namespaces/default/serviceaccounts/default"))
        cluster.kubectl("apply", "-f", "-", stdin=POD)
        wait_for("web running", lambda: "running" in cluster.get(
            "/api/v1/namespaces/default/pods/web")["status"]["containerStatuses"][0]["state"])
        assert cluster.kubectl("logs", "web").startswith("serving HTTP on ")
    finally:
        stop_kubemu(cluster)
