"""A small kopf operator against the secured apiserver (TLS + RBAC), running as a
ServiceAccount with only the RBAC an operator needs: it starts, receives Service events
and patches the Services it sees.

:func:`operator_account` gives an operator its identity: the framework's cluster-wide
rules (:data:`FRAMEWORK_RULES`, a ClusterRole as kopf's documentation lists it: CRDs and
namespaces to observe, its peering objects) and a Role in the operator's namespace with
the application's rules plus Events.
"""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.support.deps import missing_dependency
from tests.support.secure import RBAC_GROUP, SecureApiServer, TokenUser, binding_name


def require_client() -> None:
    """The client is a pinned test dependency: skip locally, fail under CI if missing."""
    try:
        importlib.import_module("kopf")
    except ImportError:
        missing_dependency("kopf (pip install -e '.[test]')")


#: What the kopf framework itself reads cluster-wide.
FRAMEWORK_RULES: list[dict[str, Any]] = [
    {"apiGroups": ["kopf.dev"], "resources": ["clusterkopfpeerings"],
     "verbs": ["list", "watch", "patch", "get"]},
    {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"],
     "verbs": ["list", "watch"]},
    {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list", "watch"]},
]
#: What it does in the namespace it serves, whatever the application.
NAMESPACED_FRAMEWORK_RULES: list[dict[str, Any]] = [
    {"apiGroups": ["kopf.dev"], "resources": ["kopfpeerings"],
     "verbs": ["list", "watch", "patch", "get"]},
    {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create"]},
]


def operator_account(secure: SecureApiServer, ns: str, name: str,
                     rules: list[dict[str, Any]]) -> TokenUser:
    """ServiceAccount ``ns/name`` bound to the framework's ClusterRole (cluster-wide) and
    to a Role of ``ns`` with ``rules`` and the framework's namespaced rules."""
    rbac = f"/apis/{RBAC_GROUP}/v1"
    cluster_role = f"kopf-framework-{ns}"
    secure.admin("POST", f"{rbac}/clusterroles",
                 {"metadata": {"name": cluster_role}, "rules": FRAMEWORK_RULES})
    secure.admin("POST", f"{rbac}/namespaces/{ns}/roles",
                 {"metadata": {"name": name}, "rules": [*NAMESPACED_FRAMEWORK_RULES, *rules]})
    return secure.service_account(ns, name, roles=[name], cluster_wide=[cluster_role])


def allowed(secure: SecureApiServer, user: TokenUser, verb: str, resource: str) -> bool:
    """SelfSubjectAccessReview as ``user`` in its namespace."""
    with secure.client(None, token=user.token) as http:
        review = http.post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", json={
            "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {"namespace": user.namespace, "verb": verb,
                                            "resource": resource}}})
    assert review.status_code == 201, review.text
    return bool(review.json()["status"]["allowed"])


def remove_framework_role(secure: SecureApiServer, user: TokenUser) -> None:
    """Delete what :func:`operator_account` made outside the operator's namespace."""
    role = f"kopf-framework-{user.namespace}"
    rbac = f"/apis/{RBAC_GROUP}/v1"
    with secure.client() as http:
        binding = binding_name(user.namespace, user.name, role)
        assert http.delete(f"{rbac}/clusterrolebindings/{binding}").status_code == 200
        assert http.delete(f"{rbac}/clusterroles/{role}").status_code == 200


OPERATOR = '''
import kopf


@kopf.on.startup()
def configure(settings, **_):
    settings.posting.enabled = False
    settings.watching.server_timeout = 10


@kopf.on.create("v1", "services")
def seen(name, spec, patch, logger, **_):
    patch.metadata.labels["kopf-seen"] = "yes"
    patch.metadata.annotations["kopf-ports"] = str(len(spec.get("ports", [])))
    logger.info("saw service %s", name)
'''

#: The Service operator's own rules.
SERVICE_RULES: list[dict[str, Any]] = [
    {"apiGroups": [""], "resources": ["services"], "verbs": ["get", "list", "watch", "patch"]},
]


def test_kopf_operator_patches_services(secure_apiserver: SecureApiServer,
                                        tmp_path: Path) -> None:
    require_client()
    ns = secure_apiserver.create_namespace(f"kopf-{uuid.uuid4().hex[:8]}")
    operator = operator_account(secure_apiserver, ns, "service-operator", SERVICE_RULES)
    assert allowed(secure_apiserver, operator, "patch", "services")
    assert not allowed(secure_apiserver, operator, "delete", "services")
    assert not allowed(secure_apiserver, operator, "list", "secrets")
    http: httpx.Client = secure_apiserver.client()
    (tmp_path / "operator.py").write_text(textwrap.dedent(OPERATOR))
    log = (tmp_path / "kopf.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kopf", "run", "--standalone", "--namespace", ns,
         str(tmp_path / "operator.py")],
        stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "KUBECONFIG": str(operator.kubeconfig)}, cwd=tmp_path,
    )
    try:
        r = http.post(f"/api/v1/namespaces/{ns}/services", json={
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"name": "a", "port": 80},
                                                          {"name": "b", "port": 443}]}})
        assert r.status_code == 201, r.text
        deadline = time.monotonic() + 30
        svc: dict[str, object] = {}
        while time.monotonic() < deadline:
            svc = http.get(f"/api/v1/namespaces/{ns}/services/web").json()
            labels = svc["metadata"].get("labels") or {}  # type: ignore[index]
            if labels.get("kopf-seen") == "yes":
                break
            assert proc.poll() is None, (tmp_path / "kopf.log").read_text()
            time.sleep(0.2)
        md = svc["metadata"]
        assert md["labels"]["kopf-seen"] == "yes", (tmp_path / "kopf.log").read_text()  # type: ignore[index]
        assert md["annotations"]["kopf-ports"] == "2"  # type: ignore[index]
        managers = {e["manager"] for e in md["managedFields"]}  # type: ignore[index]
        assert "kopf" in managers or any("kopf" in m for m in managers), managers
        log_text = (tmp_path / "kopf.log").read_text()
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
        http.close()
        remove_framework_role(secure_apiserver, operator)
