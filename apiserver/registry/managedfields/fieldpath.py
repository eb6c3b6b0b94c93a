"""Field paths and field sets in upstream's FieldsV1 encoding.

A path element is kept as the exact string FieldsV1 uses for it:

* ``f:<name>`` — a field of a struct or a key of a map;
* ``k:{"port":80,"protocol":"TCP"}`` — an item of an associative list, named by its keys;
* ``v:"value"`` — an item of a set list;
* ``i:3`` — a list item by index (only read, never produced here).

A path is a tuple of elements and a field set a ``set`` of paths. :func:`to_fields_v1`
and :func:`from_fields_v1` convert a set to and from the FieldsV1 trie (``{}`` for a leaf,
``".": {}`` for a member that also has children), ordered as upstream orders elements:
fields, then keys, then values, then indexes.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import orjson

Path = tuple[str, ...]
FieldSet = set[Path]

_KIND_ORDER = {"f": 0, "k": 1, "v": 2, "i": 3}


def field_element(name: str) -> str:
    """The element of a struct field or map key."""
    return "f:" + name


def key_element(keys: dict[str, Any]) -> str:
    """The element of an associative-list item with these key fields."""
    ordered = {name: keys[name] for name in sorted(keys)}
    return "k:" + orjson.dumps(ordered).decode()


def value_element(value: Any) -> str:
    """The element of a set-list item."""
    return "v:" + orjson.dumps(value).decode()


def _value_sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, value)
    if isinstance(value, (int, float)):
        return (2, value)
    if isinstance(value, str):
        return (3, value)
    return (4, orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode())


@functools.lru_cache(maxsize=65536)
def element_sort_key(element: str) -> tuple[int, Any]:
    """Upstream's order of path elements (fields < keys < values < indexes).

    Cached: the same few hundred elements (``f:spec``, ``k:{"port":80,...}``) recur
    in every object of a kind, and every write sorts them.
    """
    kind, _, body = element.partition(":")
    order = _KIND_ORDER.get(kind, 4)
    if kind == "f":
        return (order, body)
    try:
        if kind == "k":
            keys = orjson.loads(body)
            return (order, tuple((name, _value_sort_key(keys[name])) for name in sorted(keys)))
        if kind == "v":
            return (order, _value_sort_key(orjson.loads(body)))
        if kind == "i":
            return (order, int(body))
    except (orjson.JSONDecodeError, ValueError, TypeError, AttributeError):
        pass
    return (order, body)


def path_sort_key(path: Path) -> tuple[tuple[int, Any], ...]:
    """Sort key of a whole path."""
    return tuple(element_sort_key(e) for e in path)


class FieldTrie:
    """A set of paths as a trie: ``member`` marks a node that is itself in the set."""

    __slots__ = ("children", "member")

    def __init__(self) -> None:
        self.member = False
        self.children: dict[str, FieldTrie] = {}


def to_fields_v1(paths: Iterable[Path]) -> dict[str, Any]:
    """The FieldsV1 trie of a set of paths."""
    root = FieldTrie()
    for path in paths:
        node = root
        for element in path:
            child = node.children.get(element)
            if child is None:
                child = node.children[element] = FieldTrie()
            node = child
        node.member = True
    return emit_fields_v1(root)


def emit_fields_v1(node: FieldTrie) -> dict[str, Any]:
    """The FieldsV1 form of a trie, children in upstream's order."""
    out: dict[str, Any] = {}
    if node.member and node.children:
        out["."] = {}
    children = node.children
    ordered = sorted(children, key=element_sort_key) if len(children) > 1 else children
    for element in ordered:
        out[element] = emit_fields_v1(children[element])
    return out


def from_fields_v1(trie: Any, prefix: Path = ()) -> FieldSet:
    """The set of paths a FieldsV1 trie describes (malformed parts are skipped)."""
    out: FieldSet = set()
    if not isinstance(trie, dict):
        return out
    for element, child in trie.items():
        if element == ".":
            if prefix:
                out.add(prefix)
            continue
        path = (*prefix, element)
        if isinstance(child, dict) and child:
            out |= from_fields_v1(child, path)
        else:
            out.add(path)
    return out


def path_string(path: Path) -> str:
    """Upstream's text form of a path: ``.spec.ports[port=80,protocol="TCP"].name``."""
    parts: list[str] = []
    for element in path:
        kind, _, body = element.partition(":")
        if kind == "f":
            parts.append("." + body)
        elif kind == "k":
            try:
                keys = orjson.loads(body)
                inner = ",".join(
                    f"{name}={orjson.dumps(keys[name]).decode()}" for name in sorted(keys)
                )
            except (orjson.JSONDecodeError, TypeError):
                inner = body
            parts.append(f"[{inner}]")
        elif kind == "v":
            parts.append(f"[={body}]")
        else:
            parts.append(f"[{body}]")
    return "".join(parts)
