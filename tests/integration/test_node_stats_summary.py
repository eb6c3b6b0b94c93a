"""The kubelet's ``/stats/summary`` end to end: a real apiserver, scheduler and node agent;
the Summary read twice through the apiserver's node proxy, the second time with the CPU
rate (``usageNanoCores``) the first one could not have."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from kubemu.addresses import Addresses
from tests.support.apiserver import ApiServerProcess
from tests.support.kubemu_up import wait_for
from tests.support.process import node_cluster

NODE = 31  # the node index of this module's agent in the session's address block
NODE_NAME = "summary-node"
PODS = "/api/v1/namespaces/default/pods"

WEB: dict[str, Any] = {
    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1"},
    "spec": {"containers": [{"name": "web", "image": "registry.k8s.io/e2e-test-images/"
                             "agnhost:2.53", "ports": [{"containerPort": 8080}]}]},
}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory,
            address_block: Addresses) -> Iterator[ApiServerProcess]:
    base = tmp_path_factory.mktemp("stats-summary")
    with node_cluster(base, NODE_NAME, address_block.node_ip(NODE),
                      address_block.pod_cidr(NODE), "--lease-interval", "1") as server:
        yield server


def test_stats_summary_through_the_node_proxy(cluster: ApiServerProcess) -> None:
    httpx.post(f"{cluster.url}{PODS}", json=WEB, timeout=10).raise_for_status()

    def running() -> bool:
        status = httpx.get(f"{cluster.url}{PODS}/web-1", timeout=5).json()["status"]
        states = [s["state"] for s in status.get("containerStatuses") or []]
        return bool(states) and "running" in states[0]

    wait_for("web-1 running", running)
    url = f"{cluster.url}/api/v1/nodes/{NODE_NAME}/proxy/stats/summary"
    first = httpx.get(url, timeout=10)
    assert first.status_code == 200, first.text
    assert first.headers["content-type"] == "application/json"
    time.sleep(1.1)
    resp = httpx.get(url, params={"only_cpu_and_memory": "true"}, timeout=10)
    assert resp.status_code == 200, resp.text
    doc = resp.json()
    node = doc["node"]
    assert node["nodeName"] == NODE_NAME
    assert node["cpu"]["usageNanoCores"] > 0  # the agent works between two requests
    assert node["cpu"]["usageCoreNanoSeconds"] > first.json()["node"]["cpu"][
        "usageCoreNanoSeconds"]
    assert node["memory"]["workingSetBytes"] > 10_000_000  # the agent's RSS
    (pod,) = [p for p in doc["pods"] if p["podRef"]["name"] == "web-1"]
    uid = httpx.get(f"{cluster.url}{PODS}/web-1", timeout=5).json()["metadata"]["uid"]
    assert pod["podRef"] == {"name": "web-1", "namespace": "default", "uid": uid}
    (web,) = pod["containers"]
    assert web["name"] == "web" and web["cpu"]["usageNanoCores"] >= 0
    assert pod["cpu"]["usageCoreNanoSeconds"] == web["cpu"]["usageCoreNanoSeconds"]
    assert web["memory"]["workingSetBytes"] >= 0 and "rssBytes" not in web["memory"]
