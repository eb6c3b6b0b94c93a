"""Endpoints subsets: build, repack, sort, compare and truncate.

Upstream homes: ``pkg/api/v1/endpoints/util.go`` (``RepackSubsets``,
``SortSubsets``) and ``endpoints_controller.go`` (``truncateEndpoints``,
``endpointSubsetsEqualIgnoreResourceVersion``). Addresses, ports and subsets are
JSON dicts in the field order the API serves them.

Upstream sorts ports and subsets by a hash of their Go representation, an
order that cannot be reproduced outside Go; here ports sort by
``(name, port, protocol, appProtocol)`` and subsets by their first address and
ports, which is just as deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "MAX_CAPACITY",
    "address_key",
    "repack_subsets",
    "subsets_equal",
    "total_addresses",
    "truncate_subsets",
]

Subset = dict[str, Any]

#: Upstream ``maxCapacity``: addresses kept in one Endpoints object.
MAX_CAPACITY = 1000

_PortKey = tuple[str, int, str, str] | None  # None: the "no ports" sentinel


def address_key(addr: Mapping[str, Any]) -> tuple[str, str]:
    """``(ip, targetRef.uid)``: the identity used for deduplication and sorting."""
    ref = addr.get("targetRef")
    uid = str(ref.get("uid") or "") if isinstance(ref, Mapping) else ""
    return str(addr.get("ip") or ""), uid


def _port_key(port: Mapping[str, Any]) -> tuple[str, int, str, str]:
    return (
        str(port.get("name") or ""),
        int(port.get("port") or 0),
        str(port.get("protocol") or ""),
        str(port.get("appProtocol") or ""),
    )


def repack_subsets(subsets: Sequence[Mapping[str, Any]]) -> list[Subset]:
    """``RepackSubsets``: group addresses by the exact set of ports they serve.

    Duplicate addresses (same IP and targetRef UID) are merged; for each port a
    not-ready occurrence wins over a ready one. The result is sorted.
    """
    addrs: dict[tuple[str, str], Mapping[str, Any]] = {}
    ports: dict[_PortKey, Mapping[str, Any]] = {}
    by_port: dict[_PortKey, dict[tuple[str, str], bool]] = {}

    def note(addr: Mapping[str, Any], pk: _PortKey, ready: bool) -> None:
        key = address_key(addr)
        addrs.setdefault(key, addr)
        states = by_port.setdefault(pk, {})
        if states.get(key, True):
            states[key] = ready

    for subset in subsets:
        plist: list[Mapping[str, Any] | None] = list(subset.get("ports") or []) or [None]
        for port in plist:
            pk: _PortKey = None if port is None else _port_key(port)
            if port is not None:
                ports.setdefault(pk, port)
            for addr in subset.get("addresses") or []:
                note(addr, pk, True)
            for addr in subset.get("notReadyAddresses") or []:
                note(addr, pk, False)

    groups: dict[frozenset[tuple[tuple[str, str], bool]], list[_PortKey]] = {}
    for pk, states in by_port.items():
        groups.setdefault(frozenset(states.items()), []).append(pk)

    final: list[Subset] = []
    for members, pks in groups.items():
        out: Subset = {}
        ready = sorted((k for k, r in members if r))
        not_ready = sorted((k for k, r in members if not r))
        if ready:
            out["addresses"] = [dict(addrs[k]) for k in ready]
        if not_ready:
            out["notReadyAddresses"] = [dict(addrs[k]) for k in not_ready]
        real = sorted(pk for pk in pks if pk is not None)
        if real:
            out["ports"] = [dict(ports[pk]) for pk in real]
        final.append(out)
    final.sort(key=_subset_sort_key)
    return final


def _subset_sort_key(subset: Mapping[str, Any]) -> tuple[Any, ...]:
    first = (subset.get("addresses") or subset.get("notReadyAddresses") or [{}])[0]
    return address_key(first), [_port_key(p) for p in subset.get("ports") or []]


def _normal_address(addr: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in addr.items() if v not in (None, "") or k == "nodeName"}
    ref = out.get("targetRef")
    if isinstance(ref, Mapping):
        out["targetRef"] = {k: v for k, v in ref.items() if k != "resourceVersion" and v}
    if out.get("nodeName") in (None, ""):
        out.pop("nodeName", None)
    return out


def _normal(subsets: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    out = []
    for s in subsets or []:
        out.append({
            "addresses": [_normal_address(a) for a in s.get("addresses") or []],
            "notReadyAddresses": [_normal_address(a) for a in s.get("notReadyAddresses") or []],
            "ports": [
                {k: v for k, v in p.items() if v not in (None, "")} for p in s.get("ports") or []
            ],
        })
    return out


def subsets_equal(
    a: Sequence[Mapping[str, Any]] | None, b: Sequence[Mapping[str, Any]] | None
) -> bool:
    """Semantic equality, ignoring targetRef resourceVersions and empty fields."""
    return _normal(a) == _normal(b)


def total_addresses(subsets: Sequence[Mapping[str, Any]] | None) -> int:
    """Ready plus not-ready addresses."""
    return sum(
        len(s.get("addresses") or []) + len(s.get("notReadyAddresses") or [])
        for s in subsets or []
    )


def truncate_subsets(subsets: list[Subset], capacity: int = MAX_CAPACITY) -> bool:
    """``truncateEndpoints``: cut to ``capacity`` addresses in place; True if cut.

    Ready addresses are kept first; the cut is spread over the subsets in
    proportion to their size (rounded up, so the last subset gets what is left).
    """
    total_ready = sum(len(s.get("addresses") or []) for s in subsets)
    total_not_ready = sum(len(s.get("notReadyAddresses") or []) for s in subsets)
    if total_ready + total_not_ready <= capacity:
        return False
    truncate_ready = total_ready > capacity
    limit = capacity if truncate_ready else capacity - total_ready
    num_total = total_ready if truncate_ready else total_not_ready
    can_be_added = limit
    for subset in subsets:
        field = "addresses" if truncate_ready else "notReadyAddresses"
        members = list(subset.get(field) or [])
        to_add = math.ceil(len(members) / num_total * limit) if num_total else 0
        to_add = min(to_add, can_be_added)
        if members or field in subset:
            subset[field] = members[:to_add]
            if not subset[field]:
                del subset[field]
        if truncate_ready:
            subset.pop("notReadyAddresses", None)
        can_be_added -= to_add
    return True
