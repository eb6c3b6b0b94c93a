"""The service-lb controller's pool parsing, allocation and reconcile decisions.

The reconcile tests fill the informer store directly, call ``startup``/``sync``
directly and record the writes (``/status`` PUTs, Event creates and patches),
as ``test_endpoints_sync.py`` does for the endpoints controller. The process
itself is covered by ``tests/integration/test_servicelb.py``.
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
from controllers.client.store import DeletedFinalStateUnknown, Store
from controllers.servicelb.app import DEFAULT_POOL, build_parser
from controllers.servicelb.controller import (
    ServiceLBController,
    handles,
    ingress_ips,
    requested_ips,
)
from controllers.servicelb.pool import Allocator, PoolError, parse_pool

NS = "ns"

# -- pools ---------------------------------------------------------------------------


def test_parse_cidr_leaves_out_network_and_broadcast_addresses() -> None:
    (r,) = parse_pool("127.240.0.0/24")
    assert (r.version, r.size, str(r)) == (4, 254, "127.240.0.1-127.240.0.254")
    assert [str(r) for r in parse_pool("10.0.0.4/30,10.0.0.8/31,10.0.0.20/32")] == [
        "10.0.0.5-10.0.0.6", "10.0.0.8-10.0.0.9", "10.0.0.20"]
    (v6,) = parse_pool("fd00::/126")
    assert str(v6) == "fd00::-fd00::3"
    alloc = Allocator(parse_pool("127.240.0.0/24"))
    assert alloc.allocate("ns/first", 4) == "127.240.0.1"


def test_parse_ranges_singles_and_several_pools() -> None:
    ranges = parse_pool(["10.0.0.10-10.0.0.12, 192.168.1.5", "fd00::1-fd00::3"])
    assert [str(r) for r in ranges] == ["10.0.0.10-10.0.0.12", "192.168.1.5",
                                        "fd00::1-fd00::3"]
    assert [r.version for r in ranges] == [4, 4, 6]


def test_parse_merges_overlapping_and_adjacent_ranges() -> None:
    ranges = parse_pool("10.0.0.0/30,10.0.0.2-10.0.0.5,10.0.0.6")
    assert [str(r) for r in ranges] == ["10.0.0.1-10.0.0.6"]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("10.0.0.9-10.0.0.1", "is before"),
        ("10.0.0.1-fd00::1", "mixes IPv4 and IPv6"),
        ("10.0.0.300", "invalid address pool entry"),
        ("bogus/24", "invalid address pool entry"),
        (" , ", "empty"),
    ],
)
def test_parse_errors(text: str, fragment: str) -> None:
    with pytest.raises(PoolError, match=fragment):
        parse_pool(text)


def test_default_pool_and_flags() -> None:
    args = build_parser().parse_args([])
    assert args.address_pool is None and args.load_balancer_class is None
    assert parse_pool(DEFAULT_POOL)[0].size == 254
    args = build_parser().parse_args(
        ["--address-pool", "10.0.0.1-10.0.0.2", "--address-pool", "10.0.1.0/31",
         "--load-balancer-class", "example.com/lb", "--workers", "3", "--port", "9000"])
    assert args.address_pool == ["10.0.0.1-10.0.0.2", "10.0.1.0/31"]
    assert (args.load_balancer_class, args.workers, args.port) == ("example.com/lb", 3, 9000)
    assert build_parser().parse_args([]).leader_elect is False
    elect = build_parser().parse_args(["--leader-elect", "--leader-elect-lease-duration", "1m",
                                        "--leader-elect-renew-deadline", "500ms"])
    assert (elect.leader_elect, elect.leader_elect_lease_duration,
            elect.leader_elect_renew_deadline) == (True, 60.0, 0.5)
    assert build_parser().parse_args(["--leader-elect=false"]).leader_elect is False


def test_allocator_lowest_free_release_and_exhaustion() -> None:
    alloc = Allocator(parse_pool("10.0.0.1-10.0.0.2,10.0.0.9"))
    assert alloc.allocate("a") == "10.0.0.1"
    assert alloc.allocate("a") == "10.0.0.1"  # idempotent
    assert alloc.allocate("b") == "10.0.0.2"
    assert alloc.allocate("c") == "10.0.0.9"
    assert alloc.allocate("d") is None
    assert alloc.allocate("d", 6) is None  # no IPv6 range
    assert alloc.release("b") == "10.0.0.2"
    assert alloc.release("b") is None
    assert alloc.allocate("d") == "10.0.0.2"
    assert alloc.assignments() == {"a": "10.0.0.1", "c": "10.0.0.9", "d": "10.0.0.2"}
    assert (alloc.owner("10.0.0.9"), alloc.ip_of("c"), len(alloc)) == ("c", "10.0.0.9", 3)


def test_allocator_can_avoid_buggy_ips() -> None:
    alloc = Allocator(parse_pool("10.0.0.254-10.0.1.1"), avoid_buggy_ips=True)
    assert [alloc.allocate(k) for k in "abc"] == ["10.0.0.254", "10.0.1.1", None]
    assert alloc.assign("c", "10.0.1.0")  # requested explicitly: allowed
    plain = Allocator(parse_pool("10.0.0.255-10.0.1.0"))
    assert [plain.allocate(k) for k in "ab"] == ["10.0.0.255", "10.0.1.0"]


def test_allocator_assign_requested() -> None:
    alloc = Allocator(parse_pool("10.0.0.0/29,fd00::/126"))
    assert alloc.assign("a", "10.0.0.5")
    assert not alloc.assign("b", "10.0.0.5")  # taken
    assert not alloc.assign("b", "10.0.1.5")  # outside the pool
    assert not alloc.assign("b", "not-an-ip")
    assert alloc.assign("a", "10.0.0.6")  # moving frees the old address
    assert alloc.owner("10.0.0.5") is None
    assert alloc.assign("v6", "fd00:0::2") and alloc.ip_of("v6") == "fd00::2"
    assert alloc.allocate("w6", 6) == "fd00::"
    assert alloc.contains("fd00::3") and not alloc.contains("fd00::4")
    assert alloc.size(4) == 6 and alloc.size(6) == 4  # 10.0.0.0 and 10.0.0.7 left out
    assert not alloc.assign("b", "10.0.0.0") and not alloc.assign("b", "10.0.0.7")


# -- filtering -----------------------------------------------------------------------


def svc(name: str = "web", *, type_: str = "LoadBalancer", cls: str | None = None,
        ingress: list[str] | None = None, created: str = "2024-05-01T10:00:00Z",
        annotations: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NS, "uid": f"uid-{name}",
                     "resourceVersion": "1", "creationTimestamp": created},
        "spec": {"type": type_, "clusterIP": "10.96.0.10", "ipFamilies": ["IPv4"],
                 "ports": [{"port": 80, "protocol": "TCP"}], **spec},
        "status": {"loadBalancer": {}},
    }
    if cls is not None:
        body["spec"]["loadBalancerClass"] = cls
    if ingress:
        body["status"]["loadBalancer"]["ingress"] = [{"ip": ip, "ipMode": "VIP"} for ip in ingress]
    if annotations:
        body["metadata"]["annotations"] = annotations
    return body


def test_class_filtering() -> None:
    plain, mine, other = svc(), svc(cls="example.com/lb"), svc(cls="other.io/lb")
    assert handles(plain, None) and not handles(mine, None) and not handles(other, None)
    assert handles(mine, "example.com/lb") and not handles(plain, "example.com/lb")
    assert not handles(other, "example.com/lb")
    for type_ in ("ClusterIP", "NodePort", "ExternalName"):
        assert not handles(svc(type_=type_), None)


def test_requested_ips_annotation_wins_over_spec() -> None:
    assert requested_ips(svc(loadBalancerIP="10.0.0.3")) == ["10.0.0.3"]
    s = svc(loadBalancerIP="10.0.0.3",
            annotations={"metallb.universe.tf/loadBalancerIPs": "10.0.0.4, fd00::4"})
    assert requested_ips(s) == ["10.0.0.4", "fd00::4"]
    s["metadata"]["annotations"]["metallb.io/loadBalancerIPs"] = "10.0.0.5"
    assert requested_ips(s) == ["10.0.0.5"]
    assert requested_ips(svc()) == []
    assert ingress_ips(svc(ingress=["10.0.0.1"])) == ["10.0.0.1"]


# -- reconcile -------------------------------------------------------------------------


@dataclass
class Recorder:
    """Records the controller's writes."""

    calls: list[tuple[str, str, str, Any]] = field(default_factory=list)
    fail_status: ApiError | None = None
    fail_patch: bool = False

    async def update_status(
        self, info: ResourceInfo, namespace: str | None, obj: Mapping[str, Any]
    ) -> dict[str, Any]:
        if self.fail_status is not None:
            raise self.fail_status
        self.calls.append(("status", info.plural, str(namespace), copy.deepcopy(dict(obj))))
        return dict(obj)

    async def create(
        self, info: ResourceInfo, namespace: str | None, obj: Mapping[str, Any]
    ) -> dict[str, Any]:
        self.calls.append(("create", info.plural, str(namespace), copy.deepcopy(dict(obj))))
        return dict(obj)

    async def patch(self, info: ResourceInfo, namespace: str | None, name: str, patch: Any,
                    *, content_type: str = "", subresource: str | None = None) -> dict[str, Any]:
        if self.fail_patch:
            raise ApiError(404, {"kind": "Status", "reason": "NotFound", "code": 404})
        self.calls.append(("patch", info.plural, f"{namespace}/{name}", patch))
        return {}

    def statuses(self) -> dict[str, list[Any]]:
        return {c[3]["metadata"]["name"]: c[3]["status"]["loadBalancer"].get("ingress", [])
                for c in self.calls if c[0] == "status"}

    def events(self) -> list[dict[str, Any]]:
        return [c[3] for c in self.calls if c[0] == "create" and c[1] == "events"]


def make(pool: str = "10.0.0.1-10.0.0.3", cls: str | None = None,
         *services: dict[str, Any]) -> tuple[ServiceLBController, Store, Recorder]:
    store = Store()
    for s in services:
        store.add(s)
    rec = Recorder()
    c = ServiceLBController(store, rec, Allocator(parse_pool(pool)), load_balancer_class=cls,
                            host="test-host")
    return c, store, rec


def sync(c: ServiceLBController, *names: str) -> None:
    async def go() -> None:
        for n in names:
            await c.sync(f"{NS}/{n}")
    asyncio.run(go())


def queued(c: ServiceLBController) -> list[str]:
    return list(c.queue._queue)


def test_assigns_lowest_free_ip_through_status() -> None:
    c, _, rec = make("10.0.0.1-10.0.0.3", None, svc("a"), svc("b"))
    sync(c, "a", "b")
    assert rec.statuses() == {"a": [{"ip": "10.0.0.1", "ipMode": "VIP"}],
                              "b": [{"ip": "10.0.0.2", "ipMode": "VIP"}]}
    assert all(c[1] == "services" for c in rec.calls if c[0] == "status")
    normal = rec.events()
    assert [(e["type"], e["reason"], e["involvedObject"]["name"]) for e in normal] == [
        ("Normal", "IPAllocated", "a"), ("Normal", "IPAllocated", "b")]


def test_no_write_when_status_is_already_right() -> None:
    c, _, rec = make("10.0.0.1-10.0.0.3", None, svc("a", ingress=["10.0.0.2"]))
    c.startup()
    sync(c, "a", "a")
    assert rec.calls == []
    assert c.allocator.ip_of(f"{NS}/a") == "10.0.0.2"


def test_other_classes_and_types_are_left_alone() -> None:
    c, _, rec = make("10.0.0.1-10.0.0.3", None, svc("other", cls="other.io/lb"),
                     svc("cip", type_="ClusterIP"), svc("np", type_="NodePort"))
    c.startup()
    sync(c, "other", "cip", "np")
    assert rec.calls == [] and len(c.allocator) == 0


def test_class_controller_handles_only_its_class() -> None:
    c, _, rec = make("10.0.0.1-10.0.0.3", "example.com/lb", svc("mine", cls="example.com/lb"),
                     svc("plain"), svc("other", cls="other.io/lb"))
    sync(c, "mine", "plain", "other")
    assert rec.statuses() == {"mine": [{"ip": "10.0.0.1", "ipMode": "VIP"}]}


def test_handlers_enqueue_only_relevant_keys() -> None:
    c, _, _ = make()
    c.on_add(svc("cip", type_="ClusterIP"))
    c.on_add(svc("lb"))
    c.on_update(svc("x", type_="ClusterIP"), svc("x", type_="ClusterIP"))
    c.on_update(svc("y"), svc("y", type_="ClusterIP"))
    c.on_delete(DeletedFinalStateUnknown(f"{NS}/gone", svc("gone")))
    assert queued(c) == [f"{NS}/lb", f"{NS}/y", f"{NS}/gone"]


def test_restart_adopts_stored_ips_and_never_reassigns() -> None:
    c, _, rec = make("10.0.0.1-10.0.0.4", None,
                         svc("old", ingress=["10.0.0.1"]), svc("mid", ingress=["10.0.0.3"]),
                         svc("new"))
    c.startup()
    sync(c, "new", "old", "mid")
    assert rec.statuses() == {"new": [{"ip": "10.0.0.2", "ipMode": "VIP"}]}
    assert c.allocator.assignments() == {f"{NS}/old": "10.0.0.1", f"{NS}/mid": "10.0.0.3",
                                         f"{NS}/new": "10.0.0.2"}


def test_clashing_status_oldest_service_keeps_the_ip() -> None:
    c, _, rec = make("10.0.0.1-10.0.0.4", None,
                     svc("young", ingress=["10.0.0.1"], created="2024-05-02T00:00:00Z"),
                     svc("elder", ingress=["10.0.0.1"], created="2024-05-01T00:00:00Z"))
    c.startup()
    sync(c, "young", "elder")
    assert rec.statuses() == {"young": [{"ip": "10.0.0.2", "ipMode": "VIP"}]}


def test_adopts_stored_ip_outside_startup_but_replaces_one_outside_the_pool() -> None:
    c, _, rec = make("10.0.0.1-10.0.0.4", None, svc("kept", ingress=["10.0.0.4"]),
                     svc("moved", ingress=["192.0.2.1"]))
    sync(c, "kept", "moved")
    assert rec.statuses() == {"moved": [{"ip": "10.0.0.1", "ipMode": "VIP"}]}


def test_delete_releases_and_retries_pending() -> None:
    c, store, rec = make("10.0.0.1-10.0.0.2", None, svc("a"), svc("b"), svc("c"))
    sync(c, "a", "b", "c")
    assert "c" not in rec.statuses()  # pending: nothing to write
    warning = rec.events()[-1]
    assert (warning["type"], warning["reason"], warning["source"]) == (
        "Warning", "AllocationFailed", {"component": "service-lb", "host": "test-host"})
    assert warning["message"] == f'Failed to allocate IP for "{NS}/c": no available IPs'
    assert warning["involvedObject"] == {"kind": "Service", "namespace": NS, "name": "c",
                                         "uid": "uid-c", "apiVersion": "v1",
                                         "resourceVersion": "1"}
    assert c.pending == {f"{NS}/c"}
    store.delete_key(f"{NS}/a")
    sync(c, "a")
    assert queued(c) == [f"{NS}/c"]
    sync(c, "c")
    assert rec.statuses()["c"] == [{"ip": "10.0.0.1", "ipMode": "VIP"}]
    assert c.pending == set()


def test_repeated_failure_bumps_the_event_count() -> None:
    c, _, rec = make("10.0.0.1", None, svc("a"), svc("b"))
    sync(c, "a", "b", "b", "b")
    failures = [e for e in rec.events() if e["reason"] == "AllocationFailed"]
    assert len(failures) == 1
    patches = [call for call in rec.calls if call[0] == "patch"]
    assert [p[3]["count"] for p in patches] == [2, 3]
    assert patches[0][2] == f"{NS}/{failures[0]['metadata']['name']}"
    rec.fail_patch = True  # the Event was deleted: record a new one
    sync(c, "b")
    assert len([e for e in rec.events() if e["reason"] == "AllocationFailed"]) == 2


def test_type_change_releases() -> None:
    c, store, rec = make("10.0.0.1", None, svc("a"), svc("b"))
    sync(c, "a", "b")
    store.add(svc("a", type_="ClusterIP"))  # the apiserver cleared its status
    sync(c, "a", "b")
    assert rec.statuses()["b"] == [{"ip": "10.0.0.1", "ipMode": "VIP"}]


def test_requested_ip_honoured_or_pending() -> None:
    c, _, rec = make("10.0.0.1-10.0.0.5", None, svc("spec", loadBalancerIP="10.0.0.4"),
                     svc("ann", annotations={"metallb.universe.tf/loadBalancerIPs": "10.0.0.3"}),
                     svc("taken", loadBalancerIP="10.0.0.4"),
                     svc("outside", loadBalancerIP="192.0.2.9"),
                     svc("v6only", annotations={"metallb.io/loadBalancerIPs": "fd00::1"}))
    sync(c, "spec", "ann", "taken", "outside", "v6only")
    assert rec.statuses() == {"spec": [{"ip": "10.0.0.4", "ipMode": "VIP"}],
                              "ann": [{"ip": "10.0.0.3", "ipMode": "VIP"}]}
    messages = {e["involvedObject"]["name"]: e["message"] for e in rec.events()
                if e["reason"] == "AllocationFailed"}
    assert messages["taken"] == (f'Failed to allocate IP for "{NS}/taken": ["10.0.0.4"] is '
                                 f'already in use by "{NS}/spec"')
    assert messages["outside"] == (f'Failed to allocate IP for "{NS}/outside": ["192.0.2.9"] '
                                   "is not allowed in config")
    assert "no requested IP of family IPv4" in messages["v6only"]


def test_changed_request_moves_the_service() -> None:
    c, store, rec = make("10.0.0.1-10.0.0.5", None, svc("a", ingress=["10.0.0.1"]))
    c.startup()
    store.add(svc("a", ingress=["10.0.0.1"], loadBalancerIP="10.0.0.5"))
    sync(c, "a")
    assert rec.statuses() == {"a": [{"ip": "10.0.0.5", "ipMode": "VIP"}]}
    assert c.allocator.owner("10.0.0.1") is None


def test_unsatisfiable_request_clears_an_assigned_ip() -> None:
    c, store, rec = make("10.0.0.1-10.0.0.5", None, svc("a", ingress=["10.0.0.1"]))
    c.startup()
    store.add(svc("a", ingress=["10.0.0.1"], loadBalancerIP="192.0.2.1"))
    sync(c, "a")
    assert rec.statuses() == {"a": []}
    assert len(c.allocator) == 0 and c.pending == {f"{NS}/a"}


def test_status_write_errors() -> None:
    c, _, rec = make("10.0.0.1-10.0.0.2", None, svc("a"))
    rec.fail_status = ApiError(409, {"kind": "Status", "reason": "Conflict", "code": 409})
    with pytest.raises(ApiError):
        sync(c, "a")
    assert c.allocator.ip_of(f"{NS}/a") == "10.0.0.1"  # kept for the retry
    rec.fail_status = ApiError(404, {"kind": "Status", "reason": "NotFound", "code": 404})
    sync(c, "a")
    assert len(c.allocator) == 0
