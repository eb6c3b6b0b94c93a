"""Upstream's CRD conformance behaviours that need no containers and no webhooks
(e2e ``custom_resource_definition.go``), reimplemented on a private apiserver with httpx:

* listing CRDs by label and deleting them as a collection;
* the CRD's own ``status`` subresource: get, update, patch;
* discovery of ``apiextensions.k8s.io/v1`` (with ``customresourcedefinitions/status``) and
  of a CRD's group;
* defaulting for requests and from storage: a default added to the schema later shows on
  objects stored before it.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.apiserver import ApiServerProcess
from tests.support.kubemu_up import wait_for

pytestmark = pytest.mark.integration

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
MERGE = {"content-type": "application/merge-patch+json"}


def _crd(group: str, plural: str, labels: dict[str, str] | None = None,
         spec_props: dict[str, Any] | None = None) -> dict[str, Any]:
    kind = plural[:-1].capitalize()
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}", "labels": labels or {}},
            "spec": {"group": group, "scope": "Namespaced",
                     "names": {"plural": plural, "singular": plural[:-1], "kind": kind},
                     "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                         "openAPIV3Schema": {"type": "object", "properties": {"spec": {
                             "type": "object", "properties": spec_props or {
                                 "a": {"type": "string"}}}}}}}]}}


def test_list_by_label_delete_collection_and_status(fresh_apiserver: ApiServerProcess) \
        -> None:
    client = httpx.Client(base_url=fresh_apiserver.url, timeout=30)
    group = "conf.example.com"
    for plural in ("alphas", "betas", "gammas"):
        labels = {"e2e-list-test": "yes"} if plural != "gammas" else {}
        assert client.post(CRDS, json=_crd(group, plural, labels)).status_code == 201
    listed = client.get(CRDS, params={"labelSelector": "e2e-list-test=yes"}).json()
    assert sorted(i["metadata"]["name"] for i in listed["items"]) == [
        f"alphas.{group}", f"betas.{group}"]
    assert listed["kind"] == "CustomResourceDefinitionList"

    # The CRD's status subresource.
    name = f"gammas.{group}"
    status = wait_for("established", lambda: (lambda s: s if any(
        c["type"] == "Established" and c["status"] == "True"
        for c in s["status"].get("conditions", [])) else None)(
            client.get(f"{CRDS}/{name}/status").json()))
    assert status["kind"] == "CustomResourceDefinition"
    status["status"]["conditions"].append({
        "type": "StatusUpdated", "status": "True", "reason": "E2E", "message": "Set from e2e",
        "lastTransitionTime": "2026-01-01T00:00:00Z"})
    updated = client.put(f"{CRDS}/{name}/status", json=status)
    assert updated.status_code == 200, updated.text
    assert any(c["type"] == "StatusUpdated" for c in updated.json()["status"]["conditions"])
    patched = client.patch(f"{CRDS}/{name}/status", headers=MERGE, json={
        "metadata": {"annotations": {"patched": "true"}}, "spec": {"group": "ignored.io"}})
    assert patched.status_code == 200, patched.text
    assert patched.json()["metadata"]["annotations"]["patched"] == "true"
    assert patched.json()["spec"]["group"] == group

    gone = client.request("DELETE", CRDS, params={"labelSelector": "e2e-list-test=yes"})
    assert gone.status_code == 200, gone.text
    wait_for("the labelled CRDs deleted", lambda: [
        i["metadata"]["name"] for i in client.get(CRDS).json()["items"]
        if i["metadata"]["name"].endswith(group)] == [name])


def test_discovery_of_apiextensions_and_of_a_crd_group(fresh_apiserver: ApiServerProcess) \
        -> None:
    client = httpx.Client(base_url=fresh_apiserver.url, timeout=30)
    group = "disco.example.com"
    resources = client.get("/apis/apiextensions.k8s.io/v1").json()["resources"]
    names = {r["name"] for r in resources}
    assert {"customresourcedefinitions", "customresourcedefinitions/status"} <= names
    assert client.post(CRDS, json=_crd(group, "dials")).status_code == 201
    wait_for("the group in /apis", lambda: any(
        g["name"] == group for g in client.get("/apis").json()["groups"]))
    found = client.get(f"/apis/{group}").json()
    assert found["kind"] == "APIGroup" and found["preferredVersion"]["groupVersion"] == \
        f"{group}/v1"
    (dials,) = client.get(f"/apis/{group}/v1").json()["resources"]
    assert (dials["name"], dials["kind"], dials["namespaced"]) == ("dials", "Dial", True)


def test_defaulting_for_requests_and_from_storage(fresh_apiserver: ApiServerProcess) -> None:
    client = httpx.Client(base_url=fresh_apiserver.url, timeout=30)
    group = "defaults.example.com"
    crd = _crd(group, "knobs", spec_props={"a": {"type": "string", "default": "A"}})
    assert client.post(CRDS, json=crd).status_code == 201
    base = f"/apis/{group}/v1/namespaces/default/knobs"
    wait_for("served", lambda: client.get(base).status_code == 200)
    created = client.post(base, json={"apiVersion": f"{group}/v1", "kind": "Knob",
                                      "metadata": {"name": "k"}, "spec": {}})
    assert created.status_code == 201 and created.json()["spec"] == {"a": "A"}
    # A default added later applies to the object stored before it, on read.
    stored = client.get(f"{CRDS}/knobs.{group}").json()
    stored["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"][
        "properties"]["b"] = {"type": "string", "default": "B"}
    assert client.put(f"{CRDS}/knobs.{group}", json=stored).status_code == 200
    wait_for("the new default on read", lambda: client.get(f"{base}/k").json()["spec"] == {
        "a": "A", "b": "B"})
    listed = client.get(base).json()["items"]
    assert listed[0]["spec"] == {"a": "A", "b": "B"}
