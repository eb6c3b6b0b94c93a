"""Small, type-tolerant helpers the defaulter tables are applied with.

Upstream defaults Go structs, where "unset" means a nil pointer or, for plain
(non-pointer) fields, the zero value. On our JSON dicts the same two notions are:

* :func:`fill` — the key is missing or ``null`` (Go pointer fields);
* :func:`fill_zero` — also ``""`` and ``0`` (Go plain strings and integers, which
  upstream cannot tell apart from "not sent").

Every helper leaves values of an unexpected type alone, so a malformed object comes
out of defaulting as malformed as it went in and validation reports it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

Obj = dict[str, Any]

#: Values a Go plain field cannot distinguish from "not sent".
_ZERO: tuple[Any, ...] = (None, "", 0)


def _fresh(value: Any) -> Any:
    # Table values are shared between objects; hand every object its own containers.
    if isinstance(value, dict):
        return {k: _fresh(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_fresh(v) for v in value]
    return value


def fill(obj: Obj, table: Mapping[str, Any]) -> None:
    """Set each ``table`` entry on ``obj`` whose key is missing or ``null``."""
    for key, value in table.items():
        if obj.get(key) is None:
            obj[key] = _fresh(value)


def fill_zero(obj: Obj, table: Mapping[str, Any]) -> None:
    """Set each ``table`` entry on ``obj`` whose key is missing, ``null``, ``""`` or ``0``.

    ``False`` is never replaced (it is a set boolean, not a zero string or number).
    """
    for key, value in table.items():
        current = obj.get(key)
        if current is False:
            continue
        if current in _ZERO:
            obj[key] = _fresh(value)


def child(obj: Obj, key: str) -> Obj | None:
    """``obj[key]`` when it is an object, else ``None``."""
    value = obj.get(key)
    return value if isinstance(value, dict) else None


def ensure(obj: Obj, key: str) -> Obj | None:
    """``obj[key]``, created as ``{}`` when missing or ``null``; ``None`` if it is no object."""
    value = obj.get(key)
    if value is None:
        value = obj[key] = {}
    return value if isinstance(value, dict) else None


def each(obj: Obj, key: str) -> Iterator[Obj]:
    """The object items of the list ``obj[key]`` (nothing when it is no list)."""
    value = obj.get(key)
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                yield item


def path(obj: Obj, *keys: str) -> Obj | None:
    """The object at ``obj[k1][k2]…``, or ``None`` when any step is missing or no object."""
    current: Obj | None = obj
    for key in keys:
        if current is None:
            return None
        current = child(current, key)
    return current
