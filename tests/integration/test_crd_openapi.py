"""Custom resources in the published OpenAPI and more of upstream's CRD conformance
behaviours (e2e ``crd_publish_openapi.go``, ``custom_resource_definition.go``,
``field_validation.go``), reimplemented on a private apiserver with httpx and kubectl.

* Every served version is published in ``/openapi/v2`` (paths, the kind's and the list's
  definitions, as upstream converts a structural schema for v2) and in
  ``/openapi/v3/apis/<group>/<version>``; the v2 ETag changes when a CRD changes and the
  definitions go when it is deleted; ``kubectl explain`` reads descriptions from v2.
* The CRD's own schema checks answer 422 with upstream's field paths.
* Unknown fields: 400 with ``fieldValidation=Strict``, a warning with ``Warn``.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest

from tests.support.apiserver import ApiServerProcess
from tests.support.kubectl import Kubectl
from tests.support.kubemu_up import wait_for

pytestmark = pytest.mark.integration

GROUP = "openapi.example.com"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
SCHEMA: dict[str, Any] = {"openAPIV3Schema": {
    "type": "object", "description": "A gizmo of the openapi tests.",
    "properties": {"spec": {
        "type": "object", "description": "What the gizmo should be.",
        "required": ["size", "note"],
        "x-kubernetes-validations": [{"rule": "self.size < 100"}],
        "properties": {
            "size": {"type": "integer", "description": "How big the gizmo is.",
                     "default": 1},
            "note": {"type": "string", "nullable": True},
            "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                      "properties": {"x": {"type": "string"}}},
            "choice": {"type": "string", "oneOf": [{"enum": ["a"]}, {"enum": ["b"]}]}}}}}}


def _crd(versions: tuple[str, ...] = ("v1", "v2")) -> dict[str, Any]:
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"gizmos.{GROUP}"},
            "spec": {"group": GROUP, "scope": "Namespaced",
                     "names": {"plural": "gizmos", "singular": "gizmo", "kind": "Gizmo"},
                     "versions": [{"name": v, "served": True, "storage": v == versions[0],
                                   "schema": copy.deepcopy(SCHEMA)} for v in versions]}}


def _v2(client: httpx.Client) -> tuple[dict[str, Any], str]:
    answer = client.get("/openapi/v2", headers={"accept": "application/json"})
    assert answer.status_code == 200
    return answer.json(), answer.headers["etag"]


def test_crd_versions_are_published_in_openapi_v2_and_v3(fresh_apiserver: ApiServerProcess,
                                                          kubectl: Kubectl) -> None:
    client = httpx.Client(base_url=fresh_apiserver.url, timeout=30)
    _, etag_before = _v2(client)
    assert client.post(CRDS, json=_crd()).status_code == 201
    wait_for("both versions served", lambda: all(
        client.get(f"/apis/{GROUP}/{v}/gizmos").status_code == 200 for v in ("v1", "v2")))
    doc, etag = wait_for("the definitions in v2", lambda: (
        lambda d: d if "com.example.openapi.v2.Gizmo" in d[0]["definitions"] else None)(
            _v2(client)))
    assert etag != etag_before
    assert client.get("/openapi/v2", headers={"if-none-match": etag}).status_code == 304
    for version in ("v1", "v2"):
        gizmo = doc["definitions"][f"com.example.openapi.{version}.Gizmo"]
        assert gizmo["x-kubernetes-group-version-kind"] == [
            {"group": GROUP, "kind": "Gizmo", "version": version}]
        assert gizmo["description"] == "A gizmo of the openapi tests."
        spec = gizmo["properties"]["spec"]
        # As upstream's v2 conversion: no oneOf, no rules, nullable untyped and not required,
        # no properties under preserve-unknown-fields.
        assert spec["required"] == ["size"] and "x-kubernetes-validations" not in spec
        assert spec["properties"]["note"] == {}
        assert spec["properties"]["choice"] == {"type": "string"}
        assert spec["properties"]["extra"] == {"type": "object",
                                               "x-kubernetes-preserve-unknown-fields": True}
        assert spec["properties"]["size"]["default"] == 1
        listing = doc["definitions"][f"com.example.openapi.{version}.GizmoList"]
        assert listing["properties"]["items"]["items"] == {
            "$ref": f"#/definitions/com.example.openapi.{version}.Gizmo"}
        path = doc["paths"][f"/apis/{GROUP}/{version}/namespaces/{{namespace}}/gizmos"]
        assert path["post"]["operationId"] == f"createOpenapiExampleCom{version.upper()}" \
            "NamespacedGizmo"
        v3 = client.get(f"/openapi/v3/apis/{GROUP}/{version}").json()
        assert "x-kubernetes-validations" in v3["components"]["schemas"][
            f"com.example.openapi.{version}.Gizmo"]["properties"]["spec"]
    explained = kubectl("explain", "gizmos.spec", "--output=plaintext-openapiv2",
                        kubeconfig=fresh_apiserver, check=True).stdout
    assert "What the gizmo should be." in explained and "How big the gizmo is." in explained

    # One version stops being served: it leaves the document.
    changed = client.get(f"{CRDS}/gizmos.{GROUP}").json()
    changed["spec"]["versions"][1]["served"] = False
    assert client.put(f"{CRDS}/gizmos.{GROUP}", json=changed).status_code == 200
    wait_for("v2 unpublished", lambda: "com.example.openapi.v2.Gizmo" not in _v2(client)[0][
        "definitions"])
    assert "com.example.openapi.v1.Gizmo" in _v2(client)[0]["definitions"]
    assert client.delete(f"{CRDS}/gizmos.{GROUP}").status_code == 200
    wait_for("the CRD unpublished", lambda: _v2(client)[1] == etag_before)
    assert client.get(f"/openapi/v3/apis/{GROUP}/v1").status_code == 404


def test_crd_schema_checks_and_field_validation(fresh_apiserver: ApiServerProcess) -> None:
    client = httpx.Client(base_url=fresh_apiserver.url, timeout=30)
    bad = _crd(("v1",))
    props = bad["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"][
        "properties"]
    props["size"]["multipleOf"] = 0
    props["code"] = {"type": "string", "pattern": "[", "default": "x"}
    props["count"] = {"type": "integer", "minimum": 2, "default": 1}
    answer = client.post(CRDS, json=bad)
    assert answer.status_code == 422, answer.text
    where = "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties"
    messages = {c["field"]: c["message"] for c in answer.json()["details"]["causes"]}
    assert messages[f"{where}[size].multipleOf"] == "Invalid value: 0: must be positive"
    assert messages[f"{where}[code].pattern"].startswith(
        'Invalid value: "[": must be a valid regular expression, but isn\'t: ')
    assert messages[f"{where}[count].default"] == (
        f"Invalid value: 1: {where}[count].default in body should be greater than or equal "
        "to 2")

    assert client.post(CRDS, json=_crd(("v1",))).status_code == 201
    base = f"/apis/{GROUP}/v1/namespaces/default/gizmos"
    wait_for("served", lambda: client.get(base).status_code == 200)
    body = {"apiVersion": f"{GROUP}/v1", "kind": "Gizmo", "metadata": {"name": "g"},
            "spec": {"note": None, "bogus": 1}, "top": True}
    strict = client.post(base, params={"fieldValidation": "Strict"}, json=body)
    assert strict.status_code == 400, strict.text
    assert strict.json()["message"] == (
        'strict decoding error: unknown field "spec.bogus", unknown field "top"')
    warned = client.post(base, params={"fieldValidation": "Warn"}, json=body)
    assert warned.status_code == 201, warned.text
    assert sorted(warned.headers.get_list("warning")) == [
        '299 - "unknown field \\"spec.bogus\\""', '299 - "unknown field \\"top\\""']
    created = warned.json()
    assert created["spec"] == {"note": None, "size": 1} and "top" not in created
    too_big = client.post(base, json={**body, "metadata": {"name": "h"},
                                      "spec": {"size": 100, "note": "x"}})
    assert too_big.status_code == 422
    assert json.loads(too_big.text)["details"]["causes"][0]["message"] == \
        "Invalid value: \"object\": failed rule: self.size < 100"
