"""Server-side Table printing: columns, cells (as upstream printers.go), table shape."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from apiserver.api.resources import (
    CONFIGMAPS,
    ENDPOINTS,
    EVENTS,
    NAMESPACES,
    PODS,
    RESOURCES,
    SERVICES,
    ResourceInfo,
)
from apiserver.printing import (
    InvalidIncludeObject,
    build_table,
    column_definitions,
    human_duration,
    table_row,
    translate_timestamp_since,
)

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)


def ago(**kw: float) -> str:
    return (NOW - timedelta(**kw)).strftime("%Y-%m-%dT%H:%M:%SZ")


def cells(info: ResourceInfo, obj: dict[str, Any]) -> list[Any]:
    row = table_row(info, obj, NOW)
    result: list[Any] = row["cells"]
    return result


# --- durations -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=-3), "<invalid>"),
        (timedelta(seconds=-1.5), "0s"),
        (timedelta(seconds=0), "0s"),
        (timedelta(seconds=5), "5s"),
        (timedelta(seconds=119), "119s"),
        (timedelta(minutes=2), "2m"),
        (timedelta(minutes=3, seconds=10), "3m10s"),
        (timedelta(minutes=9, seconds=59), "9m59s"),
        (timedelta(minutes=10, seconds=30), "10m"),
        (timedelta(minutes=179), "179m"),
        (timedelta(hours=3), "3h"),
        (timedelta(hours=7, minutes=59), "7h59m"),
        (timedelta(hours=8, minutes=30), "8h"),
        (timedelta(hours=47), "47h"),
        (timedelta(days=2), "2d"),
        (timedelta(days=2, hours=3), "2d3h"),
        (timedelta(days=7, hours=23), "7d23h"),
        (timedelta(days=8, hours=5), "8d"),
        (timedelta(days=729), "729d"),
        (timedelta(days=730), "2y"),
        (timedelta(days=731), "2y1d"),
        (timedelta(days=365 * 8 + 3), "8y"),
    ],
)
def test_human_duration(delta: timedelta, text: str) -> None:
    assert human_duration(delta) == text


def test_translate_timestamp_since() -> None:
    assert translate_timestamp_since(None, NOW) == "<unknown>"
    assert translate_timestamp_since("", NOW) == "<unknown>"
    assert translate_timestamp_since("garbage", NOW) == "<unknown>"
    assert translate_timestamp_since(ago(seconds=42), NOW) == "42s"
    assert translate_timestamp_since("2025-06-01T11:59:30.123456789Z", NOW) == "29s"
    assert translate_timestamp_since(ago(days=3), NOW.replace(tzinfo=None)) == "3d"


# --- columns -------------------------------------------------------------------


def names(info: ResourceInfo, priority: int | None = None) -> list[str]:
    return [
        c["name"] for c in column_definitions(info) if priority is None or c["priority"] == priority
    ]


def test_column_names() -> None:
    assert names(PODS, 0) == ["Name", "Ready", "Status", "Restarts", "Age"]
    assert names(PODS, 1) == ["IP", "Node", "Nominated Node", "Readiness Gates"]
    assert names(SERVICES, 0) == ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age"]
    assert names(SERVICES, 1) == ["Selector"]
    assert names(ENDPOINTS) == ["Name", "Endpoints", "Age"]
    assert names(NAMESPACES) == ["Name", "Status", "Age"]
    assert names(CONFIGMAPS) == ["Name", "Data", "Age"]
    assert names(EVENTS, 0) == ["Last Seen", "Type", "Reason", "Object", "Message"]
    assert names(EVENTS, 1) == ["Subobject", "Source", "First Seen", "Count", "Name"]
    assert names(EVENTS) == [
        "Last Seen",
        "Type",
        "Reason",
        "Object",
        "Subobject",
        "Source",
        "Message",
        "First Seen",
        "Count",
        "Name",
    ]


#: Upstream quirks kept as they are: RuntimeClass's Handler doc is looked up on
#: ObjectMeta (no such field: ""), and IPAddress prints an undeclared age cell.
_EMPTY_DESCRIPTIONS = {("RuntimeClass", "Handler")}
_EXTRA_CELLS = {"IPAddress": 1}


def test_every_resource_has_columns_matching_its_cells() -> None:
    for info in RESOURCES:
        cols = column_definitions(info)
        assert cols, info.kind
        for col in cols:
            assert list(col) == ["name", "type", "format", "description", "priority"]
            assert col["description"] or (info.kind, col["name"]) in _EMPTY_DESCRIPTIONS
        row = table_row(info, {"metadata": {"name": "x"}}, NOW)
        assert len(row["cells"]) == len(cols) + _EXTRA_CELLS.get(info.kind, 0), info.kind


def test_column_details() -> None:
    pod = column_definitions(PODS)
    assert pod[0]["format"] == "name"
    assert pod[0]["type"] == "string"
    assert pod[3]["type"] == "string"  # Restarts is a string column since 1.23-ish
    assert pod[1]["description"] == (
        "The aggregate readiness state of this pod for accepting traffic."
    )
    assert [c["format"] for c in column_definitions(EVENTS)][-1] == "name"
    # Fresh copies: callers may mutate them.
    pod[0]["name"] = "changed"
    assert column_definitions(PODS)[0]["name"] == "Name"


_SCHEMA = (
    Path(kubernetes_validate.__file__ or ".").parent
    / "kubernetes-json-schema"
    / "v1.33.0-local"
    / "_definitions.json"
)


@pytest.mark.skipif(not _SCHEMA.exists(), reason="schema package not installed")
def test_descriptions_match_upstream_swagger_docs() -> None:
    defs = json.loads(_SCHEMA.read_text())["$defs"]

    def doc(t: str, f: str) -> str:
        text: str = defs[t]["properties"][f]["description"]
        return text

    meta = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    core = "io.k8s.api.core.v1."
    by_name = {c["name"]: c["description"] for c in column_definitions(PODS)}
    assert by_name["Name"] == doc(meta, "name")
    assert by_name["Age"] == doc(meta, "creationTimestamp")
    assert by_name["IP"] == doc(core + "PodStatus", "podIP")
    assert by_name["Node"] == doc(core + "PodSpec", "nodeName")
    assert by_name["Nominated Node"] == doc(core + "PodStatus", "nominatedNodeName")
    assert by_name["Readiness Gates"] == doc(core + "PodSpec", "readinessGates")
    svc = {c["name"]: c["description"] for c in column_definitions(SERVICES)}
    assert svc["Type"] == doc(core + "ServiceSpec", "type")
    assert svc["Cluster-IP"] == doc(core + "ServiceSpec", "clusterIP")
    assert svc["External-IP"] == doc(core + "ServiceSpec", "externalIPs")
    assert svc["Port(s)"] == doc(core + "ServiceSpec", "ports")
    assert svc["Selector"] == doc(core + "ServiceSpec", "selector")
    assert column_definitions(ENDPOINTS)[1]["description"] == doc(core + "Endpoints", "subsets")
    assert column_definitions(CONFIGMAPS)[1]["description"] == doc(core + "ConfigMap", "data")
    ev = {c["name"]: c["description"] for c in column_definitions(EVENTS)}
    for col, fld in [
        ("Last Seen", "lastTimestamp"),
        ("Type", "type"),
        ("Reason", "reason"),
        ("Object", "involvedObject"),
        ("Source", "source"),
        ("Message", "message"),
        ("First Seen", "firstTimestamp"),
        ("Count", "count"),
    ]:
        assert ev[col] == doc(core + "Event", fld), col
    assert ev["Subobject"] == doc(core + "ObjectReference", "fieldPath")


# --- pods ------------------------------------------------------------------------


def pod(**parts: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "metadata": {"name": "web-1", "namespace": "default", "creationTimestamp": ago(minutes=5)},
        "spec": {"containers": [{"name": "app"}]},
        "status": {"phase": "Pending"},
    }
    for key, value in parts.items():
        obj[key].update(value)
    return obj


def running(name: str = "app", ready: bool = True, restarts: int = 0) -> dict[str, Any]:
    return {
        "name": name,
        "ready": ready,
        "restartCount": restarts,
        "state": {"running": {"startedAt": ago(minutes=4)}},
    }


def test_pod_pending_defaults() -> None:
    assert cells(PODS, pod()) == [
        "web-1",
        "0/1",
        "Pending",
        "0",
        "5m",
        "<none>",
        "<none>",
        "<none>",
        "<none>",
    ]


def test_pod_running_wide_cells() -> None:
    obj = pod(
        spec={"nodeName": "node-a"},
        status={
            "phase": "Running",
            "podIPs": [{"ip": "10.1.2.3"}],
            "podIP": "10.1.2.3",
            "nominatedNodeName": "node-b",
            "containerStatuses": [running()],
        },
    )
    assert cells(PODS, obj) == [
        "web-1",
        "1/1",
        "Running",
        "0",
        "5m",
        "10.1.2.3",
        "node-a",
        "node-b",
        "<none>",
    ]


def test_pod_ip_falls_back_to_pod_ip_field() -> None:
    obj = pod(status={"phase": "Running", "podIP": "10.9.9.9"})
    assert cells(PODS, obj)[5] == "10.9.9.9"


def test_pod_ready_counts() -> None:
    obj = pod(
        spec={"containers": [{"name": "a"}, {"name": "b"}]},
        status={"phase": "Running", "containerStatuses": [running("a"), running("b", ready=False)]},
    )
    assert cells(PODS, obj)[1:3] == ["1/2", "Running"]


def test_pod_waiting_reason() -> None:
    obj = pod(
        status={
            "phase": "Pending",
            "containerStatuses": [
                {
                    "name": "app",
                    "ready": False,
                    "restartCount": 0,
                    "state": {"waiting": {"reason": "ContainerCreating"}},
                },
            ],
        }
    )
    assert cells(PODS, obj)[2] == "ContainerCreating"


def test_pod_crashloop_restarts_with_last_restart_age() -> None:
    obj = pod(
        status={
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": "app",
                    "ready": False,
                    "restartCount": 2,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(seconds=75)}},
                }
            ],
        }
    )
    assert cells(PODS, obj)[1:4] == ["0/1", "CrashLoopBackOff", "2 (75s ago)"]


def test_pod_restarts_without_last_state() -> None:
    obj = pod(status={"phase": "Running", "containerStatuses": [running(restarts=3)]})
    assert cells(PODS, obj)[3] == "3"


def test_pod_completed_and_row_condition() -> None:
    obj = pod(
        status={
            "phase": "Succeeded",
            "containerStatuses": [
                {
                    "name": "app",
                    "ready": False,
                    "restartCount": 0,
                    "state": {"terminated": {"exitCode": 0, "reason": "Completed"}},
                }
            ],
        }
    )
    row = table_row(PODS, obj, NOW)
    assert row["cells"][1:3] == ["0/1", "Completed"]
    assert row["conditions"] == [
        {
            "type": "Completed",
            "status": "True",
            "reason": "Succeeded",
            "message": "The pod has completed successfully.",
        }
    ]
    assert list(row) == ["cells", "conditions", "object"]


def test_pod_failed_condition_and_exit_code() -> None:
    obj = pod(
        status={
            "phase": "Failed",
            "containerStatuses": [
                {"name": "app", "state": {"terminated": {"exitCode": 3}}},
            ],
        }
    )
    row = table_row(PODS, obj, NOW)
    assert row["cells"][2] == "ExitCode:3"
    assert row["conditions"][0]["reason"] == "Failed"
    assert row["conditions"][0]["message"] == "The pod failed."
    obj["status"]["containerStatuses"][0]["state"]["terminated"]["signal"] = 9
    assert cells(PODS, obj)[2] == "Signal:9"


def test_pod_completed_with_running_sibling() -> None:
    statuses = [
        {"name": "a", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
        running("b"),
    ]
    obj = pod(
        spec={"containers": [{"name": "a"}, {"name": "b"}]},
        status={"phase": "Running", "containerStatuses": statuses},
    )
    # Statuses are walked last to first, so the first container's reason wins.
    assert cells(PODS, obj)[2] == "NotReady"
    obj["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    assert cells(PODS, obj)[2] == "Running"


def test_pod_terminating() -> None:
    obj = pod(status={"phase": "Running", "containerStatuses": [running()]})
    obj["metadata"]["deletionTimestamp"] = ago(seconds=1)
    assert cells(PODS, obj)[2] == "Terminating"
    obj["status"]["phase"] = "Succeeded"
    assert cells(PODS, obj)[2] != "Terminating"
    obj["status"] = {"phase": "Running", "reason": "NodeLost"}
    assert cells(PODS, obj)[2] == "Unknown"


def test_pod_status_reason_and_scheduling_gated() -> None:
    obj = pod(status={"phase": "Failed", "reason": "Evicted"})
    assert cells(PODS, obj)[2] == "Evicted"
    obj = pod(
        status={
            "phase": "Pending",
            "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}
            ],
        }
    )
    assert cells(PODS, obj)[2] == "SchedulingGated"


def test_pod_init_containers() -> None:
    obj = pod(
        spec={"initContainers": [{"name": "i1"}, {"name": "i2"}]},
        status={
            "phase": "Pending",
            "initContainerStatuses": [
                {"name": "i1", "state": {"terminated": {"exitCode": 0}}},
                {"name": "i2", "restartCount": 1, "state": {"running": {}}},
            ],
            "containerStatuses": [
                {"name": "app", "state": {"waiting": {"reason": "PodInitializing"}}}
            ],
        },
    )
    assert cells(PODS, obj)[1:4] == ["0/1", "Init:1/2", "1"]
    obj["status"]["initContainerStatuses"][1]["state"] = {"waiting": {"reason": "ErrImagePull"}}
    assert cells(PODS, obj)[2] == "Init:ErrImagePull"
    obj["status"]["initContainerStatuses"][1]["state"] = {
        "terminated": {"exitCode": 2, "reason": "Error"}
    }
    assert cells(PODS, obj)[2] == "Init:Error"
    obj["status"]["initContainerStatuses"][1]["state"] = {"terminated": {"exitCode": 2}}
    assert cells(PODS, obj)[2] == "Init:ExitCode:2"


def test_pod_sidecar_counts_towards_ready_and_total() -> None:
    obj = pod(
        spec={"initContainers": [{"name": "side", "restartPolicy": "Always"}]},
        status={
            "phase": "Running",
            "conditions": [{"type": "Initialized", "status": "True"}],
            "initContainerStatuses": [
                {
                    "name": "side",
                    "ready": True,
                    "started": True,
                    "restartCount": 1,
                    "state": {"running": {}},
                }
            ],
            "containerStatuses": [running()],
        },
    )
    assert cells(PODS, obj)[1:4] == ["2/2", "Running", "1"]


def test_pod_readiness_gates() -> None:
    obj = pod(
        spec={"readinessGates": [{"conditionType": "c1"}, {"conditionType": "c2"}]},
        status={
            "phase": "Running",
            "conditions": [{"type": "c1", "status": "False"}, {"type": "c2", "status": "True"}],
        },
    )
    assert cells(PODS, obj)[8] == "1/2"


def test_pod_without_creation_timestamp() -> None:
    assert cells(PODS, {"metadata": {"name": "x"}})[:5] == ["x", "0/0", "", "0", "<unknown>"]


# --- services and endpoints -----------------------------------------------------


def svc(spec: dict[str, Any], status: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "namespace": "default", "creationTimestamp": ago(hours=3)},
        "spec": spec,
        "status": status or {"loadBalancer": {}},
    }


def test_service_cluster_ip() -> None:
    obj = svc(
        {
            "type": "ClusterIP",
            "clusterIP": "10.0.0.10",
            "clusterIPs": ["10.0.0.10"],
            "ports": [{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}],
            "selector": {"app": "web", "tier": "fe"},
        }
    )
    assert cells(SERVICES, obj) == [
        "web",
        "ClusterIP",
        "10.0.0.10",
        "<none>",
        "80/TCP,53/UDP",
        "3h",
        "app=web,tier=fe",
    ]


def test_service_node_port_and_external_ips() -> None:
    obj = svc(
        {
            "type": "NodePort",
            "clusterIPs": ["10.0.0.11"],
            "externalIPs": ["1.2.3.4", "5.6.7.8"],
            "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}],
        }
    )
    assert cells(SERVICES, obj)[1:5] == ["NodePort", "10.0.0.11", "1.2.3.4,5.6.7.8", "80:30080/TCP"]
    assert cells(SERVICES, obj)[6] == "<none>"


def test_service_load_balancer() -> None:
    spec = {
        "type": "LoadBalancer",
        "clusterIPs": ["10.0.0.12"],
        "ports": [{"port": 443, "nodePort": 31443, "protocol": "TCP"}],
    }
    assert cells(SERVICES, svc(spec))[3] == "<pending>"
    status = {
        "loadBalancer": {
            "ingress": [
                {"ip": "203.0.113.9"},
                {"hostname": "lb.example.com"},
                {"ip": "203.0.113.1"},
            ]
        }
    }
    # Sorted, never truncated (the server prints wide).
    assert cells(SERVICES, svc(spec, status))[3] == "203.0.113.1,203.0.113.9,lb.example.com"
    spec["externalIPs"] = ["9.9.9.9"]
    assert cells(SERVICES, svc(spec, status))[3] == (
        "203.0.113.1,203.0.113.9,lb.example.com,9.9.9.9"
    )
    assert cells(SERVICES, svc(spec))[3] == "9.9.9.9"


def test_service_external_name_and_headless() -> None:
    ext = svc({"type": "ExternalName", "externalName": "db.example.com"})
    assert cells(SERVICES, ext)[1:5] == ["ExternalName", "<none>", "db.example.com", "<none>"]
    headless = svc({"type": "ClusterIP", "clusterIP": "None", "clusterIPs": ["None"]})
    assert cells(SERVICES, headless)[2] == "None"
    assert cells(SERVICES, svc({"clusterIP": "10.0.0.5"}))[1:4] == ["", "10.0.0.5", "<unknown>"]


def ep(subsets: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "creationTimestamp": ago(days=2, hours=3)},
        "subsets": subsets,
    }


def test_endpoints_formatting() -> None:
    assert cells(ENDPOINTS, ep([])) == ["web", "<none>", "2d3h"]
    one = [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 8080}]}]
    assert cells(ENDPOINTS, ep(one))[1] == "10.0.0.1:8080,10.0.0.2:8080"
    many = [
        {
            "addresses": [{"ip": f"10.0.0.{i}"} for i in range(1, 4)],
            "ports": [{"port": 80}, {"port": 443}],
        }
    ]
    assert cells(ENDPOINTS, ep(many))[1] == "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 3 more..."
    headless = [{"addresses": [{"ip": "10.0.0.7"}]}]
    assert cells(ENDPOINTS, ep(headless))[1] == "10.0.0.7"
    v6 = [{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]}]
    assert cells(ENDPOINTS, ep(v6))[1] == "[fd00::1]:80"
    not_ready_only = [{"notReadyAddresses": [{"ip": "10.0.0.8"}], "ports": [{"port": 80}]}]
    assert cells(ENDPOINTS, ep(not_ready_only))[1] == ""


# --- namespaces, configmaps, events ---------------------------------------------


def test_namespace_and_configmap() -> None:
    ns = {
        "metadata": {"name": "kube-system", "creationTimestamp": ago(days=400)},
        "status": {"phase": "Active"},
    }
    assert cells(NAMESPACES, ns) == ["kube-system", "Active", "400d"]
    cm = {
        "metadata": {"name": "cfg", "creationTimestamp": ago(seconds=30)},
        "data": {"a": "1", "b": "2"},
        "binaryData": {"c": "AA=="},
    }
    assert cells(CONFIGMAPS, cm) == ["cfg", 3, "30s"]
    assert cells(CONFIGMAPS, {"metadata": {"name": "e"}}) == ["e", 0, "<unknown>"]


def test_event_core_v1() -> None:
    ev = {
        "metadata": {"name": "web.1", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "web-1", "fieldPath": "spec.containers{app}"},
        "reason": "Started",
        "message": "Started container app\n",
        "type": "Normal",
        "source": {"component": "kubelet", "host": "node-a"},
        "firstTimestamp": ago(minutes=10),
        "lastTimestamp": ago(minutes=2),
        "count": 4,
    }
    assert cells(EVENTS, ev) == [
        "2m",
        "Normal",
        "Started",
        "pod/web-1",
        "spec.containers{app}",
        "kubelet, node-a",
        "Started container app",
        "10m",
        4,
        "web.1",
    ]


def test_event_new_api_fields() -> None:
    ev = {
        "metadata": {"name": "e2"},
        "involvedObject": {"kind": "Node"},
        "eventTime": "2025-06-01T11:59:00.000000Z",
        "reportingComponent": "scheduler",
        "reportingInstance": "sched-1",
        "type": "Warning",
        "reason": "X",
    }
    row = cells(EVENTS, ev)
    assert row[0] == "60s"  # last seen falls back to first seen, itself eventTime
    assert row[3] == "node"
    assert row[5] == "scheduler, sched-1"
    assert row[7] == "60s"
    assert row[8] == 1  # singleton events count as 1
    ev["series"] = {"count": 7, "lastObservedTime": "2025-06-01T11:59:55.000000Z"}
    row = cells(EVENTS, ev)
    assert (row[0], row[8]) == ("5s", 7)
    assert cells(EVENTS, {"metadata": {"name": "z"}})[0] == "<unknown>"


# --- rows and tables -------------------------------------------------------------


def test_row_object_modes() -> None:
    obj = pod()
    row = table_row(PODS, obj, NOW)
    assert row["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    }
    assert table_row(PODS, obj, NOW, "")["object"]["kind"] == "PartialObjectMetadata"
    assert table_row(PODS, obj, NOW, "Object")["object"] is obj
    assert table_row(PODS, obj, NOW, "None")["object"] is None
    assert "conditions" not in row
    with pytest.raises(InvalidIncludeObject, match=r'^unrecognized includeObject value: "Bogus"$'):
        table_row(PODS, obj, NOW, "Bogus")


def test_build_table_shape() -> None:
    objs = [svc({"type": "ClusterIP", "clusterIPs": ["10.0.0.1"]}), svc({"type": "NodePort"})]
    table = build_table(SERVICES, objs, "42", NOW)
    assert list(table) == ["kind", "apiVersion", "metadata", "columnDefinitions", "rows"]
    assert table["kind"] == "Table"
    assert table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"] == {"resourceVersion": "42"}
    assert table["columnDefinitions"] == column_definitions(SERVICES)
    assert [r["cells"][1] for r in table["rows"]] == ["ClusterIP", "NodePort"]
    json.dumps(table)  # JSON-serializable as is


def test_build_table_paging_and_no_headers() -> None:
    table = build_table(PODS, [], "7", NOW, continue_token="tok", remaining=3, with_headers=False)
    assert table["metadata"] == {"resourceVersion": "7", "continue": "tok", "remainingItemCount": 3}
    assert table["columnDefinitions"] is None
    assert table["rows"] == []
    assert build_table(PODS, [], "", NOW)["metadata"] == {}


def test_build_table_include_object_none() -> None:
    table = build_table(CONFIGMAPS, [{"metadata": {"name": "c"}}], "1", NOW, include_object="None")
    assert table["rows"] == [{"cells": ["c", 0, "<unknown>"], "object": None}]


def test_unknown_kind_gets_default_table() -> None:
    lease = ResourceInfo(
        group="example.com",
        version="v1",
        kind="Widget",
        plural="widgets",
        singular="widget",
        namespaced=True,
        schema_ref="com.example.v1.Widget",
        list_kind="WidgetList",
    )
    assert [c["name"] for c in column_definitions(lease)] == ["Name", "Created At"]
    row = table_row(lease, {"metadata": {"name": "l", "creationTimestamp": ago(seconds=1)}}, NOW)
    assert row["cells"] == ["l", ago(seconds=1)]
