"""The resource metrics API against a real node agent: the apiserver scrapes the kubelet's
``/metrics/resource`` (``--metric-resolution``) and serves ``metrics.k8s.io`` as
metrics-server does, so ``kubectl top`` works and a pod's CPU follows the load it
serves."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from apiserver.api.quantity import parse_quantity
from kubemu.addresses import Addresses
from tests.integration.test_nodes import Proc, get, kubectl, wait_for
from tests.support.apiserver import ApiServerProcess

WEB = """
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  containers:
  - name: web
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    args: [netexec, --http-port=8080]
    ports: [{containerPort: 8080}]
    resources: {requests: {cpu: 10m}}
"""


def _pod_metrics(server: ApiServerProcess) -> dict[str, Any] | None:
    resp = httpx.get(server.url + "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/web",
                     timeout=5)
    return resp.json() if resp.status_code == 200 else None


def _cluster(apiserver_factory: Callable[..., ApiServerProcess], procs: Callable[..., Proc],
             address_block: Addresses, node: str, index: int) -> ApiServerProcess:
    """An apiserver scraping every second, a scheduler and one node agent."""
    server = apiserver_factory(extra_args=("--metric-resolution", "1s"))
    procs(server, "controllers.scheduler")
    procs(server, "controllers.node", "--node-name", node, "--pod-cidr",
          address_block.pod_cidr(index), "--lease-interval", "1")
    return server


@contextlib.contextmanager
def _load(url: str) -> Iterator[None]:
    """Requests to ``url`` one after another, in a thread, while the block runs."""
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(timeout=5) as client:
            while not stop.is_set():
                client.get(url)

    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    try:
        yield
    finally:
        stop.set()
        loader.join(10)


def test_kubectl_top_and_the_metrics_api(
    apiserver_factory: Callable[..., ApiServerProcess], procs: Callable[..., Proc],
    address_block: Addresses,
) -> None:
    server = _cluster(apiserver_factory, procs, address_block, "kn-m", 5)

    groups = get(server, "/apis")["groups"]
    assert {"name": "metrics.k8s.io",
            "versions": [{"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"}],
            "preferredVersion": {"groupVersion": "metrics.k8s.io/v1beta1",
                                 "version": "v1beta1"}} in groups
    resources = kubectl(server, "api-resources", "--api-group=metrics.k8s.io")
    assert [line.split()[0] for line in resources.splitlines()[1:]] == ["nodes", "pods"]

    # Before its first two scrapes a pod has no metrics: metrics-server's 404.
    kubectl(server, "apply", "-f", "-", stdin=WEB)
    missing = httpx.get(server.url + "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/"
                        "nope", timeout=5)
    assert missing.status_code == 404 and missing.json()["message"] == 'pods "nope" not found'

    node = wait_for("node metrics", lambda: get(
        server, "/apis/metrics.k8s.io/v1beta1/nodes")["items"], timeout=30)[0]
    assert node["kind"] == "NodeMetrics" and node["metadata"]["name"] == "kn-m"
    assert set(node["usage"]) == {"cpu", "memory"} and node["window"].endswith("s")
    top_nodes = kubectl(server, "top", "node").splitlines()
    assert top_nodes[0].split() == ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)",
                                    "MEMORY(%)"]
    assert top_nodes[1].split()[0] == "kn-m"

    metrics = wait_for("pod metrics", lambda: _pod_metrics(server), timeout=60)
    assert metrics["metadata"]["labels"] == {"app": "web"}
    assert [c["name"] for c in metrics["containers"]] == ["web"]
    top_pods = kubectl(server, "top", "pod").splitlines()
    assert top_pods[0].split() == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
    assert top_pods[1].split()[0] == "web"
    table = kubectl(server, "get", "podmetrics.metrics.k8s.io").splitlines()
    assert table[0].split() == ["NAME", "CPU", "MEMORY", "WINDOW"]

    # The CPU the built-in server spends on requests is the container's usage.
    ip = get(server, "/api/v1/namespaces/default/pods/web")["status"]["podIP"]
    before = parse_quantity(metrics["containers"][0]["usage"]["cpu"])

    def busier() -> bool:
        current = _pod_metrics(server)
        usage = parse_quantity(current["containers"][0]["usage"]["cpu"]) if current else None
        return usage is not None and before is not None and usage > before

    with _load(f"http://{ip}:8080/echo?msg=load"):
        wait_for("more CPU under load", busier, timeout=30)


DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: busy}
spec:
  selector: {matchLabels: {app: busy}}
  template:
    metadata: {labels: {app: busy}}
    spec:
      containers:
      - name: web
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: [netexec, --http-port=8080]
        ports: [{containerPort: 8080}]
        resources: {requests: {cpu: 1m}}
"""


def test_the_autoscaler_scales_a_deployment_on_the_cpu_it_serves_with(
    apiserver_factory: Callable[..., ApiServerProcess], procs: Callable[..., Proc],
    address_block: Addresses,
) -> None:
    server = _cluster(apiserver_factory, procs, address_block, "kn-h", 6)
    procs(server, "controllers.manager", "--leader-elect=false",
          "--controllers=deployment,replicaset,horizontalpodautoscaling",
          "--horizontal-pod-autoscaler-sync-period=1s")
    kubectl(server, "apply", "-f", "-", stdin=DEPLOYMENT)
    kubectl(server, "autoscale", "deployment", "busy", "--min=1", "--max=3",
            "--cpu-percent=50")

    def pod_ip() -> str:
        pods = get(server, "/api/v1/namespaces/default/pods?labelSelector=app%3Dbusy")["items"]
        return next((p["status"].get("podIP", "") for p in pods
                     if any(c["type"] == "Ready" and c["status"] == "True"
                            for c in p["status"].get("conditions", []))), "")

    ip = wait_for("a ready pod", pod_ip, timeout=60)

    def hpa() -> dict[str, Any]:
        return get(server, "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/"
                   "busy")

    def measured() -> bool:
        conditions = {c["type"]: c for c in hpa().get("status", {}).get("conditions", [])}
        active = conditions.get("ScalingActive", {})
        return active.get("status") == "True" and active.get("reason") == "ValidMetricFound"

    wait_for("a valid cpu metric", measured, timeout=60)
    def scaled_up() -> dict[str, Any] | None:
        status: dict[str, Any] = hpa()["status"]
        return status if status.get("desiredReplicas", 0) > 1 else None

    with _load(f"http://{ip}:8080/echo?msg=load"):
        # The status that scaled up (a sync after the load would measure less).
        status = wait_for("scaled up", scaled_up, timeout=60)
    current = status["currentMetrics"][0]["resource"]
    assert current["name"] == "cpu" and current["current"]["averageUtilization"] > 50

    def rescaled() -> bool:
        events = get(server, "/api/v1/namespaces/default/events?fieldSelector="
                     "involvedObject.kind%3DHorizontalPodAutoscaler")["items"]
        return any(e["reason"] == "SuccessfulRescale" and e["message"].endswith(
            "reason: cpu resource utilization (percentage of request) above target")
            for e in events)

    wait_for("the rescale event", rescaled, timeout=30)
    row = kubectl(server, "get", "hpa", "busy").splitlines()[1]
    assert "cpu: " in row and "/50%" in row and "<unknown>" not in row
