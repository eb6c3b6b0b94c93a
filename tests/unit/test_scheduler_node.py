"""Scheduler decisions, pod IP allocation and the probe state machine."""

from __future__ import annotations

from typing import Any

import pytest

from controllers.node.ipam import CIDRFull, IPAllocator
from controllers.node.probes import ProbeState, parse_probe
from controllers.node.runtime import port_kind
from controllers.scheduler.core import needs_scheduling, pods_per_node, schedule


def node(name: str, ready: str = "True", unschedulable: bool = False,
         labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels or {}},
            "spec": {"unschedulable": unschedulable} if unschedulable else {},
            "status": {"conditions": [{"type": "Ready", "status": ready}],
                       "allocatable": {"cpu": "2", "memory": "4Gi", "pods": "110"}}}


def pod(name: str, node_name: str = "", selector: dict[str, str] | None = None,
        phase: str = "Pending") -> dict[str, Any]:
    spec: dict[str, Any] = {"schedulerName": "default-scheduler", "containers": []}
    if node_name:
        spec["nodeName"] = node_name
    if selector:
        spec["nodeSelector"] = selector
    return {"metadata": {"name": name, "namespace": "d"}, "spec": spec,
            "status": {"phase": phase}}


def test_spreads_to_the_node_with_fewest_pods_ties_by_name() -> None:
    nodes = [node("b"), node("a")]
    assert schedule(pod("p"), nodes).node == "a"
    bound = [pod("x", "a"), pod("y", "a"), pod("z", "b"), pod("done", "b", phase="Succeeded")]
    assert pods_per_node(bound) == {"a": 2, "b": 1}
    assert schedule(pod("p"), nodes, bound).node == "b"
    # A binding not yet observed counts for its node.
    assert schedule(pod("p"), nodes, bound, [(pod("q"), "b"), (pod("r"), "b")]).node == "a"


def test_filters_and_upstream_message() -> None:
    nodes = [node("a", unschedulable=True), node("b", labels={"disk": "hdd"}),
             node("c", ready="False")]
    decision = schedule(pod("p", selector={"disk": "ssd"}), nodes)
    assert decision.node is None
    assert decision.message == (
        "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "
        "1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, "
        "1 node(s) were unschedulable. preemption: 0/3 nodes are available: "
        "3 Preemption is not helpful for scheduling.")
    assert schedule(pod("p", selector={"disk": "hdd"}), nodes).node == "b"
    assert schedule(pod("p"), []).message == "no nodes available to schedule pods"


def test_needs_scheduling() -> None:
    assert needs_scheduling(pod("p"))
    assert not needs_scheduling(pod("p", "a"))
    other = pod("p")
    other["spec"]["schedulerName"] = "mine"
    assert not needs_scheduling(other)
    deleting = pod("p")
    deleting["metadata"]["deletionTimestamp"] = "2020-01-01T00:00:00Z"
    assert not needs_scheduling(deleting)


def test_ip_allocation_skips_reserved_and_restores() -> None:
    ipam = IPAllocator("127.244.1.0/24")
    assert ipam.allocate("u1") == "127.244.1.2"
    assert ipam.allocate("u1") == "127.244.1.2"
    assert ipam.allocate("u2") == "127.244.1.3"
    ipam.release("u1")
    assert ipam.allocate("u3") == "127.244.1.2"
    fresh = IPAllocator("127.244.1.0/24")
    assert fresh.restore("u2", "127.244.1.3")
    assert not fresh.restore("u9", "127.244.1.3")
    assert not fresh.restore("u9", "10.0.0.1")
    assert fresh.allocate("u4") == "127.244.1.2"
    assert fresh.allocate("u5") == "127.244.1.4"
    tiny = IPAllocator("127.244.9.0/30")
    for i in range(4):
        tiny.allocate(str(i))
    with pytest.raises(CIDRFull):
        tiny.allocate("x")


def test_probe_state_machine_thresholds() -> None:
    container = {"ports": [{"name": "web", "containerPort": 8080}]}
    spec = parse_probe({"httpGet": {"port": "web", "path": "/healthz"}, "periodSeconds": 2,
                        "successThreshold": 2, "failureThreshold": 3}, container)
    assert spec is not None and spec.port == 8080 and spec.period == 2.0
    assert spec.timeout == 1.0 and spec.initial_delay == 0.0
    ready = ProbeState(spec, False)
    assert not ready.record(True)
    assert ready.record(True) and ready.result
    assert not ready.record(False) and not ready.record(False)
    assert not ready.record(True)  # a success resets the failure count
    assert not ready.record(False) and not ready.record(False)
    assert ready.record(False) and not ready.result
    assert parse_probe({}, container) is None
    tcp = parse_probe({"tcpSocket": {"port": 53}}, container)
    assert tcp is not None and tcp.kind == "tcp" and tcp.failure_threshold == 3


def test_port_kinds() -> None:
    assert port_kind({"containerPort": 8080}, set()) == "http"
    assert port_kind({"containerPort": 9000, "name": "metrics-http"}, set()) == "http"
    assert port_kind({"containerPort": 9000}, {9000}) == "http"
    assert port_kind({"containerPort": 9000}, set()) == "tcp"
    assert port_kind({"containerPort": 53, "protocol": "UDP"}, set()) == "udp"
    assert port_kind({"containerPort": 1, "protocol": "SCTP"}, set()) is None
