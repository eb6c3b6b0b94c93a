"""``kubectl delete namespace`` empties and removes a namespace through the manager's
``namespace`` controller, as in a cluster; without the controller it stays Terminating.

Real processes: a private apiserver, the scheduler, a node agent and
``python -m controllers.manager`` (namespace, deployment, replicaset, garbage collector,
serviceaccount), driven by kubectl.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.integration.test_nodes import Proc, wait_for
from tests.support.apiserver import ApiServerProcess
from tests.support.kubectl import Kubectl

MANAGER = ("--leader-elect=false",
           "--controllers=namespace,deployment,replicaset,garbagecollector,serviceaccount")

CONTENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 2
      containers: [{name: web, image: nginx}]
---
apiVersion: v1
kind: Pod
metadata: {name: single}
spec:
  terminationGracePeriodSeconds: 2
  containers: [{name: web, image: nginx}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {a: "1"}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
"""

#: Namespaced collections the test checks are empty afterwards.
COLLECTIONS = ("/api/v1/namespaces/{ns}/pods", "/api/v1/namespaces/{ns}/configmaps",
               "/api/v1/namespaces/{ns}/services", "/api/v1/namespaces/{ns}/serviceaccounts",
               "/apis/apps/v1/namespaces/{ns}/deployments",
               "/apis/apps/v1/namespaces/{ns}/replicasets")


def _kubectl(kubectl: Kubectl, server: ApiServerProcess, *args: str,
             stdin: str | None = None) -> str:
    result = kubectl(*args, kubeconfig=server.kubeconfig, input=stdin, timeout=90)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _namespace(server: ApiServerProcess, name: str) -> dict[str, Any] | None:
    response = httpx.get(f"{server.url}/api/v1/namespaces/{name}", timeout=5)
    if response.status_code == 404:
        return None
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def _count(server: ApiServerProcess, ns: str, path: str) -> int:
    items = httpx.get(server.url + path.format(ns=ns), timeout=5).json()["items"]
    return len(items)


def test_kubectl_delete_namespace_empties_and_removes_it(
    fresh_apiserver: ApiServerProcess, procs: Callable[..., Proc], kubectl: Kubectl
) -> None:
    server = fresh_apiserver
    procs(server, "controllers.scheduler")
    procs(server, "controllers.node", "--node-name", "kn-ns", "--node-ip", "127.0.0.1",
          "--pod-cidr", "127.244.216.0/24")
    _kubectl(kubectl, server, "create", "namespace", "doomed")
    _kubectl(kubectl, server, "-n", "doomed", "apply", "-f", "-", stdin=CONTENT)

    # Without the namespace controller a deleted namespace stays Terminating, full.
    _kubectl(kubectl, server, "delete", "namespace", "doomed", "--wait=false")
    time.sleep(2.0)
    ns = _namespace(server, "doomed")
    assert ns is not None and ns["status"]["phase"] == "Terminating"
    assert ns["spec"]["finalizers"] == ["kubernetes"]
    assert _count(server, "doomed", COLLECTIONS[1]) == 1

    procs(server, "controllers.manager", *MANAGER)
    _kubectl(kubectl, server, "create", "namespace", "second")
    _kubectl(kubectl, server, "-n", "second", "apply", "-f", "-", stdin=CONTENT)
    wait_for("3 running pods", lambda: sum(
        1 for p in httpx.get(f"{server.url}/api/v1/namespaces/second/pods", timeout=5)
        .json()["items"] if p["status"].get("phase") == "Running") == 3, timeout=60)
    wait_for("the default ServiceAccount", lambda: _count(server, "second", COLLECTIONS[3]),
             timeout=30)

    started = time.monotonic()
    out = _kubectl(kubectl, server, "delete", "namespace", "second", "--timeout=90s")
    assert out.strip() == 'namespace "second" deleted'
    # 5 s of upstream's deletion grace, then the pods' 2 s grace period.
    assert time.monotonic() - started < 60
    result = kubectl("get", "namespace", "second", kubeconfig=server.kubeconfig)
    assert result.returncode == 1
    assert 'namespaces "second" not found' in result.stderr
    assert all(_count(server, "second", path) == 0 for path in COLLECTIONS)

    # The namespace deleted before the controller ran is emptied and removed too.
    wait_for("the first namespace gone", lambda: _namespace(server, "doomed") is None,
             timeout=60)
    assert all(_count(server, "doomed", path) == 0 for path in COLLECTIONS)


def test_finalizers_keep_a_namespace_terminating_with_conditions(
    fresh_apiserver: ApiServerProcess, procs: Callable[..., Proc], kubectl: Kubectl
) -> None:
    server = fresh_apiserver
    procs(server, "controllers.manager", *MANAGER)
    _kubectl(kubectl, server, "create", "namespace", "held")
    held = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "held", "finalizers": ["example.com/hold"]}}
    _kubectl(kubectl, server, "-n", "held", "create", "-f", "-", stdin=json.dumps(held))
    _kubectl(kubectl, server, "delete", "namespace", "held", "--wait=false")

    def conditions() -> dict[str, dict[str, Any]] | None:
        ns = _namespace(server, "held")
        found = {c["type"]: c for c in (ns or {}).get("status", {}).get("conditions") or []}
        return found if len(found) == 5 else None

    found = wait_for("the namespace conditions", conditions, timeout=30)
    assert found["NamespaceFinalizersRemaining"] == {
        **found["NamespaceFinalizersRemaining"], "status": "True",
        "reason": "SomeFinalizerRemain",
        "message": "Some finalizers are remaining: example.com/hold in 1 resource instances"}
    assert found["NamespaceContentRemaining"]["message"] == (
        "Some resources are remaining: configmaps. has 1 resource instances")
    assert found["NamespaceDeletionDiscoveryFailure"]["status"] == "False"
    assert found["NamespaceDeletionContentFailure"]["reason"] == "ContentDeleted"
    table = _kubectl(kubectl, server, "get", "namespace", "held", "--no-headers")
    assert table.split()[:2] == ["held", "Terminating"]

    _kubectl(kubectl, server, "-n", "held", "patch", "configmap", "held", "--type=merge",
             "-p", '{"metadata":{"finalizers":null}}')
    # The controller looks again after half the 15 s finalizer estimate.
    wait_for("the namespace gone", lambda: _namespace(server, "held") is None, timeout=30)
