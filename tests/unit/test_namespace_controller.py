"""The namespace controller's deletion passes against a fake cluster (controllers.namespace)."""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from controllers.client.discovery import (
    APIResource,
    GroupDiscoveryFailed,
    server_preferred_resources,
)
from controllers.client.errors import ApiError
from controllers.client.store import Store
from controllers.namespace.conditions import CONDITION_TYPES
from controllers.namespace.controller import NamespaceController
from controllers.namespace.deleter import (
    ContentDeletionFailed,
    NamespacedResourcesDeleter,
    ResourcesRemaining,
)

ALL = frozenset({"create", "delete", "deletecollection", "get", "list", "patch", "update",
                 "watch"})
PODS = APIResource("", "v1", "pods", True, ALL)
CONFIGMAPS = APIResource("", "v1", "configmaps", True, ALL)
WIDGETS = APIResource("example.com", "v1", "widgets", True, ALL - {"deletecollection"})
DELETED_AT = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def _error(code: int, reason: str) -> ApiError:
    return ApiError(code, {"kind": "Status", "code": code, "reason": reason, "message": reason})


class FakeCluster:
    """One namespace and its objects; deletes act as the apiserver's do."""

    def __init__(self, *resources: APIResource) -> None:
        self.resources = list(resources) or [PODS, CONFIGMAPS]
        self.failed_groups: dict[str, str] = {}
        self.namespace: dict[str, Any] | None = {
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "doomed", "uid": "ns-1", "resourceVersion": "1",
                         "deletionTimestamp": "2026-01-01T12:00:00Z"},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}
        self.objects: dict[str, dict[str, dict[str, Any]]] = {r.name: {} for r in
                                                               self.resources}
        self.calls: list[tuple[str, str]] = []
        self.conflicts = 0

    def add(self, resource: APIResource, name: str, **extra: Any) -> None:
        md: dict[str, Any] = {"name": name, "namespace": "doomed"}
        md.update(extra.pop("metadata", {}))
        self.objects[resource.name][name] = {"metadata": md, **extra}

    # -- ContentAPI ---------------------------------------------------------------

    async def discover(self) -> tuple[list[APIResource], GroupDiscoveryFailed | None]:
        return list(self.resources), (GroupDiscoveryFailed(self.failed_groups)
                                      if self.failed_groups else None)

    async def get_namespace(self, name: str) -> dict[str, Any]:
        if self.namespace is None:
            raise _error(404, "NotFound")
        return copy.deepcopy(self.namespace)

    def _put(self, kind: str, namespace: dict[str, Any]) -> dict[str, Any]:
        assert self.namespace is not None
        self.calls.append((kind, "doomed"))
        if self.conflicts:
            self.conflicts -= 1
            self.namespace["metadata"]["resourceVersion"] += "1"
            raise _error(409, "Conflict")
        if namespace["metadata"]["resourceVersion"] != self.namespace["metadata"][
                "resourceVersion"]:
            raise _error(409, "Conflict")
        self.namespace = copy.deepcopy(namespace)
        self.namespace["metadata"]["resourceVersion"] += "1"
        return copy.deepcopy(self.namespace)

    async def update_status(self, namespace: dict[str, Any]) -> dict[str, Any]:
        assert self.namespace is not None
        return self._put("status", {**self.namespace, "status": namespace["status"],
                                    "metadata": namespace["metadata"]})

    async def finalize(self, namespace: dict[str, Any]) -> dict[str, Any]:
        assert self.namespace is not None
        result = self._put("finalize", {**self.namespace, "spec": namespace["spec"],
                                        "metadata": namespace["metadata"]})
        if not result["spec"]["finalizers"]:
            self.namespace = None
        return result

    async def list(self, resource: APIResource, namespace: str) -> list[dict[str, Any]]:
        return [copy.deepcopy(o) for o in self.objects[resource.name].values()]

    async def delete_collection(self, resource: APIResource, namespace: str) -> None:
        self.calls.append(("deletecollection", resource.name))
        if "deletecollection" not in resource.verbs:
            raise _error(405, "MethodNotAllowed")
        for name in list(self.objects[resource.name]):
            self._delete(resource, name)

    async def delete(self, resource: APIResource, namespace: str, name: str) -> None:
        self.calls.append(("delete", f"{resource.name}/{name}"))
        self._delete(resource, name)

    def _delete(self, resource: APIResource, name: str) -> None:
        obj = self.objects[resource.name][name]
        # A bound pod is deleted gracefully; an object with finalizers waits for them.
        if obj["metadata"].get("finalizers") or (obj.get("spec") or {}).get("nodeName"):
            obj["metadata"]["deletionTimestamp"] = "2026-01-01T12:00:01Z"
        else:
            del self.objects[resource.name][name]


class Clock:
    def __init__(self) -> None:
        self.now = DELETED_AT + timedelta(seconds=1)

    def __call__(self) -> datetime:
        return self.now


def _conditions(cluster: FakeCluster) -> dict[str, dict[str, Any]]:
    assert cluster.namespace is not None
    return {c["type"]: c for c in cluster.namespace["status"].get("conditions") or []}


def _run(deleter: NamespacedResourcesDeleter) -> BaseException | None:
    try:
        asyncio.run(deleter.delete("doomed"))
    except Exception as exc:
        return exc
    return None


def test_an_emptied_namespace_is_finalized() -> None:
    cluster = FakeCluster()
    cluster.add(CONFIGMAPS, "c1")
    cluster.add(CONFIGMAPS, "c2")
    cluster.add(PODS, "unbound", spec={"terminationGracePeriodSeconds": 30})
    assert _run(NamespacedResourcesDeleter(cluster, Clock())) is None
    assert cluster.objects == {"pods": {}, "configmaps": {}}
    assert cluster.namespace is None  # finalize emptied spec.finalizers
    assert ("deletecollection", "pods") in cluster.calls
    assert [k for k, _ in cluster.calls if k in ("status", "finalize")] == [
        "status", "status", "finalize"]


def test_phase_and_every_condition_are_reported() -> None:
    cluster = FakeCluster()
    cluster.add(PODS, "web", spec={"nodeName": "n1", "terminationGracePeriodSeconds": 30},
                status={"phase": "Running"})
    err = _run(NamespacedResourcesDeleter(cluster, Clock()))
    assert isinstance(err, ResourcesRemaining) and err.estimate == 30
    assert cluster.namespace is not None
    assert cluster.namespace["status"]["phase"] == "Terminating"
    assert cluster.namespace["spec"]["finalizers"] == ["kubernetes"]
    conditions = _conditions(cluster)
    assert list(conditions) == list(CONDITION_TYPES)
    remaining = conditions["NamespaceContentRemaining"]
    assert (remaining["status"], remaining["reason"], remaining["message"]) == (
        "True", "SomeResourcesRemain", "Some resources are remaining: pods. has 1 resource "
        "instances")
    ok = conditions["NamespaceDeletionDiscoveryFailure"]
    assert (ok["status"], ok["reason"], ok["message"]) == (
        "False", "ResourcesDiscovered", "All resources successfully discovered")
    assert conditions["NamespaceDeletionContentFailure"]["reason"] == "ContentDeleted"
    assert conditions["NamespaceFinalizersRemaining"]["status"] == "False"


def test_pods_past_their_grace_period_no_longer_hold_the_estimate() -> None:
    cluster = FakeCluster()
    cluster.add(PODS, "web", spec={"nodeName": "n1", "terminationGracePeriodSeconds": 5})
    clock = Clock()
    deleter = NamespacedResourcesDeleter(cluster, clock)
    err = _run(deleter)
    assert isinstance(err, ResourcesRemaining) and err.estimate == 5
    remaining = _conditions(cluster)["NamespaceContentRemaining"]
    assert (remaining["status"], remaining["lastTransitionTime"]) == (
        "True", "2026-01-01T12:00:01Z")
    # The kubelet finished the pod; the next pass flips the condition and finalizes.
    del cluster.objects["pods"]["web"]
    clock.now += timedelta(seconds=6)
    seen: list[dict[str, Any]] = []
    update_status = cluster.update_status

    async def record(namespace: dict[str, Any]) -> dict[str, Any]:
        seen.append(copy.deepcopy(namespace["status"]))
        return await update_status(namespace)

    cluster.update_status = record  # type: ignore[method-assign]
    assert _run(deleter) is None
    assert cluster.namespace is None
    flipped = {c["type"]: c for c in seen[-1]["conditions"]}["NamespaceContentRemaining"]
    assert (flipped["status"], flipped["reason"], flipped["lastTransitionTime"]) == (
        "False", "ContentRemoved", "2026-01-01T12:00:07Z")


def test_a_pod_still_there_after_its_grace_period_is_an_error() -> None:
    cluster = FakeCluster()
    cluster.add(PODS, "stuck", spec={"nodeName": "n1", "terminationGracePeriodSeconds": 1})
    clock = Clock()
    clock.now = DELETED_AT + timedelta(seconds=10)
    err = _run(NamespacedResourcesDeleter(cluster, clock))
    assert isinstance(err, ContentDeletionFailed)
    assert str(err) == ("unexpected items still remain in namespace: doomed for gvr: "
                        "/v1, Resource=pods")
    failure = _conditions(cluster)["NamespaceDeletionContentFailure"]
    assert (failure["status"], failure["reason"]) == ("True", "ContentDeletionFailed")
    assert failure["message"] == ("Failed to delete all resource types, 1 remaining: "
                                  "unexpected items still remain in namespace: doomed for "
                                  "gvr: /v1, Resource=pods")


def test_finalizers_hold_the_namespace_with_the_finalizer_estimate() -> None:
    cluster = FakeCluster()
    cluster.add(CONFIGMAPS, "held", metadata={"finalizers": ["example.com/hold"]})
    err = _run(NamespacedResourcesDeleter(cluster, Clock()))
    assert isinstance(err, ResourcesRemaining) and err.estimate == 15
    held = _conditions(cluster)["NamespaceFinalizersRemaining"]
    assert (held["status"], held["reason"], held["message"]) == (
        "True", "SomeFinalizerRemain",
        "Some finalizers are remaining: example.com/hold in 1 resource instances")


def test_without_deletecollection_each_object_is_deleted() -> None:
    cluster = FakeCluster(CONFIGMAPS, WIDGETS)
    cluster.add(WIDGETS, "w1")
    cluster.add(WIDGETS, "w2")
    assert _run(NamespacedResourcesDeleter(cluster, Clock())) is None
    assert ("deletecollection", "widgets") not in cluster.calls
    assert {c for c in cluster.calls if c[0] == "delete"} == {
        ("delete", "widgets/w1"), ("delete", "widgets/w2")}
    assert cluster.namespace is None


def test_partial_discovery_deletes_what_it_can_and_keeps_the_namespace() -> None:
    cluster = FakeCluster()
    cluster.add(CONFIGMAPS, "c1")
    cluster.failed_groups = {"metrics.k8s.io/v1beta1": "503 ServiceUnavailable: unavailable"}
    err = _run(NamespacedResourcesDeleter(cluster, Clock()))
    assert isinstance(err, ContentDeletionFailed)
    assert cluster.objects["configmaps"] == {}
    assert cluster.namespace is not None and cluster.namespace["spec"]["finalizers"]
    failure = _conditions(cluster)["NamespaceDeletionDiscoveryFailure"]
    assert (failure["status"], failure["reason"]) == ("True", "DiscoveryFailed")
    assert failure["message"] == (
        "Discovery failed for some groups, 1 failing: unable to retrieve the complete list "
        "of server APIs: metrics.k8s.io/v1beta1: 503 ServiceUnavailable: unavailable")


def test_conflicts_are_retried_and_other_finalizers_kept() -> None:
    cluster = FakeCluster()
    assert cluster.namespace is not None
    cluster.namespace["spec"]["finalizers"] = ["kubernetes", "example.com/last"]
    cluster.conflicts = 1
    assert _run(NamespacedResourcesDeleter(cluster, Clock())) is None
    assert cluster.namespace is not None
    assert cluster.namespace["spec"]["finalizers"] == ["example.com/last"]


def test_a_namespace_not_being_deleted_or_gone_is_left_alone() -> None:
    cluster = FakeCluster()
    assert cluster.namespace is not None
    del cluster.namespace["metadata"]["deletionTimestamp"]
    cluster.add(CONFIGMAPS, "keep")
    assert _run(NamespacedResourcesDeleter(cluster, Clock())) is None
    assert cluster.calls == [] and "keep" in cluster.objects["configmaps"]
    cluster.namespace = None
    assert _run(NamespacedResourcesDeleter(cluster, Clock())) is None


def test_controller_queues_deleting_namespaces_after_the_grace_period() -> None:
    async def scenario() -> tuple[list[str], list[str], float]:
        store = Store()
        cluster = FakeCluster()
        controller = NamespaceController(store, NamespacedResourcesDeleter(cluster, Clock()),
                                         deletion_grace=0.05)
        controller.on_namespace({"metadata": {"name": "alive"}})
        assert cluster.namespace is not None
        store.add(cluster.namespace)
        controller.on_namespace(cluster.namespace)
        assert len(controller.queue) == 0  # not before the grace period
        key = await asyncio.wait_for(controller.queue.get(), 1.0)
        await controller.sync(key)
        controller.handle_err(key, None)
        controller.queue.done(key)
        # Content still going away: look again after half the estimate plus a second.
        loop = asyncio.get_running_loop()
        started = loop.time()
        controller.handle_err("other", ResourcesRemaining(0))
        again = await asyncio.wait_for(controller.queue.get(), 2.0)
        return [key], [again], loop.time() - started

    keys, again, waited = asyncio.run(scenario())
    assert keys == ["doomed"] and again == ["other"]
    assert waited >= 0.9


def test_controller_ignores_namespaces_missing_from_its_cache() -> None:
    cluster = FakeCluster()
    controller = NamespaceController(Store(), NamespacedResourcesDeleter(cluster, Clock()))
    asyncio.run(controller.sync("doomed"))
    assert cluster.calls == []


@pytest.mark.parametrize("fail", [False, True])
def test_discovery_reads_preferred_versions(fail: bool) -> None:
    bodies: dict[str, dict[str, Any]] = {
        "/api": {"versions": ["v1"]},
        "/apis": {"groups": [
            {"name": "apps", "preferredVersion": {"version": "v1"},
             "versions": [{"version": "v1"}]},
            {"name": "metrics.k8s.io", "preferredVersion": {"version": "v1beta1"}}]},
        "/api/v1": {"resources": [
            {"name": "pods", "namespaced": True, "verbs": ["list", "delete"]},
            {"name": "pods/status", "namespaced": True, "verbs": ["get"]},
            {"name": "nodes", "namespaced": False, "verbs": ["list"]}]},
        "/apis/apps/v1": {"resources": [
            {"name": "deployments", "namespaced": True, "verbs": ["deletecollection"]}]},
        "/apis/metrics.k8s.io/v1beta1": {"resources": [
            {"name": "pods", "namespaced": True, "verbs": ["get", "list"]}]},
    }

    async def request(method: str, path: str, **_: Any) -> dict[str, Any]:
        assert method == "GET"
        if fail and path.startswith("/apis/metrics"):
            raise _error(503, "ServiceUnavailable")
        return bodies[path]

    found, failed = asyncio.run(server_preferred_resources(request))
    names = [(r.group_version, r.name, r.namespaced) for r in found]
    expected = [("v1", "pods", True), ("v1", "nodes", False), ("apps/v1", "deployments", True)]
    if fail:
        assert names == expected
        assert failed is not None and list(failed.groups) == ["metrics.k8s.io/v1beta1"]
    else:
        assert names == [*expected, ("metrics.k8s.io/v1beta1", "pods", True)]
        assert failed is None
    assert found[0].path("ns", "p") == "/api/v1/namespaces/ns/pods/p"
    assert found[2].path("ns") == "/apis/apps/v1/namespaces/ns/deployments"
