"""ReplicaSets and ReplicationControllers against a real apiserver, scheduler and node agent,
with ``python -m controllers.manager --controllers=replicaset,replicationcontroller``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kubemu.addresses import Addresses
from tests.support.apiserver import ApiServerProcess
from tests.support.process import Process

TIMEOUT = 30.0
RS_PATH = "/apis/apps/v1/namespaces/default/replicasets"
RC_PATH = "/api/v1/namespaces/default/replicationcontrollers"
PODS = "/api/v1/namespaces/default/pods"


@pytest.fixture
def cluster(fresh_apiserver: ApiServerProcess, tmp_path: Path,
            address_block: Addresses) -> Iterator[httpx.Client]:
    server = fresh_apiserver
    started: list[Process] = []
    for module, extra in (
        ("controllers.manager", ("--leader-elect=false",
                                 "--controllers=replicaset,replicationcontroller")),
        ("controllers.scheduler", ()),
        ("controllers.node", ("--node-name", "rs-1", "--node-ip", "127.0.0.1",
                              "--pod-cidr", address_block.pod_cidr(11), "--lease-interval", "1")),
    ):
        argv = ["-m", module, "--kubeconfig", str(server.kubeconfig), *extra]
        started.append(Process(argv, tmp_path / f"{module}.log").start())
    try:
        with httpx.Client(base_url=server.url, timeout=10.0) as client:
            yield client
    finally:
        for p in reversed(started):
            p.stop()


def wait_for(what: str, fn: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + TIMEOUT
    last: Any = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}: last {last!r}")


def live_pods(client: httpx.Client, app: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.get(PODS, params={"labelSelector": f"app={app}"}) \
        .json()["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def running(client: httpx.Client, app: str, count: int) -> list[dict[str, Any]] | None:
    pods = live_pods(client, app)
    ok = len(pods) == count and all(p.get("status", {}).get("phase") == "Running"
                                    for p in pods)
    return pods if ok else None


def template(app: str) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": app}},
            "spec": {"terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "c", "image": "nginx"}]}}


def scale(client: httpx.Client, path: str, replicas: int) -> None:
    response = client.patch(path, json={"spec": {"replicas": replicas}},
                            headers={"Content-Type": "application/merge-patch+json"})
    assert response.status_code == 200, response.text


def exercise(client: httpx.Client, path: str, app: str) -> None:
    pods = wait_for("3 running pods", lambda: running(client, app, 3))
    for pod in pods:
        ref = pod["metadata"]["ownerReferences"][0]
        assert ref["controller"] is True and ref["name"] == app
        assert pod["metadata"]["name"].startswith(f"{app}-")
    wait_for("readyReplicas 3", lambda: client.get(path).json()["status"].get(
        "readyReplicas") == 3)
    status = client.get(path).json()["status"]
    assert status["replicas"] == 3 and status["fullyLabeledReplicas"] == 3
    assert status["observedGeneration"] == client.get(path).json()["metadata"]["generation"]

    victim = pods[0]["metadata"]["name"]
    assert client.delete(f"{PODS}/{victim}").status_code == 200
    replaced = wait_for("a replacement", lambda: (lambda now: now if now and victim not in {
        p["metadata"]["name"] for p in now} else None)(running(client, app, 3)))
    assert len(replaced) == 3

    scale(client, path, 5)
    wait_for("5 running pods", lambda: running(client, app, 5))
    wait_for("readyReplicas 5", lambda: client.get(path).json()["status"].get(
        "readyReplicas") == 5)
    scale(client, path, 2)
    wait_for("2 pods left", lambda: running(client, app, 2))
    wait_for("status replicas 2", lambda: client.get(path).json()["status"].get(
        "replicas") == 2)
    time.sleep(1.0)
    assert len(live_pods(client, app)) == 2


def test_replicaset_keeps_its_replicas(cluster: httpx.Client) -> None:
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web"},
          "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                   "template": template("web")}}
    assert cluster.post(RS_PATH, json=rs).status_code == 201
    exercise(cluster, f"{RS_PATH}/web", "web")


def test_replicationcontroller_keeps_its_replicas(cluster: httpx.Client) -> None:
    rc = {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "legacy"},
          "spec": {"replicas": 3, "selector": {"app": "legacy"},
                   "template": template("legacy")}}
    assert cluster.post(RC_PATH, json=rc).status_code == 201
    exercise(cluster, f"{RC_PATH}/legacy", "legacy")


def test_orphans_are_adopted_and_mislabeled_pods_released(cluster: httpx.Client) -> None:
    orphan = {"metadata": {"name": "stray", "labels": {"app": "adopt"}},
              "spec": template("adopt")["spec"]}
    assert cluster.post(PODS, json=orphan).status_code == 201
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "adopt"},
          "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "adopt"}},
                   "template": template("adopt")}}
    assert cluster.post(RS_PATH, json=rs).status_code == 201
    pods = wait_for("2 pods", lambda: running(cluster, "adopt", 2))
    stray = cluster.get(f"{PODS}/stray").json()
    assert stray["metadata"]["ownerReferences"][0]["name"] == "adopt"
    assert "stray" in {p["metadata"]["name"] for p in pods}
    relabel = cluster.patch(f"{PODS}/stray", json={"metadata": {"labels": {"app": "gone"}}},
                            headers={"Content-Type": "application/merge-patch+json"})
    assert relabel.status_code == 200
    wait_for("released", lambda: not cluster.get(f"{PODS}/stray").json()["metadata"].get(
        "ownerReferences"))
    wait_for("a replacement", lambda: running(cluster, "adopt", 2))
