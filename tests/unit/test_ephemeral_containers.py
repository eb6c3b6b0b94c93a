"""``pods/ephemeralcontainers``: the pod strategy's rules for it and the store's write path
(memory storage, no HTTP)."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from apiserver.api import errors
from apiserver.api.resources import PODS, served
from apiserver.auth.bootstrap_roles import CLUSTER_ROLES
from apiserver.registry.ephemeral import (
    ephemeral_changes,
    keep_ephemeral_containers_only,
    validate_ephemeral_containers,
)
from apiserver.registry.kinds import PodStrategy
from apiserver.registry.registry import Registry
from apiserver.storage.cache import WatchCache
from apiserver.storage.memory import MemoryStorage

SUB = "ephemeralcontainers"


def _debug(name: str = "dbg", **extra: Any) -> dict[str, Any]:
    """An ephemeral container as the store sees it once defaulted."""
    return {"name": name, "image": "busybox", "imagePullPolicy": "Always",
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File", **extra}


def _pod(*ephemeral: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": [{"name": "web", "image": "nginx", "imagePullPolicy": "Always",
                        "terminationMessagePath": "/dev/termination-log",
                        "terminationMessagePolicy": "File"}],
        "initContainers": [{"name": "setup", "image": "busybox"}],
        "nodeName": "n1",
    }
    if ephemeral:
        spec["ephemeralContainers"] = list(ephemeral)
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "ns", "uid": "u1", "generation": 1,
                         "labels": {"app": "web"}, "resourceVersion": "5"},
            "spec": spec, "status": {"phase": "Running"}}


def _fields(causes: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(c["field"], c["message"]) for c in causes]


# -- validation ----------------------------------------------------------------------------


def test_a_valid_ephemeral_container_passes() -> None:
    spec = _pod(_debug(targetContainerName="web", stdin=True, tty=True,
                       command=["sh"]))["spec"]
    assert validate_ephemeral_containers(spec) == []


def test_fields_an_ephemeral_container_may_not_set_are_forbidden_in_go_order() -> None:
    spec = _pod(_debug(ports=[{"containerPort": 80}], resources={"limits": {"cpu": "1"}},
                       restartPolicy="Always", readinessProbe={"exec": {"command": ["x"]}},
                       lifecycle={"preStop": {"sleep": {"seconds": 1}}},
                       resizePolicy=[{"resourceName": "cpu",
                                      "restartPolicy": "NotRequired"}]))["spec"]
    text = "Forbidden: cannot be set for an Ephemeral Container"
    assert _fields(validate_ephemeral_containers(spec)) == [
        (f"spec.ephemeralContainers[0].{key}", text)
        for key in ("ports", "resources", "resizePolicy", "restartPolicy", "readinessProbe",
                    "lifecycle")]


def test_empty_resources_as_defaulting_writes_them_are_not_set() -> None:
    spec = _pod(_debug(resources={}))["spec"]
    assert validate_ephemeral_containers(spec) == []


def test_subpaths_are_forbidden() -> None:
    spec = _pod(_debug(volumeMounts=[{"name": "v", "mountPath": "/v", "subPath": "x"}]))["spec"]
    assert _fields(validate_ephemeral_containers(spec)) == [
        ("spec.ephemeralContainers[0].volumeMounts[0].subPath",
         "Forbidden: cannot be set for an Ephemeral Container")]


def test_names_are_dns_labels_unique_across_every_kind_of_container() -> None:
    spec = _pod(_debug("web"), _debug("setup"), _debug("x"), _debug("x"),
                _debug("Bad_Name"))["spec"]
    causes = validate_ephemeral_containers(spec)
    dupes = [c["field"] for c in causes if c["reason"] == "FieldValueDuplicate"]
    assert dupes == [f"spec.ephemeralContainers[{i}].name" for i in (0, 1, 3)]
    invalid = [c for c in causes if c["reason"] == "FieldValueInvalid"]
    assert [c["field"] for c in invalid] == ["spec.ephemeralContainers[4].name"]
    assert "a lowercase RFC 1123 label" in invalid[0]["message"]


def test_image_and_name_are_required() -> None:
    container = _debug()
    del container["image"], container["name"]
    spec = _pod(container)["spec"]
    assert _fields(validate_ephemeral_containers(spec))[:2] == [
        ("spec.ephemeralContainers[0].name", "Required value"),
        ("spec.ephemeralContainers[0].image", "Required value")]


def test_target_container_must_be_a_regular_or_init_container() -> None:
    spec = _pod(_debug("a"), _debug("b", targetContainerName="a"),
                _debug("c", targetContainerName="setup"))["spec"]
    assert _fields(validate_ephemeral_containers(spec)) == [
        ("spec.ephemeralContainers[1].targetContainerName", 'Not found: "a"')]


# -- the subresource's strategy -----------------------------------------------------------


def test_the_subresource_keeps_only_ephemeral_containers_of_the_body() -> None:
    old = _pod()
    new = copy.deepcopy(old)
    new["spec"]["ephemeralContainers"] = [_debug()]
    new["spec"]["containers"][0]["image"] = "nginx:2"
    new["spec"]["activeDeadlineSeconds"] = 5
    new["metadata"]["labels"] = {"app": "other"}
    new["status"] = {"phase": "Failed"}
    PodStrategy().prepare_for_subresource_update(SUB, new, old)
    expected = copy.deepcopy(old)
    expected["spec"]["ephemeralContainers"] = [_debug()]
    expected["metadata"]["generation"] = 2
    assert new == expected
    assert "ephemeralContainers" not in old["spec"]


def test_keep_ephemeral_containers_only_drops_an_emptied_list() -> None:
    old = _pod(_debug())
    new = copy.deepcopy(old)
    new["spec"]["ephemeralContainers"] = []
    keep_ephemeral_containers_only(new, old)
    assert "ephemeralContainers" not in new["spec"]


def test_adding_a_container_validates() -> None:
    old = _pod(_debug("one"))
    new = _pod(_debug("one"), _debug("two"))
    assert PodStrategy().validate_subresource_update(SUB, new, old) == []


def test_existing_ephemeral_containers_may_not_be_removed_or_changed() -> None:
    old = _pod(_debug("one"), _debug("two"))
    new = _pod(_debug("two", image="alpine"))
    assert _fields(PodStrategy().validate_subresource_update(SUB, new, old)) == [
        ("spec.ephemeralContainers",
         'Forbidden: existing ephemeral containers "one" may not be removed\n'),
        ("spec.ephemeralContainers",
         'Forbidden: existing ephemeral containers "two" may not be changed\n'
         "changed fields: image")]
    # Order is not kept by patches: the same containers reordered are no change.
    assert ephemeral_changes(_pod(_debug("two"), _debug("one")), old) == []


def test_static_pods_support_no_ephemeral_containers() -> None:
    old = _pod()
    old["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "x"}
    new = _pod(_debug())
    new["metadata"]["annotations"] = old["metadata"]["annotations"]
    assert _fields(PodStrategy().validate_subresource_update(SUB, new, old)) == [
        ("", "Forbidden: static pods do not support ephemeral containers")]


def test_the_main_resource_refuses_ephemeral_container_changes() -> None:
    strategy = PodStrategy()
    old = _pod()
    new = _pod(_debug())
    causes = strategy.validate_update(new, old)
    assert [c["field"] for c in causes] == ["spec"]
    assert causes[0]["message"].startswith("Forbidden: pod updates may not change fields")
    # A pod that has ephemeral containers still takes other updates.
    assert strategy.validate_update(_pod(_debug()), _pod(_debug())) == []


def test_ephemeral_containers_cannot_be_set_on_create() -> None:
    assert _fields(PodStrategy().validate(_pod(_debug()))) == [
        ("spec.ephemeralContainers", "Forbidden: cannot be set on create")]


def test_status_writes_keep_their_own_hooks() -> None:
    old = _pod()
    new = copy.deepcopy(old)
    new["spec"]["ephemeralContainers"] = [_debug()]
    new["status"] = {"phase": "Succeeded"}
    PodStrategy().prepare_for_subresource_update("status", new, old)
    assert "ephemeralContainers" not in new["spec"]
    assert new["status"] == {"phase": "Succeeded"}


def test_edit_and_admin_do_not_grant_ephemeral_containers_as_upstream() -> None:
    # Upstream leaves pods/ephemeralcontainers out of the aggregated roles on purpose:
    # existing admission policies may not cover the new container type.
    for row in CLUSTER_ROLES:
        for rule in row.rules:
            assert "pods/ephemeralcontainers" not in str(rule), row.name


# -- the store's write path ----------------------------------------------------------------


def test_store_round_trip_defaults_validates_and_bumps_generation() -> None:
    async def scenario() -> None:
        storage = MemoryStorage()
        await storage.start()
        registry = Registry(storage, WatchCache(storage))
        await registry.start()
        try:
            await registry.store(served("", "v1", "serviceaccounts")).create(
                "default", {"metadata": {"name": "default"}})
            pods = registry.store(PODS)
            await pods.create("default", {"metadata": {"name": "web"},
                                          "spec": {"containers": [{"name": "web",
                                                                   "image": "nginx"}]}})

            def add(name: str, **extra: Any) -> Any:
                def mutate(pod: dict[str, Any]) -> dict[str, Any]:
                    pod["spec"].setdefault("ephemeralContainers", []).append(
                        {"name": name, "image": "busybox", **extra})
                    pod["spec"]["containers"][0]["image"] = "ignored"
                    return pod
                return mutate

            out, _ = await pods.guaranteed_update("default", "web", add("dbg", stdin=True),
                                                  subresource=SUB)
            spec = out.obj["spec"]
            assert spec["containers"][0]["image"] == "nginx"
            assert spec["ephemeralContainers"] == [{
                "name": "dbg", "image": "busybox", "stdin": True,
                "imagePullPolicy": "Always", "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File", "resources": {}}]
            assert out.obj["metadata"]["generation"] == 2
            with pytest.raises(errors.ApiError) as info:
                await pods.guaranteed_update("default", "web", add("web"), subresource=SUB)
            assert info.value.code == 422
            assert "spec.ephemeralContainers[1].name" in str(info.value.status)
            # The main resource may not add one.
            with pytest.raises(errors.ApiError) as info:
                await pods.guaranteed_update("default", "web", add("other"))
            assert info.value.code == 422
        finally:
            await registry.stop()
            await storage.close()

    asyncio.run(scenario())
