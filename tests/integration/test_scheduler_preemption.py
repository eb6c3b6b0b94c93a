"""Preemption with the real processes: an apiserver, the scheduler and a node agent
(``kn-p``, two pod slots) full of low-priority pods; a high-priority pod evicts the
lowest one (DisruptionTarget condition, deletion, ``Preempted`` Event), is nominated to
the node, and runs there once its victim is gone.

The victim is watched from before the preemption: the node agent terminates and deletes
it within a second, and rewrites its status on the way."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from kubemu.addresses import Addresses
from tests.support.apiserver import ApiServerProcess
from tests.support.kubemu_up import wait_for
from tests.support.process import Process

pytestmark = pytest.mark.slow

NS = "/api/v1/namespaces/default"


def _pod(name: str, priority_class: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"priorityClassName": priority_class, "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "c", "image": "busybox",
                                     "command": ["sleep", "3600"]}]}}


def test_a_high_priority_pod_preempts_the_lowest_pod_of_a_full_node(
    fresh_apiserver: ApiServerProcess, procs: Callable[..., Process], address_block: Addresses,
) -> None:
    server = fresh_apiserver
    client = httpx.Client(base_url=server.url, timeout=5)

    def get(path: str) -> dict[str, Any]:
        resp = client.get(path)
        resp.raise_for_status()
        data: dict[str, Any] = resp.json()
        return data

    def phase(name: str) -> str:
        return str(get(f"{NS}/pods/{name}")["status"].get("phase"))

    procs(server, "controllers.scheduler")
    procs(server, "controllers.node", "--node-name", "kn-p", "--pod-cidr",
          address_block.pod_cidr(27), "--lease-interval", "1", "--max-pods", "2")
    for name, value in (("lowest", 5), ("low", 10), ("high", 1000)):
        client.post("/apis/scheduling.k8s.io/v1/priorityclasses", json={
            "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": name}, "value": value}).raise_for_status()
    wait_for("kn-p ready", lambda: any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in get("/api/v1/nodes/kn-p")["status"].get("conditions") or []))

    for name, priority_class in (("keeper", "low"), ("victim", "lowest")):
        client.post(f"{NS}/pods", json=_pod(name, priority_class)).raise_for_status()
        wait_for(f"{name} running", lambda n=name: phase(n) == "Running")  # type: ignore[misc]

    seen: list[dict[str, Any]] = []
    watching = threading.Event()

    def watch() -> None:
        with httpx.stream("GET", f"{server.url}{NS}/pods", params={
                "watch": "true", "fieldSelector": "metadata.name=victim",
                "timeoutSeconds": "60"}, timeout=70) as resp:
            for line in resp.iter_lines():
                if line:
                    seen.append(json.loads(line))
                    watching.set()
                    if seen[-1]["type"] == "DELETED":
                        return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    assert watching.wait(10), "no initial event from the watch"

    client.post(f"{NS}/pods", json=_pod("urgent", "high")).raise_for_status()
    uid = get(f"{NS}/pods/urgent")["metadata"]["uid"]

    watcher.join(60)
    assert seen[-1]["type"] == "DELETED", [e["type"] for e in seen]
    marked = [c for e in seen for c in e["object"]["status"].get("conditions") or []
              if c["type"] == "DisruptionTarget"]
    assert marked, "the victim never had the DisruptionTarget condition"
    assert (marked[0]["status"], marked[0]["reason"], marked[0]["message"]) == (
        "True", "PreemptionByScheduler",
        "default-scheduler: preempting to accommodate a higher priority pod")
    events = wait_for("the Preempted event", lambda: [
        e for e in get(f"{NS}/events")["items"]
        if e["involvedObject"]["name"] == "victim" and e["reason"] == "Preempted"])
    assert events[0]["type"] == "Normal"
    assert events[0]["message"] == f"Preempted by pod {uid} on node kn-p"
    assert events[0]["action"] == "Preempting"
    assert (events[0]["related"]["kind"], events[0]["related"]["uid"]) == ("Pod", uid)
    assert events[0]["reportingComponent"] == "default-scheduler"

    failed = wait_for("urgent's FailedScheduling event", lambda: [
        e for e in get(f"{NS}/events")["items"]
        if e["involvedObject"]["name"] == "urgent" and e["reason"] == "FailedScheduling"])
    # Preemption went ahead: the message has no preemption part.
    assert failed[0]["message"] == "0/1 nodes are available: 1 Too many pods."

    # Requeued by the victim's deletion, it binds to the node it was nominated to (1.33
    # keeps the nomination after binding).
    wait_for("urgent running on kn-p", lambda: phase("urgent") == "Running", 60)
    urgent = get(f"{NS}/pods/urgent")
    assert urgent["spec"]["nodeName"] == urgent["status"]["nominatedNodeName"] == "kn-p"
    assert get(f"{NS}/pods/keeper")["metadata"].get("deletionTimestamp") is None
