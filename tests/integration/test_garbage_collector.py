"""Cascading deletion against a real apiserver and ``controllers.manager``'s garbage collector."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.apiserver import ApiServerProcess
from tests.support.kubectl import Kubectl
from tests.support.process import Process

TIMEOUT = 20.0
NS = "default"
CM = f"/api/v1/namespaces/{NS}/configmaps"


@pytest.fixture
def gc(fresh_apiserver: ApiServerProcess, tmp_path: Path) -> Iterator[Process]:
    argv = ["-m", "controllers.manager", "--kubeconfig", str(fresh_apiserver.kubeconfig),
            "--leader-elect=false", "--controllers=garbagecollector"]
    process = Process(argv, tmp_path / "manager.log").start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def client(fresh_apiserver: ApiServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fresh_apiserver.url, timeout=10.0) as c:
        yield c


def _until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(what)


def _configmap(client: httpx.Client, name: str, owner: dict[str, Any] | None = None,
               *, block: bool = False, finalizers: list[str] | None = None) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name}
    if owner is not None:
        ref: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap",
                               "name": owner["metadata"]["name"],
                               "uid": owner["metadata"]["uid"]}
        if block:
            ref["blockOwnerDeletion"] = True
        md["ownerReferences"] = [ref]
    if finalizers:
        md["finalizers"] = finalizers
    response = client.post(CM, json={"metadata": md, "data": {"k": "v"}})
    assert response.status_code == 201, response.text
    return dict(response.json())


def _get(client: httpx.Client, name: str) -> dict[str, Any] | None:
    response = client.get(f"{CM}/{name}")
    return dict(response.json()) if response.status_code == 200 else None


def _family(client: httpx.Client, *, block: bool = False) -> tuple[str, list[str]]:
    tag = uuid.uuid4().hex[:6]
    owner = _configmap(client, f"owner-{tag}")
    deps = [_configmap(client, f"dep-{tag}-{i}", owner, block=block)["metadata"]["name"]
            for i in range(3)]
    return owner["metadata"]["name"], deps


def _delete(client: httpx.Client, name: str, body: dict[str, Any] | None) -> httpx.Response:
    return client.request("DELETE", f"{CM}/{name}", json=body)


def test_background_orphan_and_foreground(gc: Process, client: httpx.Client) -> None:
    owner, deps = _family(client)
    assert _delete(client, owner, {"propagationPolicy": "Background"}).status_code == 200
    _until(lambda: all(_get(client, d) is None for d in deps), "dependents not collected")

    owner, deps = _family(client)
    response = _delete(client, owner, {"propagationPolicy": "Orphan"})
    assert response.status_code == 200
    assert response.json()["metadata"]["finalizers"] == ["orphan"]
    _until(lambda: _get(client, owner) is None, "orphaning owner never went away")
    for dep in deps:
        obj = _get(client, dep)
        assert obj is not None and "ownerReferences" not in obj["metadata"]

    tag = uuid.uuid4().hex[:6]
    fg_owner = _configmap(client, f"fg-{tag}")
    held = _configmap(client, f"held-{tag}", fg_owner, block=True,
                      finalizers=["example.com/hold"])
    loose = _configmap(client, f"loose-{tag}", fg_owner)
    name = fg_owner["metadata"]["name"]
    response = _delete(client, name, {"propagationPolicy": "Foreground"})
    assert response.json()["metadata"]["finalizers"] == ["foregroundDeletion"]

    def held_marked() -> bool:
        obj = _get(client, held["metadata"]["name"])
        return obj is not None and bool(obj["metadata"].get("deletionTimestamp"))

    _until(held_marked, "blocking dependent never marked for deletion")
    _until(lambda: _get(client, loose["metadata"]["name"]) is None, "loose dependent stayed")
    time.sleep(0.5)
    waiting = _get(client, name)
    assert waiting is not None and waiting["metadata"]["finalizers"] == ["foregroundDeletion"]
    patch = client.patch(f"{CM}/{held['metadata']['name']}",
                         json={"metadata": {"finalizers": None}},
                         headers={"Content-Type": "application/merge-patch+json"})
    assert patch.status_code == 200, patch.text
    _until(lambda: _get(client, name) is None, "foreground owner never went away")


def test_dependent_of_a_missing_owner_is_collected(gc: Process, client: httpx.Client) -> None:
    ghost = {"metadata": {"name": "never-was", "uid": str(uuid.uuid4())}}
    dep = _configmap(client, f"stray-{uuid.uuid4().hex[:6]}", ghost)
    tag = uuid.uuid4().hex[:6]
    live = _configmap(client, f"live-{tag}")
    shared = _configmap(client, f"shared-{tag}", live)
    refs = shared["metadata"]["ownerReferences"] + ghost_ref(ghost)
    response = client.patch(f"{CM}/{shared['metadata']['name']}",
                            json={"metadata": {"ownerReferences": refs}},
                            headers={"Content-Type": "application/merge-patch+json"})
    assert response.status_code == 200, response.text
    _until(lambda: _get(client, dep["metadata"]["name"]) is None, "stray dependent stayed")

    def dead_ref_dropped() -> bool:
        obj = _get(client, shared["metadata"]["name"])
        return obj is not None and [r["uid"] for r in obj["metadata"]["ownerReferences"]] == [
            live["metadata"]["uid"]]

    _until(dead_ref_dropped, "the dead owner's reference was not patched out")


def ghost_ref(ghost: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"apiVersion": "v1", "kind": "ConfigMap", "name": ghost["metadata"]["name"],
             "uid": ghost["metadata"]["uid"]}]


def test_delete_options_are_validated(fresh_apiserver: ApiServerProcess,
                                      client: httpx.Client) -> None:
    _configmap(client, "victim")
    bad = _delete(client, "victim", {"propagationPolicy": "Sideways"})
    assert bad.status_code == 422
    assert 'propagationPolicy: Unsupported value: "Sideways"' in bad.json()["message"]
    both = _delete(client, "victim", {"propagationPolicy": "Orphan", "orphanDependents": True})
    assert both.status_code == 422
    assert "orphanDependents and deletionPropagation cannot be both set" in both.json()["message"]
    legacy = _delete(client, "victim", {"orphanDependents": True})
    assert legacy.json()["metadata"]["finalizers"] == ["orphan"]
    switched = client.delete(f"{CM}/victim", params={"propagationPolicy": "Background"})
    assert switched.status_code == 200
    assert _get(client, "victim") is None


def test_kubectl_cascade(gc: Process, fresh_apiserver: ApiServerProcess, client: httpx.Client,
                         kubectl_announced: Kubectl) -> None:
    def kubectl(*args: str) -> None:
        kubectl_announced(*args, "-n", NS, "--timeout=20s", kubeconfig=fresh_apiserver,
                          check=True)

    owner, deps = _family(client)
    kubectl("delete", "configmap", owner, "--cascade=orphan")
    _until(lambda: _get(client, owner) is None, "orphaned owner stayed")
    assert all("ownerReferences" not in (_get(client, d) or {"metadata": {}})["metadata"]
               for d in deps)

    owner, deps = _family(client, block=True)
    kubectl("delete", "configmap", owner, "--cascade=foreground")
    assert _get(client, owner) is None
    assert all(_get(client, d) is None for d in deps)

    owner, deps = _family(client)
    kubectl("delete", "configmap", owner, "--cascade=background")
    _until(lambda: all(_get(client, d) is None for d in deps), "dependents not collected")


WIDGETS_GROUP = "gc.example.com"
WIDGETS = f"/apis/{WIDGETS_GROUP}/v1/namespaces/{NS}/widgets"


def _define_widgets(client: httpx.Client) -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{WIDGETS_GROUP}"},
        "spec": {"group": WIDGETS_GROUP, "scope": "Namespaced",
                 "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                 "versions": [{"name": "v1", "served": True, "storage": True,
                               "schema": {"openAPIV3Schema": {
                                   "type": "object",
                                   "x-kubernetes-preserve-unknown-fields": True}}}]},
    }
    response = client.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=crd)
    assert response.status_code == 201, response.text
    _until(lambda: client.get(WIDGETS).status_code == 200, "the Widget kind was not served")


def _widget(client: httpx.Client, name: str, owner: dict[str, Any] | None = None,
            *, block: bool = False) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name}
    if owner is not None:
        md["ownerReferences"] = [{"apiVersion": owner["apiVersion"], "kind": owner["kind"],
                                  "name": owner["metadata"]["name"],
                                  "uid": owner["metadata"]["uid"], "blockOwnerDeletion": block}]
    response = client.post(WIDGETS, json={"apiVersion": f"{WIDGETS_GROUP}/v1",
                                          "kind": "Widget", "metadata": md})
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_custom_resources_own_and_are_owned(gc: Process, client: httpx.Client) -> None:
    """A kind defined after the collector started: custom owners take their built-in and
    custom dependents with them (background and foreground), and a custom dependent of a
    ConfigMap goes with the ConfigMap."""
    _define_widgets(client)
    tag = uuid.uuid4().hex[:6]

    owner = _widget(client, f"owner-{tag}")
    cm = _configmap(client, f"cm-of-widget-{tag}")
    patched = client.patch(
        f"{CM}/{cm['metadata']['name']}",
        json={"metadata": {"ownerReferences": [{
            "apiVersion": f"{WIDGETS_GROUP}/v1", "kind": "Widget",
            "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"]}]}},
        headers={"Content-Type": "application/merge-patch+json"})
    assert patched.status_code == 200, patched.text
    child = _widget(client, f"child-{tag}", owner)
    assert client.delete(f"{WIDGETS}/{owner['metadata']['name']}").status_code == 200
    _until(lambda: _get(client, cm["metadata"]["name"]) is None,
           "the ConfigMap owned by a deleted Widget stayed")
    _until(lambda: client.get(f"{WIDGETS}/{child['metadata']['name']}").status_code == 404,
           "the Widget owned by a deleted Widget stayed")

    parent = _widget(client, f"fg-{tag}")
    blocker = _widget(client, f"fg-child-{tag}", parent, block=True)
    response = client.request("DELETE", f"{WIDGETS}/{parent['metadata']['name']}",
                              json={"propagationPolicy": "Foreground"})
    assert response.status_code == 200, response.text
    _until(lambda: client.get(f"{WIDGETS}/{parent['metadata']['name']}").status_code == 404,
           "the Widget deleted in the foreground stayed")
    assert client.get(f"{WIDGETS}/{blocker['metadata']['name']}").status_code == 404

    cm_owner = _configmap(client, f"cm-owner-{tag}")
    owned = _widget(client, f"owned-{tag}", {**cm_owner, "apiVersion": "v1",
                                             "kind": "ConfigMap"})
    assert client.delete(f"{CM}/{cm_owner['metadata']['name']}").status_code == 200
    _until(lambda: client.get(f"{WIDGETS}/{owned['metadata']['name']}").status_code == 404,
           "the Widget owned by a deleted ConfigMap stayed")

    ghost = {"apiVersion": f"{WIDGETS_GROUP}/v1", "kind": "Widget",
             "metadata": {"name": "never-was", "uid": str(uuid.uuid4())}}
    stray = _configmap(client, f"stray-of-widget-{tag}")
    patched = client.patch(
        f"{CM}/{stray['metadata']['name']}",
        json={"metadata": {"ownerReferences": [{
            "apiVersion": ghost["apiVersion"], "kind": "Widget", "name": "never-was",
            "uid": ghost["metadata"]["uid"]}]}},
        headers={"Content-Type": "application/merge-patch+json"})
    assert patched.status_code == 200, patched.text
    _until(lambda: _get(client, stray["metadata"]["name"]) is None,
           "the dependent of a Widget that never existed stayed")
