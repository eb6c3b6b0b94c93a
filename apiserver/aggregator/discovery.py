"""The aggregated groups in discovery (upstream ``handler_apis.go`` and the aggregated
discovery manager ``handler_discovery.go``).

Contract (pure functions over :class:`~.index.Entry` lists, plus a cache):

* :func:`sorted_by_group_and_version` — upstream's ``SortedByGroupAndVersion``: groups by
  their highest ``groupPriorityMinimum`` (descending), then name; versions within a group
  by ``versionPriority`` (descending), then Kubernetes-aware version order;
* :func:`legacy_groups` — the ``APIGroup`` of each group (the first version preferred), as
  the legacy ``/apis`` lists them (availability does not matter there, as upstream);
  :func:`api_group` — the ``/apis/<group>`` body;
* :func:`aggregated_version` — a remote ``APIResourceList`` as an aggregated-discovery
  ``APIVersionDiscovery`` (subresources folded into their resources);
* :class:`RemoteDiscovery` — the last ``APIResourceList`` fetched per APIService, with the
  time and whether the last fetch succeeded (``Current``) or failed (``Stale``, keeping
  the last resources, as upstream).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from apiserver.aggregator.index import Entry

_KUBE_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")
_STABILITY = {None: 3, "beta": 2, "alpha": 1}


def version_key(version: str) -> tuple[int, int, int, int, str]:
    """Sort key putting Kubernetes versions first in upstream's order
    (``v1 > v1beta2 > v1beta1 > v1alpha1``, higher majors first), then the rest by name."""
    match = _KUBE_VERSION.match(version)
    if match is None:
        return (1, 0, 0, 0, version)
    major, stability, minor = match.groups()
    return (0, -_STABILITY[stability], -int(major), -int(minor or 0), "")


def sorted_by_group_and_version(entries: Iterable[Entry]) -> list[list[Entry]]:
    """Entries grouped by group, in upstream's order (see the module docstring)."""
    groups: dict[str, list[Entry]] = {}
    for entry in entries:
        groups.setdefault(entry.group, []).append(entry)
    ordered = sorted(groups.values(),
                     key=lambda g: (-max(e.group_priority for e in g), g[0].group))
    return [sorted(g, key=lambda e: (-e.version_priority, version_key(e.version)))
            for g in ordered]


def _group_body(entries: Sequence[Entry]) -> dict[str, Any]:
    versions = [{"groupVersion": f"{e.group}/{e.version}", "version": e.version}
                for e in entries]
    return {"name": entries[0].group, "versions": versions, "preferredVersion": versions[0]}


def legacy_groups(entries: Iterable[Entry]) -> list[dict[str, Any]]:
    """The ``APIGroup`` entries of ``/apis`` for ``entries`` (the legacy group skipped)."""
    return [_group_body(g) for g in sorted_by_group_and_version(entries) if g[0].group]


def api_group(entries: Iterable[Entry], group: str) -> dict[str, Any] | None:
    """The ``/apis/<group>`` body for the entries of ``group``; None when there are none."""
    mine = [e for e in entries if e.group == group]
    if not group or not mine:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1",
            **_group_body(sorted_by_group_and_version(mine)[0])}


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _strings(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def aggregated_version(group: str, version: str, resource_list: Mapping[str, Any] | None,
                       freshness: str) -> dict[str, Any]:
    """The ``APIVersionDiscovery`` of ``group/version`` from a remote ``APIResourceList``
    (None: no resources known)."""
    parents: dict[str, dict[str, Any]] = {}
    subresources: list[tuple[str, str, Mapping[str, Any]]] = []
    resources = (resource_list or {}).get("resources")
    for item in resources if isinstance(resources, list) else []:
        item = _m(item)
        name = str(item.get("name") or "")
        kind = {"group": str(item.get("group") or group),
                "version": str(item.get("version") or version),
                "kind": str(item.get("kind") or "")}
        if "/" in name:
            parent, _, sub = name.partition("/")
            subresources.append((parent, sub, {**item, "responseKind": kind}))
            continue
        if not name:
            continue
        entry: dict[str, Any] = {
            "resource": name, "responseKind": kind,
            "scope": "Namespaced" if item.get("namespaced") else "Cluster",
            "singularResource": str(item.get("singularName") or ""),
            "verbs": _strings(item.get("verbs")),
        }
        for source, target in (("shortNames", "shortNames"), ("categories", "categories")):
            if _strings(item.get(source)):
                entry[target] = _strings(item.get(source))
        parents[name] = entry
    for parent, sub, item in subresources:
        if parent in parents:
            parents[parent].setdefault("subresources", []).append(
                {"subresource": sub, "responseKind": item["responseKind"],
                 "verbs": _strings(item.get("verbs"))})
    return {"version": version, "resources": list(parents.values()), "freshness": freshness}


@dataclass
class Fetched:
    """The last discovery fetch of one APIService."""

    resource_list: Mapping[str, Any] | None = None
    #: Whether the last fetch succeeded.
    current: bool = False
    #: ``time.monotonic()`` of the last fetch.
    at: float = field(default=0.0)


class RemoteDiscovery:
    """Remote ``APIResourceList``\\ s by APIService name (see the module docstring)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.fetched: dict[str, Fetched] = {}

    def record(self, name: str, resource_list: Mapping[str, Any] | None) -> None:
        """The result of a fetch (None: it failed; the last resources stay, Stale)."""
        last = self.fetched.get(name) or Fetched()
        if resource_list is None:
            self.fetched[name] = Fetched(last.resource_list, False, self.clock())
        else:
            self.fetched[name] = Fetched(resource_list, True, self.clock())

    def age(self, name: str) -> float | None:
        """Seconds since the last fetch of ``name`` (None: never)."""
        found = self.fetched.get(name)
        return None if found is None else self.clock() - found.at

    def forget(self, keep: Iterable[str]) -> None:
        """Drop what is known of APIServices not in ``keep``."""
        wanted = set(keep)
        for name in [n for n in self.fetched if n not in wanted]:
            del self.fetched[name]

    def items(self, entries: Iterable[Entry]) -> list[dict[str, Any]]:
        """The aggregated-discovery ``APIGroupDiscovery`` items of ``entries``, in
        upstream's order; a version never fetched successfully is ``Stale`` with no
        resources."""
        out: list[dict[str, Any]] = []
        for group in sorted_by_group_and_version(entries):
            if not group[0].group:
                continue
            versions = []
            for entry in group:
                found = self.fetched.get(entry.name) or Fetched()
                current = found.current and entry.available
                versions.append(aggregated_version(entry.group, entry.version,
                                                   found.resource_list,
                                                   "Current" if current else "Stale"))
            out.append({"metadata": {"name": group[0].group}, "versions": versions})
        return out
