"""Table-driven tests of ``sync_service`` (endpoints controller) over in-memory stores.

As upstream's ``endpoints_controller_test.go``: the informer stores are filled
directly, ``sync_service`` is called directly, and the writes it makes are
recorded (here by a recording writer instead of an httptest server). The
EndpointSlice planning, reconciliation and mirroring are covered the same way.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from apiserver.api.resources import ResourceInfo
from controllers.client.errors import ApiError
from controllers.client.store import Store
from controllers.endpoints.endpoints import EndpointsController
from controllers.endpoints.mirroring import (
    MIRRORING_CONTROLLER_NAME,
    EndpointSliceMirroringController,
)
from controllers.endpoints.slices import EndpointSliceController
from controllers.endpoints.subsets import repack_subsets

NS = "ns"
T0 = "2024-05-01T10:00:00Z"
T1 = "2024-05-01T10:00:05Z"


@dataclass
class Recorder:
    """Records writes; fills in name/resourceVersion like the apiserver."""

    calls: list[tuple[str, str, str, dict[str, Any] | None]] = field(default_factory=list)
    rv: int = 100

    def _stored(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(dict(obj))
        md = out.setdefault("metadata", {})
        if not md.get("name"):
            md["name"] = f"{md['generateName']}{self.rv:05d}"
        self.rv += 1
        md["resourceVersion"] = str(self.rv)
        return out

    async def create(
        self, info: ResourceInfo, namespace: str | None, obj: Mapping[str, Any]
    ) -> dict[str, Any]:
        self.calls.append(("create", info.plural, str(namespace), copy.deepcopy(dict(obj))))
        return self._stored(obj)

    async def update(
        self, info: ResourceInfo, namespace: str | None, obj: Mapping[str, Any]
    ) -> dict[str, Any]:
        self.calls.append(("update", info.plural, str(namespace), copy.deepcopy(dict(obj))))
        return self._stored(obj)

    async def delete(self, info: ResourceInfo, namespace: str | None, name: str) -> dict[str, Any]:
        self.calls.append(("delete", info.plural, f"{namespace}/{name}", None))
        return {}


def svc(
    name: str = "web",
    *,
    selector: dict[str, str] | None = None,
    ports: list[dict[str, Any]] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    s: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NS, "uid": f"uid-{name}",
                     "creationTimestamp": T0, "resourceVersion": "1"},
        "spec": {"clusterIP": "10.96.0.10", "ipFamilies": ["IPv4"], **spec},
    }
    if selector is not None:
        s["spec"]["selector"] = selector
    s["spec"]["ports"] = ports if ports is not None else [
        {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}
    ]
    return s


def pod(
    name: str,
    ip: str | None = "10.0.0.1",
    *,
    ready: bool = True,
    labels: dict[str, str] | None = None,
    namespace: str = NS,
    phase: str = "Running",
    deleting: bool = False,
    ports: list[dict[str, Any]] | None = None,
    init_ports: list[dict[str, Any]] | None = None,
    ips: list[str] | None = None,
    **pod_spec: Any,
) -> dict[str, Any]:
    p: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}",
                     "labels": {"app": "web"} if labels is None else labels,
                     "resourceVersion": "1"},
        "spec": {"nodeName": "node-1",
                 "containers": [{"name": "c", "image": "i", "ports": ports or []}],
                 **pod_spec},
        "status": {"phase": phase, "conditions": [
            {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": T1}
        ]},
    }
    if init_ports is not None:
        p["spec"]["initContainers"] = [
            {"name": "side", "image": "i", "restartPolicy": "Always", "ports": init_ports}
        ]
    if ip is not None:
        p["status"]["podIP"] = ip
        p["status"]["podIPs"] = [{"ip": i} for i in (ips or [ip])]
    if deleting:
        p["metadata"]["deletionTimestamp"] = T1
    return p


def addr(name: str, ip: str, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"ip": ip}
    out.update(extra)
    out.setdefault("nodeName", "node-1")
    out["targetRef"] = {"kind": "Pod", "namespace": NS, "name": name, "uid": f"uid-{name}"}
    # Field order as served: ip, hostname, nodeName, targetRef.
    order = ["ip", "hostname", "nodeName", "targetRef"]
    return {k: out[k] for k in order if k in out}


HTTP = {"name": "http", "port": 8080, "protocol": "TCP"}
SEL = {"app": "web"}


def make(
    services: list[dict[str, Any]],
    pods: list[dict[str, Any]],
    endpoints: list[dict[str, Any]] | None = None,
) -> tuple[EndpointsController, Recorder]:
    ss, ps, es = Store(), Store(), Store()
    for s in services:
        ss.add(s)
    for p in pods:
        ps.add(p)
    for e in endpoints or []:
        es.add(e)
    rec = Recorder()
    return EndpointsController(ss, ps, es, rec), rec


def sync(ctrl: EndpointsController, key: str = f"{NS}/web") -> None:
    asyncio.run(ctrl.sync_service(key))


@dataclass
class Case:
    id: str
    services: list[dict[str, Any]]
    pods: list[dict[str, Any]]
    subsets: list[dict[str, Any]] | None  # None: no write expected


CASES = [
    Case("ready-and-not-ready",
         [svc(selector=SEL)],
         [pod("a", "10.0.0.1"), pod("b", "10.0.0.2", ready=False)],
         [{"addresses": [addr("a", "10.0.0.1")], "notReadyAddresses": [addr("b", "10.0.0.2")],
           "ports": [HTTP]}]),
    Case("excluded-pods-phase-ip-namespace-labels",
         [svc(selector=SEL)],
         [pod("ok", "10.0.0.1"), pod("done", "10.0.0.2", phase="Succeeded"),
          pod("failed", "10.0.0.3", phase="Failed"), pod("noip", None),
          pod("other-ns", "10.0.0.4", namespace="elsewhere"),
          pod("other-app", "10.0.0.5", labels={"app": "db"})],
         [{"addresses": [addr("ok", "10.0.0.1")], "ports": [HTTP]}]),
    Case("terminating-excluded",
         [svc(selector=SEL)],
         [pod("a", "10.0.0.1"), pod("gone", "10.0.0.2", deleting=True)],
         [{"addresses": [addr("a", "10.0.0.1")], "ports": [HTTP]}]),
    Case("publish-not-ready-includes-all-and-terminating",
         [svc(selector=SEL, publishNotReadyAddresses=True)],
         [pod("a", "10.0.0.1", ready=False), pod("b", "10.0.0.2", deleting=True)],
         [{"addresses": [addr("a", "10.0.0.1"), addr("b", "10.0.0.2")], "ports": [HTTP]}]),
    Case("named-target-port-by-name-and-protocol",
         [svc(selector=SEL, ports=[{"name": "web", "port": 80, "protocol": "TCP",
                                    "targetPort": "http"}])],
         [pod("a", "10.0.0.1", ports=[{"name": "http", "containerPort": 8080,
                                       "protocol": "TCP"}]),
          pod("b", "10.0.0.2", ports=[{"name": "http", "containerPort": 9090,
                                       "protocol": "TCP"}]),
          pod("udp", "10.0.0.3", ports=[{"name": "http", "containerPort": 8080,
                                         "protocol": "UDP"}]),
          pod("none", "10.0.0.4"),
          pod("sidecar", "10.0.0.5", init_ports=[{"name": "http", "containerPort": 8080,
                                                  "protocol": "TCP"}])],
         [{"addresses": [addr("a", "10.0.0.1"), addr("sidecar", "10.0.0.5")],
           "ports": [{"name": "web", "port": 8080, "protocol": "TCP"}]},
          {"addresses": [addr("b", "10.0.0.2")],
           "ports": [{"name": "web", "port": 9090, "protocol": "TCP"}]}]),
    Case("two-ports-repacked-into-one-subset",
         [svc(selector=SEL, ports=[
             {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080},
             {"name": "metrics", "port": 9100, "protocol": "TCP", "targetPort": 9100,
              "appProtocol": "http"}])],
         [pod("b", "10.0.0.2"), pod("a", "10.0.0.1")],
         [{"addresses": [addr("a", "10.0.0.1"), addr("b", "10.0.0.2")],
           "ports": [HTTP, {"name": "metrics", "port": 9100, "protocol": "TCP",
                            "appProtocol": "http"}]}]),
    Case("hostname-when-subdomain-is-the-service",
         [svc(selector=SEL)],
         [pod("a", "10.0.0.1", hostname="a-host", subdomain="web"),
          pod("b", "10.0.0.2", hostname="b-host", subdomain="other")],
         [{"addresses": [addr("a", "10.0.0.1", hostname="a-host"), addr("b", "10.0.0.2")],
           "ports": [HTTP]}]),
    Case("headless-without-ports",
         [svc(selector=SEL, ports=[], clusterIP="None")],
         [pod("a", "10.0.0.1"), pod("b", "10.0.0.2", ready=False)],
         [{"addresses": [addr("a", "10.0.0.1")], "notReadyAddresses": [addr("b", "10.0.0.2")]}]),
    Case("ipv6-family-picks-the-ipv6-address",
         [svc(selector=SEL, ipFamilies=["IPv6"], clusterIP="fd00::10")],
         [pod("a", "10.0.0.1", ips=["10.0.0.1", "fd00::1"]), pod("v4only", "10.0.0.2")],
         [{"addresses": [addr("a", "fd00::1")], "ports": [HTTP]}]),
    Case("no-pods-gives-empty-subsets",
         [svc(selector=SEL)], [], []),
    Case("external-name-skipped",
         [svc(selector=SEL, type="ExternalName", externalName="example.com")],
         [pod("a")], None),
    Case("selectorless-skipped", [svc()], [pod("a")], None),
    Case("empty-selector-is-nil", [svc(selector={})], [pod("a")], None),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_sync_service(case: Case) -> None:
    ctrl, rec = make(case.services, case.pods)
    sync(ctrl)
    if case.subsets is None:
        assert rec.calls == []
        return
    [(verb, plural, ns, obj)] = rec.calls
    assert (verb, plural, ns) == ("create", "endpoints", NS)
    assert obj is not None
    assert obj["subsets"] == case.subsets
    assert obj["metadata"]["name"] == "web"


def test_labels_copied_and_headless_label() -> None:
    service = svc(selector=SEL)
    service["metadata"]["labels"] = {"team": "a"}
    headless = svc("hl", selector=SEL, clusterIP="None")
    headless["metadata"]["labels"] = {"team": "b"}
    ctrl, rec = make([service, headless], [pod("a")])
    sync(ctrl)
    sync(ctrl, f"{NS}/hl")
    assert rec.calls[0][3]["metadata"]["labels"] == {"team": "a"}  # type: ignore[index]
    assert rec.calls[1][3]["metadata"]["labels"] == {  # type: ignore[index]
        "team": "b", "service.kubernetes.io/headless": ""
    }


def test_trigger_time_is_service_creation_then_pod_readiness_change() -> None:
    ctrl, rec = make([svc(selector=SEL)], [pod("a", ready=False)])
    sync(ctrl)
    annotations = rec.calls[0][3]["metadata"]["annotations"]  # type: ignore[index]
    assert annotations == {"endpoints.kubernetes.io/last-change-trigger-time": T0}
    current = copy.deepcopy(rec.calls[0][3])
    assert current is not None
    current["metadata"]["resourceVersion"] = "5"
    ctrl.endpoints.add(current)
    later = pod("a")
    later["status"]["conditions"][0]["lastTransitionTime"] = "2024-05-01T10:01:00.5Z"
    ctrl.pods.add(later)
    sync(ctrl)
    verb, _, _, obj = rec.calls[1]
    assert verb == "update"
    assert obj is not None
    assert obj["metadata"]["annotations"] == {
        "endpoints.kubernetes.io/last-change-trigger-time": "2024-05-01T10:01:00.5Z"
    }
    assert obj["subsets"] == [{"addresses": [addr("a", "10.0.0.1")], "ports": [HTTP]}]


def test_no_write_when_nothing_changed() -> None:
    ctrl, rec = make([svc(selector=SEL)], [pod("a")])
    sync(ctrl)
    stored = copy.deepcopy(rec.calls[0][3])
    assert stored is not None
    stored["metadata"]["resourceVersion"] = "7"
    ctrl.endpoints.add(stored)
    # A pod change that does not matter (a new resourceVersion, an annotation).
    p = pod("a")
    p["metadata"]["annotations"] = {"x": "y"}
    ctrl.pods.add(p)
    sync(ctrl)
    assert len(rec.calls) == 1, "endpoints are equal, skipping update"
    # A label change on the Service is a change.
    s = svc(selector=SEL)
    s["metadata"]["labels"] = {"new": "label"}
    ctrl.services.add(s)
    sync(ctrl)
    assert [c[0] for c in rec.calls] == ["create", "update"]


def test_deleted_service_deletes_endpoints_and_404_is_fine() -> None:
    ctrl, rec = make([], [pod("a")])
    sync(ctrl)
    assert rec.calls == [("delete", "endpoints", f"{NS}/web", None)]

    async def not_found(info: ResourceInfo, namespace: str | None, name: str) -> dict[str, Any]:
        raise ApiError(404, {"kind": "Status", "code": 404, "reason": "NotFound"})

    ctrl.writer.delete = not_found  # type: ignore[method-assign]
    sync(ctrl)  # no exception


def test_truncation_over_capacity() -> None:
    pods = [pod(f"p{i:04d}", f"10.1.{i // 250}.{i % 250}", ready=i < 700) for i in range(1200)]
    ctrl, rec = make([svc(selector=SEL)], pods)
    sync(ctrl)
    obj = rec.calls[0][3]
    assert obj is not None
    assert obj["metadata"]["annotations"]["endpoints.kubernetes.io/over-capacity"] == "truncated"
    [subset] = obj["subsets"]
    assert len(subset["addresses"]) == 700, "ready addresses are kept first"
    assert len(subset["notReadyAddresses"]) == 300
    # Stored as truncated: a resync writes nothing more.
    stored = copy.deepcopy(obj)
    stored["metadata"]["resourceVersion"] = "9"
    ctrl.endpoints.add(stored)
    sync(ctrl)
    assert len(rec.calls) == 1
    # Back under capacity: the annotation goes.
    for i in range(300):
        ctrl.pods.delete_key(f"{NS}/p{i:04d}")
    sync(ctrl)
    obj = rec.calls[1][3]
    assert obj is not None
    assert "endpoints.kubernetes.io/over-capacity" not in obj["metadata"].get("annotations", {})


def test_repack_dedupes_and_not_ready_wins() -> None:
    a = addr("a", "10.0.0.1")
    subsets = repack_subsets([
        {"addresses": [a], "ports": [HTTP]},
        {"notReadyAddresses": [a], "ports": [HTTP]},
        {"addresses": [a], "ports": [HTTP]},
        {"addresses": [addr("b", "10.0.0.0")], "ports": [HTTP]},
    ])
    assert subsets == [{"addresses": [addr("b", "10.0.0.0")], "notReadyAddresses": [a],
                        "ports": [HTTP]}]


def test_pod_events_enqueue_only_affected_services() -> None:
    ctrl, _ = make([svc(selector=SEL), svc("db", selector={"app": "db"})], [])

    async def body() -> list[str]:
        ctrl.on_pod_add(pod("a"))
        old = pod("a")
        new = pod("a", labels={"app": "db"})
        new["metadata"]["resourceVersion"] = "2"
        ctrl.on_pod_update(old, new)
        same = pod("a")
        same["metadata"]["resourceVersion"] = "3"
        same["metadata"]["annotations"] = {"irrelevant": "change"}
        ctrl.on_pod_update(pod("a"), same)
        keys = []
        while len(ctrl.queue):
            k = await ctrl.queue.get()
            keys.append(k)
            ctrl.queue.done(k)
        return keys

    assert sorted(asyncio.run(body())) == [f"{NS}/db", f"{NS}/web"]


def test_leftover_endpoints_are_queued_except_leader_election() -> None:
    orphan = {"metadata": {"namespace": NS, "name": "gone"}}
    leader = {"metadata": {"namespace": NS, "name": "lock", "annotations": {
        "control-plane.alpha.kubernetes.io/leader": "{}"}}}
    ctrl, rec = make([], [], [orphan, leader])
    ctrl.check_leftover_endpoints()
    assert len(ctrl.queue) == 1

    async def drain() -> None:
        key = await ctrl.queue.get()
        await ctrl.sync_service(key)

    asyncio.run(drain())
    assert rec.calls == [("delete", "endpoints", f"{NS}/gone", None)]


# -- EndpointSlices -------------------------------------------------------------------


def make_slices(
    services: list[dict[str, Any]], pods: list[dict[str, Any]], max_per_slice: int = 100
) -> tuple[EndpointSliceController, Recorder]:
    ss, ps, sl = Store(), Store(), Store()
    for s in services:
        ss.add(s)
    for p in pods:
        ps.add(p)
    rec = Recorder()
    return EndpointSliceController(ss, ps, sl, rec, max_per_slice=max_per_slice), rec


def test_slices_conditions_labels_owner_and_splitting() -> None:
    service = svc(selector=SEL)
    service["metadata"]["labels"] = {"team": "a"}
    pods = [pod(f"p{i:03d}", f"10.0.1.{i}") for i in range(150)]
    pods.append(pod("term", "10.0.2.1", deleting=True))
    pods.append(pod("unready", "10.0.2.2", ready=False))
    ctrl, rec = make_slices([service], pods)
    asyncio.run(ctrl.sync(f"{NS}/web"))
    creates = [c[3] for c in rec.calls if c[0] == "create"]
    assert len(creates) == 2
    assert all(c is not None for c in creates)
    sizes = sorted(len(c["endpoints"]) for c in creates if c)
    assert sizes == [52, 100]
    first = creates[0]
    assert first is not None
    assert first["metadata"]["generateName"] == "web-"
    assert first["metadata"]["labels"] == {
        "team": "a",
        "kubernetes.io/service-name": "web",
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
    }
    assert first["metadata"]["ownerReferences"] == [{
        "apiVersion": "v1", "kind": "Service", "name": "web", "uid": "uid-web",
        "controller": True, "blockOwnerDeletion": True,
    }]
    assert first["addressType"] == "IPv4"
    assert first["ports"] == [{"name": "http", "protocol": "TCP", "port": 8080}]
    eps = {e["targetRef"]["name"]: e for c in creates if c for e in c["endpoints"]}
    assert eps["term"]["conditions"] == {"ready": False, "serving": True, "terminating": True}
    assert eps["unready"]["conditions"] == {"ready": False, "serving": False,
                                            "terminating": False}
    assert eps["p000"]["conditions"] == {"ready": True, "serving": True, "terminating": False}
    assert eps["p000"]["nodeName"] == "node-1"


def _stored_slices(ctrl: EndpointSliceController | EndpointSliceMirroringController,
                   rec: Recorder) -> None:
    """Replay the recorder's writes into the cache with generated names and RVs."""
    ctrl.slices.replace([])
    for verb, _, where, obj in rec.calls:
        if verb == "delete":
            ctrl.slices.delete_key(where)
            continue
        assert obj is not None
        stored = rec._stored(obj)
        ctrl.slices.add(stored)
        ctrl.tracker.forget(f"{NS}/web")


def test_slices_resync_without_change_writes_nothing_and_placeholder() -> None:
    ctrl, rec = make_slices([svc(selector=SEL)], [pod("a")])
    asyncio.run(ctrl.sync(f"{NS}/web"))
    assert [c[0] for c in rec.calls] == ["create"]
    _stored_slices(ctrl, rec)
    rec.calls.clear()
    asyncio.run(ctrl.sync(f"{NS}/web"))
    assert rec.calls == []
    # The only pod goes: its slice is replaced by an empty placeholder.
    ctrl.pods.delete_key(f"{NS}/a")
    asyncio.run(ctrl.sync(f"{NS}/web"))
    verbs = sorted(c[0] for c in rec.calls)
    assert verbs == ["create", "delete"]
    placeholder = next(c[3] for c in rec.calls if c[0] == "create")
    assert placeholder is not None
    assert placeholder["endpoints"] == [] and placeholder["ports"] == []


def test_slices_removed_with_their_service() -> None:
    ctrl, rec = make_slices([svc(selector=SEL)], [pod("a")])
    asyncio.run(ctrl.sync(f"{NS}/web"))
    _stored_slices(ctrl, rec)
    rec.calls.clear()
    ctrl.services.delete_key(f"{NS}/web")
    asyncio.run(ctrl.sync(f"{NS}/web"))
    assert [c[0] for c in rec.calls] == ["delete"]


def test_mirroring_of_selectorless_service_endpoints() -> None:
    ss, es, sl = Store(), Store(), Store()
    ss.add(svc())  # no selector
    ss.add(svc("sel", selector=SEL))
    manual = {
        "metadata": {"namespace": NS, "name": "web", "uid": "uid-ep",
                     "labels": {"custom": "x"},
                     "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": T0,
                                     "note": "kept"}},
        "subsets": [{"addresses": [{"ip": "192.168.0.1"}, {"ip": "fd00::1"}],
                     "notReadyAddresses": [{"ip": "192.168.0.2", "hostname": "h"}],
                     "ports": [{"name": "db", "port": 5432, "protocol": "TCP"}]}],
    }
    es.add(manual)
    es.add({"metadata": {"namespace": NS, "name": "sel"}, "subsets": []})
    rec = Recorder()
    ctrl = EndpointSliceMirroringController(ss, es, sl, rec)
    asyncio.run(ctrl.sync(f"{NS}/web"))
    asyncio.run(ctrl.sync(f"{NS}/sel"))
    creates = {c[3]["addressType"]: c[3] for c in rec.calls if c[0] == "create" and c[3]}
    assert set(creates) == {"IPv4", "IPv6"}
    v4 = creates["IPv4"]
    assert v4["metadata"]["labels"] == {
        "custom": "x",
        "kubernetes.io/service-name": "web",
        "endpointslice.kubernetes.io/managed-by": MIRRORING_CONTROLLER_NAME,
    }
    assert v4["metadata"]["annotations"] == {"note": "kept"}
    assert v4["metadata"]["ownerReferences"][0]["kind"] == "Endpoints"
    assert v4["ports"] == [{"name": "db", "protocol": "TCP", "port": 5432}]
    assert v4["endpoints"] == [
        {"addresses": ["192.168.0.1"], "conditions": {"ready": True}},
        {"addresses": ["192.168.0.2"], "conditions": {"ready": False}, "hostname": "h"},
    ]
    assert len(rec.calls) == 2, "Endpoints of a selector Service are not mirrored"

