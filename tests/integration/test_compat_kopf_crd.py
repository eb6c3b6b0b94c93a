"""A kopf operator of a custom resource: the operator-under-test case kubemu exists for,
on the secured apiserver (TLS + RBAC) as a ServiceAccount with only its operator's role.

The operator owns ``EchoServer`` objects (a CRD with a status subresource): on create it
makes a child ConfigMap adopted by the object and reports in status, on update it follows
the spec, on delete its finalizer-guarded handler runs before the object goes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.integration.test_compat_kopf import (
    operator_account,
    remove_framework_role,
    require_client,
)
from tests.support.secure import SecureApiServer

GROUP = "kopf.example.com"
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": f"echoservers.{GROUP}"},
    "spec": {
        "group": GROUP, "scope": "Namespaced",
        "names": {"plural": "echoservers", "singular": "echoserver", "kind": "EchoServer",
                  "shortNames": ["echo"]},
        "versions": [{
            "name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
            "schema": {"openAPIV3Schema": {
                "type": "object",
                "properties": {
                    "spec": {"type": "object", "properties": {
                        "message": {"type": "string"},
                        "replicas": {"type": "integer", "default": 1}}},
                    "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                },
            }},
        }],
    },
}

OPERATOR = '''
import kopf
import kubernetes


@kopf.on.startup()
def configure(settings, **_):
    settings.posting.enabled = False
    settings.watching.server_timeout = 10
    kubernetes.config.load_kube_config()


@kopf.on.create("kopf.example.com", "v1", "echoservers")
def create(spec, name, namespace, body, **_):
    cm = {"metadata": {"name": f"{name}-echo"},
          "data": {"message": spec.get("message", ""), "replicas": str(spec["replicas"])}}
    kopf.adopt(cm, owner=body)
    kubernetes.client.CoreV1Api().create_namespaced_config_map(namespace, cm)
    return {"configMap": f"{name}-echo"}


@kopf.on.update("kopf.example.com", "v1", "echoservers", field="spec.message")
def update(new, name, namespace, **_):
    kubernetes.client.CoreV1Api().patch_namespaced_config_map(
        f"{name}-echo", namespace, {"data": {"message": new}})


@kopf.on.delete("kopf.example.com", "v1", "echoservers")
def delete(name, namespace, **_):
    kubernetes.client.CoreV1Api().create_namespaced_config_map(
        namespace, {"metadata": {"name": f"{name}-deleted"}, "data": {"by": "kopf"}})
'''

#: The EchoServer operator's own rules: its resource (finalizers and kopf's annotations
#: through patch, results through the status subresource) and the ConfigMaps it makes.
ECHO_RULES: list[dict[str, Any]] = [
    {"apiGroups": [GROUP], "resources": ["echoservers"],
     "verbs": ["get", "list", "watch", "patch"]},
    {"apiGroups": [GROUP], "resources": ["echoservers/status"], "verbs": ["patch"]},
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create", "patch"]},
]


def until(what: str, check: Callable[[], Any], log: Path, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}: {last!r}\n{log.read_text()[-3000:]}")


def test_kopf_operator_of_a_custom_resource(secure_apiserver: SecureApiServer,
                                            tmp_path: Path) -> None:
    require_client()
    ns = f"kopf-crd-{uuid.uuid4().hex[:8]}"
    http: httpx.Client = secure_apiserver.client()
    crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    created = http.post(crds, json=CRD)
    assert created.status_code in (201, 409), created.text
    logfile = tmp_path / "kopf.log"
    until("the CRD established", lambda: any(
        c["type"] == "Established" and c["status"] == "True"
        for c in http.get(f"{crds}/echoservers.{GROUP}").json()["status"]["conditions"]),
        logfile)
    secure_apiserver.create_namespace(ns)
    operator = operator_account(secure_apiserver, ns, "echo-operator", ECHO_RULES)
    (tmp_path / "operator.py").write_text(textwrap.dedent(OPERATOR))
    log = logfile.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kopf", "run", "--standalone", "--namespace", ns,
         str(tmp_path / "operator.py")],
        stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "KUBECONFIG": str(operator.kubeconfig)}, cwd=tmp_path,
    )
    echo = f"/apis/{GROUP}/v1/namespaces/{ns}/echoservers"
    cms = f"/api/v1/namespaces/{ns}/configmaps"
    try:
        r = http.post(echo, json={"apiVersion": f"{GROUP}/v1", "kind": "EchoServer",
                                  "metadata": {"name": "hello"}, "spec": {"message": "hi"}})
        assert r.status_code == 201, r.text
        cm = until("the child ConfigMap", lambda: http.get(f"{cms}/hello-echo").status_code == 200
                   and http.get(f"{cms}/hello-echo").json(), logfile)
        assert cm["data"] == {"message": "hi", "replicas": "1"}
        owner = cm["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"], owner["controller"]) == ("EchoServer", "hello", True)
        obj = until("the handler's status", lambda: http.get(f"{echo}/hello").json()
                    .get("status", {}).get("create"), logfile)
        assert obj == {"configMap": "hello-echo"}
        stored = http.get(f"{echo}/hello").json()
        assert any("kopf" in f for f in stored["metadata"].get("finalizers", [])), stored

        patched = http.patch(f"{echo}/hello", json={"spec": {"message": "again"}},
                             headers={"content-type": "application/merge-patch+json"})
        assert patched.status_code == 200, patched.text
        until("the update handler", lambda: http.get(f"{cms}/hello-echo").json()["data"]
              .get("message") == "again", logfile)

        assert http.delete(f"{echo}/hello").status_code == 200
        until("the delete handler", lambda: http.get(f"{cms}/hello-deleted").status_code == 200,
              logfile)
        until("the object gone", lambda: http.get(f"{echo}/hello").status_code == 404, logfile)
        assert proc.poll() is None, logfile.read_text()
        log_text = logfile.read_text()
        assert "Forbidden" not in log_text and " 403" not in log_text, log_text
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        http.delete(f"/api/v1/namespaces/{ns}")
        http.delete(f"{crds}/echoservers.{GROUP}")
        http.close()
        remove_framework_role(secure_apiserver, operator)
