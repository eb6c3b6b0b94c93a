"""The kubelet's ``/metrics/resource`` end to end: a real apiserver, scheduler and node
agent; the resource metrics read through the apiserver's node proxy, parsed with
prometheus_client, and the CPU the agent spends serving a pod's requests seen to grow."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from kubemu.addresses import Addresses
from tests.support.apiserver import ApiServerProcess
from tests.support.kubemu_up import wait_for
from tests.support.process import node_cluster

NODE = 29  # the node index of this module's agent in the session's address block
NODE_NAME = "metrics-node"
PODS = "/api/v1/namespaces/default/pods"

WEB: dict[str, Any] = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "web-1", "labels": {"app": "web"}},
    "spec": {"containers": [{"name": "web", "image": "registry.k8s.io/e2e-test-images/"
                             "agnhost:2.53", "ports": [{"name": "http",
                                                        "containerPort": 8080}]}]},
}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory,
            address_block: Addresses) -> Iterator[ApiServerProcess]:
    base = tmp_path_factory.mktemp("resource-metrics")
    with node_cluster(base, NODE_NAME, address_block.node_ip(NODE),
                      address_block.pod_cidr(NODE), "--lease-interval", "1") as server:
        yield server


@pytest.fixture(scope="module")
def web_ip(cluster: ApiServerProcess) -> str:
    httpx.post(f"{cluster.url}{PODS}", json=WEB, timeout=10).raise_for_status()

    def running() -> str:
        status = httpx.get(f"{cluster.url}{PODS}/web-1", timeout=5).json()["status"]
        states = [s["state"] for s in status.get("containerStatuses") or []]
        return str(status["podIP"]) if states and "running" in states[0] else ""

    ip: str = wait_for("web-1 running", running)
    return ip


def scrape(cluster: ApiServerProcess) -> tuple[httpx.Response, dict[str, Any]]:
    resp = httpx.get(f"{cluster.url}/api/v1/nodes/{NODE_NAME}/proxy/metrics/resource",
                     timeout=10)
    assert resp.status_code == 200, resp.text
    return resp, {f.name: f for f in text_string_to_metric_families(resp.text)}


def value(families: dict[str, Any], name: str, **labels: str) -> float:
    """The one sample called ``name`` with ``labels``."""
    (sample,) = [s for f in families.values() for s in f.samples
                 if s.name == name and s.labels == labels]
    assert sample.timestamp is not None  # stamped with the measurement's time
    return float(sample.value)


def test_resource_metrics_through_the_node_proxy(cluster: ApiServerProcess,
                                                 web_ip: str) -> None:
    resp, families = scrape(cluster)
    assert resp.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    # The kubelet's families, in client_golang's (name) order.
    assert list(families) == [
        "container_cpu_usage_seconds", "container_memory_working_set_bytes",
        "container_start_time_seconds", "node_cpu_usage_seconds",
        "node_memory_working_set_bytes", "pod_cpu_usage_seconds",
        "pod_memory_working_set_bytes", "resource_scrape_error"]
    assert resp.text.startswith(
        "# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by "
        "the container in core-seconds\n# TYPE container_cpu_usage_seconds_total counter\n")
    web = {"container": "web", "namespace": "default", "pod": "web-1"}
    pod = {"namespace": "default", "pod": "web-1"}
    assert [s.labels for s in families["container_cpu_usage_seconds"].samples] == [web]
    assert families["resource_scrape_error"].samples[0].value == 0
    start = families["container_start_time_seconds"].samples[0]
    assert start.labels == web and start.timestamp is None
    assert value(families, "node_memory_working_set_bytes") > 10_000_000  # the agent's RSS
    before = value(families, "container_cpu_usage_seconds_total", **web)
    node_before = value(families, "node_cpu_usage_seconds_total")

    with httpx.Client(base_url=f"http://{web_ip}:8080", timeout=5) as client:
        for i in range(300):
            assert client.get("/echo", params={"msg": str(i)}).text == str(i)

    _, families = scrape(cluster)
    after = value(families, "container_cpu_usage_seconds_total", **web)
    assert after > before
    assert value(families, "pod_cpu_usage_seconds_total", **pod) == after  # its one container
    assert value(families, "node_cpu_usage_seconds_total") > node_before + (after - before)
    assert value(families, "container_memory_working_set_bytes", **web) >= 0
    assert value(families, "pod_memory_working_set_bytes", **pod) == value(
        families, "container_memory_working_set_bytes", **web)
