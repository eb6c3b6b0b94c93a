"""Tables of custom resources: Name, then the CRD's ``additionalPrinterColumns``.

Each column's cell is its ``jsonPath`` evaluated on the object, as upstream's custom
resource table convertor does: the first value found (``<none>`` printing when there is
none); an ``integer``/``number``/``boolean`` column keeps the JSON value, a ``string``
column prints scalars as text and other values as JSON; a ``date`` column keeps the
timestamp, which kubectl shows as an age.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson

from apiserver.api.resources import ResourceInfo
from apiserver.printing.columns import column
from apiserver.printing.spec import KindTable

_NAME = ("Name must be unique within a namespace. Is required when creating resources, "
         "although some resources may allow a client to request the generation of an "
         "appropriate name automatically. Name is primarily intended for creation idempotence "
         "and configuration definition. Cannot be updated. More info: "
         "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names")
_STEP = re.compile(r"\.([^.\[\]]+)|\[(\d+|\*)\]|\['([^']*)'\]")
_TABLES: dict[ResourceInfo, KindTable] = {}


def _steps(path: str) -> list[str | int | None]:
    """``.spec.items[0].name`` → ``["spec", "items", 0, "name"]`` (``[*]`` → None)."""
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    out: list[str | int | None] = []
    for field, index, quoted in _STEP.findall(path):
        if field or quoted:
            out.append(field or quoted)
        else:
            out.append(None if index == "*" else int(index))
    return out


def evaluate(obj: Any, path: str) -> list[Any]:
    """Every value ``path`` reaches in ``obj`` (a small JSONPath: fields, indexes, ``*``)."""
    values = [obj]
    for step in _steps(path):
        found: list[Any] = []
        for value in values:
            if isinstance(step, str):
                if isinstance(value, Mapping) and step in value:
                    found.append(value[step])
            elif isinstance(step, int):
                if isinstance(value, list) and -len(value) <= step < len(value):
                    found.append(value[step])
            elif isinstance(value, list):
                found.extend(value)
        values = found
    return values


def _cell(value: list[Any], type_: str) -> Any:
    if not value:
        return None
    first = value[0]
    if type_ in ("integer", "number", "boolean", "date") or isinstance(first, str):
        return first
    if isinstance(first, (bool, int, float)):
        return orjson.dumps(first).decode()
    return orjson.dumps(first).decode()


def custom_table(info: ResourceInfo) -> KindTable:
    """The (cached) table of a custom resource version."""
    table = _TABLES.get(info)
    if table is None:
        columns = [column("Name", _NAME, fmt="name")]
        for name, type_, fmt, description, priority, _path in info.printer_columns:
            columns.append(column(name, description, type_=type_, fmt=fmt, priority=priority))
        paths = [(c[5], c[1]) for c in info.printer_columns]

        def cells(obj: Mapping[str, Any], now: datetime) -> list[Any]:
            del now
            name = (obj.get("metadata") or {}).get("name", "")
            return [name, *(_cell(evaluate(obj, p), t) for p, t in paths)]

        table = KindTable(info.group, info.kind, tuple(columns), cells, info.version)
        if len(_TABLES) > 1024:
            _TABLES.clear()
        _TABLES[info] = table
    return table
