"""The garbage collector's graph and decisions, against an in-memory fake cluster."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from apiserver.api.resources import CONFIGMAPS, NAMESPACES, PODS, ResourceInfo
from controllers.client.discovery import APIResource
from controllers.client.errors import ApiError
from controllers.gc import GarbageCollector, Graph, deletable_resources
from controllers.gc.graph import delete_key, orphan_key
from controllers.gc.monitors import info_for


def _obj(info: ResourceInfo, name: str, uid: str, *, namespace: str | None = "ns",
         owners: list[dict[str, Any]] | None = None, finalizers: list[str] | None = None,
         deleting: bool = False) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name, "uid": uid, "resourceVersion": "1"}
    if info.namespaced and namespace:
        md["namespace"] = namespace
    if owners:
        md["ownerReferences"] = owners
    if finalizers:
        md["finalizers"] = finalizers
    if deleting:
        md["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"apiVersion": info.api_version, "kind": info.kind, "metadata": md}


def _ref(obj: dict[str, Any], block: bool = False) -> dict[str, Any]:
    ref = {"apiVersion": obj["apiVersion"], "kind": obj["kind"],
           "name": obj["metadata"]["name"], "uid": obj["metadata"]["uid"]}
    if block:
        ref["blockOwnerDeletion"] = True
    return ref


def _not_found() -> ApiError:
    return ApiError(404, {"reason": "NotFound", "message": "not found"})


class Cluster:
    """Objects by (plural, namespace, name); records the writes it is asked for."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str | None, str], dict[str, Any]] = {}
        self.deletes: list[tuple[str, str, dict[str, Any]]] = []
        self.patches: list[tuple[str, dict[str, Any]]] = []

    def put(self, info: ResourceInfo, obj: dict[str, Any]) -> dict[str, Any]:
        md = obj["metadata"]
        self.objects[(info.plural, md.get("namespace"), md["name"])] = obj
        return obj

    async def get(self, info: ResourceInfo, namespace: str | None, name: str) -> dict[str, Any]:
        obj = self.objects.get((info.plural, namespace, name))
        if obj is None:
            raise _not_found()
        return copy.deepcopy(obj)

    async def create(self, *_a: Any, **_k: Any) -> dict[str, Any]:
        raise NotImplementedError

    async def update(self, *_a: Any, **_k: Any) -> dict[str, Any]:
        raise NotImplementedError

    async def patch(self, info: ResourceInfo, namespace: str | None, name: str, patch: Any,
                    **_options: Any) -> dict[str, Any]:
        obj = self.objects[(info.plural, namespace, name)]
        self.patches.append((name, patch))
        for key, value in patch["metadata"].items():
            if key == "resourceVersion":
                assert value == obj["metadata"]["resourceVersion"]
            elif value is None:
                obj["metadata"].pop(key, None)
            else:
                obj["metadata"][key] = value
        return obj

    async def delete(self, info: ResourceInfo, namespace: str | None, name: str,
                     **options: Any) -> dict[str, Any]:
        obj = self.objects.get((info.plural, namespace, name))
        if obj is None:
            raise _not_found()
        assert options["preconditions"] == {"uid": obj["metadata"]["uid"]}
        self.deletes.append((name, options["propagation_policy"], obj))
        return obj


def _collector(cluster: Cluster, *objs: tuple[ResourceInfo, dict[str, Any]]) -> GarbageCollector:
    gc = GarbageCollector(cluster, cluster)
    for info, obj in objs:
        gc.handlers(info)[0](obj)
    return gc


async def _drain(gc: GarbageCollector) -> list[str]:
    done: list[str] = []
    while len(gc.queue):
        key = await gc.queue.get()
        done.append(key)
        await gc.sync(key)
        gc.queue.done(key)
    return done


def test_graph_links_owners_and_makes_virtual_nodes() -> None:
    graph = Graph()
    owner = _obj(CONFIGMAPS, "owner", "u-owner")
    dep = _obj(PODS, "dep", "u-dep", owners=[_ref(owner, block=True)])
    assert graph.observe(PODS, dep) == [delete_key("u-owner")]
    assert graph.nodes["u-owner"].virtual
    assert graph.nodes["u-owner"].namespace == "ns"
    assert graph.observe(CONFIGMAPS, owner) == []
    node = graph.nodes["u-owner"]
    assert not node.virtual and node.dependents == {"u-dep"}
    assert graph.blocking_dependents(node)[0].uid == "u-dep"
    fg = _obj(CONFIGMAPS, "owner", "u-owner", finalizers=["foregroundDeletion"], deleting=True)
    assert graph.observe(CONFIGMAPS, fg) == [delete_key("u-dep"), delete_key("u-owner")]
    assert graph.forget("u-dep") == [delete_key("u-owner")]
    orphaning = _obj(CONFIGMAPS, "o2", "u-o2", finalizers=["orphan"], deleting=True)
    assert graph.observe(CONFIGMAPS, orphaning) == [orphan_key("u-o2")]
    assert graph.observe(CONFIGMAPS, orphaning) == []


def test_dependent_of_absent_owner_is_deleted_in_background() -> None:
    cluster = Cluster()
    ghost = _obj(CONFIGMAPS, "ghost", "u-ghost")
    dep = cluster.put(PODS, _obj(PODS, "dep", "u-dep", owners=[_ref(ghost)]))
    gc = _collector(cluster, (PODS, dep))
    asyncio.run(_drain(gc))
    assert [(n, p) for n, p, _ in cluster.deletes] == [("dep", "Background")]
    assert "u-ghost" not in gc.graph.nodes


def test_owner_with_another_uid_is_gone() -> None:
    cluster = Cluster()
    cluster.put(CONFIGMAPS, _obj(CONFIGMAPS, "owner", "u-new"))
    stale = _obj(CONFIGMAPS, "owner", "u-old")
    dep = cluster.put(CONFIGMAPS, _obj(CONFIGMAPS, "dep", "u-dep", owners=[_ref(stale)]))
    gc = _collector(cluster, (CONFIGMAPS, dep))
    asyncio.run(_drain(gc))
    assert [n for n, _, _ in cluster.deletes] == ["dep"]


def test_live_owner_keeps_dependent_and_dead_reference_is_patched_out() -> None:
    cluster = Cluster()
    live = cluster.put(CONFIGMAPS, _obj(CONFIGMAPS, "live", "u-live"))
    ghost = _obj(CONFIGMAPS, "ghost", "u-ghost")
    dep = cluster.put(PODS, _obj(PODS, "dep", "u-dep", owners=[_ref(live), _ref(ghost)]))
    gc = _collector(cluster, (CONFIGMAPS, live), (PODS, dep))
    asyncio.run(_drain(gc))
    assert cluster.deletes == []
    assert [r["uid"] for r in dep["metadata"]["ownerReferences"]] == ["u-live"]


def test_orphan_strips_references_then_the_finalizer() -> None:
    cluster = Cluster()
    owner = cluster.put(CONFIGMAPS, _obj(CONFIGMAPS, "owner", "u-owner"))
    dep = cluster.put(PODS, _obj(PODS, "dep", "u-dep", owners=[_ref(owner)]))
    gc = _collector(cluster, (CONFIGMAPS, owner), (PODS, dep))
    marked = cluster.put(CONFIGMAPS, _obj(CONFIGMAPS, "owner", "u-owner",
                                          finalizers=["orphan"], deleting=True))
    gc.handlers(CONFIGMAPS)[1](owner, marked)
    asyncio.run(_drain(gc))
    assert "ownerReferences" not in dep["metadata"]
    assert "finalizers" not in marked["metadata"]
    assert cluster.deletes == []


def test_foreground_deletes_dependents_and_waits_for_blocking_ones() -> None:
    cluster = Cluster()
    owner = cluster.put(CONFIGMAPS, _obj(CONFIGMAPS, "owner", "u-owner"))
    blocking = cluster.put(PODS, _obj(PODS, "b", "u-b", owners=[_ref(owner, block=True)]))
    grandchild = cluster.put(PODS, _obj(PODS, "g", "u-g", owners=[_ref(blocking)]))
    gc = _collector(cluster, (CONFIGMAPS, owner), (PODS, blocking), (PODS, grandchild))
    asyncio.run(_drain(gc))
    marked = cluster.put(CONFIGMAPS, _obj(CONFIGMAPS, "owner", "u-owner",
                                          finalizers=["foregroundDeletion"], deleting=True))
    gc.handlers(CONFIGMAPS)[1](owner, marked)
    asyncio.run(_drain(gc))
    # The grandchild stays (its owner is not gone); "b" has dependents: Foreground.
    assert {(n, p) for n, p, _ in cluster.deletes} == {("b", "Foreground")}
    assert marked["metadata"]["finalizers"] == ["foregroundDeletion"]
    del cluster.objects[("pods", "ns", "b")]
    gc.handlers(PODS)[2](blocking)
    asyncio.run(_drain(gc))
    assert "finalizers" not in marked["metadata"]


def test_cluster_scoped_object_with_namespaced_owner_is_left_alone() -> None:
    cluster = Cluster()
    owner = _obj(CONFIGMAPS, "owner", "u-owner")
    ns = cluster.put(NAMESPACES, _obj(NAMESPACES, "n", "u-n", namespace=None,
                                      owners=[_ref(owner)]))
    gc = _collector(cluster, (NAMESPACES, ns))
    asyncio.run(_drain(gc))
    assert cluster.deletes == []


def test_deletable_resources_are_listed_once() -> None:
    infos = deletable_resources()
    keys = [(i.group, i.plural) for i in infos]
    assert len(keys) == len(set(keys))
    assert ("", "configmaps") in keys and ("", "bindings") not in keys
    # Upstream's GCIgnoredResources: Events of both groups are never watched.
    assert ("", "events") not in keys and ("events.k8s.io", "events") not in keys


def test_foreground_cycle_is_unblocked() -> None:
    """``a`` and ``b`` own each other, blocking; ``b`` is deleted in the foreground, so
    ``a`` (whose dependent ``b`` waits too) stops blocking and goes in the foreground."""
    cluster = Cluster()
    a = _obj(CONFIGMAPS, "a", "u-a")
    b = _obj(CONFIGMAPS, "b", "u-b", owners=[_ref(a, block=True)],
             finalizers=["foregroundDeletion"], deleting=True)
    a["metadata"]["ownerReferences"] = [_ref(b, block=True)]
    cluster.put(CONFIGMAPS, a)
    cluster.put(CONFIGMAPS, b)
    gc = _collector(cluster, (CONFIGMAPS, a), (CONFIGMAPS, b))
    asyncio.run(_drain(gc))
    assert a["metadata"]["ownerReferences"][0]["blockOwnerDeletion"] is False
    assert ("a", "Foreground") in {(n, p) for n, p, _ in cluster.deletes}


def test_an_owner_of_a_kind_discovered_later_is_resolved_and_checked() -> None:
    """Until discovery knows the kind, a dependent of a custom owner is kept (an unknown kind
    is never taken for gone); once it is known, the owner is looked up and, being absent,
    its dependent goes."""
    widgets = info_for(APIResource("example.com", "v1", "widgets", True,
                                   frozenset({"list", "watch", "delete", "get"}), "Widget"))
    cluster = Cluster()
    ghost = _obj(widgets, "ghost", "u-ghost")
    dep = cluster.put(PODS, _obj(PODS, "dep", "u-dep", owners=[_ref(ghost)]))
    gc = _collector(cluster, (PODS, dep))
    asyncio.run(_drain(gc))
    assert cluster.deletes == []
    assert gc.graph.nodes["u-ghost"].info is None

    gc.discovered([widgets])
    assert gc.graph.nodes["u-ghost"].info is widgets
    assert gc.graph.nodes["u-ghost"].namespace == "ns"
    asyncio.run(_drain(gc))
    assert [(n, p) for n, p, _ in cluster.deletes] == [("dep", "Background")]
