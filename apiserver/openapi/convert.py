"""Conversion of the JSON-schema dialect of ``kubernetes-validate`` to OpenAPI.

The shipped definitions differ from the upstream OpenAPI documents in a few
mechanical ways, which this module undoes:

* references are ``#/$defs/<name>``; OpenAPI v2 wants ``#/definitions/<name>``
  and v3 ``#/components/schemas/<name>``;
* optional fields carry a type list such as ``["string", "null"]``; OpenAPI
  (2.0 and 3.0) allows one type, so the non-null member is kept;
* ``IntOrString`` and ``Quantity`` are ``oneOf`` of nullable primitive types;
  upstream publishes them in v2 as ``type: string``, in v3 as a ``oneOf`` of
  plain types, with ``format: int-or-string`` for the former in both;
* ``apiVersion``/``kind`` properties of top-level kinds carry a one-value
  ``enum`` that upstream does not publish; it is dropped.

Every ``x-kubernetes-*`` extension, description, format and ``required`` list is
kept as is. ``x-kubernetes-group-version-kind`` lists are narrowed to the group
versions actually served.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from apiserver.openapi._schemas import definitions, ref_target
from apiserver.schema.loader import definition as runtime_definition


def _definition(name: str) -> Any:
    """An upstream definition, else a run-time one (a custom resource's schema)."""
    found = definitions().get(name)
    return found if found is not None else runtime_definition(name)

V2_REF_PREFIX = "#/definitions/"
V3_REF_PREFIX = "#/components/schemas/"

_GVK = "x-kubernetes-group-version-kind"


def reachable(roots: Iterable[str]) -> list[str]:
    """Names of ``roots`` and every definition they reference, transitively, sorted.

    Raises ``KeyError`` if a root is not an upstream definition.
    """
    defs = definitions()
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack.extend(_refs_in(defs[name] if name in defs else _definition(name)))
    return sorted(seen)


def _refs_in(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield ref_target(value)
            else:
                yield from _refs_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs_in(item)


def convert_definition(
    name: str, *, v3: bool, served_group_versions: frozenset[tuple[str, str]]
) -> dict[str, Any]:
    """The OpenAPI form of the upstream definition ``name``.

    ``v3`` selects the reference style (and ``allOf`` wrapping of references
    with sibling keywords, which OpenAPI 3.0 ignores otherwise).
    ``served_group_versions`` holds ``(group, version)`` pairs; GVK extensions
    naming other group versions are removed. The result is a fresh object.
    """
    schema: dict[str, Any] = _convert(_definition(name), v3=v3)
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for field in ("apiVersion", "kind"):
            prop = properties.get(field)
            if isinstance(prop, dict):
                prop.pop("enum", None)
    gvks = schema.get(_GVK)
    if isinstance(gvks, list):
        kept = [g for g in gvks if (g.get("group"), g.get("version")) in served_group_versions]
        if kept:
            schema[_GVK] = kept
        else:
            del schema[_GVK]
    return schema


def convert_schema(node: Any, *, v3: bool) -> Any:
    """Convert one schema node (and its children) from the JSON-schema dialect."""
    return _convert(node, v3=v3)


def _convert(node: Any, *, v3: bool) -> Any:
    if isinstance(node, list):
        return [_convert(item, v3=v3) for item in node]
    if not isinstance(node, dict):
        return node
    if "oneOf" in node and _is_primitive_union(node["oneOf"]):
        return _convert_primitive_union(node, v3=v3)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref":
            prefix = V3_REF_PREFIX if v3 else V2_REF_PREFIX
            out[key] = prefix + ref_target(value)
        elif key == "type":
            out[key] = _single_type(value)
        elif key == "properties" and isinstance(value, dict):
            out[key] = {prop: _convert(schema, v3=v3) for prop, schema in value.items()}
        elif key in ("items", "additionalProperties", "allOf", "anyOf", "oneOf", "not"):
            out[key] = _convert(value, v3=v3)
        else:
            out[key] = value
    if v3 and "$ref" in out and len(out) > 1:
        ref = out.pop("$ref")
        out = {"allOf": [{"$ref": ref}], **out}
    return out


def _single_type(value: Any) -> Any:
    if isinstance(value, list):
        non_null = [t for t in value if t != "null"]
        return non_null[0] if non_null else "object"
    return value


def _is_primitive_union(options: Any) -> bool:
    return isinstance(options, list) and all(
        isinstance(opt, dict) and set(opt) <= {"type", "format"} for opt in options
    )


def _convert_primitive_union(node: dict[str, Any], *, v3: bool) -> dict[str, Any]:
    types = [_single_type(opt.get("type")) for opt in node["oneOf"]]
    out: dict[str, Any] = {k: v for k, v in node.items() if k != "oneOf"}
    if v3:
        out["oneOf"] = [{"type": t} for t in types]
    else:
        out["type"] = "string"
    if set(types) == {"string", "integer"}:
        out["format"] = "int-or-string"
    return out
