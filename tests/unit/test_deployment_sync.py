"""Sync-level tests of the deployment controller over in-memory stores.

As upstream's ``deployment_controller_test.go``: the informer stores are filled by hand,
``sync`` is called directly, and a fake writer records every write and applies it to the
stores (uid, creationTimestamp, resourceVersion, generation as the apiserver would), so
consecutive syncs see their own results. ReplicaSet availability, normally reported by
the ReplicaSet controller, is simulated by editing RS status in the store between syncs.
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
from controllers.deployment.controller import DeploymentController
from controllers.deployment.util import (
    compute_hash,
    equal_ignore_hash,
    safe_encode_string,
    scaled_value,
)

NS = "ns"
Obj = dict[str, Any]


@dataclass
class FakeApi:
    """Records writes and applies them to the stores like the apiserver."""

    stores: dict[str, Store]
    calls: list[tuple[str, str, str]] = field(default_factory=list)
    seq: int = 0

    def _next(self) -> int:
        self.seq += 1
        return self.seq

    async def create(self, info: ResourceInfo, namespace: str | None,
                     obj: Mapping[str, Any]) -> Obj:
        store = self.stores[info.plural]
        new = copy.deepcopy(dict(obj))
        md = new["metadata"]
        if store.get(namespace, md["name"]) is not None:
            raise ApiError(409, {"reason": "AlreadyExists", "message": "exists"})
        n = self._next()
        md.update(uid=f"uid-{n}", resourceVersion=str(n), generation=1,
                  creationTimestamp=f"2024-01-01T00:{n // 60:02d}:{n % 60:02d}Z")
        store.add(new)
        self.calls.append(("create", info.plural, md["name"]))
        return copy.deepcopy(new)

    async def update(self, info: ResourceInfo, namespace: str | None,
                     obj: Mapping[str, Any], subresource: str | None = None) -> Obj:
        store = self.stores[info.plural]
        old = store.get(namespace, obj["metadata"]["name"])
        assert old is not None
        new = copy.deepcopy(dict(obj))
        if subresource == "status":
            new["spec"] = copy.deepcopy(old["spec"])
        else:
            new["status"] = copy.deepcopy(old.get("status") or {})
            if new["spec"] != old["spec"]:
                new["metadata"]["generation"] = old["metadata"]["generation"] + 1
        new["metadata"]["resourceVersion"] = str(self._next())
        store.add(new)
        self.calls.append((f"update{'/' + subresource if subresource else ''}", info.plural,
                           new["metadata"]["name"]))
        return copy.deepcopy(new)

    async def patch(self, info: ResourceInfo, namespace: str | None, name: str, patch: Any,
                    **options: Any) -> Obj:
        store = self.stores[info.plural]
        new = copy.deepcopy(store.get(namespace, name))
        assert new is not None
        new["metadata"]["ownerReferences"] = patch["metadata"]["ownerReferences"]
        if new["metadata"]["ownerReferences"] is None:
            del new["metadata"]["ownerReferences"]
        store.add(new)
        self.calls.append(("patch", info.plural, name))
        return copy.deepcopy(new)

    async def delete(self, info: ResourceInfo, namespace: str | None, name: str,
                     **options: Any) -> Obj:
        obj = self.stores[info.plural].get(namespace, name)
        assert obj is not None
        self.stores[info.plural].delete(obj)
        self.calls.append(("delete", info.plural, name))
        return obj


def deployment(name: str = "web", replicas: int = 4, image: str = "nginx:1.25",
               **spec: Any) -> Obj:
    """A defaulted Deployment as the apiserver stores it."""
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS, "uid": f"d-{name}", "generation": 1,
                     "resourceVersion": "1", "annotations": {
                         "kubernetes.io/change-cause": "first"}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "c", "image": image}]}},
                 "strategy": {"type": "RollingUpdate",
                              "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                 "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600, **spec},
    }


class Harness:
    """The controller over hand-filled stores and a :class:`FakeApi`."""

    def __init__(self, *objs: Obj) -> None:
        self.stores = {"deployments": Store(), "replicasets": Store(), "pods": Store(),
                       "events": Store()}
        for obj in objs:
            self.stores["deployments"].add(obj)
        self.api = FakeApi(self.stores)
        self.controller = DeploymentController(self.stores["deployments"],
                                               self.stores["replicasets"],
                                               self.stores["pods"], self.api)

    def sync(self, name: str = "web") -> None:
        asyncio.run(self.controller.sync(f"{NS}/{name}"))

    def d(self, name: str = "web") -> Obj:
        obj = self.stores["deployments"].get(NS, name)
        assert obj is not None
        return obj

    def rses(self) -> dict[str, Obj]:
        return {rs["metadata"]["name"]: rs for rs in self.stores["replicasets"].list()}

    def sizes(self) -> dict[str, int]:
        return {n: rs["spec"]["replicas"] for n, rs in sorted(self.rses().items())}

    def report(self) -> None:
        """Act as the ReplicaSet controller: every RS has its pods, all available."""
        for rs in self.rses().values():
            rs = copy.deepcopy(rs)
            n = rs["spec"]["replicas"]
            rs["status"] = {"replicas": n, "readyReplicas": n, "availableReplicas": n,
                            "observedGeneration": rs["metadata"]["generation"]}
            self.stores["replicasets"].add(rs)

    def edit(self, name: str = "web", **spec: Any) -> None:
        d = copy.deepcopy(self.d(name))
        d["spec"].update(spec)
        d["metadata"]["generation"] += 1
        self.stores["deployments"].add(d)

    def set_image(self, image: str) -> None:
        template = copy.deepcopy(self.d()["spec"]["template"])
        template["spec"]["containers"][0]["image"] = image
        self.edit(template=template)

    def roll(self, limit: int = 30) -> int:
        """Sync and report until nothing changes; the number of rounds."""
        for i in range(limit):
            before = len(self.api.calls)
            self.sync()
            self.report()
            if len(self.api.calls) == before:
                return i
        raise AssertionError("rollout never settled")


def test_hash_encoding_and_rounding() -> None:
    assert safe_encode_string("0123456789") == "456789bcdf"
    template = deployment()["spec"]["template"]
    assert compute_hash(template, None) == compute_hash(copy.deepcopy(template), None)
    assert compute_hash(template, None) != compute_hash(template, 1)
    assert set(compute_hash(template, None)) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert scaled_value("25%", 10, True) == 3 and scaled_value("25%", 10, False) == 2
    assert scaled_value(2, 10, True) == 2


def test_new_deployment_creates_its_replicaset() -> None:
    h = Harness(deployment())
    h.sync()
    pod_hash = compute_hash(h.d()["spec"]["template"], None)
    (name, rs), = h.rses().items()
    assert name == f"web-{pod_hash}"
    md = rs["metadata"]
    assert md["labels"] == {"app": "web", "pod-template-hash": pod_hash}
    assert rs["spec"]["selector"]["matchLabels"]["pod-template-hash"] == pod_hash
    assert rs["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] == pod_hash
    assert md["ownerReferences"] == [{"apiVersion": "apps/v1", "kind": "Deployment",
                                      "name": "web", "uid": "d-web", "controller": True,
                                      "blockOwnerDeletion": True}]
    notes = md["annotations"]
    assert notes["deployment.kubernetes.io/revision"] == "1"
    assert notes["deployment.kubernetes.io/desired-replicas"] == "4"
    assert notes["deployment.kubernetes.io/max-replicas"] == "5"
    assert notes["kubernetes.io/change-cause"] == "first"
    assert rs["spec"]["replicas"] == 4
    d = h.d()
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    progressing = {c["type"]: c for c in d["status"]["conditions"]}["Progressing"]
    assert progressing["reason"] == "NewReplicaSetCreated"
    assert progressing["message"] == f'Created new replica set "web-{pod_hash}"'


def test_rollout_completes_with_conditions_as_kubectl_reads_them() -> None:
    h = Harness(deployment())
    h.roll()
    d = h.d()
    status = d["status"]
    assert status["observedGeneration"] == 1
    assert status["replicas"] == status["updatedReplicas"] == status["availableReplicas"] == 4
    assert "unavailableReplicas" not in status
    by_type = {c["type"]: c for c in status["conditions"]}
    assert by_type["Available"]["reason"] == "MinimumReplicasAvailable"
    assert by_type["Available"]["message"] == "Deployment has minimum availability."
    (name,) = h.rses()
    assert by_type["Progressing"]["reason"] == "NewReplicaSetAvailable"
    assert by_type["Progressing"]["message"] == \
        f'ReplicaSet "{name}" has successfully progressed.'


def test_rolling_update_respects_surge_and_unavailability() -> None:
    h = Harness(deployment(replicas=4))
    h.roll()
    (first,) = h.rses()
    h.set_image("nginx:1.26")
    seen: list[dict[str, int]] = []
    for _ in range(30):
        h.sync()
        sizes = h.sizes()
        seen.append(sizes)
        total = sum(sizes.values())
        assert total <= 4 + 1
        available = sum(rs.get("status", {}).get("availableReplicas", 0)
                        for rs in h.rses().values())
        assert available >= 4 - 1
        h.report()
        if sizes.get(first) == 0 and sum(sizes.values()) == 4:
            h.sync()
            break
    else:
        raise AssertionError(f"never completed: {seen}")
    # The first sync creates the new RS at the surge and drops one old (unavailability).
    assert sorted(seen[0].values()) == [1, 3] and seen[0][first] == 3
    new = next(n for n in h.sizes() if n != first)
    assert h.sizes() == {first: 0, new: 4} or h.sizes() == {new: 4, first: 0}
    d = h.d()
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    assert h.rses()[new]["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    h.roll()
    assert h.d()["status"]["updatedReplicas"] == 4


def test_scaling_replica_sets_is_evented_as_upstream() -> None:
    h = Harness(deployment(replicas=4))
    h.roll()
    first = f"web-{compute_hash(h.d()['spec']['template'], None)}"
    h.set_image("nginx:1.26")
    h.roll()
    second = f"web-{compute_hash(h.d()['spec']['template'], None)}"
    events = h.stores["events"].list()
    assert {e["involvedObject"]["kind"] for e in events} == {"Deployment"}
    assert {e["source"]["component"] for e in events} == {"deployment-controller"}
    messages = [e["message"] for e in events if e["reason"] == "ScalingReplicaSet"]
    assert messages[0] == f"Scaled up replica set {first} from 0 to 4"
    assert f"Scaled down replica set {first} from 1 to 0" in messages
    assert any(m.startswith(f"Scaled up replica set {second} ") and m.endswith(" to 4")
               for m in messages)


def test_old_replicas_stay_until_new_ones_are_available() -> None:
    h = Harness(deployment(replicas=4))
    h.roll()
    (first,) = h.rses()
    h.set_image("nginx:1.26")
    for _ in range(5):
        h.sync()  # no availability reports: old pods may go only down to 3
    assert h.sizes()[first] == 3
    assert sum(h.sizes().values()) == 5


def test_recreate_scales_old_down_and_waits_for_pods() -> None:
    h = Harness(deployment(replicas=2, strategy={"type": "Recreate"}))
    h.roll()
    (first,) = h.rses()
    old_uid = h.rses()[first]["metadata"]["uid"]
    pod = {"metadata": {"name": "p", "namespace": NS, "ownerReferences": [
        {"kind": "ReplicaSet", "name": first, "uid": old_uid, "controller": True}]},
        "status": {"phase": "Running"}}
    h.stores["pods"].add(pod)
    h.set_image("nginx:1.26")
    h.sync()
    assert h.sizes() == {first: 0}
    h.report()
    h.sync()
    assert h.sizes() == {first: 0}, "a pod of the old RS is still running"
    h.stores["pods"].delete(pod)
    h.sync()
    new = next(n for n in h.rses() if n != first)
    assert h.sizes()[new] == 2


def test_paused_makes_no_progress_but_scales() -> None:
    h = Harness(deployment(replicas=4))
    h.roll()
    (first,) = h.rses()
    h.edit(paused=True)
    h.sync()
    cond = {c["type"]: c for c in h.d()["status"]["conditions"]}["Progressing"]
    assert cond["reason"] == "DeploymentPaused"
    h.set_image("nginx:1.26")
    h.sync()
    assert list(h.rses()) == [first]
    h.edit(replicas=6)
    h.sync()
    assert h.sizes() == {first: 6}
    h.edit(paused=False)
    h.sync()
    assert len(h.rses()) == 2


def test_history_limit_deletes_old_replicasets() -> None:
    h = Harness(deployment(replicas=1, revisionHistoryLimit=1))
    for image in ("a:1", "a:2", "a:3"):
        h.set_image(image)
        h.roll()
    sizes = h.sizes()
    assert len(sizes) == 2
    assert sorted(sizes.values()) == [0, 1]


def test_rollback_reuses_the_old_replicaset() -> None:
    h = Harness(deployment(replicas=2))
    h.roll()
    (first,) = h.rses()
    original = copy.deepcopy(h.d()["spec"]["template"])
    h.set_image("nginx:1.26")
    h.roll()
    assert len(h.rses()) == 2
    h.edit(template=original)  # what `kubectl rollout undo` does
    h.roll()
    assert len(h.rses()) == 2
    assert h.sizes()[first] == 2
    notes = h.rses()[first]["metadata"]["annotations"]
    assert notes["deployment.kubernetes.io/revision"] == "3"
    assert notes["deployment.kubernetes.io/revision-history"] == "1"
    assert h.d()["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"


def test_orphan_replicaset_is_adopted() -> None:
    h = Harness(deployment(replicas=1))
    h.stores["replicasets"].add({
        "metadata": {"name": "stray", "namespace": NS, "uid": "u-stray", "generation": 1,
                     "labels": {"app": "web"}, "creationTimestamp": "2023-01-01T00:00:00Z"},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "old"}]}}}})
    h.sync()
    assert h.rses()["stray"]["metadata"]["ownerReferences"][0]["uid"] == "d-web"


@pytest.mark.parametrize("replicas", [0, 1, 10])
def test_scaling_a_complete_deployment(replicas: int) -> None:
    h = Harness(deployment(replicas=3))
    h.roll()
    h.edit(replicas=replicas)
    h.roll()
    assert list(h.sizes().values()) == [replicas]
    assert h.d()["status"].get("replicas", 0) == replicas


def test_null_creation_timestamp_is_the_same_template() -> None:
    template = deployment()["spec"]["template"]
    undone = copy.deepcopy(template)
    undone["metadata"]["creationTimestamp"] = None
    assert compute_hash(template, None) == compute_hash(undone, None)
    assert equal_ignore_hash(template, undone)
