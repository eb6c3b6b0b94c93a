"""The daemonset and disruption controllers in ``python -m controllers.manager`` against a real
apiserver, scheduler and two node agents: one running pod per node, then a PDB over them."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from kubemu.addresses import Addresses
from tests.support.apiserver import ApiServerProcess
from tests.support.process import Process

DS = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
      "spec": {"selector": {"matchLabels": {"app": "agent"}},
               "template": {"metadata": {"labels": {"app": "agent"}},
                            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
PDB = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "pdb"},
       "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "agent"}}}}


def wait_for(what: str, fn: Callable[[], Any], timeout: float = 40.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}: last {last!r}")


def test_daemonset_runs_one_pod_per_node_and_pdb_counts_them(
    fresh_apiserver: ApiServerProcess, tmp_path: Path, address_block: Addresses
) -> None:
    server = fresh_apiserver
    kube = ["--kubeconfig", str(server.kubeconfig)]
    argvs = [
        ["-m", "controllers.scheduler", *kube],
        ["-m", "controllers.node", *kube, "--node-name", "dn-1", "--pod-cidr",
         address_block.pod_cidr(11), "--lease-interval", "1"],
        ["-m", "controllers.node", *kube, "--node-name", "dn-2", "--pod-cidr",
         address_block.pod_cidr(12), "--lease-interval", "1"],
        ["-m", "controllers.manager", *kube, "--leader-elect=false",
         "--controllers=daemonset,disruption"],
    ]
    procs = [Process(a, tmp_path / f"p{i}.log").start() for i, a in enumerate(argvs)]
    try:
        with httpx.Client(base_url=server.url, timeout=10.0) as client:
            wait_for("two nodes", lambda: len(client.get("/api/v1/nodes").json()["items"]) == 2)
            assert client.post("/apis/apps/v1/namespaces/default/daemonsets",
                               json=DS).status_code == 201

            def running() -> list[dict[str, Any]]:
                items: list[dict[str, Any]] = client.get(
                    "/api/v1/namespaces/default/pods",
                    params={"labelSelector": "app=agent"}).json()["items"]
                ok = [p for p in items if p["status"].get("phase") == "Running"]
                return items if len(ok) == 2 == len(items) else []

            pods = wait_for("a running pod per node", running)
            assert sorted(p["spec"]["nodeName"] for p in pods) == ["dn-1", "dn-2"]
            assert all(p["metadata"]["labels"]["controller-revision-hash"] for p in pods)
            path = "/apis/apps/v1/namespaces/default/daemonsets/agent"
            wait_for("ds status", lambda: client.get(path).json().get("status", {}).get(
                "numberReady") == 2)
            status = client.get(path).json()["status"]
            assert status["desiredNumberScheduled"] == 2
            assert status["currentNumberScheduled"] == 2
            revisions = client.get("/apis/apps/v1/namespaces/default/controllerrevisions")
            assert len(revisions.json()["items"]) == 1

            assert client.post("/apis/policy/v1/namespaces/default/poddisruptionbudgets",
                               json=PDB).status_code == 201
            pdb_path = "/apis/policy/v1/namespaces/default/poddisruptionbudgets/pdb"
            pdb = wait_for("pdb status", lambda: (lambda s: s.get("currentHealthy") == 2 and s)(
                client.get(pdb_path).json().get("status", {})))
            assert pdb["disruptionsAllowed"] == 1 and pdb["desiredHealthy"] == 1
            assert pdb["expectedPods"] == 2
    finally:
        for p in reversed(procs):
            p.stop()
