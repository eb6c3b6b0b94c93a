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


#: Root fields every object has whatever its schema says (never unknown).
_ALWAYS_KNOWN_AT_ROOT = frozenset({"apiVersion", "kind", "metadata"})


class _Scan:
    """What one walk looks for (``types``, ``unknown``) and the unknown paths found."""

    __slots__ = ("types", "unknown", "unknown_paths")

    def __init__(self, types: bool, unknown: bool) -> None:
        self.types = types
        self.unknown = unknown
        self.unknown_paths: list[str] = []


def _fitting(node: SchemaNode) -> frozenset[type]:
    """Python types of scalar values that surely fit ``node`` (memoised on the node): the
    walk's fast path. A string in date-time format, an integer with a range to check and
    anything else go through :func:`_scalar_issue`."""
    memo = node.__dict__
    cached: frozenset[type] | None = memo.get("_fitting_types")
    if cached is None:
        fits: set[type] = set()
        if node.kind == "scalar":
            types = _scalar_types(node)
            if "string" in types and node.schema.get("format") != "date-time":
                fits.add(str)
            if "boolean" in types:
                fits.add(bool)
            if "number" in types:
                fits.add(float)
                if "integer" not in types:
                    fits.add(int)
        cached = memo["_fitting_types"] = frozenset(fits)
    return cached


#: A field an object node does not know yet (see :func:`_fields`).
_UNSEEN: Any = object()
_Field = tuple[SchemaNode, frozenset[type]] | None


def _fields(node: SchemaNode) -> dict[str, _Field]:
    """An object node's fields as the walk met them: name → (its node, :func:`_fitting`
    of it), or None for a name the schema does not define (memoised on the node)."""
    memo = node.__dict__
    fields: dict[str, _Field] | None = memo.get("_scan_fields")
    if fields is None:
        fields = memo["_scan_fields"] = {}
    return fields


def _field(node: SchemaNode, fields: dict[str, _Field], name: str) -> _Field:
    """``name``'s entry of :func:`_fields`, looked up and kept; undefined names are kept
    only up to a bound, as :meth:`SchemaNode.child` keeps them (bodies choose them)."""
    child = node.child(name)
    field = None if child is None else (child, _fitting(child))
    if field is not None or len(fields) < len(node.properties) + 64:
        fields[name] = field
    return field


def _struct_name(node: SchemaNode) -> str:
    """The Go struct name of an object node ("" for an anonymous one; memoised)."""
    memo = node.__dict__
    name: str | None = memo.get("_go_struct_name")
    if name is None:
        name = memo["_go_struct_name"] = node.name.rsplit(".", 1)[-1] if node.name else ""
    return name


def _go_path(stack: list[tuple[str | int, bool]]) -> str:
    """Go's path of a type error: the field names on ``stack``, without list indexes
    or map keys."""
    return ".".join(str(step) for step, is_field in stack if is_field)


def _field_path(stack: list[tuple[str | int, bool]], name: str) -> str:
    """The strict decoder's path of ``name`` below ``stack``: ``spec.ports[0].bar``."""
    out = ""
    for step, _ in (*stack, (name, True)):
        if isinstance(step, int):
            out += f"[{step}]"
        else:
            out += f".{step}" if out else step
    return out


def _mismatch(node: SchemaNode, value: Any, stack: list[tuple[str | int, bool]],
              struct: str, scan: _Scan) -> TypeIssue | None:
    if not scan.types:
        return None
    return TypeIssue(_go_path(stack), struct, _json_type(value), _go_type(node))


def _scan(node: SchemaNode, value: Any, stack: list[tuple[str | int, bool]], struct: str,
          root: bool, scan: _Scan) -> TypeIssue | None:
    """Walk ``value`` (not None) along ``node``: the first type issue (when looking for
    types; the walk stops there), and unknown fields appended to ``scan.unknown_paths``
    in document order (when looking for them). Scalars that fit are checked inline and
    paths are spelled out only for issues: this runs on every create and update body."""
    kind = node.kind
    if kind == "any":
        return None
    if kind == "object":
        if not isinstance(value, dict):
            return _mismatch(node, value, stack, struct, scan)
        inner = _struct_name(node) or struct
        types = scan.types
        fields = _fields(node)
        for key, child_value in value.items():
            field = fields.get(key, _UNSEEN)
            if field is _UNSEEN:
                field = _field(node, fields, key)
            if field is None:
                if scan.unknown and not (root and key in _ALWAYS_KNOWN_AT_ROOT):
                    scan.unknown_paths.append(_field_path(stack, key))
                continue
            if child_value is None:
                continue
            child, fitting = field
            if type(child_value) in fitting or (
                    not types and not isinstance(child_value, (dict, list))):
                continue
            stack.append((key, True))
            issue = _scan(child, child_value, stack, inner, False, scan)
            stack.pop()
            if issue is not None:
                return issue
        return None
    if kind == "map":
        if not isinstance(value, dict):
            return _mismatch(node, value, stack, struct, scan)
        values = node.child("")
        if values is None:
            return None
        fitting = _fitting(values)
        for key, child_value in value.items():
            if child_value is None or type(child_value) in fitting or (
                not scan.types and not isinstance(child_value, (dict, list))
            ):
                continue
            stack.append((key, False))
            issue = _scan(values, child_value, stack, struct, False, scan)
            stack.pop()
            if issue is not None:
                return issue
        return None
    if kind == "array":
        if not isinstance(value, list):
            return _mismatch(node, value, stack, struct, scan)
        items = node.items()
        if items is None:
            return None
        fitting = _fitting(items)
        for index, element in enumerate(value):
            if element is None or type(element) in fitting or (
                    not scan.types and not isinstance(element, (dict, list))):
                continue
            stack.append((index, False))
            issue = _scan(items, element, stack, struct, False, scan)
            stack.pop()
            if issue is not None:
                return issue
        return None
    if not scan.types:
        return None
    # scalar
    bad = _scalar_issue(node, value)
    if bad is not None:
        return TypeIssue(_go_path(stack), struct, bad, _go_type(node))
    if (
        node.schema.get("format") == "date-time"
        and isinstance(value, str)
        and value
        and not _RFC3339.fullmatch(value)
    ):
        return TypeIssue(
            _go_path(stack), struct, "string", _go_type(node),
            f'parsing time "{value}" as "2006-01-02T15:04:05Z07:00": cannot parse '
            f'"{value}" as "2006"',
        )
    return None


def check_body(root_ref: str, obj: Any, *, types: bool = True,
               unknown: bool = True) -> tuple[TypeIssue | None, list[str]]:
    """One walk of a decoded body along ``root_ref``: its first type issue (when
    ``types``; then the unknown fields found so far are incomplete, and the request
    fails anyway) and the paths of the fields the schema does not define (when
    ``unknown``; as :func:`apiserver.schema.fieldcheck.unknown_fields` reports them).

    Raises ``KeyError`` for an unknown ``root_ref``.
    """
    root = root_node(root_ref)
    scan = _Scan(types, unknown)
    issue = None
    if obj is not None:
        issue = _scan(root, obj, [], root.name.rsplit(".", 1)[-1], True, scan)
    return issue, scan.unknown_paths


def first_type_issue(root_ref: str, obj: Any) -> TypeIssue | None:
    """The first value of ``obj`` whose JSON type ``root_ref``'s Go struct cannot hold.

    Raises ``KeyError`` for an unknown ``root_ref``.
    """
    return check_body(root_ref, obj, unknown=False)[0]
