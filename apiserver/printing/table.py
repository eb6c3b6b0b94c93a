"""Server-side ``meta.k8s.io/v1`` Table output (``Accept: ...;as=Table``).

Mirrors kube-apiserver: rows always carry every column (the server prints
"wide"); each row embeds the object per ``includeObject`` (``Metadata``, the
default, gives a ``PartialObjectMetadata``; ``Object`` the full object;
``None`` gives ``null``); a watch sends ``columnDefinitions`` only with its
first event (``null`` afterwards).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from apiserver.api.resources import ResourceInfo
from apiserver.printing import (
    access,
    autoscaling,
    batch,
    control,
    metrics,
    networking,
    policy,
    storage,
    workloads,
)
from apiserver.printing.basic import (
    print_configmap,
    print_event,
    print_events_v1_event,
    print_namespace,
)
from apiserver.printing.columns import COLUMNS, column
from apiserver.printing.custom import custom_table
from apiserver.printing.discovery import print_endpointslice, print_lease
from apiserver.printing.node import print_node
from apiserver.printing.pod import PrintedRow, print_pod
from apiserver.printing.service import print_endpoints, print_service
from apiserver.printing.spec import KindTable, column_dict

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


_CORE_TABLES = (
    KindTable("", "Pod", COLUMNS["Pod"], print_pod),
    KindTable("", "Service", COLUMNS["Service"], print_service),
    KindTable("", "Endpoints", COLUMNS["Endpoints"], print_endpoints),
    KindTable("", "Namespace", COLUMNS["Namespace"], print_namespace),
    KindTable("", "Node", COLUMNS["Node"], print_node),
    KindTable("", "ConfigMap", COLUMNS["ConfigMap"], print_configmap),
    KindTable("", "Event", COLUMNS["Event"], print_event),
    # events.k8s.io Events share the core Event's internal type, hence its table.
    KindTable("events.k8s.io", "Event", COLUMNS["Event"], print_events_v1_event),
    KindTable("discovery.k8s.io", "EndpointSlice", COLUMNS["EndpointSlice"], print_endpointslice),
    KindTable("coordination.k8s.io", "Lease", COLUMNS["Lease"], print_lease),
)

#: Every printed kind by ``(group, version, kind)``; version ``""`` serves every version.
_TABLES: dict[tuple[str, str, str], KindTable] = {
    (table.group, table.version, table.kind): table
    for family in (
        _CORE_TABLES,
        workloads.TABLES,
        batch.TABLES,
        access.TABLES,
        storage.TABLES,
        networking.TABLES,
        autoscaling.TABLES,
        policy.TABLES,
        control.TABLES,
        metrics.TABLES,
    )
    for table in family
}


def _default_printer(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    meta = obj.get("metadata") or {}
    return [meta.get("name", ""), meta.get("creationTimestamp")]


# Kinds without a printer get upstream's default table: Name and Created At.
_DEFAULT = KindTable("", "", (
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
), _default_printer)


def _table(info: ResourceInfo) -> KindTable:
    """The table of ``info``'s kind in ``info``'s group (and version), else the default."""
    if info.custom:
        return custom_table(info)
    return (
        _TABLES.get((info.group, info.version, info.kind))
        or _TABLES.get((info.group, "", info.kind))
        or _DEFAULT
    )


_RESOLVED: dict[int, tuple[dict[str, Any], ...]] = {}


def column_definitions(info: ResourceInfo) -> list[dict[str, Any]]:
    """The ``columnDefinitions`` of ``info``'s Table, wide columns included (fresh copies)."""
    table = _table(info)
    resolved = _RESOLVED.get(id(table))
    if resolved is None:
        resolved = _RESOLVED[id(table)] = tuple(column_dict(c) for c in table.columns)
    return [dict(c) for c in resolved]


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
    printed = _table(info).cells(obj, now)
    if not isinstance(printed, PrintedRow):
        printed = PrintedRow(cells=printed)
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
    ``null``, as upstream encodes a nil slice. Kinds whose upstream list printer
    sorts (FlowSchemas) get their rows in that order.
    """
    order = _table(info).order
    if order is not None:
        objs = sorted(objs, key=order)
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
