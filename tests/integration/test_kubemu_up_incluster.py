"""In-cluster clients in host-command pods under ``kubemu up --allow-host-commands``.

A real Python process in a pod calls the official client's ``load_incluster_config()`` and
lists the pods of its namespace as its ServiceAccount: that needs the kubelet's
``KUBERNETES_SERVICE_HOST``/``_PORT`` variables, the ``kube-root-ca.crt`` ConfigMap the
controller manager publishes (``ca.crt`` of the projected token volume), the token, the
``kubernetes`` ClusterIP carried by kube-proxy to the apiserver, and a serving certificate
valid for that IP. The volume appears at its real path only in a mount namespace, and
kube-proxy binds port 443 only as root: the pod tests need root.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from controllers.manager.rootcacertpublisher import DESCRIPTION, DESCRIPTION_ANNOTATION
from tests.support.kubemu_up import Kubemu, start_kubemu, stop_kubemu, wait_for
from tests.support.namespaced import NamespacedApi

pytestmark = pytest.mark.timeout(300)

ROOT = os.geteuid() == 0
CA_CONFIGMAP = "kube-root-ca.crt"

#: What the pod runs: the documented in-cluster client setup, then one list.
CLIENT = """
import os
import kubernetes
kubernetes.config.load_incluster_config()
ns = open("/var/run/secrets/kubernetes.io/serviceaccount/namespace").read()
pods = kubernetes.client.CoreV1Api().list_namespaced_pod(ns)
print("server", kubernetes.client.Configuration.get_default_copy().host)
print("pods", " ".join(sorted(p.metadata.name for p in pods.items)))
print("link", os.environ.get("MY_DB_SERVICE_HOST"), os.environ.get("MY_DB_PORT_53_UDP"))
"""


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kubemu]:
    cluster = start_kubemu(tmp_path_factory.mktemp("incluster") / "data", 1,
                           "--allow-host-commands")
    try:
        yield cluster
    finally:
        stop_kubemu(cluster)


def _configmap(up: Kubemu, ns: str) -> dict[str, Any]:
    return up.get(f"/api/v1/namespaces/{ns}/configmaps/{CA_CONFIGMAP}")


def test_every_namespace_gets_the_root_ca_and_keeps_it(up: Kubemu) -> None:
    api = NamespacedApi(up.url, "rootca", up.verify)
    ca = (up.data_dir / "pki" / "ca.crt").read_text()
    published = wait_for("kube-root-ca.crt", lambda: _configmap(up, api.ns))
    assert published["data"] == {"ca.crt": ca}
    assert published["metadata"]["annotations"] == {DESCRIPTION_ANNOTATION: DESCRIPTION}
    for ns in ("default", "kube-system", "kube-public"):
        assert wait_for(ns, lambda ns=ns: _configmap(up, ns))["data"] == {"ca.crt": ca}
    path = f"/api/v1/namespaces/{api.ns}/configmaps/{CA_CONFIGMAP}"
    r = api.http.patch(path, json={"data": {"ca.crt": "forged", "extra": "x"},
                                   "metadata": {"annotations": {DESCRIPTION_ANNOTATION: ""}}},
                       headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200, r.text
    wait_for("the ConfigMap reset", lambda: _configmap(up, api.ns)["data"] == {"ca.crt": ca}
             and _configmap(up, api.ns)["metadata"]["annotations"][DESCRIPTION_ANNOTATION])
    uid = _configmap(up, api.ns)["metadata"]["uid"]
    assert api.http.delete(path).status_code == 200
    wait_for("the ConfigMap made again",
             lambda: _configmap(up, api.ns)["metadata"]["uid"] != uid)


def _run_pod(up: Kubemu, ns: str, name: str, **spec: Any) -> str:
    """Run a pod whose container is this interpreter running :data:`CLIENT`; its log."""
    doc = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {
        "restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
        "containers": [{"name": "main", "image": "python:3.12",
                        "command": [sys.executable, "-c", CLIENT]}], **spec}}
    up.kubectl("-n", ns, "apply", "-f", "-", stdin=yaml.safe_dump(doc))
    phase = wait_for(f"{name} finished", lambda: up.get(
        f"/api/v1/namespaces/{ns}/pods/{name}")["status"]["phase"] in ("Succeeded", "Failed")
        and up.get(f"/api/v1/namespaces/{ns}/pods/{name}")["status"]["phase"], timeout=90)
    log = up.kubectl("-n", ns, "logs", name)
    assert phase == "Succeeded", log
    return log


@pytest.mark.skipif(not ROOT, reason="the token volume at its real path and kube-proxy on "
                    "port 443 need root")
def test_a_pod_lists_pods_with_load_incluster_config(up: Kubemu, tmp_path: Path) -> None:
    api = NamespacedApi(up.url, "incluster", up.verify)
    wait_for("the default ServiceAccount",
             lambda: up.get(f"/api/v1/namespaces/{api.ns}/serviceaccounts/default"))
    api.post(f"/apis/rbac.authorization.k8s.io/v1/namespaces/{api.ns}/rolebindings", {
        "metadata": {"name": "default-view"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": api.ns}]})
    db = api.service("my-db", ports=[{"name": "dns", "port": 53, "protocol": "UDP"}])
    ip = db["spec"]["clusterIP"]
    kubernetes = up.get("/api/v1/namespaces/default/services/kubernetes")["spec"]["clusterIP"]

    log = _run_pod(up, api.ns, "client")
    assert log.splitlines() == [f"server https://{kubernetes}:443", "pods client",
                                f"link {ip} udp://{ip}:53"]
    log = _run_pod(up, api.ns, "unlinked", enableServiceLinks=False)
    assert log.splitlines() == [f"server https://{kubernetes}:443", "pods client unlinked",
                                "link None None"]
