"""Custom resources against their schema: pruning, defaults, validation, CEL rules."""

from __future__ import annotations

import copy
from typing import Any

from apiserver.registry.crd.cel_rules import compile_error, rule_causes
from apiserver.registry.crd.definition import definition_name, definition_schema, version_priority
from apiserver.registry.crd.structural import apply_defaults, prune, validate

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["size"],
            "x-kubernetes-validations": [
                {"rule": "self.minReplicas <= self.replicas",
                 "message": "replicas must be at least minReplicas"},
                {"rule": "self.name.lowerAscii() == self.name", "fieldPath": ".name",
                 "reason": "FieldValueForbidden", "message": "must be lower case"},
            ],
            "properties": {
                "size": {"type": "string", "enum": ["S", "M", "L"]},
                "name": {"type": "string", "maxLength": 5, "default": "web"},
                "replicas": {"type": "integer", "default": 1,
                             "x-kubernetes-validations": [
                                 {"rule": "self >= oldSelf",
                                  "messageExpression": "'cannot shrink from ' + "
                                                       "string(oldSelf)"}]},
                "minReplicas": {"type": "integer", "default": 0},
                "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "closed": {"type": "object"},
            },
        },
    },
}


def crd(*versions: str) -> dict[str, Any]:
    return {"spec": {"group": "stable.example.com", "scope": "Namespaced",
                     "names": {"plural": "things", "kind": "Thing"},
                     "versions": [{"name": v, "served": True, "storage": i == 0,
                                   "schema": {"openAPIV3Schema": SCHEMA}}
                                  for i, v in enumerate(versions)]}}


def test_definition_names_and_version_order() -> None:
    assert definition_name("stable.example.com", "v1", "CronTab") == "com.example.stable.v1.CronTab"
    ordered = sorted(["v1alpha1", "v1", "v2beta1", "v2", "v1beta2", "foo"], key=version_priority)
    assert ordered == ["v2", "v1", "v2beta1", "v1beta2", "v1alpha1", "foo"]


def test_pruning_keeps_what_the_schema_names() -> None:
    schema = definition_schema(crd("v1"), crd("v1")["spec"]["versions"][0])
    obj = {"apiVersion": "stable.example.com/v1", "kind": "Thing",
           "metadata": {"name": "a", "labels": {"x": "y"}}, "extra": 1,
           "spec": {"size": "S", "bogus": True, "labels": {"any": "v"},
                    "free": {"deep": {"x": 1}}, "closed": {"gone": 1}}}
    prune(obj, schema)
    assert obj == {"apiVersion": "stable.example.com/v1", "kind": "Thing",
                   "metadata": {"name": "a", "labels": {"x": "y"}},
                   "spec": {"size": "S", "labels": {"any": "v"}, "free": {"deep": {"x": 1}},
                            "closed": {}}}


def test_defaults_fill_absent_properties() -> None:
    obj: dict[str, Any] = {"spec": {"size": "M"}}
    apply_defaults(obj, SCHEMA)
    assert obj["spec"] == {"size": "M", "name": "web", "replicas": 1, "minReplicas": 0}


def test_validation_messages_are_upstreams() -> None:
    obj = {"spec": {"size": "XL", "name": "toolong", "replicas": "3", "tags": ["a", "b", "c"]}}
    fields = {c["field"]: (c["reason"], c["message"]) for c in validate(obj, SCHEMA)}
    assert fields["spec.size"] == ("FieldValueNotSupported",
                                   'Unsupported value: "XL": supported values: "S", "M", "L"')
    assert fields["spec.name"] == ("FieldValueTooLong", "Too long: may not be more than 5 bytes")
    assert fields["spec.replicas"] == (
        "FieldValueInvalid",
        'Invalid value: "string": spec.replicas in body must be of type integer: "string"')
    assert fields["spec.tags"] == ("FieldValueTooMany", "Too many: 3: must have at most 2 items")
    missing = validate({"spec": {}}, SCHEMA)
    assert missing == [{"reason": "FieldValueRequired", "message": "Required value",
                        "field": "spec.size"}]


def test_cel_rules_with_messages_reasons_and_field_paths() -> None:
    obj = {"spec": {"size": "S", "name": "Web", "replicas": 1, "minReplicas": 2}}
    causes = rule_causes(obj, None, SCHEMA)
    assert causes == [
        {"reason": "FieldValueInvalid", "field": "spec",
         "message": 'Invalid value: "object": replicas must be at least minReplicas'},
        {"reason": "FieldValueForbidden", "field": "spec.name",
         "message": "Forbidden: must be lower case"},
    ]
    good = {"spec": {"size": "S", "name": "web", "replicas": 2, "minReplicas": 1}}
    assert rule_causes(good, None, SCHEMA) == []


def test_transition_rules_run_only_on_updates() -> None:
    old = {"spec": {"size": "S", "name": "web", "replicas": 3, "minReplicas": 1}}
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 2
    assert rule_causes(new, None, SCHEMA) == []
    assert rule_causes(new, old, SCHEMA) == [
        {"reason": "FieldValueInvalid", "field": "spec.replicas",
         "message": "Invalid value: 2: cannot shrink from 3"}]


def test_a_rule_that_does_not_compile_is_reported() -> None:
    assert compile_error("self.x >") is not None
    assert compile_error("self.x > 1") is None
