"""OpenAPI documents: freshness of the committed copies and what kubectl relies on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from apiserver.api.resources import RESOURCES, ResourceInfo
from apiserver.openapi import (
    _render,
    document_keys,
    openapi_v2,
    openapi_v2_encoded,
    openapi_v3_encoded,
    openapi_v3_group_version,
    openapi_v3_root,
    openapi_v3_root_encoded,
    operations,
)
from apiserver.openapi.files import render_files

ROOT = Path(__file__).resolve().parents[2]
SERVICE_PORT = "io.k8s.api.core.v1.ServicePort"


@pytest.fixture(scope="module")
def v2() -> dict[str, Any]:
    return openapi_v2()


@pytest.fixture(scope="module")
def core_v3() -> dict[str, Any]:
    doc = openapi_v3_group_version("api/v1")
    assert doc is not None
    return doc


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(_refs(item) for item in node)) if node else set()
    return set()


def test_committed_files_are_fresh() -> None:
    files = render_files()
    stale = [
        rel for rel, data in files.items()
        if not (ROOT / rel).is_file() or (ROOT / rel).read_bytes() != data
    ]
    extra = [
        str(p.relative_to(ROOT)) for p in (ROOT / "openapi" / "v3").glob("*.json")
        if str(p.relative_to(ROOT)) not in files
    ]
    assert not stale and not extra, (
        f"stale OpenAPI files {stale + extra}: run .venv/bin/python scripts/gen-openapi"
    )


def test_v2_refs_resolve_and_dialect_is_converted(v2: dict[str, Any]) -> None:
    assert v2["swagger"] == "2.0"
    defs = v2["definitions"]
    for ref in _refs(v2):
        assert ref.startswith("#/definitions/"), ref
        assert ref.removeprefix("#/definitions/") in defs, ref
    raw = orjson.dumps(v2)
    assert b'"null"' not in raw
    assert b"$defs" not in raw
    assert defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"] == "int-or-string"
    for name in ("Status", "DeleteOptions", "WatchEvent", "ListMeta", "Patch"):
        assert f"io.k8s.apimachinery.pkg.apis.meta.v1.{name}" in defs


def test_v2_is_limited_to_served_kinds(v2: dict[str, Any]) -> None:
    defs = v2["definitions"]
    assert "io.k8s.api.apps.v1beta1.Deployment" not in defs  # only served versions
    for info in RESOURCES:
        assert info.schema_ref in defs
        gvks = defs[info.schema_ref]["x-kubernetes-group-version-kind"]
        assert {"group": info.group, "version": info.version, "kind": info.kind} in gvks
    assert "enum" not in defs["io.k8s.api.core.v1.Service"]["properties"]["kind"]


def test_v2_operations(v2: dict[str, Any]) -> None:
    paths = v2["paths"]
    ops = {
        op["operationId"]: (path, method, op)
        for path, item in paths.items()
        for method, op in item.items()
        if method != "parameters"
    }
    for op_id in (
        "listCoreV1NamespacedPod", "readCoreV1NamespacedService", "patchCoreV1NamespacedService",
        "createCoreV1NamespacedService", "replaceCoreV1NamespacedService",
        "deleteCoreV1NamespacedService", "deleteCoreV1CollectionNamespacedPod",
        "listCoreV1PodForAllNamespaces", "watchCoreV1NamespacedPodList",
        "watchCoreV1ServiceListForAllNamespaces", "patchCoreV1NamespacedPodStatus",
        "readCoreV1NamespacedServiceStatus", "listCoreV1Namespace",
        "replaceCoreV1NamespaceFinalize",
        "getCoreV1APIResources", "getCodeVersion",
    ):
        assert op_id in ops, op_id
    path, method, patch = ops["patchCoreV1NamespacedService"]
    assert (path, method) == ("/api/v1/namespaces/{namespace}/services/{name}", "patch")
    assert patch["x-kubernetes-action"] == "patch"
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "", "version": "v1", "kind": "Service"
    }
    assert set(patch["consumes"]) == {
        "application/json-patch+json", "application/merge-patch+json",
        "application/strategic-merge-patch+json", "application/apply-patch+yaml",
    }
    names = {param["name"] for param in patch["parameters"]}
    assert {"fieldValidation", "dryRun", "fieldManager", "force", "body"} <= names
    listed = {param["name"] for param in ops["listCoreV1NamespacedPod"][2]["parameters"]}
    assert listed == {
        "allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit",
        "resourceVersion", "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds",
        "watch",
    }
    assert ops["listCoreV1NamespacedPod"][2]["responses"]["200"]["schema"] == {
        "$ref": "#/definitions/io.k8s.api.core.v1.PodList"
    }
    assert "deleteCoreV1CollectionNamespace" not in ops  # namespaces lack deletecollection


def test_v3_root_and_hashes() -> None:
    root = orjson.loads(openapi_v3_root_encoded().data)
    assert set(root["paths"]) == set(document_keys())
    entry = root["paths"]["api/v1"]["serverRelativeURL"]
    encoded = openapi_v3_encoded("api/v1")
    assert encoded is not None
    assert entry == f"/openapi/v3/api/v1?hash={encoded.hash}"
    assert encoded.etag == f'"{encoded.hash}"'
    assert openapi_v3_root({"api/v1": "AB"}) == {
        "paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=AB"}}
    }
    assert openapi_v3_encoded("apis/nope/v1") is None
    assert openapi_v3_group_version("apis/nope/v1") is None


def test_encoded_bytes_are_cached() -> None:
    assert openapi_v2_encoded() is openapi_v2_encoded()
    assert openapi_v3_encoded("api/v1") is openapi_v3_encoded("api/v1")


def test_v3_patch_operations_carry_gvk_and_field_validation(core_v3: dict[str, Any]) -> None:
    """What kubectl 1.29+ checks before sending fieldValidation=Strict."""
    assert core_v3["openapi"].startswith("3.0")
    patched_kinds = set()
    for item in core_v3["paths"].values():
        patch = item.get("patch")
        if patch is None or patch["x-kubernetes-action"] == "connect":  # proxy: no body
            continue
        gvk = patch["x-kubernetes-group-version-kind"]
        patched_kinds.add(gvk["kind"])
        assert "fieldValidation" in {param["name"] for param in patch["parameters"]}
        assert set(patch["requestBody"]["content"]) >= {
            "application/strategic-merge-patch+json", "application/apply-patch+yaml",
        }
    assert patched_kinds == {
        info.kind for info in RESOURCES if info.group == "" and "patch" in info.verbs
    }


def test_connect_operations_as_upstream(core_v3: dict[str, Any]) -> None:
    paths = core_v3["paths"]
    log = paths["/api/v1/namespaces/{namespace}/pods/{name}/log"]["get"]
    assert log["operationId"] == "readCoreV1NamespacedPodLog"
    assert log["x-kubernetes-group-version-kind"]["kind"] == "Pod"
    assert log["responses"]["200"]["content"]["text/plain"] == {"schema": {"type": "string"}}
    exec_item = paths["/api/v1/namespaces/{namespace}/pods/{name}/exec"]
    assert {m: exec_item[m]["operationId"] for m in ("get", "post")} == {
        "get": "connectCoreV1GetNamespacedPodExec", "post": "connectCoreV1PostNamespacedPodExec"}
    assert [p["name"] for p in exec_item["parameters"]] == [
        "command", "container", "name", "namespace", "stderr", "stdin", "stdout", "tty"]
    proxy = paths["/api/v1/nodes/{name}/proxy/{path}"]
    assert sorted(k for k in proxy if k != "parameters") == [
        "delete", "get", "head", "options", "patch", "post", "put"]
    assert proxy["head"]["operationId"] == "connectCoreV1HeadNodeProxyWithPath"
    assert proxy["get"]["x-kubernetes-group-version-kind"]["kind"] == "NodeProxyOptions"


def test_v3_refs_resolve(core_v3: dict[str, Any]) -> None:
    schemas = core_v3["components"]["schemas"]
    for ref in _refs(core_v3):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.removeprefix("#/components/schemas/") in schemas, ref


def test_v3_explain_needs(core_v3: dict[str, Any]) -> None:
    """kubectl explain service.spec.ports walks Service → ServiceSpec → ServicePort."""
    schemas = core_v3["components"]["schemas"]
    service = schemas["io.k8s.api.core.v1.Service"]
    assert service["x-kubernetes-group-version-kind"] == [
        {"group": "", "kind": "Service", "version": "v1"}
    ]
    spec = service["properties"]["spec"]
    assert spec["allOf"] == [{"$ref": "#/components/schemas/io.k8s.api.core.v1.ServiceSpec"}]
    ports = schemas["io.k8s.api.core.v1.ServiceSpec"]["properties"]["ports"]
    assert ports["items"] == {"$ref": f"#/components/schemas/{SERVICE_PORT}"}
    assert ports["x-kubernetes-patch-merge-key"] == "port"
    port = schemas[SERVICE_PORT]
    assert port["description"]
    assert port["type"] == "object"
    assert {"port", "targetPort", "protocol", "nodePort", "name"} <= set(port["properties"])
    assert port["properties"]["port"]["type"] == "integer"
    int_or_string = schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]
    assert int_or_string["format"] == "int-or-string"


def test_v2_service_port_for_explain(v2: dict[str, Any]) -> None:
    port = v2["definitions"][SERVICE_PORT]
    assert port["description"]
    assert port["properties"]["protocol"] == {
        "description": port["properties"]["protocol"]["description"], "type": "string"
    }


def test_non_core_groups_get_their_own_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    slices = ResourceInfo(
        group="discovery.k8s.io",
        version="v1",
        kind="EndpointSlice",
        plural="endpointslices",
        singular="endpointslice",
        namespaced=True,
        schema_ref="io.k8s.api.discovery.v1.EndpointSlice",
        list_kind="EndpointSliceList",
    )
    table = (*RESOURCES, slices)
    monkeypatch.setattr(operations, "RESOURCES", table)
    monkeypatch.setattr(_render, "RESOURCES", table)
    assert {"apis/discovery.k8s.io", "apis/discovery.k8s.io/v1"} <= set(document_keys())
    doc = openapi_v3_group_version("apis/discovery.k8s.io/v1")
    assert doc is not None
    ops = {
        op["operationId"]: op
        for item in doc["paths"].values()
        for method, op in item.items()
        if method != "parameters"
    }
    assert "listDiscoveryV1NamespacedEndpointSlice" in ops
    assert "listDiscoveryV1EndpointSliceForAllNamespaces" in ops
    assert "getDiscoveryV1APIResources" in ops
    patch = ops["patchDiscoveryV1NamespacedEndpointSlice"]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "discovery.k8s.io", "version": "v1", "kind": "EndpointSlice"
    }
    schemas = doc["components"]["schemas"]
    assert schemas["io.k8s.api.discovery.v1.EndpointSlice"]["x-kubernetes-group-version-kind"]
    assert "io.k8s.api.core.v1.Pod" not in schemas
    group_doc = openapi_v3_group_version("apis/discovery.k8s.io")
    assert group_doc is not None
    assert "getDiscoveryAPIGroup" in str(group_doc["paths"])
