"""Objects as typed values: field sets, comparison, apply merge and removal.

The schema decides how each value is owned, as structured-merge-diff does:

* structs and granular maps are walked field by field (a key whose value is empty or
  null, or a map key the schema does not declare, is a member itself);
* ``x-kubernetes-list-type: map`` lists are walked item by item, each item named by
  its ``x-kubernetes-list-map-keys`` (``k:{...}``) and a member itself;
* ``set`` lists own each item's value (``v:...``);
* scalars, atomic lists (the default list type) and ``x-kubernetes-map-type: atomic``
  maps/structs are leaves owned as a whole;
* free-form values (no schema) are deduced: maps are granular, lists atomic.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

import orjson

from apiserver.registry.managedfields.fieldpath import (
    FieldTrie,
    Path,
    element_sort_key,
    field_element,
    value_element,
)
from apiserver.schema import SchemaNode

Shape = Literal["leaf", "struct", "map", "list_map", "list_set"]

#: Values of an item's keys the item may omit (upstream's OpenAPI defaults).
_KEY_DEFAULTS = {"protocol": "TCP"}


class _NonLeaf:
    """Marker value of a member that is not a leaf (a list item, an undeclared map)."""

    def __repr__(self) -> str:
        return "NONLEAF"


NONLEAF: Any = _NonLeaf()


def shape(node: SchemaNode | None, value: Any) -> Shape:
    """How ``value`` under ``node`` is owned."""
    if node is None or node.kind == "any":
        return "map" if isinstance(value, dict) else "leaf"
    # Memoised on the node itself: every write walks the same schema nodes, and
    # their annotations never change.
    memo = node.__dict__
    cached: Shape | None = memo.get("_ownership_shape")
    if cached is None:
        cached = memo["_ownership_shape"] = _node_shape(node)
    return cached


def _node_shape(node: SchemaNode) -> Shape:
    kind = node.kind
    if kind in ("object", "map"):
        if node.annotation("x-kubernetes-map-type") == "atomic":
            return "leaf"
        return "struct" if kind == "object" else "map"
    if kind == "array":
        list_type = node.annotation("x-kubernetes-list-type")
        if list_type == "map" and node.annotation("x-kubernetes-list-map-keys"):
            return "list_map"
        if list_type == "set":
            return "list_set"
    return "leaf"


def _child(node: SchemaNode | None, name: str) -> SchemaNode | None:
    if node is None or node.kind == "any":
        return None
    return node.child(name)


def item_key(node: SchemaNode | None, item: Any) -> str | None:
    """The ``k:{...}`` element of an associative-list item (``None`` if not an object)."""
    if node is None or not isinstance(item, dict):
        return None
    values: dict[str, Any] = {}
    for name in _sorted_key_names(node):
        if name in item and item[name] is not None:
            values[name] = item[name]
        elif name in _KEY_DEFAULTS:
            values[name] = _KEY_DEFAULTS[name]
    # Built in sorted order: what key_element(values) spells, without sorting again.
    return "k:" + orjson.dumps(values).decode()


def _sorted_key_names(node: SchemaNode) -> tuple[str, ...]:
    """The list's ``x-kubernetes-list-map-keys``, sorted (memoised on the node)."""
    memo = node.__dict__
    names: tuple[str, ...] | None = memo.get("_sorted_list_map_keys")
    if names is None:
        names = memo["_sorted_list_map_keys"] = tuple(
            sorted(node.annotation("x-kubernetes-list-map-keys") or ()))
    return names


def field_values(
    value: Any, node: SchemaNode | None, prefix: Path = (), containers: bool = False
) -> dict[Path, Any]:
    """Every owned path of ``value`` with its leaf value (``NONLEAF`` for containers).

    With ``containers``, non-empty granular maps and lists are members too: a write
    that creates one owns it (upstream's ``".": {}`` under ``f:data`` or ``f:labels``).
    """
    out: dict[Path, Any] = {}
    _walk(value, node, prefix, out, containers)
    return out


def _walk(
    value: Any, node: SchemaNode | None, path: Path, out: dict[Path, Any],
    containers: bool = False,
) -> None:
    kind = shape(node, value)
    if containers and path and kind in ("map", "list_map", "list_set") and value:
        out[path] = NONLEAF
    if kind == "leaf":
        out[path] = value
        return
    if kind in ("struct", "map"):
        if not isinstance(value, dict):
            out[path] = value
            return
        for name, child_value in value.items():
            child_path = (*path, field_element(name))
            if child_value is None or (isinstance(child_value, dict) and not child_value):
                out[child_path] = child_value
                continue
            child = _child(node, name)
            _walk(child_value, child, child_path, out, containers)
            # A struct's child node exists exactly for its declared properties.
            undeclared = kind == "map" or child is None
            if undeclared and child_path not in out:
                out[child_path] = NONLEAF
        return
    if not isinstance(value, list):
        out[path] = value
        return
    items = node.items() if node is not None else None
    for item in value:
        if kind == "list_set":
            out[(*path, value_element(item))] = item
            continue
        element = item_key(node, item)
        if element is None:
            continue
        item_path = (*path, element)
        _walk(item, items, item_path, out, containers)
        out[item_path] = NONLEAF


def field_trie(value: Any, node: SchemaNode | None, containers: bool = False) -> FieldTrie:
    """The owned paths of ``value`` as a trie: :func:`field_values`' key set, built
    directly (a create owns everything, so no values or path tuples are needed)."""
    root = FieldTrie()
    _walk_trie(value, node, root, False, containers)
    return root


def _member(trie: FieldTrie, element: str) -> FieldTrie:
    child = trie.children.get(element)
    if child is None:
        child = trie.children[element] = FieldTrie()
    return child


def _walk_trie(
    value: Any, node: SchemaNode | None, trie: FieldTrie, nested: bool, containers: bool
) -> None:
    # Mirrors _walk: "out[path] = ..." becomes "trie.member = True".
    kind = shape(node, value)
    if containers and nested and kind in ("map", "list_map", "list_set") and value:
        trie.member = True
    if kind == "leaf":
        trie.member = True
        return
    if kind in ("struct", "map"):
        if not isinstance(value, dict):
            trie.member = True
            return
        children = trie.children
        for name, child_value in value.items():
            # Keys of one JSON object are unique: each gets a fresh node.
            sub = children["f:" + name] = FieldTrie()
            if child_value is None or (isinstance(child_value, dict) and not child_value):
                sub.member = True
                continue
            child = _child(node, name)
            _walk_trie(child_value, child, sub, True, containers)
            if kind == "map" or child is None:
                sub.member = True
        return
    if not isinstance(value, list):
        trie.member = True
        return
    items = node.items() if node is not None else None
    for item in value:
        if kind == "list_set":
            _member(trie, value_element(item)).member = True
            continue
        element = item_key(node, item)
        if element is None:
            continue
        sub = _member(trie, element)
        _walk_trie(item, items, sub, True, containers)
        sub.member = True


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
            child = _child(node, name)
            child_member, child_owned = _own(child_value, child, True,
                                             nested_strip.get(name, NO_STRIP))
            child_member = child_member or granular or child is None
        if name in unmember:
            child_member = False
        if child_member or child_owned:
            owned["f:" + name] = _emitted(child_member, child_owned)
    return owned


def prune_trie(trie: FieldTrie) -> bool:
    """Drop branches holding no member; True if ``trie`` itself holds none."""
    for element in [e for e, child in trie.children.items() if prune_trie(child)]:
        del trie.children[element]
    return not trie.member and not trie.children


def compare(
    old: dict[Path, Any], new: dict[Path, Any]
) -> tuple[set[Path], set[Path], set[Path]]:
    """(added, modified, removed) paths between two field-value maps."""
    added = set(new) - set(old)
    removed = set(old) - set(new)
    modified = {
        p for p in set(old) & set(new)
        if old[p] is not NONLEAF and new[p] is not NONLEAF and old[p] != new[p]
    }
    return added, modified, removed


def merge(live: Any, config: Any, node: SchemaNode | None) -> Any:
    """``config`` applied onto ``live`` (neither is modified)."""
    kind = shape(node, config)
    if kind in ("struct", "map") and isinstance(config, dict):
        out: dict[str, Any] = dict(live) if isinstance(live, dict) else {}
        for name, value in config.items():
            if value is None:
                out.pop(name, None)
                continue
            out[name] = merge(out.get(name), value, _child(node, name))
        return out
    if kind == "list_map" and isinstance(config, list):
        items = node.items() if node is not None else None
        wanted: dict[str, Any] = {}
        for item in config:
            element = item_key(node, item)
            if element is not None:
                wanted[element] = item
        result: list[Any] = []
        used: set[str] = set()
        for item in live if isinstance(live, list) else []:
            element = item_key(node, item)
            if element is not None and element in wanted and element not in used:
                result.append(merge(item, wanted[element], items))
                used.add(element)
            else:
                result.append(item)
        for item in config:
            element = item_key(node, item)
            if element is not None and element not in used:
                result.append(copy.deepcopy(item))
                used.add(element)
        return result
    if kind == "list_set" and isinstance(config, list):
        merged = list(live) if isinstance(live, list) else []
        merged.extend(copy.deepcopy(v) for v in config if v not in merged)
        return merged
    return copy.deepcopy(config)


def remove_path(obj: Any, path: Path, node: SchemaNode | None) -> None:
    """Remove the value at ``path`` from ``obj`` in place; prune emptied containers."""
    if not path:
        return
    element = path[0]
    rest = path[1:]
    kind, _, body = element.partition(":")
    if isinstance(obj, dict) and kind == "f":
        if body not in obj:
            return
        if not rest:
            del obj[body]
            return
        child = obj[body]
        remove_path(child, rest, _child(node, body))
        if isinstance(child, (dict, list)) and not child:
            del obj[body]
        return
    if not isinstance(obj, list):
        return
    items = node.items() if node is not None else None
    for index, item in enumerate(obj):
        if kind == "k":
            hit = item_key(node, item) == element
        elif kind == "v":
            hit = value_element(item) == element
        else:
            hit = body.isdigit() and int(body) == index
        if not hit:
            continue
        if not rest:
            del obj[index]
            return
        remove_path(item, rest, items)
        return
