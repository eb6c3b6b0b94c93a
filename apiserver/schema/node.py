"""Navigate the upstream schemas field by field.

A :class:`SchemaNode` is the schema of one value, with every ``$ref`` resolved.  The
annotations written next to a ``$ref`` on a property (``x-kubernetes-patch-strategy``,
``x-kubernetes-list-type`` ...) are kept: they take precedence over the referenced
definition's own keys, because upstream attaches patch metadata to the *field*.

Contract: nodes are immutable views over the shared definitions; navigation never
raises for a well-formed path and returns ``None`` where the schema has no such field.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from apiserver.schema.loader import definition, on_definitions_change, ref_name

NodeKind = Literal["object", "map", "array", "scalar", "any"]
"""How a value is shaped: ``object`` has named properties, ``map`` has free keys with a
common value schema, ``array`` has items, ``scalar`` is a string/number/bool (including
IntOrString, Quantity and Time) and ``any`` accepts anything (RawExtension, JSON,
FieldsV1, ``x-kubernetes-preserve-unknown-fields``)."""

_SCALAR_TYPES = frozenset({"string", "integer", "number", "boolean"})
_MAX_REF_DEPTH = 32


def _resolve(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Follow ``$ref`` chains, letting the referring schema's own keys win."""
    resolved = dict(schema)
    depth = 0
    while "$ref" in resolved:
        depth += 1
        if depth > _MAX_REF_DEPTH:
            raise ValueError(f"$ref chain too deep at {schema.get('$ref')!r}")
        target = definition(resolved.pop("$ref"))
        resolved = {**target, **resolved}
    return resolved


def _types(schema: Mapping[str, Any]) -> frozenset[str]:
    raw = schema.get("type")
    if raw is None:
        return frozenset()
    names = [raw] if isinstance(raw, str) else list(raw)
    return frozenset(name for name in names if name != "null")


def _classify(schema: Mapping[str, Any]) -> NodeKind:
    if schema.get("x-kubernetes-preserve-unknown-fields") is True:
        return "any"
    if "properties" in schema:
        return "object"
    if isinstance(schema.get("additionalProperties"), Mapping):
        return "map"
    types = _types(schema)
    if "array" in types:
        return "array"
    if "oneOf" in schema or schema.get("x-kubernetes-int-or-string") is True:
        return "scalar"
    if types and types <= _SCALAR_TYPES:
        return "scalar"
    # An object type without properties (RawExtension, FieldsV1), or no type at all
    # (apiextensions JSON): free-form.
    return "any"


@dataclass(frozen=True, eq=False)
class SchemaNode:
    """The resolved schema of one value; see the module docstring for the contract."""

    schema: Mapping[str, Any]
    name: str = ""
    _children: dict[str, SchemaNode | None] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_schema(cls, schema: Mapping[str, Any]) -> SchemaNode:
        """Build a node from a raw (possibly ``$ref``) schema fragment."""
        ref = schema.get("$ref")
        name = ref_name(ref) if isinstance(ref, str) else ""
        return cls(schema=_resolve(schema), name=name)

    @functools.cached_property
    def kind(self) -> NodeKind:
        """The shape of values described by this node."""
        return _classify(self.schema)

    @property
    def properties(self) -> Mapping[str, Any]:
        """The raw property schemas of an ``object`` node (empty otherwise)."""
        props = self.schema.get("properties")
        return props if isinstance(props, Mapping) else {}

    def child(self, step: str | int) -> SchemaNode | None:
        """Schema of the value reached by ``step`` from a value of this node.

        * object: ``step`` names a property; ``None`` if there is no such property.
        * map: any string key gives the map's value schema.
        * array: an ``int`` gives the items; a ``str`` is looked up in the items, so a
          field path may pass through lists without spelling out indexes.
        * any: every step gives another ``any`` node; scalar: always ``None``.

        Only property lookups are memoised (a bounded set), never user-chosen map keys.
        """
        kind = self.kind
        if kind == "any":
            return ANY
        if kind == "array":
            items = self.items()
            if isinstance(step, int) or items is None:
                return items
            return items.child(step)
        if isinstance(step, int):
            return None
        if kind == "map":
            return self._values
        if kind == "object":
            if step not in self._children:
                prop = self.properties.get(step)
                node = SchemaNode.from_schema(prop) if isinstance(prop, Mapping) else None
                if node is not None or len(self._children) < len(self.properties) + 64:
                    self._children[step] = node
                return node
            return self._children[step]
        return None

    @functools.cached_property
    def _values(self) -> SchemaNode | None:
        raw = self.schema.get("additionalProperties")
        return SchemaNode.from_schema(raw) if isinstance(raw, Mapping) else None

    @functools.cached_property
    def _items(self) -> SchemaNode:
        raw = self.schema.get("items")
        return SchemaNode.from_schema(raw) if isinstance(raw, Mapping) else ANY

    def items(self) -> SchemaNode | None:
        """Schema of the elements of an ``array`` node (``ANY`` if unspecified)."""
        if self.kind == "any":
            return ANY
        if self.kind != "array":
            return None
        return self._items

    def annotation(self, key: str) -> Any:
        """Value of an ``x-kubernetes-*`` (or any) key of this node, or ``None``."""
        return self.schema.get(key)


ANY = SchemaNode(schema={}, name="")
"""The node that accepts any value (free-form JSON)."""


@functools.cache
def root_node(ref: str) -> SchemaNode:
    """The (cached) node of a top-level definition such as ``io.k8s.api.core.v1.Service``.

    Raises ``KeyError`` for an unknown definition.
    """
    name = ref_name(ref)
    return SchemaNode(schema=_resolve(definition(name)), name=name)


on_definitions_change(root_node.cache_clear)


def navigate(root_ref: str, path: Iterable[str | int]) -> SchemaNode | None:
    """Walk ``path`` (field names and optional list indexes) from ``root_ref``.

    Returns ``None`` as soon as a step leaves the schema.  Raises ``KeyError`` if
    ``root_ref`` is not a definition.
    """
    node: SchemaNode | None = root_node(root_ref)
    for step in path:
        if node is None:
            return None
        node = node.child(step)
    return node
