"""A Deployment behind a Service on a whole ``kubemu up --nodes 2``: pods come and go, the
Service's address stays, and a rolling update drops no request.

Every process is real: the apiserver, the controller manager (deployment and replicaset
controllers), the endpoints controllers, the scheduler, two node agents serving the pods and
the userspace kube-proxy answering on the ClusterIP. kubectl 1.33 drives it as a user would.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.kubemu_up import Kubemu, hostname, start_kubemu, stop_kubemu, wait_for

pytestmark = pytest.mark.timeout(300)

NS = "default"
IMAGE = "registry.k8s.io/e2e-test-images/agnhost:2.53"


def deployment(replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate",
                         "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"terminationGracePeriodSeconds": 5, "containers": [{
                    "name": "web", "image": IMAGE,
                    "args": ["netexec", "--http-port=8080"],
                    "ports": [{"name": "http", "containerPort": 8080}],
                    "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"},
                                       "periodSeconds": 1, "failureThreshold": 1},
                    # As on a real cluster, a zero-downtime rollout needs the old pod to keep
                    # serving until every kube-proxy has dropped it from the Service.
                    "lifecycle": {"preStop": {"sleep": {"seconds": 2}}},
                }]},
            },
        },
    }


SERVICE = {
    "apiVersion": "v1", "kind": "Service",
    "metadata": {"name": "web"},
    "spec": {"selector": {"app": "web"},
             "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Kubemu]:
    k = start_kubemu(tmp_path / "data", nodes=2)
    try:
        wait_for("two Ready nodes", lambda: k.kubectl(
            "get", "nodes", "--no-headers").count(" Ready ") == 2)
        yield k
    finally:
        stop_kubemu(k)


def _ready_pods(k: Kubemu) -> dict[str, str]:
    """name → IP of the Deployment's Running, Ready, not terminating pods."""
    pods = k.get(f"/api/v1/namespaces/{NS}/pods?labelSelector=app%3Dweb")["items"]
    out: dict[str, str] = {}
    for pod in pods:
        status = pod.get("status") or {}
        ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                    for c in status.get("conditions") or [])
        if ready and status.get("podIP") and not pod["metadata"].get("deletionTimestamp"):
            out[pod["metadata"]["name"]] = status["podIP"]
    return out


def _endpoint_ips(k: Kubemu) -> list[str]:
    ep = k.get(f"/api/v1/namespaces/{NS}/endpoints/web")
    return sorted(a["ip"] for s in ep.get("subsets") or [] for a in s.get("addresses") or [])


def _settled(k: Kubemu, count: int) -> dict[str, str] | None:
    """The ready pods once there are ``count`` and the Endpoints list exactly them."""
    pods = _ready_pods(k)
    total = len(k.get(f"/api/v1/namespaces/{NS}/pods?labelSelector=app%3Dweb")["items"])
    if len(pods) == count == total and _endpoint_ips(k) == sorted(pods.values()):
        return pods
    return None


class Prober(threading.Thread):
    """Requests through the ClusterIP, one new connection at a time, until stopped."""

    def __init__(self, address: str) -> None:
        super().__init__(daemon=True)
        self.address = address
        self.ok = 0
        self.failures: list[str] = []
        self.answered: set[str] = set()
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                self.answered.add(hostname(self.address))
                self.ok += 1
            except httpx.HTTPError as exc:
                self.failures.append(repr(exc))
            time.sleep(0.02)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(10)


def test_deployment_behind_a_service(cluster: Kubemu) -> None:
    k = cluster
    k.kubectl("apply", "-f", "-", stdin=json.dumps(
        {"apiVersion": "v1", "kind": "List", "items": [deployment(3), SERVICE]}))
    first = wait_for("3 ready pods in the Endpoints", lambda: _settled(k, 3), timeout=60)
    cluster_ip = k.get(f"/api/v1/namespaces/{NS}/services/web")["spec"]["clusterIP"]
    address = f"{cluster_ip}:80"
    wait_for("the ClusterIP answering", lambda: hostname(address) in first)

    # A deleted pod is replaced by one with a new name and address; the Endpoints follow.
    victim = sorted(first)[0]
    k.kubectl("delete", "pod", victim, "--wait=false")
    after = wait_for("a replacement pod", lambda: (lambda p: p if p and victim not in p
                                                   else None)(_settled(k, 3)), timeout=60)
    new = set(after) - set(first)
    assert len(new) == 1
    assert after[new.pop()] != first[victim]

    # Scaling changes the set of pods behind the one address.
    k.kubectl("scale", "deployment", "web", "--replicas=5")
    wait_for("5 endpoints", lambda: _settled(k, 5), timeout=60)
    k.kubectl("scale", "deployment", "web", "--replicas=2")
    two = wait_for("2 endpoints", lambda: _settled(k, 2), timeout=60)
    wait_for("the ClusterIP answering from the 2", lambda: hostname(address) in two)

    # A rolling update (readiness-gated, maxUnavailable 0) drops no request.
    prober = Prober(address)
    prober.start()
    try:
        k.kubectl("set", "env", "deployment/web", "VERSION=2")
        out = k.kubectl("rollout", "status", "deployment/web", "--timeout=120s")
        assert "successfully rolled out" in out
        rolled = wait_for("2 updated endpoints", lambda: (
            lambda p: p if p and not set(p) & set(two) else None)(_settled(k, 2)), timeout=60)
        time.sleep(1.0)
    finally:
        prober.stop()
    assert prober.failures == [], prober.failures[:5]
    assert prober.ok > 20
    assert prober.answered & set(rolled)

    env = k.get(f"/apis/apps/v1/namespaces/{NS}/deployments/web")["spec"]["template"]["spec"]
    assert env["containers"][0].get("env") == [{"name": "VERSION", "value": "2"}]
    k.kubectl("rollout", "undo", "deployment/web")
    k.kubectl("rollout", "status", "deployment/web", "--timeout=120s")
    spec = k.get(f"/apis/apps/v1/namespaces/{NS}/deployments/web")["spec"]["template"]["spec"]
    assert "env" not in spec["containers"][0]
