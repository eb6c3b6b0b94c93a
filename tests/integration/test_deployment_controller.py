"""``python -m controllers.manager --controllers=deployment`` against a real apiserver,
driven by ``kubectl`` 1.33 (``rollout status``, ``set image``, ``rollout history``,
``rollout undo``).

The ReplicaSet controller (ReplicaSets → pods) is built elsewhere and is not run here:
a thread of this test stands in for it, writing each ReplicaSet's ``/status`` with all
its replicas ready and available, which is all the deployment controller reads.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from controllers.deployment.util import compute_hash
from tests.support.apiserver import ApiServerProcess
from tests.support.kubectl import Kubectl
from tests.support.process import Process

TIMEOUT = 30.0


@pytest.fixture
def manager(fresh_apiserver: ApiServerProcess, tmp_path: Path) -> Iterator[Process]:
    argv = ["-m", "controllers.manager", "--kubeconfig", str(fresh_apiserver.kubeconfig),
            "--leader-elect=false", "--controllers=deployment"]
    process = Process(argv, tmp_path / "manager.log").start()
    try:
        yield process
    finally:
        process.stop()


class FakeReplicaSetController:
    """Reports every ReplicaSet of a namespace as fully available, every 0.1 s."""

    def __init__(self, url: str, namespace: str) -> None:
        self.client = httpx.Client(base_url=url, timeout=10.0)
        self.path = f"/apis/apps/v1/namespaces/{namespace}/replicasets"
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            for rs in self.client.get(self.path).json().get("items", []):
                n = rs["spec"].get("replicas", 0)
                want = {"replicas": n, "readyReplicas": n, "availableReplicas": n,
                        "fullyLabeledReplicas": n,
                        "observedGeneration": rs["metadata"]["generation"]}
                have = rs.get("status") or {}
                if any(have.get(k, 0) != v for k, v in want.items()):
                    rs["status"] = want
                    self.client.put(f"{self.path}/{rs['metadata']['name']}/status", json=rs)
            self.stop.wait(0.1)

    def __enter__(self) -> FakeReplicaSetController:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join(5)
        self.client.close()


def _until(what: str, check: Any) -> Any:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_deployment_rollout_with_kubectl(
    fresh_apiserver: ApiServerProcess, manager: Process, kubectl_announced: Kubectl
) -> None:
    kubectl = kubectl_announced
    ns = f"deploy-{uuid.uuid4().hex[:8]}"
    cfg = fresh_apiserver
    kubectl("create", "namespace", ns, kubeconfig=cfg, check=True)
    kubectl("-n", ns, "create", "deployment", "web", "--image=nginx:1.25", "--replicas=3",
            kubeconfig=cfg, check=True)
    rs_path = f"/apis/apps/v1/namespaces/{ns}/replicasets"
    with httpx.Client(base_url=cfg.url, timeout=10.0) as client, \
            FakeReplicaSetController(cfg.url, ns):
        deployment = client.get(f"/apis/apps/v1/namespaces/{ns}/deployments/web").json()
        first = f"web-{compute_hash(deployment['spec']['template'], None)}"

        def replicasets() -> dict[str, Any]:
            return {rs["metadata"]["name"]: rs
                    for rs in client.get(rs_path).json().get("items", [])}

        rs = _until("the first ReplicaSet", lambda: replicasets().get(first))
        assert rs["spec"]["replicas"] == 3
        assert rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
        status = kubectl("-n", ns, "rollout", "status", "deployment/web", "--timeout=60s",
                         kubeconfig=cfg, timeout=90, check=True)
        assert "successfully rolled out" in status.stdout

        kubectl("-n", ns, "set", "image", "deployment/web", "nginx=nginx:1.26",
                kubeconfig=cfg, check=True)
        status = kubectl("-n", ns, "rollout", "status", "deployment/web", "--timeout=60s",
                         kubeconfig=cfg, timeout=90, check=True)
        assert "successfully rolled out" in status.stdout
        rses = replicasets()
        assert len(rses) == 2 and rses[first]["spec"]["replicas"] == 0
        (second,) = set(rses) - {first}
        assert rses[second]["spec"]["replicas"] == 3

        history = kubectl("-n", ns, "rollout", "history", "deployment/web",
                          kubeconfig=cfg, check=True).stdout
        revisions = [line.split()[0] for line in history.splitlines()[2:] if line.strip()]
        assert revisions == ["1", "2"], history

        kubectl("-n", ns, "rollout", "undo", "deployment/web", kubeconfig=cfg, check=True)
        kubectl("-n", ns, "rollout", "status", "deployment/web", "--timeout=60s",
                kubeconfig=cfg, timeout=90, check=True)
        rses = replicasets()
        assert set(rses) == {first, second}
        assert rses[first]["spec"]["replicas"] == 3
        assert rses[first]["metadata"]["annotations"][
            "deployment.kubernetes.io/revision"] == "3"
        image = client.get(f"/apis/apps/v1/namespaces/{ns}/deployments/web").json()[
            "spec"]["template"]["spec"]["containers"][0]["image"]
        assert image == "nginx:1.25"

        # kubectl describe shows the controllers' Events, as on a cluster.
        described = kubectl("-n", ns, "describe", "deployment", "web", kubeconfig=cfg,
                            check=True).stdout
        assert "ScalingReplicaSet  " in described, described
        assert f"Scaled up replica set {first} from 0 to 3" in described, described
        assert "deployment-controller" in described
