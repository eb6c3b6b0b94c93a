"""A CRD's schema checks beyond structure: multipleOf, pattern, defaults, uniqueItems,
nullable root, preserve-unknown-fields false, properties with additionalProperties."""

from __future__ import annotations

from typing import Any

from apiserver.registry.crd.schema_checks import go_value, schema_causes

ROOT = "spec.versions[0].schema.openAPIV3Schema"


def _messages(schema: dict[str, Any]) -> list[str]:
    return [f"{c['field']}: {c['message']}" for c in schema_causes(schema, ROOT)]


def _spec(**props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": {"spec": {"type": "object", "properties": props}}}


def test_multiple_of_must_be_positive_and_patterns_must_compile() -> None:
    got = _messages(_spec(n={"type": "integer", "multipleOf": 0},
                          s={"type": "string", "pattern": "("}))
    assert got[0] == f"{ROOT}.properties[spec].properties[n].multipleOf: Invalid value: 0: " \
                     "must be positive"
    assert got[1].startswith(f'{ROOT}.properties[spec].properties[s].pattern: Invalid value: '
                             '"(": must be a valid regular expression, but isn\'t: ')
    assert len(got) == 2


def test_defaults_must_validate_and_be_pruned() -> None:
    got = _messages(_spec(
        replicas={"type": "integer", "minimum": 1, "default": 0},
        name={"type": "string", "default": 5},
        nested={"type": "object", "properties": {"a": {"type": "string"}},
                "default": {"a": "x", "b": 1}},
        fine={"type": "object", "properties": {"a": {"type": "string"}}, "default": {"a": "y"}}))
    where = f"{ROOT}.properties[spec].properties"
    assert got == [
        f'{where}[replicas].default: Invalid value: 0: {where}[replicas].default in body '
        "should be greater than or equal to 1",
        f'{where}[name].default: Invalid value: "integer": {where}[name].default in body must '
        'be of type string: "integer"',
        f'{where}[nested].default: Invalid value: map[string]interface {{}}{{"a":"x", "b":1}}: '
        "must not have unknown fields",
    ]


def test_forbidden_schema_features() -> None:
    got = _messages({"type": "object", "nullable": True, "properties": {
        "l": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        "p": {"type": "object", "x-kubernetes-preserve-unknown-fields": False},
        "m": {"type": "object", "properties": {"a": {"type": "string"}},
              "additionalProperties": {"type": "string"}}}})
    assert got == [
        f"{ROOT}.nullable: Forbidden: nullable cannot be true at the root",
        f"{ROOT}.properties[l].uniqueItems: Forbidden: uniqueItems cannot be set to true since "
        "the runtime complexity becomes quadratic",
        f"{ROOT}.properties[p].x-kubernetes-preserve-unknown-fields: Invalid value: false: "
        "must be true or undefined",
        f"{ROOT}.properties[m].additionalProperties: Forbidden: additionalProperties and "
        "properties are mutual exclusive",
    ]


def test_go_value() -> None:
    assert go_value({"a": [1, "b"], "c": None}) == \
        'map[string]interface {}{"a":[]interface {}{1, "b"}, "c":<nil>}'


def test_rules_estimated_over_the_cost_limit_are_not_evaluated() -> None:
    from apiserver.registry.crd.cel_rules import rule_causes

    rule = "self.items.all(a, self.items.all(b, a != b || true))"
    schema = {"type": "object", "properties": {"spec": {
        "type": "object", "x-kubernetes-validations": [{"rule": rule}],
        "properties": {"items": {"type": "array", "items": {"type": "integer"}}}}}}
    assert rule_causes({"spec": {"items": list(range(10))}}, None, schema) == []
    (cause,) = rule_causes({"spec": {"items": list(range(1001))}}, None, schema)
    assert cause == {"reason": "FieldValueInvalid", "field": "spec",
                     "message": f'Invalid value: "object": call cost exceeds limit for rule: '
                                f"{rule}"}
