"""The checks of a CRD's ``openAPIV3Schema`` upstream makes besides structure and CEL.

As apiextensions-apiserver's ``ValidateCustomResourceDefinitionOpenAPISchema`` and
``ValidateDefaults`` word them, each node at its path
(``spec.versions[i].schema.openAPIV3Schema.properties[x]…``):

* ``nullable`` at the root: ``Forbidden: nullable cannot be true at the root``;
* ``uniqueItems: true``: ``Forbidden: uniqueItems cannot be set to true since the runtime
  complexity becomes quadratic``;
* ``x-kubernetes-preserve-unknown-fields: false``: ``Invalid value: false: must be true
  or undefined``;
* ``properties`` with an ``additionalProperties`` schema: ``Forbidden: additionalProperties
  and properties are mutual exclusive``;
* ``multipleOf`` zero or negative: ``Invalid value: 0: must be positive``;
* a ``pattern`` that is not a regular expression: ``Invalid value: "(": must be a valid
  regular expression, but isn't: <why>`` (Python's ``re`` words the reason);
* a ``default`` with fields the schema would prune: ``Invalid value: <value>: must not
  have unknown fields``; one that does not validate against its own schema: the schema's
  field errors under ``<path>.default``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from apiserver.api import errors
from apiserver.registry.crd.structural import prune, validate

Cause = dict[str, str]
_MAX_DEPTH = 1000


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


_GO_SCALARS = {True: "true", False: "false", None: "<nil>"}


def go_value(value: Any) -> str:
    """``value`` as Go's ``%#v`` prints a decoded JSON value (``field.Invalid``)."""
    if isinstance(value, Mapping):
        inner = ", ".join(f'"{k}":{go_value(v)}' for k, v in value.items())
        return f"map[string]interface {{}}{{{inner}}}"
    if isinstance(value, list):
        return "[]interface {}{" + ", ".join(go_value(v) for v in value) + "}"
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    return _GO_SCALARS.get(value, str(value)) if isinstance(value, bool) or value is None \
        else str(value)


def _invalid(path: str, value: Any, detail: str) -> Cause:
    return errors.field_cause("FieldValueInvalid", path, f"Invalid value: {go_value(value)}: "
                                                         f"{detail}")


def _default_causes(node: Mapping[str, Any], where: str) -> list[Cause]:
    default = node["default"]
    pruned = copy.deepcopy(default)
    if isinstance(pruned, dict):
        holder = {"value": pruned}
        prune(holder, {"type": "object", "properties": {"value": node}})
        if holder["value"] != default:
            return [_invalid(f"{where}.default", default, "must not have unknown fields")]
    return validate(default, node, f"{where}.default", root=False)


def _node_causes(node: Mapping[str, Any], where: str) -> list[Cause]:
    causes: list[Cause] = []
    if node.get("uniqueItems") is True:
        causes.append(errors.field_cause(
            "FieldValueForbidden", f"{where}.uniqueItems", "Forbidden: uniqueItems cannot be "
            "set to true since the runtime complexity becomes quadratic"))
    if node.get("properties") and isinstance(node.get("additionalProperties"), Mapping):
        causes.append(errors.field_cause(
            "FieldValueForbidden", f"{where}.additionalProperties",
            "Forbidden: additionalProperties and properties are mutual exclusive"))
    if node.get("x-kubernetes-preserve-unknown-fields") is False:
        causes.append(_invalid(f"{where}.x-kubernetes-preserve-unknown-fields", False,
                               "must be true or undefined"))
    step = node.get("multipleOf")
    if isinstance(step, (int, float)) and not isinstance(step, bool) and step <= 0:
        causes.append(_invalid(f"{where}.multipleOf", step, "must be positive"))
    pattern = node.get("pattern")
    if isinstance(pattern, str) and pattern:
        try:
            re.compile(pattern)
        except re.error as exc:
            causes.append(_invalid(f"{where}.pattern", pattern,
                                   f"must be a valid regular expression, but isn't: {exc}"))
    if "default" in node and not causes:
        causes += _default_causes(node, where)
    return causes


def schema_causes(schema: Mapping[str, Any], path: str) -> list[Cause]:
    """The errors of the checks above over every node of ``schema`` (at ``path``)."""
    causes: list[Cause] = []
    if schema.get("nullable") is True:
        causes.append(errors.field_cause("FieldValueForbidden", f"{path}.nullable",
                                         "Forbidden: nullable cannot be true at the root"))
    work: list[tuple[Mapping[str, Any], str, int]] = [(schema, path, 0)]
    while work:
        node, where, depth = work.pop()
        if depth > _MAX_DEPTH:
            continue
        causes += _node_causes(node, where)
        children: list[tuple[Mapping[str, Any], str, int]] = [
            (_m(sub), f"{where}.properties[{key}]", depth + 1)
            for key, sub in _m(node.get("properties")).items()]
        for key in ("items", "additionalProperties", "not"):
            if isinstance(node.get(key), Mapping):
                children.append((_m(node[key]), f"{where}.{key}", depth + 1))
        for key in ("allOf", "anyOf", "oneOf"):
            for index, sub in enumerate(node.get(key) or []):
                children.append((_m(sub), f"{where}.{key}[{index}]", depth + 1))
        work.extend(reversed(children))
    return causes
