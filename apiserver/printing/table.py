"""Server-side ``meta.k8s.io/v1`` Table output (``Accept: ...;as=Table``).

Mirrors kube-apiserver: rows always carry every column (the server prints
"wide"); each row embeds the object per ``includeObject`` (``Metadata``, the
default, gives a ``PartialObjectMetadata``; ``Object`` the full object;
``None`` gives ``null``); a watch sends ``columnDefinitions`` only with its
first event (``null`` afterwards).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from apiserver.api.resources import ResourceInfo
from apiserver.printing.basic import print_configmap, print_event, print_namespace
from apiserver.printing.columns import COLUMNS, column
from apiserver.printing.discovery import print_endpointslice, print_lease
from apiserver.printing.node import print_node
from apiserver.printing.pod import PrintedRow, print_pod
from apiserver.printing.service import print_endpoints, print_service

__all__ = [
    "INCLUDE_OBJECT_VALUES",
    "InvalidIncludeObject",
    "build_table",
    "column_definitions",
    "table_row",
]

TABLE_API_VERSION = "meta.k8s.io/v1"

#: Accepted ``includeObject`` values; ``""`` means ``Metadata``.
INCLUDE_OBJECT_VALUES = ("None", "Object", "Metadata", "")


class InvalidIncludeObject(ValueError):
    """An unknown ``includeObject`` value; the message is upstream's 400 text."""


_Printer = Callable[[Mapping[str, Any], datetime], PrintedRow]


def _cells(fn: Callable[[Mapping[str, Any], datetime], list[Any]]) -> _Printer:
    return lambda obj, now: PrintedRow(cells=fn(obj, now))


_PRINTERS: dict[str, _Printer] = {
    "Pod": print_pod,
    "Service": _cells(print_service),
    "Endpoints": _cells(print_endpoints),
    "Namespace": _cells(print_namespace),
    "Node": _cells(print_node),
    "ConfigMap": _cells(print_configmap),
    "Event": _cells(print_event),
    "EndpointSlice": _cells(print_endpointslice),
    "Lease": _cells(print_lease),
}
#: Group of each printed kind outside the core group.
_GROUPS = {"EndpointSlice": "discovery.k8s.io", "Lease": "coordination.k8s.io"}

# Kinds without a printer get upstream's default table: Name and Created At.
_DEFAULT_COLUMNS = (
    column(
        "Name",
        "Name must be unique within a namespace. Is required when creating resources, although "
        "some resources may allow a client to request the generation of an appropriate name "
        "automatically. Name is primarily intended for creation idempotence and configuration "
        "definition. Cannot be updated. More info: "
        "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
        fmt="name",
    ),
    column(
        "Created At",
        "CreationTimestamp is a timestamp representing the server time when this object was "
        "created. It is not guaranteed to be set in happens-before order across separate "
        "operations. Clients may not set this value. It is represented in RFC3339 form and is "
        "in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
        "https://git.k8s.io/community/contributors/devel/sig-architecture/"
        "api-conventions.md#metadata",
        fmt="date",
    ),
)


def _default_printer(obj: Mapping[str, Any], now: datetime) -> PrintedRow:
    meta = obj.get("metadata") or {}
    return PrintedRow(cells=[meta.get("name", ""), meta.get("creationTimestamp")])


def _is_core(info: ResourceInfo) -> bool:
    return info.kind in _PRINTERS and info.group == _GROUPS.get(info.kind, "")


def column_definitions(info: ResourceInfo) -> list[dict[str, Any]]:
    """The ``columnDefinitions`` of ``info``'s Table, wide columns included (fresh copies)."""
    cols = COLUMNS[info.kind] if _is_core(info) else _DEFAULT_COLUMNS
    return [dict(c) for c in cols]


def _row_object(obj: Mapping[str, Any], include_object: str) -> Any:
    if include_object in ("Metadata", ""):
        return {
            "kind": "PartialObjectMetadata",
            "apiVersion": TABLE_API_VERSION,
            "metadata": obj.get("metadata") or {},
        }
    if include_object == "Object":
        return obj
    if include_object == "None":
        return None
    raise InvalidIncludeObject(f'unrecognized includeObject value: "{include_object}"')


def table_row(
    info: ResourceInfo, obj: Mapping[str, Any], now: datetime, include_object: str = "Metadata"
) -> dict[str, Any]:
    """One ``TableRow``: ``{"cells": [...], ["conditions": [...]], "object": ...}``.

    ``obj`` is not copied: with ``include_object="Object"`` (or the metadata of
    ``"Metadata"``) the row references it. Raises :class:`InvalidIncludeObject`
    for an unknown ``include_object``.
    """
    embedded = _row_object(obj, include_object)
    printer = _PRINTERS[info.kind] if _is_core(info) else _default_printer
    printed = printer(obj, now)
    row: dict[str, Any] = {"cells": printed.cells}
    if printed.conditions:
        row["conditions"] = printed.conditions
    row["object"] = embedded
    return row


def build_table(
    info: ResourceInfo,
    objs: Sequence[Mapping[str, Any]],
    resource_version: str,
    now: datetime,
    include_object: str = "Metadata",
    continue_token: str | None = None,
    remaining: int | None = None,
    with_headers: bool = True,
) -> dict[str, Any]:
    """A complete ``meta.k8s.io/v1`` Table of ``objs`` (in the given order).

    ``metadata`` carries ``resourceVersion``, ``continue`` and
    ``remainingItemCount`` when set. With ``with_headers=False`` (watch events
    after the first, or ``TableOptions.noHeaders``) ``columnDefinitions`` is
    ``null``, as upstream encodes a nil slice.
    """
    metadata: dict[str, Any] = {}
    if resource_version:
        metadata["resourceVersion"] = resource_version
    if continue_token:
        metadata["continue"] = continue_token
    if remaining is not None:
        metadata["remainingItemCount"] = remaining
    return {
        "kind": "Table",
        "apiVersion": TABLE_API_VERSION,
        "metadata": metadata,
        "columnDefinitions": column_definitions(info) if with_headers else None,
        "rows": [table_row(info, o, now, include_object) for o in objs],
    }
