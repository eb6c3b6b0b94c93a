"""The pod garbage collector end to end: terminated pods beyond the threshold and pods
bound to a node that does not exist are force-deleted.

Real processes: a private apiserver and ``python -m controllers.manager
--controllers=pod-garbage-collector --terminated-pod-gc-threshold=2``. Its periods are
upstream's constants (a pass every 20 s; a missing node is quarantined 40 s before its
pods go), so this test takes about a minute.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.integration.test_nodes import Proc, get, wait_for
from tests.support.apiserver import ApiServerProcess

pytestmark = pytest.mark.slow

PODS = "/api/v1/namespaces/default/pods"


def _pod(name: str, node: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "nginx"}]}}


def _names(server: ApiServerProcess) -> set[str]:
    return {p["metadata"]["name"] for p in get(server, PODS)["items"]}


def test_terminated_over_threshold_and_orphaned_pods_are_deleted(
    fresh_apiserver: ApiServerProcess, procs: Callable[..., Proc]
) -> None:
    server = fresh_apiserver
    client = httpx.Client(base_url=server.url, timeout=5)
    # A node that exists (no agent runs it: this test writes its pods' status itself).
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "kept"}}
    assert client.post("/api/v1/nodes", json=node).status_code == 201
    for i, phase in enumerate(("Succeeded", "Failed", "Succeeded", "Failed", "Running")):
        name = f"done-{i}"
        assert client.post(PODS, json=_pod(name, "kept")).status_code == 201
        pod = client.get(f"{PODS}/{name}").json()
        pod["status"] = {"phase": phase}
        assert client.put(f"{PODS}/{name}/status", json=pod).status_code == 200
        time.sleep(1.1)  # distinct creation times: the oldest go first
    for name in ("lost-0", "lost-1"):
        assert client.post(PODS, json=_pod(name, "ghost")).status_code == 201
    procs(server, "controllers.manager", "--leader-elect=false",
          "--controllers=pod-garbage-collector", "--terminated-pod-gc-threshold=2")
    started = time.monotonic()

    # 4 terminated pods, threshold 2: the two oldest go at the first pass (20 s).
    wait_for("the oldest terminated pods deleted",
             lambda: not {"done-0", "done-1"} & _names(server), timeout=40)
    assert {"done-2", "done-3", "done-4"} <= _names(server)
    # The orphans wait out the quarantine of their missing node.
    assert {"lost-0", "lost-1"} <= _names(server)
    wait_for("the orphaned pods deleted",
             lambda: not {"lost-0", "lost-1"} & _names(server), timeout=75)
    assert time.monotonic() - started >= 40
    assert _names(server) == {"done-2", "done-3", "done-4"}
    client.close()
