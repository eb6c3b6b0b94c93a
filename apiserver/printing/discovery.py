"""Table cells of EndpointSlices and Leases (upstream ``printEndpointSlice`` / ``printLease``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from apiserver.printing.duration import translate_timestamp_since

__all__ = ["format_discovery_endpoints", "format_discovery_ports", "print_endpointslice",
           "print_lease"]

_MAX = 3


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _list_with_more(items: list[str], count: int) -> str:
    text = ",".join(items)
    if count > _MAX:
        return f"{text} + {count - _MAX} more..."
    return text or "<unset>"


def format_discovery_ports(ports: Any) -> str:
    """Up to three port numbers (or names, or ``*``), then ``+ N more...``; ``<unset>``."""
    shown: list[str] = []
    count = 0
    for port in _l(ports):
        port = _m(port)
        if len(shown) < _MAX:
            number = port.get("port")
            if isinstance(number, int) and not isinstance(number, bool):
                shown.append(str(number))
            elif isinstance(port.get("name"), str):
                shown.append(port["name"])
            else:
                shown.append("*")
        count += 1
    return _list_with_more(shown, count)


def format_discovery_endpoints(endpoints: Any) -> str:
    """Up to three addresses, then ``+ N more...``; ``<unset>`` when there are none."""
    shown: list[str] = []
    count = 0
    for endpoint in _l(endpoints):
        for address in _l(_m(endpoint).get("addresses")):
            if len(shown) < _MAX:
                shown.append(str(address))
            count += 1
    return _list_with_more(shown, count)


def print_endpointslice(eps: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, AddressType, Ports, Endpoints, Age."""
    meta = _m(eps.get("metadata"))
    return [
        meta.get("name") or "",
        eps.get("addressType") or "",
        format_discovery_ports(eps.get("ports")),
        format_discovery_endpoints(eps.get("endpoints")),
        translate_timestamp_since(meta.get("creationTimestamp"), now),
    ]


def print_lease(lease: Mapping[str, Any], now: datetime) -> list[Any]:
    """Name, Holder, Age."""
    meta = _m(lease.get("metadata"))
    holder = _m(lease.get("spec")).get("holderIdentity")
    return [
        meta.get("name") or "",
        holder if isinstance(holder, str) else "",
        translate_timestamp_since(meta.get("creationTimestamp"), now),
    ]
