"""The web console's pure parts: the snapshot model, the kube-proxy metrics parser, the
YAML rendering and ``kubemu up``'s command line for it (the hub's deltas: test_console_hub)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from controllers.console.proxymetrics import merge, parse_connections
from controllers.console.server import object_yaml
from controllers.console.snapshot import build_snapshot, endpoint_state
from kubemu.addresses import Addresses
from kubemu.components import LaunchContext, launch_plan

LABELS = ("namespace", "service", "port", "protocol", "endpoint")


def _pod(name: str, ip: str, ready: bool, **meta: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "default", **meta},
            "spec": {"nodeName": "node-1", "containers": [{"name": "c"}]},
            "status": {"phase": "Running", "podIP": ip,
                       "conditions": [{"type": "Ready", "status": str(ready)}],
                       "containerStatuses": [{"name": "c", "ready": ready,
                                              "restartCount": 2}]}}


def _endpoint(ip: str, pod: str, **conditions: bool) -> dict[str, Any]:
    return {"addresses": [ip], "conditions": conditions, "nodeName": "node-1",
            "targetRef": {"kind": "Pod", "name": pod, "namespace": "default"}}


SERVICE = {"metadata": {"name": "web", "namespace": "default"},
           "spec": {"type": "NodePort", "clusterIP": "127.1.64.20", "selector": {"app": "web"},
                    "sessionAffinity": "ClientIP",
                    "ports": [{"name": "http", "port": 80, "targetPort": 8080,
                               "protocol": "TCP", "nodePort": 30080}]}}
SLICE = {"metadata": {"name": "web-abc", "namespace": "default",
                      "labels": {"kubernetes.io/service-name": "web"}},
         "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
         "endpoints": [_endpoint("127.1.128.3", "web-b", ready=False, serving=False),
                       _endpoint("127.1.128.2", "web-a", ready=True),
                       _endpoint("127.1.128.4", "web-c", ready=False, serving=True,
                                 terminating=True)]}


def test_snapshot_links_services_endpoints_and_pods() -> None:
    pods = [_pod("web-a", "127.1.128.2", True), _pod("web-b", "127.1.128.3", False),
            _pod("web-c", "127.1.128.4", False, deletionTimestamp="2026-01-01T00:00:00Z"),
            _pod("lonely", "127.1.128.9", True)]
    node = {"metadata": {"name": "node-1"}, "spec": {"podCIDR": "127.1.128.0/24"},
            "status": {"conditions": [{"type": "Ready", "status": "True"}],
                       "addresses": [{"type": "InternalIP", "address": "127.1.0.1"}]}}
    counts = {("default", "web", "127.1.128.2:8080"): (1.0, 5.0)}
    snap = build_snapshot([{"metadata": {"name": "default"}, "status": {"phase": "Active"}},
                           {"metadata": {"name": "empty"}}],
                          [SERVICE], [SLICE], pods, [node], counts)
    assert snap["nodes"] == [{"name": "node-1", "ready": True, "addresses": ["127.1.0.1"],
                              "podCIDR": "127.1.128.0/24", "unschedulable": False}]
    default, empty = snap["namespaces"]
    assert empty == {"name": "empty", "phase": "Active", "services": [], "pods": []}
    [svc] = default["services"]
    assert (svc["type"], svc["clusterIP"], svc["sessionAffinity"], svc["ready"],
            svc["total"]) == ("NodePort", "127.1.64.20", "ClientIP", 1, 3)
    assert svc["ports"] == [{"name": "http", "port": 80, "targetPort": 8080,
                             "protocol": "TCP", "nodePort": 30080}]
    assert [(e["address"], e["ready"], e["serving"], e["terminating"], e["pod"])
            for e in svc["endpoints"]] == [
        ("127.1.128.2", True, True, False, "web-a"),
        ("127.1.128.3", False, False, False, "web-b"),
        ("127.1.128.4", False, True, True, "web-c")]
    assert svc["endpoints"][0]["connections"] == {"127.1.128.2:8080": {"active": 1,
                                                                       "total": 5}}
    assert svc["endpoints"][1]["connections"] == {}
    by_name = {p["name"]: p for p in default["pods"]}
    assert [p["name"] for p in default["pods"]] == ["lonely", "web-a", "web-b", "web-c"]
    assert by_name["web-a"] == {"name": "web-a", "phase": "Running", "ready": True,
                                "terminating": False, "node": "node-1", "ip": "127.1.128.2",
                                "containers": 1, "readyContainers": 1, "restarts": 2,
                                "services": ["web"]}
    assert (by_name["web-b"]["ready"], by_name["web-c"]["terminating"]) == (False, True)
    assert by_name["lonely"]["services"] == []
    # equal inputs, equal documents (the hub compares encodings)
    assert snap == build_snapshot([{"metadata": {"name": "empty"}},
                                   {"metadata": {"name": "default"}}],
                                  [SERVICE], [SLICE], list(reversed(pods)), [node], counts)


def test_endpoint_conditions_default_as_the_api_documents() -> None:
    assert endpoint_state({}) == (True, True, False)
    assert endpoint_state({"conditions": {"ready": False}}) == (False, False, False)
    assert endpoint_state({"conditions": {"ready": False, "serving": True,
                                          "terminating": True}}) == (False, True, True)


def _exposition(active: float, total: float) -> str:
    registry = CollectorRegistry()
    gauge = Gauge("kubemu_userspace_proxy_endpoint_connections_active", "open", LABELS,
                  registry=registry)
    counter = Counter("kubemu_userspace_proxy_endpoint_connections", "relayed", LABELS,
                      registry=registry)
    Counter("kubeproxy_sync_proxy_rules", "other series", registry=registry).inc()
    for port in ("http", "alt"):
        labels = ("default", "web", port, "TCP", "127.1.128.2:8080")
        gauge.labels(*labels).set(active)
        counter.labels(*labels).inc(total)
    counter.labels("default", "db", "pg", "TCP", "127.1.128.7:5432").inc(1)
    return generate_latest(registry).decode()


def test_connection_counts_parse_from_a_real_exposition_and_add_up() -> None:
    counts = parse_connections(_exposition(1, 3))
    assert counts == {("default", "web", "127.1.128.2:8080"): (2.0, 6.0),
                      ("default", "db", "127.1.128.7:5432"): (0.0, 1.0)}
    both = merge([counts, parse_connections(_exposition(0, 4))])
    assert both[("default", "web", "127.1.128.2:8080")] == (2.0, 14.0)
    assert parse_connections("# nothing here\n") == {}
    # another family the parser would choke on does not hide the counts
    assert parse_connections("broken{ 1 2 3\n" + _exposition(1, 3)) == counts


def test_object_yaml_reads_like_kubectl_get_o_yaml() -> None:
    text = object_yaml({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "p", "managedFields": [{"manager": "x"}]}, "spec": {}})
    assert text.startswith("apiVersion: v1\nkind: Pod\n")
    assert yaml.safe_load(text) == {"apiVersion": "v1", "kind": "Pod",
                                    "metadata": {"name": "p"}, "spec": {}}


def test_kubemu_up_runs_the_console_on_the_control_address() -> None:
    addresses = Addresses.for_block(7)
    ctx = LaunchContext(python="python", data_dir=Path("/d"), kubeconfig=Path("/k"),
                        bind_address="127.0.0.1", port=8080, server_url="https://x",
                        storage="sqlite", nodes=2, addresses=addresses,
                        kubeconfigs={"console": Path("/d/kubeconfigs/console.conf")})
    [console] = [c for c in launch_plan(ctx) if c.name == "console"]
    assert list(console.args(ctx)) == [
        "python", "-m", "controllers.console", "--kubeconfig", "/d/kubeconfigs/console.conf",
        "--bind-address", "127.7.2.1", "--port", "9090",
        "--proxy-metrics-url", "http://127.7.0.1:10249/metrics",
        "--proxy-metrics-url", "http://127.7.0.2:10249/metrics"]
    assert console.ready_url is not None
    assert console.ready_url(ctx) == "http://127.7.2.1:9090/readyz"
    assert addresses.console_url == "http://127.7.2.1:9090/"
