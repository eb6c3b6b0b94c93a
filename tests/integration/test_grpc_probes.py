"""grpc probes on a real node agent: a pod whose readiness probe is ``grpc`` turns Ready,
then NotReady after the built-in server's readiness switch, with the kubelet's Event."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from controllers.node.grpchealth import probe
from kubemu.addresses import Addresses
from tests.integration.test_nodes import Proc, get, kubectl, pod, wait_for
from tests.support.apiserver import ApiServerProcess

GRPC_POD = """
apiVersion: v1
kind: Pod
metadata: {name: health}
spec:
  containers:
  - name: app
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    args: [grpc-health-checking]
    ports: [{name: http, containerPort: 8080}, {name: grpc, containerPort: 5000}]
    readinessProbe: {grpc: {port: 5000}, periodSeconds: 1, failureThreshold: 1}
    livenessProbe: {grpc: {port: 5000, service: liveness}, periodSeconds: 1}
"""


def _ready(server: ApiServerProcess) -> bool:
    status = pod(server, "health")["status"]
    return bool((status.get("containerStatuses") or [{}])[0].get("ready"))


def test_grpc_readiness_probe_follows_the_readiness_switch(
    fresh_apiserver: ApiServerProcess, procs: Callable[..., Proc],
    address_block: Addresses,
) -> None:
    server = fresh_apiserver
    procs(server, "controllers.scheduler")
    procs(server, "controllers.node", "--node-name", "kn-g", "--pod-cidr",
          address_block.pod_cidr(4), "--lease-interval", "1")
    kubectl(server, "apply", "-f", "-", stdin=GRPC_POD)
    wait_for("ready through the grpc probe", lambda: _ready(server), timeout=60)
    ip = pod(server, "health")["status"]["podIP"]

    # The port speaks grpc.health.v1 to any client, for "" and for the probes' services.
    assert asyncio.run(probe(ip, 5000, "liveness", 5.0, "test")) == (True, "service healthy")

    httpx.post(f"http://{ip}:8080/kubemu/ready?value=false", timeout=3)
    wait_for("not ready", lambda: not _ready(server), timeout=60)

    def unhealthy() -> list[dict[str, Any]]:
        items = get(server, "/api/v1/namespaces/default/events")["items"]
        return [e for e in items if e["reason"] == "Unhealthy"]

    events = wait_for("Unhealthy event", unhealthy, timeout=60)
    assert events[0]["type"] == "Warning"
    assert events[0]["message"] == ('Readiness probe failed: service unhealthy '
                                    '(responded with "NOT_SERVING")')
    assert events[0]["involvedObject"]["fieldPath"] == "spec.containers{app}"
    assert "0/1" in kubectl(server, "get", "pod", "health")

    httpx.post(f"http://{ip}:8080/kubemu/ready?value=true", timeout=3)
    wait_for("ready again", lambda: _ready(server), timeout=60)
    assert pod(server, "health")["status"]["containerStatuses"][0]["restartCount"] == 0
