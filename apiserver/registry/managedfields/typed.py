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


def child_node(node: SchemaNode | None, name: str) -> SchemaNode | None:
    """The schema of field ``name`` below ``node`` (None: free-form or undeclared)."""
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
            child = child_node(node, name)
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
            child = child_node(node, name)
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
            out[name] = merge(out.get(name), value, child_node(node, name))
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
        remove_path(child, rest, child_node(node, body))
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
