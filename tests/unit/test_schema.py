"""Unit tests for apiserver.schema: loading, navigation, patch meta, strict fields."""

from __future__ import annotations

import pytest

from apiserver.schema import (
    KUBERNETES_SCHEMA_VERSION,
    FieldIssue,
    definition,
    definitions,
    find_duplicate_fields,
    navigate,
    patch_meta,
    root_node,
    strict_decoding_error_message,
    strict_field_issues,
    strict_field_messages,
    unknown_field_messages,
    unknown_fields,
)

POD = "io.k8s.api.core.v1.Pod"
SERVICE = "io.k8s.api.core.v1.Service"


def test_version_and_definitions_are_cached() -> None:
    assert KUBERNETES_SCHEMA_VERSION == "v1.33.0"
    assert definitions() is definitions()
    assert "io.k8s.api.core.v1.ServiceSpec" in definitions()


def test_definition_accepts_names_and_refs() -> None:
    by_name = definition("io.k8s.api.core.v1.Pod")
    assert definition("#/$defs/io.k8s.api.core.v1.Pod") is by_name
    assert {"group": "", "kind": "Pod", "version": "v1"} in by_name[
        "x-kubernetes-group-version-kind"
    ]


def test_unknown_definition_raises_key_error() -> None:
    with pytest.raises(KeyError):
        definition("io.k8s.api.core.v1.NoSuchThing")
    with pytest.raises(KeyError):
        root_node("io.k8s.api.core.v1.NoSuchThing")


def test_navigate_resolves_refs_lists_and_maps() -> None:
    spec = navigate(SERVICE, ["spec"])
    assert spec is not None and spec.kind == "object"
    assert spec.name == "io.k8s.api.core.v1.ServiceSpec"
    ports = navigate(SERVICE, ["spec", "ports"])
    assert ports is not None and ports.kind == "array"
    port = navigate(SERVICE, ["spec", "ports", 0, "port"])
    assert port is not None and port.kind == "scalar"
    # Lists may be passed through without an index.
    assert navigate(SERVICE, ["spec", "ports", "port"]) is not None
    labels = navigate(SERVICE, ["metadata", "labels"])
    assert labels is not None and labels.kind == "map"
    value = navigate(SERVICE, ["metadata", "labels", "any-key"])
    assert value is not None and value.kind == "scalar"
    assert navigate(SERVICE, ["spec", "nope"]) is None
    assert navigate(SERVICE, ["spec", "nope", "deeper"]) is None


@pytest.mark.parametrize(
    ("root", "path", "kind"),
    [
        (SERVICE, ["spec", "ports", "targetPort"], "scalar"),  # IntOrString
        (POD, ["spec", "containers", "resources", "limits", "cpu"], "scalar"),  # Quantity
        (POD, ["metadata", "creationTimestamp"], "scalar"),  # Time
        ("io.k8s.api.apps.v1.ControllerRevision", ["data"], "any"),  # RawExtension
        (POD, ["metadata", "managedFields", "fieldsV1"], "any"),  # FieldsV1
        (
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps",
            ["default"],
            "any",
        ),  # JSON
    ],
)
def test_special_types(root: str, path: list[str | int], kind: str) -> None:
    node = navigate(root, path)
    assert node is not None
    assert node.kind == kind


def test_any_node_accepts_every_child() -> None:
    node = navigate(POD, ["metadata", "managedFields", "fieldsV1", "f:spec", 3])
    assert node is not None and node.kind == "any"


def test_patch_meta_service_ports_merge_by_port() -> None:
    meta = patch_meta(SERVICE, ["spec", "ports"])
    assert meta.merge_key == "port"
    assert meta.strategies == {"merge"}
    assert meta.is_list and meta.merges_lists
    assert meta.list_type == "map"
    assert meta.list_map_keys == ("port", "protocol")


def test_patch_meta_containers_env_and_finalizers() -> None:
    assert patch_meta(POD, ["spec", "containers"]).merge_key == "name"
    env = patch_meta(POD, ["spec", "containers", "env"])
    assert env.merge_key == "name" and env.merges_lists
    finalizers = patch_meta(POD, ["metadata", "finalizers"])
    assert finalizers.merge_key is None and finalizers.merges_lists
    assert finalizers.list_type == "set"


def test_patch_meta_retain_keys_replace_and_plain() -> None:
    volumes = patch_meta(POD, ["spec", "volumes"])
    assert volumes.strategies == {"merge", "retainKeys"}
    strategy = patch_meta("io.k8s.api.apps.v1.Deployment", ["spec", "strategy"])
    assert strategy.strategies == {"retainKeys"} and strategy.is_map
    selector = patch_meta("io.k8s.api.policy.v1.PodDisruptionBudget", ["spec", "selector"])
    assert selector.replaces
    ips = patch_meta(SERVICE, ["spec", "externalIPs"])
    assert ips.is_list and not ips.merges_lists and ips.list_type == "atomic"
    unknown = patch_meta(SERVICE, ["spec", "nope"])
    assert unknown.merge_key is None and not unknown.strategies and not unknown.is_list


def test_unknown_fields_paths_in_document_order() -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s", "labels": {"anything": "ok"}, "bogus": 1},
        "spec": {
            "foo": 1,
            "ports": [{"port": 80}, {"port": 81, "bar": {"x": 1}}],
            "selector": {"free": "keys"},
        },
        "extra": True,
    }
    assert unknown_fields(SERVICE, obj) == [
        "metadata.bogus",
        "spec.foo",
        "spec.ports[1].bar",
        "extra",
    ]
    assert unknown_field_messages(SERVICE, {"spec": {"foo": 1}}) == ['unknown field "spec.foo"']


def test_unknown_fields_root_meta_fields_always_known() -> None:
    obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {}}
    assert unknown_fields(POD, obj) == []
    # Elsewhere kind/apiVersion are ordinary (unknown) names.
    assert unknown_fields(POD, {"spec": {"kind": "x"}}) == ["spec.kind"]


def test_unknown_fields_skip_free_form_values() -> None:
    revision = {"data": {"whatever": {"deep": [1, {"x": 2}]}}, "revision": 1}
    assert unknown_fields("io.k8s.api.apps.v1.ControllerRevision", revision) == []
    pod = {"metadata": {"managedFields": [{"fieldsV1": {"f:spec": {}}, "nope": 1}]}}
    assert unknown_fields(POD, pod) == ["metadata.managedFields[0].nope"]


def test_unknown_fields_nested_containers() -> None:
    pod = {
        "spec": {
            "containers": [
                {"name": "a", "image": "x", "env": [{"name": "E", "valueFrom": {"zzz": 1}}]}
            ]
        }
    }
    assert unknown_fields(POD, pod) == ["spec.containers[0].env[0].valueFrom.zzz"]


def test_find_duplicate_fields() -> None:
    raw = b'{"metadata":{"name":"a","name":"b","labels":{"x":"1","x":"2"}},"spec":{"ports":[{"port":1},{"port":1,"port":2}]}}'  # noqa: E501
    assert find_duplicate_fields(raw) == [
        "metadata.name",
        "metadata.labels.x",
        "spec.ports[1].port",
    ]
    assert find_duplicate_fields('{"a":1,"b":[{"c":1}]}') == []
    with pytest.raises(ValueError):
        find_duplicate_fields(b"{not json")


def test_strict_field_messages_combine_duplicates_and_unknown() -> None:
    raw = b'{"kind":"Service","kind":"Service","spec":{"foo":1,"ports":[{"port":1,"bar":2}]}}'
    issues = strict_field_issues(SERVICE, raw)
    assert issues == [
        FieldIssue("duplicate", "kind"),
        FieldIssue("unknown", "spec.foo"),
        FieldIssue("unknown", "spec.ports[0].bar"),
    ]
    messages = strict_field_messages(SERVICE, raw)
    assert messages == [
        'duplicate field "kind"',
        'unknown field "spec.foo"',
        'unknown field "spec.ports[0].bar"',
    ]
    assert strict_decoding_error_message(messages[1:]) == (
        'strict decoding error: unknown field "spec.foo", unknown field "spec.ports[0].bar"'
    )
