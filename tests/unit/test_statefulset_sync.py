"""Sync-level tests of the statefulset controller over hand-filled stores.

As upstream's ``stateful_set_control_test.go``: the caches are plain stores, writes go to a
fake writer that applies them to those stores like the apiserver would, and the tests
flip pods Running and Ready by hand between syncs.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from apiserver.api.resources import ResourceInfo
from controllers.client.errors import ApiError
from controllers.client.store import Store
from controllers.statefulset.control import StatefulSetControl
from controllers.statefulset.history import HASH_LABEL, hash_revision, revision_patch

NS = "ns"
Obj = dict[str, Any]


@dataclass
class FakeWriter:
    """Applies writes to the stores and records them as ``(verb, plural, name)``."""

    stores: dict[str, Store]
    calls: list[tuple[str, str, str]] = field(default_factory=list)
    rv: itertools.count[int] = field(default_factory=lambda: itertools.count(100))
    #: Events, apart from the calls: (reason, message).
    events: list[tuple[str, str]] = field(default_factory=list)

    def _stamp(self, obj: Mapping[str, Any]) -> Obj:
        out = copy.deepcopy(dict(obj))
        md = out.setdefault("metadata", {})
        md["resourceVersion"] = str(next(self.rv))
        md.setdefault("uid", f"uid-{md['name']}-{md['resourceVersion']}")
        return out

    async def create(self, info: ResourceInfo, namespace: str | None,
                     obj: Mapping[str, Any]) -> Obj:
        if info.plural == "events":
            self.events.append((obj["reason"], obj["message"]))
            return dict(obj)
        name = obj["metadata"]["name"]
        self.calls.append(("create", info.plural, name))
        store = self.stores[info.plural]
        if store.get(namespace, name) is not None:
            raise ApiError(409, {"reason": "AlreadyExists", "message": "exists"})
        out = self._stamp(obj)
        store.add(out)
        return out

    async def update(self, info: ResourceInfo, namespace: str | None,
                     obj: Mapping[str, Any], subresource: str | None = None) -> Obj:
        self.calls.append((f"update{'/' + subresource if subresource else ''}",
                           info.plural, obj["metadata"]["name"]))
        out = self._stamp(obj)
        self.stores[info.plural].add(out)
        return out

    async def patch(self, info: ResourceInfo, namespace: str | None, name: str, patch: Any,
                    **options: Any) -> Obj:
        if info.plural == "events":  # a repeated Event's count
            self.events.append(("(count)", str(patch.get("message"))))
            return {"metadata": {"name": name}}
        self.calls.append(("patch", info.plural, name))
        obj = copy.deepcopy(self.stores[info.plural].get(namespace, name))
        assert obj is not None
        obj["metadata"].update(patch.get("metadata") or {})
        self.stores[info.plural].add(obj)
        return obj

    async def delete(self, info: ResourceInfo, namespace: str | None, name: str,
                     **options: Any) -> Obj:
        self.calls.append(("delete", info.plural, name))
        store = self.stores[info.plural]
        obj = store.get(namespace, name)
        assert obj is not None
        store.delete(obj)
        return obj


class Harness:
    def __init__(self, sts: Obj) -> None:
        self.stores = {p: Store() for p in ("pods", "controllerrevisions",
                                            "persistentvolumeclaims", "statefulsets")}
        self.writer = FakeWriter(self.stores)
        self.control = StatefulSetControl(self.stores["pods"],
                                          self.stores["controllerrevisions"],
                                          self.stores["persistentvolumeclaims"], self.writer)
        self.stores["statefulsets"].add(sts)

    @property
    def sts(self) -> Obj:
        sts = self.stores["statefulsets"].get(NS, "web")
        assert sts is not None
        return sts

    def set_spec(self, **changes: Any) -> None:
        sts = copy.deepcopy(self.sts)
        sts["spec"].update(changes)
        sts["metadata"]["generation"] += 1
        self.stores["statefulsets"].add(sts)

    def sync(self) -> list[tuple[str, str, str]]:
        self.writer.calls.clear()
        asyncio.run(self.control.sync(self.sts))
        return [c for c in self.writer.calls if c[1] != "statefulsets"]

    def pod_names(self) -> list[str]:
        return sorted(p["metadata"]["name"] for p in self.stores["pods"].list())

    def pod(self, name: str) -> Obj:
        pod = self.stores["pods"].get(NS, name)
        assert pod is not None
        return pod

    def ready(self, *names: str) -> None:
        for name in names or self.pod_names():
            pod = copy.deepcopy(self.pod(name))
            pod["status"] = {"phase": "Running", "conditions": [
                {"type": "Ready", "status": "True",
                 "lastTransitionTime": "2020-01-01T00:00:00Z"}]}
            self.stores["pods"].add(pod)

    def converge(self, rounds: int = 20) -> None:
        for _ in range(rounds):
            if not self.sync():
                return
            self.ready()
        raise AssertionError("did not converge")


def statefulset(replicas: int = 3, **spec: Any) -> Obj:
    body: Obj = {
        "replicas": replicas, "serviceName": "svc", "podManagementPolicy": "OrderedReady",
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}},
                     "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}},
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
        "revisionHistoryLimit": 10,
    }
    body.update(spec)
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "web", "namespace": NS, "uid": "sts-uid", "generation": 1,
                         "resourceVersion": "1"},
            "spec": body}


def test_ordered_creation_waits_for_each_pod_to_be_ready() -> None:
    h = Harness(statefulset())
    assert h.sync() == [("create", "controllerrevisions", h.sts["status"]["updateRevision"]),
                        ("create", "pods", "web-0")]
    assert h.sync() == []  # web-0 is not Running and Ready yet
    h.ready("web-0")
    assert h.sync() == [("create", "pods", "web-1")]
    h.ready("web-1")
    assert h.sync() == [("create", "pods", "web-2")]
    pod = h.pod("web-2")
    labels = pod["metadata"]["labels"]
    assert labels["statefulset.kubernetes.io/pod-name"] == "web-2"
    assert labels["apps.kubernetes.io/pod-index"] == "2"
    assert labels["controller-revision-hash"] == h.sts["status"]["updateRevision"]
    assert pod["spec"]["hostname"] == "web-2" and pod["spec"]["subdomain"] == "svc"
    assert pod["metadata"]["ownerReferences"][0]["uid"] == "sts-uid"
    h.ready()
    h.sync()
    st = h.sts["status"]
    assert (st["replicas"], st["readyReplicas"], st["currentReplicas"],
            st["updatedReplicas"], st["availableReplicas"]) == (3, 3, 3, 3, 3)
    assert st["currentRevision"] == st["updateRevision"] and st["observedGeneration"] == 1


def test_ordinals_start_and_claims_before_pods() -> None:
    claim = {"metadata": {"name": "data"},
             "spec": {"accessModes": ["ReadWriteOnce"],
                      "resources": {"requests": {"storage": "1Gi"}}}}
    h = Harness(statefulset(1, ordinals={"start": 5}, volumeClaimTemplates=[claim]))
    calls = h.sync()
    assert calls[1:] == [("create", "persistentvolumeclaims", "data-web-5"),
                         ("create", "pods", "web-5")]
    vol = h.pod("web-5")["spec"]["volumes"]
    assert vol == [{"name": "data", "persistentVolumeClaim": {"claimName": "data-web-5"}}]
    pvc = h.stores["persistentvolumeclaims"].get(NS, "data-web-5")
    assert pvc is not None and pvc["metadata"]["labels"] == {"app": "web"}


def test_scale_down_in_reverse_one_at_a_time() -> None:
    h = Harness(statefulset(3))
    h.converge()
    h.set_spec(replicas=1)
    assert h.sync() == [("delete", "pods", "web-2")]
    assert h.sync() == [("delete", "pods", "web-1")]
    assert h.sync() == []
    assert h.pod_names() == ["web-0"]
    assert h.sts["status"]["replicas"] == 1


def test_ordered_scale_down_waits_for_unhealthy_pods_below() -> None:
    h = Harness(statefulset(3))
    h.converge()
    h.set_spec(replicas=1)
    pod = copy.deepcopy(h.pod("web-0"))
    pod["status"]["conditions"][0]["status"] = "False"
    h.stores["pods"].add(pod)
    assert h.sync() == []


def test_parallel_creates_and_deletes_all_at_once() -> None:
    h = Harness(statefulset(3, podManagementPolicy="Parallel"))
    assert [c for c in h.sync() if c[1] == "pods"] == [
        ("create", "pods", "web-0"), ("create", "pods", "web-1"), ("create", "pods", "web-2")]
    h.set_spec(replicas=0)
    assert h.sync() == [("delete", "pods", "web-2"), ("delete", "pods", "web-1"),
                        ("delete", "pods", "web-0")]


def test_pod_writes_are_evented_as_upstream() -> None:
    h = Harness(statefulset(replicas=2, podManagementPolicy="Parallel"))
    h.sync()
    assert h.writer.events == [
        ("SuccessfulCreate", "create Pod web-0 in StatefulSet web successful"),
        ("SuccessfulCreate", "create Pod web-1 in StatefulSet web successful")]
    h.set_spec(replicas=1)
    h.sync()
    assert h.writer.events[-1] == ("SuccessfulDelete",
                                   "delete Pod web-1 in StatefulSet web successful")


def test_failed_pod_is_replaced() -> None:
    h = Harness(statefulset(1))
    h.converge()
    pod = copy.deepcopy(h.pod("web-0"))
    pod["status"]["phase"] = "Failed"
    h.stores["pods"].add(pod)
    assert h.sync() == [("delete", "pods", "web-0")]
    assert h.sync() == [("create", "pods", "web-0")]


def _new_template(h: Harness, image: str) -> None:
    template = copy.deepcopy(h.sts["spec"]["template"])
    template["spec"]["containers"][0]["image"] = image
    h.set_spec(template=template)


def test_rolling_update_with_partition_highest_first() -> None:
    h = Harness(statefulset(3, updateStrategy={"type": "RollingUpdate",
                                               "rollingUpdate": {"partition": 1}}))
    h.converge()
    first = h.sts["status"]["updateRevision"]
    _new_template(h, "nginx:2")
    assert h.sync() == [("create", "controllerrevisions", h.sts["status"]["updateRevision"]),
                        ("delete", "pods", "web-2")]
    second = h.sts["status"]["updateRevision"]
    assert second != first and h.sts["status"]["currentRevision"] == first
    assert h.sync() == [("create", "pods", "web-2")]
    assert h.pod("web-2")["spec"]["containers"][0]["image"] == "nginx:2"
    assert h.sync() == []  # web-2 not ready yet: the update waits
    h.ready("web-2")
    assert h.sync() == [("delete", "pods", "web-1")]
    h.converge()
    images = {n: h.pod(n)["spec"]["containers"][0]["image"] for n in h.pod_names()}
    assert images == {"web-0": "nginx:1", "web-1": "nginx:2", "web-2": "nginx:2"}
    st = h.sts["status"]
    assert (st["currentReplicas"], st["updatedReplicas"]) == (1, 2)
    assert st["currentRevision"] == first
    # Partition 0 finishes the rollout; the current revision catches up.
    h.set_spec(updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
    h.converge()
    st = h.sts["status"]
    assert st["currentRevision"] == st["updateRevision"] == second
    assert st["currentReplicas"] == 3


def test_on_delete_leaves_pods_alone() -> None:
    h = Harness(statefulset(2, updateStrategy={"type": "OnDelete"}))
    h.converge()
    _new_template(h, "nginx:2")
    assert [c[1] for c in h.sync()] == ["controllerrevisions"]
    assert h.sync() == []
    h.writer.stores["pods"].delete(h.pod("web-1"))
    assert h.sync() == [("create", "pods", "web-1")]
    assert h.pod("web-1")["spec"]["containers"][0]["image"] == "nginx:2"


def test_revisions_are_reused_renumbered_and_truncated() -> None:
    h = Harness(statefulset(1, revisionHistoryLimit=1))
    h.converge()
    revisions = h.stores["controllerrevisions"]
    (rev1,) = revisions.list()
    assert rev1["revision"] == 1
    assert rev1["data"] == revision_patch(h.sts)
    assert rev1["data"]["spec"]["template"]["$patch"] == "replace"
    digest = hash_revision(rev1["data"], None)
    assert rev1["metadata"]["name"] == f"web-{digest}"
    assert rev1["metadata"]["labels"] == {"app": "web", HASH_LABEL: digest}
    assert rev1["metadata"]["ownerReferences"][0]["controller"] is True
    _new_template(h, "nginx:2")
    h.converge()
    _new_template(h, "nginx:3")
    h.converge()
    names = sorted((r["revision"], r["metadata"]["name"]) for r in revisions.list())
    assert [n for n, _ in names] == [2, 3]  # one unused revision kept, revision 1 deleted
    # Going back to nginx:2 re-uses its revision with the next number.
    _new_template(h, "nginx:2")
    calls = h.sync()
    assert calls[0][0] == "update" and calls[0][1] == "controllerrevisions"
    assert h.sts["status"]["updateRevision"] == names[0][1]
    renumbered = revisions.get(NS, names[0][1])
    assert renumbered is not None and renumbered["revision"] == 4


def test_hash_collision_bumps_collision_count() -> None:
    h = Harness(statefulset(1))
    squatter = {"apiVersion": "apps/v1", "kind": "ControllerRevision",
                "metadata": {"name": f"web-{hash_revision(revision_patch(h.sts), None)}",
                             "namespace": NS, "uid": "other"},
                "data": {"spec": {}}, "revision": 1}
    h.stores["controllerrevisions"].add(squatter)
    h.sync()
    st = h.sts["status"]
    assert st["collisionCount"] == 1
    assert st["updateRevision"] == f"web-{hash_revision(revision_patch(h.sts), 1)}"


@pytest.mark.parametrize("policy", ["Retain", "Delete"])
def test_claims_retention_on_scale_down(policy: str) -> None:
    claim = {"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}
    h = Harness(statefulset(2, volumeClaimTemplates=[claim],
                            persistentVolumeClaimRetentionPolicy={
                                "whenDeleted": policy, "whenScaled": policy}))
    h.converge()
    pvc = h.stores["persistentvolumeclaims"].get(NS, "data-web-1")
    assert pvc is not None
    refs = pvc["metadata"].get("ownerReferences") or []
    assert [r["kind"] for r in refs] == (["StatefulSet"] if policy == "Delete" else [])
    h.set_spec(replicas=1)
    calls = h.sync()
    pvc = h.stores["persistentvolumeclaims"].get(NS, "data-web-1")
    assert pvc is not None
    kinds = [r["kind"] for r in pvc["metadata"].get("ownerReferences") or []]
    if policy == "Delete":
        assert calls == [("patch", "persistentvolumeclaims", "data-web-1"),
                         ("delete", "pods", "web-1")]
        assert kinds == ["StatefulSet", "Pod"]
    else:
        assert calls == [("delete", "pods", "web-1")] and kinds == []
