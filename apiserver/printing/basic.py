"""Table cells of Namespaces, ConfigMaps and Events (upstream ``printers.go``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from apiserver.api.conversion import EVENT_FIELDS
from apiserver.printing.duration import parse_time, translate_timestamp_since

__all__ = [
    "format_event_source",
    "print_configmap",
    "print_event",
    "print_events_v1_event",
    "print_namespace",
]


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _s(value: Any) -> str:
    return value if isinstance(value, str) else ""


def print_namespace(ns: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, Status (the phase), Age."""
    meta = _m(ns.get("metadata"))
    return [
        _s(meta.get("name")),
        _s(_m(ns.get("status")).get("phase")),
        translate_timestamp_since(meta.get("creationTimestamp"), now),
    ]


def print_configmap(cm: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, Data (number of ``data`` plus ``binaryData`` keys), Age."""
    meta = _m(cm.get("metadata"))
    return [
        _s(meta.get("name")),
        len(_m(cm.get("data"))) + len(_m(cm.get("binaryData"))),
        translate_timestamp_since(meta.get("creationTimestamp"), now),
    ]


def format_event_source(ev: Mapping[str, Any]) -> str:
    """``component[, host]``, falling back to reportingComponent / reportingInstance."""
    source = _m(ev.get("source"))
    component = _s(source.get("component")) or _s(ev.get("reportingComponent"))
    instance = _s(source.get("host")) or _s(ev.get("reportingInstance"))
    return f"{component}, {instance}" if instance else component


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def print_event(ev: Mapping[str, Any], now: datetime) -> list[Any]:
    """Last Seen, Type, Reason, Object, Subobject, Source, Message, First Seen, Count, Name.

    First Seen falls back to ``eventTime``; Last Seen to First Seen, and a
    ``series`` overrides both Last Seen and Count; a missing count is 1.
    """
    meta, involved = _m(ev.get("metadata")), _m(ev.get("involvedObject"))
    if parse_time(ev.get("firstTimestamp")) is not None:
        first = translate_timestamp_since(ev.get("firstTimestamp"), now)
    else:
        first = translate_timestamp_since(ev.get("eventTime"), now)
    if parse_time(ev.get("lastTimestamp")) is not None:
        last = translate_timestamp_since(ev.get("lastTimestamp"), now)
    else:
        last = first
    count = _count(ev.get("count"))
    series = ev.get("series")
    if isinstance(series, Mapping):
        last = translate_timestamp_since(series.get("lastObservedTime"), now)
        count = _count(series.get("count"))
    elif count == 0:
        count = 1
    kind = _s(involved.get("kind")).lower()
    name = _s(involved.get("name"))
    target = f"{kind}/{name}" if name else kind
    return [
        last,
        _s(ev.get("type")),
        _s(ev.get("reason")),
        target,
        _s(involved.get("fieldPath")),
        format_event_source(ev),
        _s(ev.get("message")).strip(),
        first,
        count,
        _s(meta.get("name")),
    ]


def print_events_v1_event(ev: Mapping[str, Any], now: datetime) -> list[Any]:
    """The core Event cells of an ``events.k8s.io/v1`` Event (its fields renamed: upstream
    both are the one internal ``Event`` type, printed by the same printer)."""
    core_names = dict(EVENT_FIELDS)
    return print_event({core_names.get(key, key): value for key, value in ev.items()}, now)
