"""The replicaset controller's sync over hand-filled stores and a recording writer
(as upstream ``replica_set_test.go`` with its fake pod control)."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from apiserver.api.resources import ResourceInfo
from controllers.client.errors import ApiError
from controllers.client.store import NAMESPACE_INDEX, Store, meta_namespace_index
from controllers.workloads.expectations import Expectations
from controllers.workloads.pods import pods_to_delete, slow_start_batch
from controllers.workloads.replicaset import RC_KIND, RS_KIND, ReplicaSetController

NS = "ns"
NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
RS_UID = "rs-uid"


def ts(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Recorder:
    """Records writes; ``fail_creates_after`` makes later creates fail with 403."""

    calls: list[tuple[str, str, Any]] = field(default_factory=list)
    fail_creates_after: int | None = None
    created: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)

    async def create(self, info: ResourceInfo, namespace: str | None,
                     obj: Mapping[str, Any]) -> dict[str, Any]:
        if info.plural == "events":
            self.events.append(dict(obj))
            return dict(obj)
        if self.fail_creates_after is not None and self.created >= self.fail_creates_after:
            raise ApiError(403, {"reason": "Forbidden", "message": "exceeded quota"})
        self.created += 1
        out = copy.deepcopy(dict(obj))
        out["metadata"]["name"] = out["metadata"]["generateName"] + str(self.created)
        self.calls.append(("create", info.plural, out))
        return out

    async def update(self, info: ResourceInfo, namespace: str | None, obj: Mapping[str, Any],
                     subresource: str | None = None) -> dict[str, Any]:
        self.calls.append(("update/" + str(subresource), info.plural, copy.deepcopy(obj)))
        return dict(obj)

    async def patch(self, info: ResourceInfo, namespace: str | None, name: str, patch: Any,
                    **options: Any) -> dict[str, Any]:
        self.calls.append(("patch", name, patch))
        return {"metadata": {"name": name, "namespace": namespace}}

    async def delete(self, info: ResourceInfo, namespace: str | None, name: str,
                     **options: Any) -> dict[str, Any]:
        self.calls.append(("delete", name, None))
        return {}

    def of(self, verb: str) -> list[tuple[str, str, Any]]:
        return [c for c in self.calls if c[0] == verb]


def replicaset(replicas: int, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": "web", "namespace": NS, "uid": RS_UID, "generation": 2},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web", "tier": "fe"}},
                                  "spec": {"containers": [{"name": "c", "image": "i"}]}},
                     **spec}}


def pod(name: str, *, owned: bool = True, labels: Mapping[str, str] | None = None,
        node: str = "n1", phase: str = "Running", ready_for: float | None = 100,
        created: float = 1000, restarts: int = 0, deleting: bool = False) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name, "namespace": NS, "uid": f"uid-{name}",
                          "labels": dict(labels or {"app": "web", "tier": "fe"}),
                          "creationTimestamp": ts(created), "resourceVersion": "1"}
    if owned:
        md["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web",
                                  "uid": RS_UID, "controller": True}]
    if deleting:
        md["deletionTimestamp"] = ts(0)
    status: dict[str, Any] = {"phase": phase,
                              "containerStatuses": [{"restartCount": restarts}]}
    if ready_for is not None:
        status["conditions"] = [{"type": "Ready", "status": "True",
                                 "lastTransitionTime": ts(ready_for)}]
    return {"metadata": md, "spec": {"nodeName": node} if node else {}, "status": status}


def controller(owner: dict[str, Any], pods: list[dict[str, Any]],
               writer: Recorder | None = None) -> tuple[ReplicaSetController, Recorder]:
    owners = Store({NAMESPACE_INDEX: meta_namespace_index})
    owners.add(owner)
    store = Store({NAMESPACE_INDEX: meta_namespace_index})
    for p in pods:
        store.add(p)
    rec = writer or Recorder()
    kind = RS_KIND if owner["kind"] == "ReplicaSet" else RC_KIND
    return ReplicaSetController(kind, owners, store, rec, now=lambda: NOW), rec


def sync(ctrl: ReplicaSetController) -> None:
    asyncio.run(ctrl.sync(f"{NS}/web"))


def test_creates_missing_pods_from_the_template() -> None:
    ctrl, rec = controller(replicaset(3), [pod("a")])
    sync(ctrl)
    creates = rec.of("create")
    assert len(creates) == 2
    made = creates[0][2]
    assert made["metadata"]["generateName"] == "web-"
    assert made["metadata"]["labels"] == {"app": "web", "tier": "fe"}
    ref = made["metadata"]["ownerReferences"][0]
    assert ref == {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": RS_UID,
                   "controller": True, "blockOwnerDeletion": True}
    status = rec.of("update/status")[0][2]["status"]
    assert status == {"replicas": 1, "fullyLabeledReplicas": 1, "readyReplicas": 1,
                      "availableReplicas": 1, "observedGeneration": 2}


def test_expectations_prevent_double_creates_until_observed() -> None:
    ctrl, rec = controller(replicaset(3), [])
    sync(ctrl)
    assert len(rec.of("create")) == 3
    sync(ctrl)  # the informer has not seen the new pods yet
    assert len(rec.of("create")) == 3
    for _, _, made in rec.of("create")[:2]:
        made["metadata"]["uid"] = made["metadata"]["name"]
        ctrl.pods.add(made)
        ctrl.on_pod_add(made)
    sync(ctrl)
    assert len(rec.of("create")) == 3
    third = rec.of("create")[2][2]
    ctrl.pods.add(third)
    ctrl.on_pod_add(third)
    sync(ctrl)
    assert len(rec.of("create")) == 3


def test_expectations_expire() -> None:
    clock = [0.0]
    exp = Expectations(clock=lambda: clock[0])
    exp.expect_creations("k", 2)
    assert not exp.satisfied("k")
    clock[0] = 301.0
    assert exp.satisfied("k")
    exp.expect_deletions("k", ["ns/a"])
    exp.deletion_observed("k", "ns/a")
    exp.deletion_observed("k", "ns/a")
    assert exp.satisfied("k") and exp.pending("k") == (0, 0)


def test_slow_start_batches_stop_at_the_first_failure() -> None:
    rec = Recorder(fail_creates_after=4)
    ctrl, rec = controller(replicaset(20), [], rec)
    with pytest.raises(ApiError):
        sync(ctrl)
    # Batches of 1, 2 and 4; three of the third fail, and no batch follows.
    assert len(rec.of("create")) == 4
    assert ctrl.expectations.pending(f"{NS}/web") == (4, 0)
    cond = rec.of("update/status")[0][2]["status"]["conditions"][0]
    assert cond["type"] == "ReplicaFailure" and cond["reason"] == "FailedCreate"
    assert "exceeded quota" in cond["message"]
    # Upstream's pod-control Events on the ReplicaSet: one per pod created or failed.
    reasons = [(e["reason"], e["message"]) for e in rec.events]
    # Three identical failures: one Event whose count the recorder raises to 3.
    assert reasons.count(("FailedCreate", "Error creating: exceeded quota")) == 1
    assert [c[2]["count"] for c in rec.of("patch")] == [2, 3]
    created = [m for r, m in reasons if r == "SuccessfulCreate"]
    assert sorted(created) == sorted(f"Created pod: {c[2]['metadata']['name']}"
                                     for c in rec.of("create"))
    assert {e["involvedObject"]["kind"] for e in rec.events} == {"ReplicaSet"}
    assert {e["source"]["component"] for e in rec.events} == {"replicaset-controller"}


def test_slow_start_batch_sizes() -> None:
    sizes: list[int] = []
    inflight = [0]

    async def fn() -> None:
        inflight[0] += 1
        await asyncio.sleep(0)
        if inflight[0]:
            sizes.append(inflight[0])
            inflight[0] = 0

    done, err = asyncio.run(slow_start_batch(10, 1, fn))
    assert (done, err) == (10, None) and sizes == [1, 2, 4, 3]


def test_burst_caps_creates_per_sync() -> None:
    ctrl, rec = controller(replicaset(600), [])
    sync(ctrl)
    assert len(rec.of("create")) == 500


def test_deletes_surplus_in_upstream_order() -> None:
    pods = [
        pod("old-ready", ready_for=5000, created=9000),
        pod("young-ready", ready_for=10, created=9000),
        pod("not-ready", ready_for=None),
        pod("pending", phase="Pending", ready_for=None),
        pod("unassigned", node="", phase="Pending", ready_for=None),
        pod("restarts", ready_for=5000, created=9000, restarts=5),
    ]
    ctrl, rec = controller(replicaset(1), pods)
    sync(ctrl)
    assert [c[1] for c in rec.of("delete")] == [
        "unassigned", "pending", "not-ready", "young-ready", "restarts"]
    assert not ctrl.expectations.satisfied(f"{NS}/web")
    gone = ctrl.pods.get(NS, "pending")
    assert gone is not None
    ctrl.on_pod_delete(gone)
    assert ctrl.expectations.pending(f"{NS}/web") == (0, 4)


def test_colocated_and_newer_pods_go_first() -> None:
    pods = [pod("alone", node="n2", created=50), pod("pair1", node="n1", created=5000),
            pod("pair2", node="n1", created=5000, ready_for=5000)]
    victims = pods_to_delete(pods, pods, 1, NOW)
    assert victims[0]["metadata"]["name"] == "pair1"
    same = [pod("older", created=5000), pod("newer", created=10)]
    assert pods_to_delete(same, [], 1, NOW)[0]["metadata"]["name"] == "newer"


def test_terminating_and_terminal_pods_are_ignored() -> None:
    pods = [pod("a"), pod("dying", deleting=True), pod("done", phase="Succeeded")]
    ctrl, rec = controller(replicaset(2), pods)
    sync(ctrl)
    assert len(rec.of("create")) == 1 and not rec.of("delete")


def test_adopts_matching_orphans_and_releases_mismatched_pods() -> None:
    pods = [pod("orphan", owned=False), pod("moved", labels={"app": "other"}),
            pod("foreign", owned=False, labels={"app": "nope"})]
    ctrl, rec = controller(replicaset(1), pods)
    sync(ctrl)
    patches = {c[1]: c[2] for c in rec.of("patch")}
    assert set(patches) == {"orphan", "moved"}
    adopt = patches["orphan"]["metadata"]
    assert adopt["uid"] == "uid-orphan"
    assert adopt["ownerReferences"][0]["uid"] == RS_UID
    assert adopt["ownerReferences"][0]["blockOwnerDeletion"] is True
    release = patches["moved"]["metadata"]
    assert release["ownerReferences"] == [{"$patch": "delete", "uid": RS_UID}]
    assert not rec.of("create") and not rec.of("delete")


def test_pods_of_other_controllers_are_left_alone() -> None:
    other = pod("other")
    other["metadata"]["ownerReferences"][0]["uid"] = "someone-else"
    ctrl, rec = controller(replicaset(1), [other])
    sync(ctrl)
    assert not rec.of("patch") and len(rec.of("create")) == 1


def test_status_counts_labels_and_availability() -> None:
    pods = [pod("a", ready_for=100), pod("b", ready_for=1), pod("c", ready_for=None),
            pod("d", labels={"app": "web"})]
    ctrl, rec = controller(replicaset(4, minReadySeconds=30), pods)
    sync(ctrl)
    status = rec.of("update/status")[0][2]["status"]
    assert status == {"replicas": 4, "fullyLabeledReplicas": 3, "readyReplicas": 3,
                      "availableReplicas": 2, "observedGeneration": 2}


def test_unchanged_status_is_not_written() -> None:
    owner = replicaset(1)
    owner["status"] = {"replicas": 1, "fullyLabeledReplicas": 1, "readyReplicas": 1,
                       "availableReplicas": 1, "observedGeneration": 2}
    ctrl, rec = controller(owner, [pod("a")])
    sync(ctrl)
    assert rec.calls == []


def test_replication_controller_uses_a_map_selector() -> None:
    rc = {"apiVersion": "v1", "kind": "ReplicationController",
          "metadata": {"name": "web", "namespace": NS, "uid": RS_UID, "generation": 1},
          "spec": {"replicas": 2, "selector": {"app": "web"},
                   "template": {"metadata": {"labels": {"app": "web"}}, "spec": {}}}}
    orphan = pod("orphan", owned=False)
    ctrl, rec = controller(rc, [orphan])
    sync(ctrl)
    adopt = rec.of("patch")[0][2]["metadata"]["ownerReferences"][0]
    assert adopt["kind"] == "ReplicationController" and adopt["apiVersion"] == "v1"
    assert len(rec.of("create")) == 1
    assert rec.of("update/status")[0][1] == "replicationcontrollers"


def test_pod_events_enqueue_owner_or_matching_owners() -> None:
    ctrl, _ = controller(replicaset(1), [])
    ctrl.on_pod_add(pod("orphan", owned=False))
    assert len(ctrl.queue) == 1
    ctrl, _ = controller(replicaset(1), [])
    ctrl.on_pod_add(pod("unrelated", owned=False, labels={"app": "x"}))
    assert len(ctrl.queue) == 0
