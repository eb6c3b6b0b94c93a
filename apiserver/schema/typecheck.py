"""Type errors in a decoded body, as upstream's typed JSON decoder reports them.

Upstream decodes a request body into Go structs, so a value of the wrong JSON type
(``"labels": ["a"]``, ``"port": "abc"``, ``"spec": "x"``) fails the request with
``json: cannot unmarshal <json type> into Go struct field <Struct>.<path> of type
<Go type>`` whatever ``fieldValidation`` says.  This module finds the first such
value by walking the body along the upstream schema.

Contract: pure; ``null`` is accepted everywhere (Go leaves the zero value); fields
the schema does not know are skipped (that is :mod:`.fieldcheck`'s job); free-form
values (``any`` nodes) are not searched.  Paths are Go's: field names joined by dots,
without list indexes or map keys.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Any

from apiserver.schema.node import SchemaNode, root_node

_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})"
)
_GO_SCALARS = {"string": "string", "boolean": "bool", "number": "float64", "integer": "int"}


@dataclass(frozen=True)
class TypeIssue:
    """One value of the wrong type; ``message`` is the Go decoder's text."""

    path: str
    struct: str
    json_type: str
    go_type: str
    detail: str = ""

    @property
    def message(self) -> str:
        """``json: cannot unmarshal number into Go struct field ObjectMeta.metadata.name...``."""
        if self.detail:
            return self.detail
        return (
            f"json: cannot unmarshal {self.json_type} into Go struct field "
            f"{self.struct}.{self.path} of type {self.go_type}"
        )


def _short(name: str) -> str:
    """``io.k8s.api.core.v1.NamespaceSpec`` → ``v1.NamespaceSpec``."""
    parts = name.split(".")
    return ".".join(parts[-2:]) if len(parts) >= 2 else name


def _scalar_types(node: SchemaNode) -> frozenset[str]:
    # Memoised on the node itself (schema nodes are long-lived and immutable).
    memo = node.__dict__
    cached: frozenset[str] | None = memo.get("_scalar_types")
    if cached is None:
        cached = memo["_scalar_types"] = frozenset(_compute_scalar_types(node))
    return cached


def _compute_scalar_types(node: SchemaNode) -> set[str]:
    schema = node.schema
    found: set[str] = set()
    members = [schema, *(m for m in schema.get("oneOf", ()) if isinstance(m, dict))]
    for member in members:
        raw = member.get("type")
        names = [raw] if isinstance(raw, str) else list(raw or ())
        found.update(n for n in names if n != "null")
    if schema.get("x-kubernetes-int-or-string") is True:
        found.update({"integer", "string"})
    return found


def _go_type(node: SchemaNode | None) -> str:
    if node is None:
        return "interface {}"
    kind = node.kind
    if kind == "object":
        return _short(node.name) if node.name else "struct"
    if kind == "map":
        values = node.child("")
        return f"map[string]{_go_type(values)}"
    if kind == "array":
        return f"[]{_go_type(node.items())}"
    if kind == "scalar":
        if node.name:
            return _short(node.name)
        fmt = node.schema.get("format")
        if fmt in _INT_RANGES:
            return str(fmt)
        if fmt == "byte":
            return "[]uint8"
        types = _scalar_types(node)
        return _GO_SCALARS.get(next(iter(types)), "string") if len(types) == 1 else "string"
    return "interface {}"


def _json_type(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    return "number"


def _scalar_issue(node: SchemaNode, value: Any) -> str | None:
    """``None`` if ``value`` fits the scalar ``node``, else the JSON type to report."""
    types = _scalar_types(node)
    if isinstance(value, datetime.date):
        value = value.isoformat()  # an unquoted YAML timestamp: a string on the wire
    if isinstance(value, bool):
        return None if "boolean" in types else "bool"
    if isinstance(value, str):
        return None if "string" in types else "string"
    if isinstance(value, int):
        if "integer" in types:
            low, high = _INT_RANGES.get(str(node.schema.get("format")), _INT_RANGES["int64"])
            return None if low <= value <= high else f"number {value}"
        return None if "number" in types else "number"
    if isinstance(value, float):
        if "number" in types:
            return None
        return f"number {value!r}" if "integer" in types else "number"
    return _json_type(value)


def _walk(node: SchemaNode, value: Any, path: str, struct: str) -> TypeIssue | None:
    if value is None:
        return None
    kind = node.kind
    if kind == "any":
        return None
    if kind == "object":
        if not isinstance(value, dict):
            return TypeIssue(path, struct, _json_type(value), _go_type(node))
        inner = node.name.rsplit(".", 1)[-1] if node.name else struct
        for key, child_value in value.items():
            child = node.child(key)
            if child is None or child_value is None:
                continue
            # The common case, a fitting scalar, is checked inline: the path is built
            # only on error.
            if (
                child.kind == "scalar"
                and not isinstance(child_value, (dict, list))
                and _scalar_issue(child, child_value) is None
                and child.schema.get("format") != "date-time"
            ):
                continue
            child_path = f"{path}.{key}" if path else key
            issue = _walk(child, child_value, child_path, inner)
            if issue is not None:
                return issue
        return None
    if kind == "map":
        if not isinstance(value, dict):
            return TypeIssue(path, struct, _json_type(value), _go_type(node))
        values = node.child("")
        if values is None:
            return None
        for child_value in value.values():
            issue = _walk(values, child_value, path, struct)
            if issue is not None:
                return issue
        return None
    if kind == "array":
        if not isinstance(value, list):
            return TypeIssue(path, struct, _json_type(value), _go_type(node))
        items = node.items()
        if items is None:
            return None
        for element in value:
            issue = _walk(items, element, path, struct)
            if issue is not None:
                return issue
        return None
    # scalar
    bad = _scalar_issue(node, value)
    if bad is not None:
        return TypeIssue(path, struct, bad, _go_type(node))
    if (
        node.schema.get("format") == "date-time"
        and isinstance(value, str)
        and value
        and not _RFC3339.fullmatch(value)
    ):
        return TypeIssue(
            path, struct, "string", _go_type(node),
            f'parsing time "{value}" as "2006-01-02T15:04:05Z07:00": cannot parse '
            f'"{value}" as "2006"',
        )
    return None


def first_type_issue(root_ref: str, obj: Any) -> TypeIssue | None:
    """The first value of ``obj`` whose JSON type ``root_ref``'s Go struct cannot hold.

    Raises ``KeyError`` for an unknown ``root_ref``.
    """
    root = root_node(root_ref)
    return _walk(root, obj, "", root.name.rsplit(".", 1)[-1])
