"""Unit tests for strategic merge patch (apiserver.patch.apply_strategic_merge_patch)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from apiserver.patch import PatchError, apply_strategic_merge_patch

POD = "io.k8s.api.core.v1.Pod"
SERVICE = "io.k8s.api.core.v1.Service"
DEPLOYMENT = "io.k8s.api.apps.v1.Deployment"
PDB = "io.k8s.api.policy.v1.PodDisruptionBudget"


def service(*ports: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "svc", "labels": {"app": "a"}},
        "spec": {"type": "ClusterIP", "selector": {"app": "a"}, "ports": list(ports)},
    }


def pod(*containers: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "p"}, "spec": {"containers": list(containers)}}


def smp(doc: dict[str, Any], patch: Any, root: str) -> dict[str, Any]:
    before = copy.deepcopy(doc)
    patch_before = copy.deepcopy(patch)
    result = apply_strategic_merge_patch(doc, patch, root)
    assert doc == before, "input document was mutated"
    assert patch == patch_before, "patch was mutated"
    return result


def test_service_ports_merge_by_port_like_python_client_e2e() -> None:
    doc = service({"name": "http", "port": 80, "targetPort": 80, "protocol": "TCP"})
    patch = {"spec": {"ports": [{"name": "new", "port": 8080, "targetPort": 8080}]}}
    ports = smp(doc, patch, SERVICE)["spec"]["ports"]
    assert ports == [
        {"name": "http", "port": 80, "targetPort": 80, "protocol": "TCP"},
        {"name": "new", "port": 8080, "targetPort": 8080},
    ]


def test_service_port_update_in_place() -> None:
    doc = service({"port": 80, "targetPort": 80}, {"port": 443, "targetPort": 443})
    patch = {"spec": {"ports": [{"port": 443, "targetPort": 8443}]}}
    assert smp(doc, patch, SERVICE)["spec"]["ports"] == [
        {"port": 80, "targetPort": 80},
        {"port": 443, "targetPort": 8443},
    ]


def test_kubectl_edit_patch_delete_and_set_element_order() -> None:
    doc = service({"port": 80, "targetPort": 80, "protocol": "TCP"})
    patch = json.loads(
        '{"spec":{"$setElementOrder/ports":[{"port":81}],'
        '"ports":[{"port":81,"targetPort":81},{"$patch":"delete","port":80}]}}'
    )
    result = smp(doc, patch, SERVICE)
    assert result["spec"]["ports"] == [{"port": 81, "targetPort": 81}]
    assert result["spec"]["selector"] == {"app": "a"}


def test_set_element_order_reorders_merged_list() -> None:
    doc = service({"port": 1}, {"port": 2}, {"port": 3})
    patch = {"spec": {"$setElementOrder/ports": [{"port": 3}, {"port": 2}, {"port": 1}]}}
    assert [p["port"] for p in smp(doc, patch, SERVICE)["spec"]["ports"]] == [3, 2, 1]
    # New items go where the order says; server-only items keep their place.
    patch = {
        "spec": {
            "$setElementOrder/ports": [{"port": 4}, {"port": 1}],
            "ports": [{"port": 4}],
        }
    }
    assert [p["port"] for p in smp(doc, patch, SERVICE)["spec"]["ports"]] == [2, 3, 4, 1]


def test_set_element_order_must_be_a_list() -> None:
    doc = service({"port": 1})
    with pytest.raises(PatchError) as info:
        smp(doc, {"spec": {"$setElementOrder/ports": "x", "ports": [{"port": 2}]}}, SERVICE)
    assert info.value.code == 400
    assert info.value.message == "invalid patch format of setElementOrder list"


def test_client_side_apply_patch_with_last_applied_annotation() -> None:
    doc = service({"port": 80, "protocol": "TCP", "targetPort": 80})
    doc["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": "{}"}
    applied = '{"apiVersion":"v1","kind":"Service","spec":{"ports":[{"port":80}]}}\n'
    patch = {
        "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": applied}},
        "spec": {
            "$setElementOrder/ports": [{"port": 80}],
            "ports": [{"port": 80, "targetPort": 9090}],
        },
    }
    result = smp(doc, patch, SERVICE)
    assert result["metadata"]["annotations"] == {
        "kubectl.kubernetes.io/last-applied-configuration": applied
    }
    assert result["spec"]["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 9090}]


def test_pod_containers_merge_by_name_and_env_by_name() -> None:
    doc = pod(
        {
            "name": "app",
            "image": "app:1",
            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
        },
        {"name": "sidecar", "image": "side:1"},
    )
    patch = {
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "app:2",
                    "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}],
                },
                {"name": "new", "image": "new:1"},
            ]
        }
    }
    containers = smp(doc, patch, POD)["spec"]["containers"]
    assert containers == [
        {
            "name": "app",
            "image": "app:2",
            "env": [
                {"name": "A", "value": "1"},
                {"name": "B", "value": "20"},
                {"name": "C", "value": "3"},
            ],
        },
        {"name": "sidecar", "image": "side:1"},
        {"name": "new", "image": "new:1"},
    ]


def test_env_element_delete_and_null_field() -> None:
    doc = pod({"name": "app", "image": "i", "env": [{"name": "A", "value": "1"}]})
    patch = {
        "spec": {
            "containers": [
                {"name": "app", "image": None, "env": [{"$patch": "delete", "name": "A"}]}
            ]
        }
    }
    assert smp(doc, patch, POD)["spec"]["containers"] == [{"name": "app", "env": []}]


def test_list_element_replace_directive_replaces_whole_list() -> None:
    doc = service({"port": 80}, {"port": 81})
    patch = {"spec": {"ports": [{"port": 9000, "name": "only"}, {"$patch": "replace"}]}}
    assert smp(doc, patch, SERVICE)["spec"]["ports"] == [{"port": 9000, "name": "only"}]


def test_delete_element_needs_merge_key() -> None:
    doc = service({"port": 80})
    with pytest.raises(PatchError) as info:
        smp(doc, {"spec": {"ports": [{"$patch": "delete", "name": "x"}]}}, SERVICE)
    assert info.value.code == 400
    assert "does not contain declared merge key: port" in info.value.message
    with pytest.raises(PatchError):
        smp(doc, {"spec": {"ports": [{"name": "no-port"}]}}, SERVICE)


def test_unknown_and_merge_directives_in_lists_and_maps() -> None:
    doc = service({"port": 80})
    with pytest.raises(PatchError) as info:
        smp(doc, {"spec": {"ports": [{"$patch": "bogus", "port": 80}]}}, SERVICE)
    assert info.value.code == 400
    assert info.value.message.startswith("unknown patch type: bogus in map: map[")
    with pytest.raises(PatchError) as info:
        smp(doc, {"spec": {"$patch": "bogus"}}, SERVICE)
    assert info.value.code == 400
    with pytest.raises(PatchError) as info:
        smp(doc, {"spec": {"ports": [{"$patch": "merge", "port": 80}]}}, SERVICE)
    assert info.value.message == "merging lists cannot yet be specified in the patch"
    # "$patch: merge" on a map is the default behaviour.
    merged = smp(doc, {"spec": {"$patch": "merge", "type": "NodePort"}}, SERVICE)
    assert merged["spec"]["type"] == "NodePort" and merged["spec"]["selector"] == {"app": "a"}


def test_map_replace_and_delete_directives() -> None:
    doc = service({"port": 80})
    replaced = smp(doc, {"spec": {"selector": {"$patch": "replace", "x": "y"}}}, SERVICE)
    assert replaced["spec"]["selector"] == {"x": "y"}
    deleted = smp(doc, {"metadata": {"labels": {"$patch": "delete"}}}, SERVICE)
    assert deleted["metadata"]["labels"] == {}
    whole = smp(doc, {"spec": {"$patch": "replace", "ports": [{"port": 1}]}}, SERVICE)
    assert whole["spec"] == {"ports": [{"port": 1}]}


def test_maps_merge_and_null_deletes() -> None:
    doc = service({"port": 80})
    patch = {"metadata": {"labels": {"app": None, "tier": "web"}}, "spec": {"selector": None}}
    result = smp(doc, patch, SERVICE)
    assert result["metadata"]["labels"] == {"tier": "web"}
    assert "selector" not in result["spec"]
    assert smp(doc, {"spec": {"sessionAffinity": None}}, SERVICE)["spec"] == doc["spec"]


def test_new_values_are_stripped_of_nulls_and_directives() -> None:
    doc: dict[str, Any] = {"metadata": {"name": "p"}}
    patch = {
        "spec": {
            "nodeSelector": {"a": "b", "c": None},
            "containers": [
                {"name": "x", "image": None, "env": [{"$patch": "delete", "name": "Z"}]}
            ],
        }
    }
    assert smp(doc, patch, POD)["spec"] == {
        "nodeSelector": {"a": "b"},
        "containers": [{"name": "x", "env": []}],
    }


def test_primitive_list_with_merge_strategy_unions() -> None:
    doc = {"metadata": {"name": "p", "finalizers": ["a", "b"]}}
    result = smp(doc, {"metadata": {"finalizers": ["b", "c", "c"]}}, POD)
    assert result["metadata"]["finalizers"] == ["a", "b", "c"]
    # An empty list leaves a merging list untouched; null removes it.
    assert smp(doc, {"metadata": {"finalizers": []}}, POD) == doc
    assert "finalizers" not in smp(doc, {"metadata": {"finalizers": None}}, POD)["metadata"]


def test_delete_from_primitive_list_and_order() -> None:
    doc = {"metadata": {"name": "p", "finalizers": ["a", "b", "c"]}}
    patch = {
        "metadata": {
            "$deleteFromPrimitiveList/finalizers": ["b"],
            "$setElementOrder/finalizers": ["c", "d", "a"],
            "finalizers": ["d"],
        }
    }
    assert smp(doc, patch, POD)["metadata"]["finalizers"] == ["c", "d", "a"]
    with pytest.raises(PatchError) as info:
        smp(doc, {"metadata": {"$deleteFromPrimitiveList/finalizers": "b"}}, POD)
    assert info.value.code == 400


def test_non_merge_lists_replace() -> None:
    doc = service({"port": 80})
    doc["spec"]["externalIPs"] = ["1.1.1.1", "2.2.2.2"]
    result = smp(doc, {"spec": {"externalIPs": ["3.3.3.3"]}}, SERVICE)
    assert result["spec"]["externalIPs"] == ["3.3.3.3"]
    containers = pod({"name": "a", "image": "i", "args": ["x", "y"]})
    patch = {"spec": {"containers": [{"name": "a", "args": ["z"]}]}}
    assert smp(containers, patch, POD)["spec"]["containers"][0]["args"] == ["z"]


def test_retain_keys_directive() -> None:
    doc = {
        "spec": {
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            }
        }
    }
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    assert smp(doc, patch, DEPLOYMENT)["spec"]["strategy"] == {"type": "Recreate"}
    with pytest.raises(PatchError) as info:
        smp(doc, {"spec": {"strategy": {"$retainKeys": ["type"], "other": 1}}}, DEPLOYMENT)
    assert info.value.code == 422
    with pytest.raises(PatchError) as info:
        smp(doc, {"spec": {"strategy": {"$retainKeys": "type"}}}, DEPLOYMENT)
    assert info.value.code == 400


def test_retain_keys_in_volumes_list_elements() -> None:
    doc = {
        "spec": {
            "containers": [],
            "volumes": [{"name": "v", "emptyDir": {}}, {"name": "w", "emptyDir": {}}],
        }
    }
    patch = {
        "spec": {
            "volumes": [
                {"name": "v", "$retainKeys": ["name", "hostPath"], "hostPath": {"path": "/x"}}
            ]
        }
    }
    assert smp(doc, patch, POD)["spec"]["volumes"] == [
        {"name": "v", "hostPath": {"path": "/x"}},
        {"name": "w", "emptyDir": {}},
    ]


def test_replace_strategy_map() -> None:
    doc = {"spec": {"selector": {"matchLabels": {"a": "1"}, "matchExpressions": []}}}
    patch = {"spec": {"selector": {"matchLabels": {"b": "2"}}}}
    assert smp(doc, patch, PDB)["spec"]["selector"] == {"matchLabels": {"b": "2"}}


def test_free_form_fields_merge_maps_and_replace_lists() -> None:
    doc = {"data": {"a": {"x": 1}, "l": [1, 2]}, "revision": 1}
    patch = {"data": {"a": {"y": 2}, "l": [3]}}
    result = smp(doc, patch, "io.k8s.api.apps.v1.ControllerRevision")
    assert result["data"] == {"a": {"x": 1, "y": 2}, "l": [3]}


def test_list_of_lists_is_422() -> None:
    doc = {"metadata": {"finalizers": ["a"]}}
    with pytest.raises(PatchError) as info:
        smp(doc, {"metadata": {"finalizers": [["x"]]}}, POD)
    assert info.value.code == 422


def test_bad_bodies_and_unknown_root() -> None:
    doc = service({"port": 80})
    assert smp(doc, b'{"spec":{"type":"NodePort"}}', SERVICE)["spec"]["type"] == "NodePort"
    with pytest.raises(PatchError) as info:
        apply_strategic_merge_patch(doc, b"{bad", SERVICE)
    assert info.value.code == 400
    with pytest.raises(PatchError) as info:
        apply_strategic_merge_patch(doc, b"[]", SERVICE)
    assert info.value.code == 400
    with pytest.raises(KeyError):
        apply_strategic_merge_patch(doc, {}, "io.k8s.api.core.v1.Nope")


def test_type_change_replaces_value() -> None:
    doc = {"metadata": {"labels": "not-a-map"}}
    assert smp(doc, {"metadata": {"labels": {"a": "b"}}}, POD)["metadata"]["labels"] == {"a": "b"}


def test_result_does_not_alias_patch_values() -> None:
    patch: dict[str, Any] = {"spec": {"ports": [{"port": 1}], "externalIPs": ["x"]}}
    result = apply_strategic_merge_patch(service(), patch, SERVICE)
    result["spec"]["ports"][0]["port"] = 2
    result["spec"]["externalIPs"].append("y")
    assert patch == {"spec": {"ports": [{"port": 1}], "externalIPs": ["x"]}}
