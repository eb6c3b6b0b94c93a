"""Admission against a real apiserver with kubectl: LimitRanger, ResourceQuota (with the
controller manager's resourcequota controller), ServiceAccount, NamespaceLifecycle and
DenyServiceExternalIPs, and the plugin flags."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

from tests.support.apiserver import REPO_ROOT, ApiServerProcess, free_port
from tests.support.kubectl import Kubectl
from tests.support.process import Process

TIMEOUT = 20.0
LIMIT_RANGE = """
apiVersion: v1
kind: LimitRange
metadata: {name: limits}
spec:
  limits:
  - type: Container
    default: {cpu: 500m, memory: 256Mi}
    defaultRequest: {cpu: 400m, memory: 128Mi}
    max: {cpu: "1"}
"""


def _ns(kubectl: Kubectl, server: ApiServerProcess | None = None) -> str:
    name = f"adm-{uuid.uuid4().hex[:8]}"
    kubectl("create", "namespace", name, kubeconfig=server, check=True)
    return name


def _json(kubectl: Kubectl, *args: str, server: ApiServerProcess | None = None) -> Any:
    return json.loads(kubectl(*args, "-o", "json", kubeconfig=server, check=True).stdout)


def _wait(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_limit_range_defaults_and_bounds(kubectl: Kubectl) -> None:
    ns = _ns(kubectl)
    kubectl("-n", ns, "apply", "-f", "-", input=LIMIT_RANGE, check=True)
    kubectl("-n", ns, "run", "web", "--image=nginx", check=True)
    pod = _json(kubectl, "-n", ns, "get", "pod", "web")
    assert pod["spec"]["containers"][0]["resources"] == {
        "limits": {"cpu": "500m", "memory": "256Mi"},
        "requests": {"cpu": "400m", "memory": "128Mi"}}
    assert pod["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: cpu, memory request for container web; cpu, memory limit "
        "for container web")
    big = kubectl("-n", ns, "run", "big", "--image=nginx",
                  '--overrides={"spec":{"containers":[{"name":"big","image":"nginx",'
                  '"resources":{"limits":{"cpu":"2"}}}]}}')
    assert big.returncode != 0
    assert ('Error from server (Forbidden): pods "big" is forbidden: maximum cpu usage per '
            "Container is 1, but limit is 2") in big.stderr


def test_priority_from_the_pods_priority_class(kubectl: Kubectl) -> None:
    ns = _ns(kubectl)
    critical = ('--overrides={"spec":{"priorityClassName":"system-cluster-critical"}}')
    kubectl("-n", ns, "run", "critical", "--image=nginx", critical, check=True)
    spec = _json(kubectl, "-n", ns, "get", "pod", "critical")["spec"]
    assert (spec["priority"], spec["preemptionPolicy"]) == (2_000_000_000,
                                                           "PreemptLowerPriority")
    missing = kubectl("-n", ns, "run", "lost", "--image=nginx",
                      '--overrides={"spec":{"priorityClassName":"no-such-class"}}')
    assert missing.returncode != 0
    assert ('Error from server (Forbidden): pods "lost" is forbidden: no PriorityClass with '
            "name no-such-class was found") in missing.stderr
    name = f"default-{uuid.uuid4().hex[:6]}"
    kubectl("create", "priorityclass", name, "--value=42", "--global-default=true", check=True)
    try:
        kubectl("-n", ns, "run", "plain", "--image=nginx", check=True)
        spec = _json(kubectl, "-n", ns, "get", "pod", "plain")["spec"]
        assert (spec["priorityClassName"], spec["priority"]) == (name, 42)
        second = kubectl("create", "priorityclass", name + "-2", "--value=43",
                         "--global-default=true")
        assert f"PriorityClass {name} is marked as default. Only one default can exist" \
            in second.stderr
    finally:
        kubectl("delete", "priorityclass", name, check=True)


def test_namespace_lifecycle_with_kubectl(kubectl: Kubectl) -> None:
    missing = f"missing-{uuid.uuid4().hex[:6]}"
    result = kubectl("-n", missing, "create", "configmap", "c")
    assert result.returncode != 0
    assert f'failed to create configmap: namespaces "{missing}" not found' in result.stderr
    result = kubectl("delete", "namespace", "kube-public")
    assert 'namespaces "kube-public" is forbidden: this namespace may not be deleted' \
        in result.stderr


def test_quota_service_accounts_and_the_resourcequota_controller(
    apiserver_factory: Callable[..., ApiServerProcess],
    procs: Callable[..., Process],
    kubectl: Kubectl,
) -> None:
    # Upstream's default plugins, ServiceAccount included, with the controller manager.
    server = apiserver_factory(extra_args=["--disable-admission-plugins="])
    procs(server, "controllers.manager", "--leader-elect=false")
    ns = _ns(kubectl, server)

    def k(*args: str, **options: Any) -> subprocess.CompletedProcess[str]:
        return kubectl("-n", ns, *args, kubeconfig=server, **options)

    k("apply", "-f", "-", input=LIMIT_RANGE, check=True)
    k("create", "quota", "q", "--hard=pods=2,requests.cpu=1,requests.memory=1Gi,"
      "services.nodeports=1", check=True)

    def used() -> dict[str, str]:
        quota = _json(kubectl, "-n", ns, "get", "quota", "q", server=server)
        return dict(quota.get("status", {}).get("used") or {})

    assert _wait(used, "the quota's first count") == {
        "pods": "0", "requests.cpu": "0", "requests.memory": "0", "services.nodeports": "0"}
    for name in ("a", "b"):
        k("run", name, "--image=nginx", check=True)
    spec = _json(kubectl, "-n", ns, "get", "pod", "a", server=server)["spec"]
    assert spec["serviceAccountName"] == "default"
    token = [v for v in spec["volumes"] if v["name"].startswith("kube-api-access-")]
    assert token and spec["containers"][0]["volumeMounts"] == [{
        "name": token[0]["name"], "readOnly": True,
        "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}]
    assert used() == {"pods": "2", "requests.cpu": "800m", "requests.memory": "256Mi",
                      "services.nodeports": "0"}
    refused = k("run", "c", "--image=nginx")
    assert refused.returncode != 0
    assert ('Error from server (Forbidden): pods "c" is forbidden: exceeded quota: q, '
            "requested: pods=1,requests.cpu=400m, used: pods=2,requests.cpu=800m, limited: "
            "pods=2,requests.cpu=1") in refused.stderr
    table = k("get", "quota", "q", check=True).stdout
    assert "pods: 2/2" in table and "requests.cpu: 800m/1" in table, table
    described = k("describe", "quota", "q", check=True).stdout
    assert any(line.split() == ["pods", "2", "2"] for line in described.splitlines()), \
        described
    # The controller gives back what a deleted pod held.
    k("delete", "pod", "a", "--wait=false", check=True)
    _wait(lambda: used().get("pods") == "1", "the quota to be replenished")
    ghost = k("run", "ghost", "--image=nginx", '--overrides={"spec":{"serviceAccountName":'
              '"ghost"}}')
    assert (f'pods "ghost" is forbidden: error looking up service account {ns}/ghost: '
            'serviceaccount "ghost" not found') in ghost.stderr
    k("create", "service", "nodeport", "np1", "--tcp=80", check=True)
    second = k("create", "service", "nodeport", "np2", "--tcp=80")
    assert ('services "np2" is forbidden: exceeded quota: q, requested: services.nodeports=1, '
            "used: services.nodeports=1, limited: services.nodeports=1") in second.stderr


EXTERNAL = """
apiVersion: v1
kind: Service
metadata: {name: %s}
spec:
  ports: [{port: 80}]
  externalIPs: [203.0.113.7]
"""


def test_deny_service_external_ips_when_enabled(
    apiserver_factory: Callable[..., ApiServerProcess], kubectl: Kubectl,
) -> None:
    server = apiserver_factory(
        extra_args=["--enable-admission-plugins=DenyServiceExternalIPs",
                    "--disable-admission-plugins=ServiceAccount"])
    denied = kubectl("apply", "-f", "-", input=EXTERNAL % "ext", kubeconfig=server)
    assert denied.returncode != 0
    assert ('services "ext" is forbidden: use of external IPs is denied by admission '
            "control") in denied.stderr
    kubectl("create", "service", "clusterip", "plain", "--tcp=80", kubeconfig=server,
            check=True)
    # Off by default, as upstream.
    ns = _ns(kubectl)
    kubectl("-n", ns, "apply", "-f", "-", input=EXTERNAL % "ext", check=True)


def test_unknown_admission_plugins_stop_the_server(tmp_path: Any) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "apiserver", "--storage", "memory", "--port", str(free_port()),
         "--enable-admission-plugins=NamespaceLifecycle,Bogus"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert 'enable-admission-plugins plugin "Bogus" is unknown' in result.stderr
