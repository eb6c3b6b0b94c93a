"""The FieldsV1 a create owns, in one walk of the object (creates are the hottest write).

A create owns every field of its (defaulted) object but the ones upstream strips; the
result is what :func:`~apiserver.registry.managedfields.typed.field_trie` (with
containers), the strip, :func:`~apiserver.registry.managedfields.typed.prune_trie` and
``emit_fields_v1`` give, built directly in FieldsV1 order without a trie. An associative
list naming one item twice raises :class:`DuplicateItem`: the trie merges such items, and
the caller takes that path then.
"""

from __future__ import annotations

from typing import Any

from apiserver.registry.managedfields.fieldpath import element_sort_key, value_element
from apiserver.registry.managedfields.typed import child_node, item_key, shape
from apiserver.schema import SchemaNode


class DuplicateItem(Exception):
    """Two items of one associative list name the same ``k:{...}`` element."""


#: What a create does not own below one struct: ``(names dropped with everything under
#: them, names that are not members themselves, the same for named children)``.
Strip = tuple[frozenset[str], frozenset[str], dict[str, "Strip"]]
NO_STRIP: Strip = (frozenset(), frozenset(), {})


def create_fields_v1(value: Any, node: SchemaNode | None, strip: Strip) -> dict[str, Any] | None:
    """The FieldsV1 a create owns: every field of ``value`` but what ``strip`` excludes.

    The same result as :func:`field_trie` (with ``containers``), the strip, then
    :func:`prune_trie` and ``emit_fields_v1``, written in one walk without a trie:
    creates are the hottest write. ``None`` when nothing is owned. Raises
    :class:`DuplicateItem` for an associative list naming one item twice (the trie
    merges such items; the caller takes that path then).
    """
    member, owned = _own(value, node, False, strip)
    if not member and not owned:
        return None
    return _emitted(member, owned)


def _emitted(member: bool, owned: dict[str, Any]) -> dict[str, Any]:
    # A member with children is marked by ".", first; a member leaf is {}.
    return {".": {}, **owned} if member and owned else owned


def _own(value: Any, node: SchemaNode | None, nested: bool,
         strip: Strip) -> tuple[bool, dict[str, Any]]:
    """``(value is a member itself, its owned children in FieldsV1 order)``."""
    kind = shape(node, value)
    if kind == "leaf":
        return True, {}
    # A non-empty granular map or list a create writes is owned as a container too.
    member = nested and kind != "struct" and bool(value)
    if kind == "struct" or kind == "map":
        if not isinstance(value, dict):
            return True, {}
        if strip is NO_STRIP:
            return member, _own_fields(value, node, kind == "map")
        return member, _own_stripped(value, node, kind == "map", strip)
    if not isinstance(value, list):
        return True, {}
    owned: dict[str, Any] = {}
    if kind == "list_set":
        for item in value:
            owned[value_element(item)] = {}
    else:
        items = node.items() if node is not None else None
        for item in value:
            element = item_key(node, item)
            if element is None:
                continue
            if element in owned:
                raise DuplicateItem(element)
            children = _own(item, items, True, NO_STRIP)[1]
            owned[element] = {".": {}, **children} if children else {}
    if len(owned) > 1:
        owned = {e: owned[e] for e in sorted(owned, key=element_sort_key)}
    return member, owned


#: Types of decoded JSON scalars (every one a member leaf).
_LEAF_TYPES = frozenset({str, int, float, bool, type(None)})


def _own_fields(value: dict[str, Any], node: SchemaNode | None,
                granular: bool) -> dict[str, Any]:
    """The owned children of a struct (or, ``granular``, a map) with nothing stripped, in
    FieldsV1 order: field elements share their ``f:`` prefix, so the names' string order
    is upstream's order, and walking them sorted builds the result in place."""
    owned: dict[str, Any] = {}
    if node is not None and node.kind == "any":
        node = None
    for name in sorted(value) if len(value) > 1 else value:
        child_value = value[name]
        if type(child_value) in _LEAF_TYPES or (not child_value and isinstance(
                child_value, dict)):
            # A scalar (or null, or {}) is a member leaf whatever its schema says: the
            # walk would answer the same, at the price of a schema lookup.
            owned["f:" + name] = {}
            continue
        child = node.child(name) if node is not None else None
        child_member, child_owned = _own(child_value, child, True, NO_STRIP)
        if child_owned:
            # A struct's child node exists exactly for its declared properties.
            owned["f:" + name] = ({".": {}, **child_owned}
                                  if child_member or granular or child is None
                                  else child_owned)
        elif child_member or granular or child is None:
            owned["f:" + name] = {}
    return owned


def _own_stripped(value: dict[str, Any], node: SchemaNode | None, granular: bool,
                  strip: Strip) -> dict[str, Any]:
    """:func:`_own_fields` with ``strip`` applied below this struct."""
    drop, unmember, nested_strip = strip
    owned: dict[str, Any] = {}
    for name in sorted(value) if len(value) > 1 else value:
        if name in drop:
            continue
        child_value = value[name]
        child_owned: dict[str, Any] = {}
        if not isinstance(child_value, (dict, list)) or (not child_value and isinstance(
                child_value, dict)):
            child_member = True
        else:
            child = child_node(node, name)
            child_member, child_owned = _own(child_value, child, True,
                                             nested_strip.get(name, NO_STRIP))
            child_member = child_member or granular or child is None
        if name in unmember:
            child_member = False
        if child_member or child_owned:
            owned["f:" + name] = _emitted(child_member, child_owned)
    return owned
