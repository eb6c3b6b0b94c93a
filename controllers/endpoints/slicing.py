"""Placing endpoints into EndpointSlices (upstream ``k8s.io/endpointslice`` reconciler).

:func:`plan_slices` is pure: given the existing slices of one owner and the
desired endpoints grouped by ``(addressType, ports)``, it returns the slices to
create, update and delete, following upstream's churn-minimising algorithm:

1. each existing slice whose address type and ports are still desired keeps
   the endpoints that are still desired (refreshed to their desired state);
   a slice left empty is deleted; a slice of an unwanted port set is deleted;
2. remaining endpoints fill the slices already being updated, fullest first;
3. then an unchanged slice with room for all of them, else new slices of at
   most ``max_per_slice`` endpoints.

With ``placeholder=True`` an owner without any endpoint keeps (or gets) one
empty slice per address type, as upstream's EndpointSlice controller does.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SliceGroup", "SlicePlan", "endpoint_key", "plan_slices", "ports_key"]

Obj = dict[str, Any]


def ports_key(ports: Sequence[Mapping[str, Any]] | None) -> tuple[tuple[str, str, int, str], ...]:
    """A hashable key of a port list (order-insensitive)."""
    return tuple(sorted(
        (
            str(p.get("name") or ""),
            str(p.get("protocol") or ""),
            int(p.get("port") or 0),
            str(p.get("appProtocol") or ""),
        )
        for p in ports or []
    ))


def endpoint_key(endpoint: Mapping[str, Any]) -> tuple[tuple[str, ...], str]:
    """Identity of an endpoint: its addresses and targetRef UID (or name)."""
    ref = endpoint.get("targetRef")
    owner = ""
    if isinstance(ref, Mapping):
        owner = str(ref.get("uid") or ref.get("name") or "")
    return tuple(sorted(str(a) for a in endpoint.get("addresses") or [])), owner


@dataclass
class SliceGroup:
    """Desired endpoints sharing one address type and one port list."""

    address_type: str
    ports: list[Obj]
    endpoints: list[Obj] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, tuple[tuple[str, str, int, str], ...]]:
        """``(addressType, ports_key)``."""
        return self.address_type, ports_key(self.ports)


@dataclass
class SlicePlan:
    """What to write."""

    create: list[Obj] = field(default_factory=list)
    update: list[Obj] = field(default_factory=list)
    delete: list[Obj] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """True when nothing needs writing."""
        return not (self.create or self.update or self.delete)


def _slice_key(s: Mapping[str, Any]) -> tuple[str, tuple[tuple[str, str, int, str], ...]]:
    return str(s.get("addressType") or ""), ports_key(s.get("ports"))


def plan_slices(
    existing: Sequence[Obj],
    groups: Sequence[SliceGroup],
    *,
    new_slice: Callable[[SliceGroup], Obj],
    metadata_ok: Callable[[Obj], bool],
    fix_metadata: Callable[[Obj], None],
    max_per_slice: int = 100,
    placeholder_types: Sequence[str] = (),
) -> SlicePlan:
    """Plan the writes that turn ``existing`` into ``groups`` (see the module doc).

    ``new_slice(group)`` builds an empty slice (metadata, addressType, ports);
    ``metadata_ok(slice)`` tells whether an existing slice's labels/owner are
    current and ``fix_metadata(slice)`` makes them so (slices whose metadata is
    stale are updated even if their endpoints are right).
    ``placeholder_types``: address types that get an empty slice when no
    endpoint at all is desired.
    """
    plan = SlicePlan()
    desired = {g.key: g for g in groups if g.endpoints}
    by_key: dict[Any, list[Obj]] = {}
    for s in existing:
        if _slice_key(s) in desired:
            by_key.setdefault(_slice_key(s), []).append(s)
        else:
            plan.delete.append(s)

    for key, group in desired.items():
        wanted: dict[Any, Obj] = {}
        for ep in group.endpoints:
            wanted.setdefault(endpoint_key(ep), ep)
        to_update: list[Obj] = []
        unchanged: list[Obj] = []
        for s in by_key.get(key, []):
            kept: list[Obj] = []
            changed = False
            for ep in s.get("endpoints") or []:
                want = wanted.pop(endpoint_key(ep), None)
                if want is None:
                    changed = True
                    continue
                if want != ep:
                    changed = True
                kept.append(want)
            if changed:
                if not kept:
                    plan.delete.append(s)
                    continue
                new = copy.deepcopy(s)
                new["endpoints"] = kept
                fix_metadata(new)
                to_update.append(new)
            elif not metadata_ok(s):
                new = copy.deepcopy(s)
                fix_metadata(new)
                to_update.append(new)
            else:
                unchanged.append(s)
        remaining = list(wanted.values())
        # 2. fill slices already being updated, fullest first
        for s in sorted(to_update, key=lambda x: -len(x["endpoints"])):
            while remaining and len(s["endpoints"]) < max_per_slice:
                s["endpoints"].append(remaining.pop(0))
        # 3. one unchanged slice with room for all, else new slices
        while remaining:
            target: Obj | None = None
            if len(remaining) < max_per_slice and unchanged:
                fits = [s for s in unchanged
                        if len(s.get("endpoints") or []) + len(remaining) <= max_per_slice]
                if fits:
                    chosen = max(fits, key=lambda x: len(x.get("endpoints") or []))
                    unchanged.remove(chosen)
                    target = copy.deepcopy(chosen)
                    target["endpoints"] = list(target.get("endpoints") or [])
                    fix_metadata(target)
                    to_update.append(target)
            if target is None:
                target = new_slice(group)
                target["endpoints"] = []
                plan.create.append(target)
            while remaining and len(target["endpoints"]) < max_per_slice:
                target["endpoints"].append(remaining.pop(0))
        plan.update.extend(to_update)

    if not desired and placeholder_types:
        # Keep one empty placeholder per address type instead of deleting it.
        for address_type in placeholder_types:
            keep = next(
                (s for s in plan.delete
                 if s.get("addressType") == address_type and not s.get("endpoints")
                 and not s.get("ports") and metadata_ok(s)),
                None,
            )
            if keep is not None:
                plan.delete.remove(keep)
            else:
                placeholder = new_slice(SliceGroup(address_type, []))
                placeholder["endpoints"] = []
                plan.create.append(placeholder)
    return plan
