"""The statefulset controller in ``python -m controllers.manager`` with pods that really run.

A private apiserver, the scheduler, one node agent and the manager running only the
``statefulset`` controller: a 3-replica set with a readiness probe comes up web-0, web-1,
web-2 in order, each Running with its stable hostname and subdomain; scaling to 1 removes
web-2, then web-1.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from kubemu.addresses import Addresses
from tests.support.apiserver import ApiServerProcess
from tests.support.process import Process

TIMEOUT = 40.0
PODS = "/api/v1/namespaces/default/pods"
STS = "/apis/apps/v1/namespaces/default/statefulsets"

SET = {
    "apiVersion": "apps/v1", "kind": "StatefulSet",
    "metadata": {"name": "web"},
    "spec": {
        "replicas": 3, "serviceName": "web",
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "terminationGracePeriodSeconds": 1,
                "containers": [{
                    "name": "web", "image": "registry.k8s.io/e2e-test-images/agnhost:2.53",
                    "ports": [{"name": "http", "containerPort": 8080}],
                    "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"},
                                       "periodSeconds": 1},
                }],
            },
        },
    },
}




def _ready(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    conditions = {c["type"]: c["status"] for c in status.get("conditions") or []}
    return status.get("phase") == "Running" and conditions.get("Ready") == "True"


def test_statefulset_pods_come_up_in_order_and_scale_down_in_reverse(
    fresh_apiserver: ApiServerProcess, procs: Callable[..., Process],
    address_block: Addresses,
) -> None:
    server = fresh_apiserver
    procs(server, "controllers.scheduler")
    procs(server, "controllers.node", "--node-name", "kn-sts", "--node-ip", "127.0.0.1",
          "--pod-cidr", address_block.pod_cidr(3), "--lease-interval", "1")
    manager = procs(server, "controllers.manager", "--leader-elect=false",
                    "--controllers=statefulset")
    client = httpx.Client(base_url=server.url, timeout=5)
    client.post(STS, json=SET).raise_for_status()

    # Every pod appears only once all pods below it are Running and Ready.
    seen: dict[str, bool] = {}
    order: list[str] = []
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        pods = {p["metadata"]["name"]: p for p in client.get(PODS).json()["items"]}
        for name in sorted(pods):
            if name not in seen:
                ordinal = int(name.rsplit("-", 1)[1])
                below = [f"web-{i}" for i in range(ordinal)]
                assert all(seen.get(b) for b in below), (name, seen)
                order.append(name)
            seen[name] = _ready(pods[name])
        if len(pods) == 3 and all(seen.values()):
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"pods not ready: {seen}\n{manager.logs()[-3000:]}")
    assert order == ["web-0", "web-1", "web-2"]
    for i, name in enumerate(order):
        pod = client.get(f"{PODS}/{name}").json()
        assert pod["spec"]["hostname"] == name and pod["spec"]["subdomain"] == "web"
        labels = pod["metadata"]["labels"]
        assert labels["statefulset.kubernetes.io/pod-name"] == name
        assert labels["apps.kubernetes.io/pod-index"] == str(i)
        assert pod["metadata"]["ownerReferences"][0]["kind"] == "StatefulSet"

    def status() -> dict[str, Any]:
        return dict(client.get(f"{STS}/web").json().get("status") or {})

    deadline = time.monotonic() + TIMEOUT
    while status().get("readyReplicas") != 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    st = status()
    assert st["readyReplicas"] == 3 and st["replicas"] == 3 and st["observedGeneration"] == 1
    assert st["currentRevision"] == st["updateRevision"]
    revisions = client.get("/apis/apps/v1/namespaces/default/controllerrevisions").json()
    assert [r["metadata"]["name"] for r in revisions["items"]] == [st["updateRevision"]]

    # Scale to 1: web-2 goes first, then web-1.
    client.patch(f"{STS}/web/scale", json={"spec": {"replicas": 1}},
                 headers={"Content-Type": "application/merge-patch+json"}).raise_for_status()
    gone: list[str] = []
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        names = {p["metadata"]["name"] for p in client.get(PODS).json()["items"]}
        for name in ("web-2", "web-1"):
            if name not in names and name not in gone:
                gone.append(name)
        if names == {"web-0"}:
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"scale down stuck: {gone}\n{manager.logs()[-3000:]}")
    assert gone == ["web-2", "web-1"]
    deadline = time.monotonic() + TIMEOUT
    while status().get("replicas") != 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert status()["replicas"] == 1
