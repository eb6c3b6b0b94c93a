"""The controllers survive a crash of the apiserver and of themselves mid-scale-up.

Real processes: a private sqlite apiserver, ``python -m controllers.manager
--controllers=deployment,replicaset``, the scheduler and two node agents. A Deployment is
scaled from 1 to 30 replicas; as soon as the scale-up has started (its first new pods are
seen on a watch) the apiserver — or the manager — is SIGKILLed and started again (the
apiserver on the same port and data directory). The pods must then converge to exactly
30, all Running, none lost and none doubled, and stay there.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.apiserver import ApiServerProcess
from tests.support.process import Process

pytestmark = pytest.mark.slow

REPLICAS = 30
NS = "default"
DEPLOY = f"/apis/apps/v1/namespaces/{NS}/deployments"
PODS = f"/api/v1/namespaces/{NS}/pods"
MANAGER_ARGS = ("--leader-elect=false", "--controllers=deployment,replicaset")


@dataclass
class Cluster:
    server: ApiServerProcess
    manager: Process
    tmp: Path

    def restart_manager(self) -> None:
        """SIGKILL the manager (if it still runs) and start a new one with the same flags."""
        self.manager.kill()
        self.manager = Process(self.manager.argv[1:], self.tmp / "manager-2.log").start()


@pytest.fixture
def cluster(fresh_apiserver: ApiServerProcess, tmp_path: Path) -> Iterator[Cluster]:
    server = fresh_apiserver
    started: list[Process] = []

    def start(module: str, *extra: str, log: str) -> Process:
        argv = ["-m", module, "--kubeconfig", str(server.kubeconfig), *extra]
        process = Process(argv, tmp_path / f"{log}.log").start()
        started.append(process)
        return process

    for name, cidr in (("rst-a", "127.244.221.0/24"), ("rst-b", "127.244.222.0/24")):
        start("controllers.node", "--node-name", name, "--node-ip", "127.0.0.1",
              "--pod-cidr", cidr, "--lease-interval", "1", log=name)
    start("controllers.scheduler", log="scheduler")
    state = Cluster(server, start("controllers.manager", *MANAGER_ARGS, log="manager"),
                    tmp_path)
    try:
        yield state
    finally:
        state.manager.stop()
        for process in reversed(started):
            process.stop()


def _get(server: ApiServerProcess, path: str, **params: str) -> dict[str, Any]:
    response = httpx.get(server.url + path, params=params, timeout=5)
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def _pods(server: ApiServerProcess, app: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = _get(server, PODS, labelSelector=f"app={app}")["items"]
    return items


def _running(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")
            and p.get("status", {}).get("phase") == "Running"]


def _wait(what: str, check: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except httpx.HTTPError as exc:  # the apiserver is restarting
            last = exc
        else:
            if last:
                return last
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}: last {last!r}")


def _deployment(app: str) -> dict[str, Any]:
    labels = {"app": app}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": app},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {
                         "terminationGracePeriodSeconds": 1,
                         "containers": [{"name": "c", "image": "nginx"}]}}}}


def _scale_and_crash(server: ApiServerProcess, app: str, crash: Callable[[], None]) -> None:
    """Scale to :data:`REPLICAS`; ``crash()`` on the second new pod the watch shows."""
    rv = _get(server, PODS)["metadata"]["resourceVersion"]
    response = httpx.patch(f"{server.url}{DEPLOY}/{app}",
                           json={"spec": {"replicas": REPLICAS}}, timeout=5,
                           headers={"Content-Type": "application/merge-patch+json"})
    assert response.status_code == 200, response.text
    added = 0
    with httpx.stream("GET", server.url + PODS, timeout=30, params={
            "watch": "true", "resourceVersion": rv, "labelSelector": f"app={app}"}) as stream:
        for line in stream.iter_lines():
            if line and json.loads(line)["type"] == "ADDED":
                added += 1
                if added == 2:
                    crash()
                    break


def _mid_scale_up(server: ApiServerProcess, app: str) -> None:
    """The crash came in the middle: some pods of the scale-up exist, not all."""
    count = len(_pods(server, app))
    assert 1 < count < REPLICAS, count


def _converged(server: ApiServerProcess, app: str) -> None:
    """Exactly :data:`REPLICAS` pods, all Running, owned by the one ReplicaSet; stays so."""
    def exact() -> bool:
        pods = _pods(server, app)
        return len(pods) == REPLICAS and len(_running(pods)) == REPLICAS

    _wait(f"{REPLICAS} running pods and no others", exact, timeout=120)
    rs_list = _get(server, f"/apis/apps/v1/namespaces/{NS}/replicasets",
                   labelSelector=f"app={app}")["items"]
    assert len(rs_list) == 1
    rs_uid = rs_list[0]["metadata"]["uid"]
    for _ in range(12):  # and it stays there: no late duplicate, no late deletion
        pods = _pods(server, app)
        assert len(pods) == REPLICAS, [p["metadata"]["name"] for p in pods]
        assert len({p["metadata"]["name"] for p in pods}) == REPLICAS
        assert all(p["metadata"]["ownerReferences"][0]["uid"] == rs_uid for p in pods)
        time.sleep(0.5)
    _wait("the Deployment's status", lambda: (
        (s := _get(server, f"{DEPLOY}/{app}").get("status", {})).get("readyReplicas")
        == REPLICAS and s.get("replicas") == REPLICAS and s.get("updatedReplicas") == REPLICAS),
        timeout=30)


def _start(cluster: Cluster, app: str) -> None:
    server = cluster.server
    response = httpx.post(server.url + DEPLOY, json=_deployment(app), timeout=5)
    assert response.status_code == 201, response.text
    _wait("the first pod Running", lambda: len(_running(_pods(server, app))) == 1, timeout=60)


def test_apiserver_sigkill_mid_scale_up_converges_exactly(cluster: Cluster) -> None:
    server = cluster.server
    _start(cluster, "crash-api")
    _scale_and_crash(server, "crash-api", server.kill)
    assert not server.running
    time.sleep(1.0)  # the controllers see connection errors meanwhile
    server.start()
    _mid_scale_up(server, "crash-api")
    _converged(server, "crash-api")
    assert cluster.manager.running()


def test_manager_sigkill_mid_scale_up_converges_exactly(cluster: Cluster) -> None:
    server = cluster.server
    _start(cluster, "crash-kcm")
    _scale_and_crash(server, "crash-kcm", cluster.manager.kill)
    _mid_scale_up(server, "crash-kcm")
    cluster.restart_manager()
    _converged(server, "crash-kcm")


def test_apiserver_and_manager_crash_together(cluster: Cluster) -> None:
    server = cluster.server
    _start(cluster, "crash-both")

    def both() -> None:
        server.kill()
        cluster.manager.kill()

    _scale_and_crash(server, "crash-both", both)
    server.start()
    _mid_scale_up(server, "crash-both")
    cluster.restart_manager()
    _converged(server, "crash-both")
