"""Server-side apply and ``metadata.managedFields`` against the real apiserver.

Driven with httpx (exact bodies), kubectl (``apply --server-side``, including the
client-side → server-side migration) and the official client (``DynamicClient``
``server_side_apply`` and ``utils.create_from_yaml(..., apply=True)``). Each test uses
its own namespace on the session apiserver.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.apiserver import ApiServerProcess
from tests.support.kubectl import Kubectl

APPLY = "application/apply-patch+yaml"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def http(apiserver: ApiServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=apiserver.url, timeout=10) as client:
        yield client


@pytest.fixture
def ns(http: httpx.Client) -> Iterator[str]:
    name = unique("ssa")
    r = http.post("/api/v1/namespaces",
                  json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    assert r.status_code == 201, r.text
    yield name
    http.delete(f"/api/v1/namespaces/{name}")


def apply(http: httpx.Client, path: str, obj: dict[str, Any], manager: str | None,
          force: bool = False, as_json: bool = False) -> httpx.Response:
    params: dict[str, str] = {}
    if manager is not None:
        params["fieldManager"] = manager
    if force:
        params["force"] = "true"
    body = json.dumps(obj) if as_json else yaml.safe_dump(obj)
    return http.patch(path, params=params, content=body, headers={"Content-Type": APPLY})


def cm(name: str, data: dict[str, str] | None = None, **meta: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": name, **meta}}
    if data is not None:
        obj["data"] = data
    return obj


def fields_of(obj: dict[str, Any], ordered: bool = True
              ) -> dict[tuple[str, str], dict[str, Any]]:
    """managedFields by (manager, operation) → fieldsV1, checking every entry's shape
    (and, for the server's own JSON, upstream's key order)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in obj["metadata"]["managedFields"]:
        keys = [k for k in entry if k != "subresource"]
        expected = ["manager", "operation", "apiVersion", "time", "fieldsType", "fieldsV1"]
        assert keys == (expected if ordered else sorted(expected))
        assert entry["fieldsType"] == "FieldsV1"
        assert entry["time"].endswith("Z")
        out[(entry["manager"], entry["operation"])] = entry["fieldsV1"]
    return out


def test_apply_creates_then_two_managers_own_different_fields(
    http: httpx.Client, ns: str
) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps/shared"
    r = apply(http, path, cm("shared", {"a": "1"}, labels={"app": "x"}), "alice")
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["data"] == {"a": "1"}
    assert created["metadata"]["managedFields"] == [{
        "manager": "alice", "operation": "Apply", "apiVersion": "v1",
        "time": created["metadata"]["managedFields"][0]["time"],
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:data": {"f:a": {}}, "f:metadata": {"f:labels": {"f:app": {}}}},
    }]
    # A second manager applies other fields: both own their own, object has both.
    r = apply(http, path, cm("shared", {"b": "2"}), "bob", as_json=True)
    assert r.status_code == 200, r.text
    obj = r.json()
    assert obj["data"] == {"a": "1", "b": "2"}
    assert fields_of(obj) == {
        ("alice", "Apply"): {"f:data": {"f:a": {}}, "f:metadata": {"f:labels": {"f:app": {}}}},
        ("bob", "Apply"): {"f:data": {"f:b": {}}},
    }
    # Re-applying the same value someone else owns is no conflict: ownership is shared.
    r = apply(http, path, cm("shared", {"a": "1", "b": "2"}), "bob")
    assert r.status_code == 200, r.text
    assert fields_of(r.json())[("bob", "Apply")] == {"f:data": {"f:a": {}, "f:b": {}}}


def test_conflict_force_and_removal(http: httpx.Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps/fight"
    assert apply(http, path, cm("fight", {"a": "1", "keep": "k"}), "alice").status_code == 201
    assert apply(http, path, cm("fight", {"b": "2"}), "bob").status_code == 200
    r = apply(http, path, cm("fight", {"a": "changed", "b": "2"}), "bob")
    assert r.status_code == 409, r.text
    assert r.json() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'Apply failed with 1 conflict: conflict with "alice": .data.a',
        "reason": "Conflict",
        "details": {"causes": [{"reason": "FieldManagerConflict",
                                "message": 'conflict with "alice"', "field": ".data.a"}]},
        "code": 409,
    }
    # force=true takes the field over.
    r = apply(http, path, cm("fight", {"a": "changed", "b": "2"}), "bob", force=True)
    assert r.status_code == 200, r.text
    obj = r.json()
    assert obj["data"] == {"a": "changed", "b": "2", "keep": "k"}
    assert fields_of(obj) == {
        ("alice", "Apply"): {"f:data": {"f:keep": {}}},
        ("bob", "Apply"): {"f:data": {"f:a": {}, "f:b": {}}},
    }
    # alice stops applying "keep" (nobody else owns it): it leaves the object. She
    # still applies "a"=changed; the value is bob's too, so that is shared, no conflict.
    r = apply(http, path, cm("fight", {"a": "changed"}), "alice")
    assert r.status_code == 200, r.text
    obj = r.json()
    assert obj["data"] == {"a": "changed", "b": "2"}
    assert fields_of(obj) == {
        ("alice", "Apply"): {"f:data": {"f:a": {}}},
        ("bob", "Apply"): {"f:data": {"f:a": {}, "f:b": {}}},
    }
    # bob stops applying "a": alice still owns it, so it stays.
    r = apply(http, path, cm("fight", {"b": "2"}), "bob")
    assert r.json()["data"] == {"a": "changed", "b": "2"}


def test_update_managers_and_multi_conflict_message(http: httpx.Client, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    r = http.post(base, params={"fieldManager": "creator"},
                  json=cm("upd", {"x": "1", "y": "2"}))
    assert r.status_code == 201
    assert fields_of(r.json()) == {("creator", "Update"): {"f:data": {".": {}, "f:x": {},
                                                                      "f:y": {}}}}
    # A merge patch by another manager takes the field it changes.
    r = http.patch(f"{base}/upd", content=json.dumps({"data": {"y": "3"}}),
                   headers={"Content-Type": "application/merge-patch+json",
                            "User-Agent": "my-controller/1.0 (linux)"})
    assert r.status_code == 200
    entries = r.json()["metadata"]["managedFields"]
    assert [(e["manager"], e["operation"], e["apiVersion"]) for e in entries] == [
        ("creator", "Update", "v1"), ("my-controller", "Update", "v1")]
    assert entries[1]["fieldsV1"] == {"f:data": {"f:y": {}}}
    assert entries[0]["fieldsV1"] == {"f:data": {".": {}, "f:x": {}}}
    # As JSON: YAML 1.1 (go-yaml v2, as upstream) reads a bare ``y`` key as the boolean true.
    r = apply(http, f"{base}/upd", cm("upd", {"x": "9", "y": "9"}), "applier", as_json=True)
    assert r.status_code == 409
    status = r.json()
    assert status["message"] == (
        'Apply failed with 2 conflicts: conflicts with "creator" using v1:\n- .data.x\n'
        'conflicts with "my-controller" using v1:\n- .data.y'
    )
    assert [c["field"] for c in status["details"]["causes"]] == [".data.x", ".data.y"]
    assert {c["message"] for c in status["details"]["causes"]} == {
        'conflict with "creator" using v1', 'conflict with "my-controller" using v1'}


def test_service_ports_are_an_associative_list(http: httpx.Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/services/web"
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
           "spec": {"selector": {"app": "web"},
                    "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}
    r = apply(http, path, svc, "alice")
    assert r.status_code == 201, r.text
    assert fields_of(r.json())[("alice", "Apply")] == {"f:spec": {
        "f:ports": {'k:{"port":80,"protocol":"TCP"}': {
            ".": {}, "f:name": {}, "f:port": {}, "f:targetPort": {}}},
        "f:selector": {}}}
    other = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
             "spec": {"ports": [{"name": "metrics", "port": 9090, "protocol": "TCP"}]}}
    r = apply(http, path, other, "bob")
    assert r.status_code == 200, r.text
    assert [p["port"] for p in r.json()["spec"]["ports"]] == [80, 9090]
    # alice drops her port: only bob's remains.
    svc["spec"]["ports"] = []
    r = apply(http, path, svc, "alice")
    assert r.status_code == 200, r.text
    assert [p["port"] for p in r.json()["spec"]["ports"]] == [9090]


def test_field_manager_required_and_status_subresource(http: httpx.Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps/nofm"
    r = apply(http, path, cm("nofm", {"a": "1"}), None)
    assert r.status_code == 422
    body = r.json()
    assert body["message"] == ('PatchOptions.meta.k8s.io "" is invalid: fieldManager: '
                               'Required value: is required for apply patch')
    assert body["details"]["causes"] == [{"reason": "FieldValueRequired",
                                          "message": "Required value: is required for apply "
                                                     "patch", "field": "fieldManager"}]
    # A status write is recorded with subresource "status".
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "lb"},
           "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}}
    spath = f"/api/v1/namespaces/{ns}/services/lb"
    assert apply(http, spath, svc, "alice").status_code == 201
    lb_status = {"status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}}
    r = http.patch(f"{spath}/status", params={"fieldManager": "lb-controller"},
                   content=json.dumps(lb_status),
                   headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200, r.text
    status_entries = [e for e in r.json()["metadata"]["managedFields"]
                      if e["manager"] == "lb-controller"]
    assert len(status_entries) == 1
    assert status_entries[0]["subresource"] == "status"
    assert status_entries[0]["fieldsV1"] == {"f:status": {"f:loadBalancer": {"f:ingress": {}}}}


def test_kubectl_server_side_apply_and_migration(kubectl: Kubectl, ns: str) -> None:
    def manifest(data: dict[str, str]) -> str:
        return yaml.safe_dump(cm("mig", data))

    # Client-side apply first, then server-side: kubectl migrates the ownership.
    out = kubectl("-n", ns, "apply", "-f", "-", input=manifest({"a": "1", "b": "2"}),
                  check=True)
    assert out.stdout.strip() == "configmap/mig created"
    out = kubectl("-n", ns, "apply", "--server-side", "-f", "-",
                  input=manifest({"a": "1", "b": "2"}), check=True)
    assert out.stdout.strip() == "configmap/mig serverside-applied"
    # Dropping "b" from the applied config removes it: kubectl owns it now.
    kubectl("-n", ns, "apply", "--server-side", "-f", "-", input=manifest({"a": "1"}),
            check=True)
    obj = json.loads(kubectl("-n", ns, "get", "cm", "mig", "-o", "json",
                             "--show-managed-fields", check=True).stdout)
    assert obj["data"] == {"a": "1"}
    fields = fields_of(obj, ordered=False)
    assert fields[("kubectl", "Apply")] == {"f:data": {"f:a": {}}}
    # Another server-side applier conflicts; kubectl prints the server's message.
    other = kubectl("-n", ns, "apply", "--server-side", "--field-manager", "other",
                    "-f", "-", input=manifest({"a": "2"}))
    assert other.returncode != 0
    assert 'conflict with "kubectl"' in other.stderr and ".data.a" in other.stderr
    kubectl("-n", ns, "apply", "--server-side", "--field-manager", "other",
            "--force-conflicts", "-f", "-", input=manifest({"a": "2"}), check=True)
    obj = json.loads(kubectl("-n", ns, "get", "cm", "mig", "-o", "json",
                             "--show-managed-fields", check=True).stdout)
    assert obj["data"] == {"a": "2"}
    assert fields_of(obj, ordered=False)[("other", "Apply")] == {"f:data": {"f:a": {}}}


def test_python_client_apply(apiserver: ApiServerProcess, ns: str) -> None:
    kubernetes = pytest.importorskip("kubernetes")
    from kubernetes import client, config, dynamic, utils

    api_client = config.new_client_from_config(config_file=str(apiserver.kubeconfig))
    with api_client:
        dyn = dynamic.DynamicClient(api_client)
        cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
        created = cms.server_side_apply(body=cm("dyn", {"a": "1"}), namespace=ns,
                                        field_manager="py-dyn")
        assert created.data.a == "1"
        entries = created.metadata.managedFields
        assert [(e.manager, e.operation) for e in entries] == [("py-dyn", "Apply")]
        with pytest.raises(kubernetes.dynamic.exceptions.ConflictError) as caught:
            cms.server_side_apply(body=cm("dyn", {"a": "2"}), namespace=ns,
                                  field_manager="py-other")
        assert "Apply failed with 1 conflict" in str(caught.value.body)
        forced = cms.server_side_apply(body=cm("dyn", {"a": "2"}), namespace=ns,
                                       field_manager="py-other", force_conflicts=True)
        assert forced.data.a == "2"
        utils.create_from_yaml(api_client, yaml_objects=[cm("fromyaml", {"k": "v"})],
                               namespace=ns, apply=True)
        got = client.CoreV1Api(api_client).read_namespaced_config_map("fromyaml", ns)
        assert got.data == {"k": "v"}
        assert got.metadata.managed_fields[0].operation == "Apply"


@pytest.mark.parametrize("which", ["kubectl", "kubectl_announced"])
def test_kubectl_moves_from_client_side_apply_without_conflicts(
    request: pytest.FixtureRequest, which: str, ns: str, tmp_path: Path
) -> None:
    run: Kubectl = request.getfixturevalue(which)
    path = tmp_path / "cm.yaml"

    def write(data: dict[str, str]) -> None:
        path.write_text(yaml.safe_dump(cm("csa", data)))

    write({"a": "1", "b": "2"})
    run("-n", ns, "apply", "-f", str(path), check=True)
    # A changed value: client-side apply owned it, so no conflict and no --force-conflicts.
    write({"a": "changed", "b": "2"})
    diff = run("-n", ns, "diff", "--server-side", "-f", str(path))
    assert diff.returncode == 1, diff.stderr
    assert "changed" in diff.stdout
    out = run("-n", ns, "apply", "--server-side", "-f", str(path), check=True)
    assert out.stdout.strip() == "configmap/csa serverside-applied"
    diff = run("-n", ns, "diff", "--server-side", "-f", str(path))
    assert (diff.returncode, diff.stdout) == (0, ""), diff.stderr
    obj = json.loads(run("-n", ns, "get", "cm", "csa", "-o", "json", check=True).stdout)
    assert obj["data"] == {"a": "changed", "b": "2"}
    # The server keeps the client-side annotation current for a later client-side apply.
    last = json.loads(obj["metadata"]["annotations"][
        "kubectl.kubernetes.io/last-applied-configuration"])
    assert last["data"] == {"a": "changed", "b": "2"}
    write({"a": "changed"})
    run("-n", ns, "apply", "--server-side", "-f", str(path), check=True)
    obj = json.loads(run("-n", ns, "get", "cm", "csa", "-o", "json", check=True).stdout)
    assert obj["data"] == {"a": "changed"}
