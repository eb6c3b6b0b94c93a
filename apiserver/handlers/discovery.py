"""Bodies of the discovery endpoints: ``/version``, ``/api``, ``/apis`` and below.

Pure functions returning JSON-able dicts, derived from the resource table; the
HTTP layer encodes them. Shapes follow kube-apiserver:

* legacy discovery: ``APIVersions`` (``/api``), ``APIGroupList`` (``/apis``),
  ``APIGroup`` (``/apis/<group>``), ``APIResourceList`` (``/api/v1``,
  ``/apis/<group>/<version>``);
* aggregated discovery (``apidiscovery.k8s.io/v2``, and ``v2beta1`` for
  kubectl 1.27/1.28): an ``APIGroupDiscoveryList`` at ``/api`` and ``/apis``,
  chosen by :func:`negotiate_discovery` from the ``Accept`` header. client-go
  treats a response as aggregated only if its ``Content-Type`` carries
  ``g=apidiscovery.k8s.io``, ``v=v2`` (or ``v2beta1``) and
  ``as=APIGroupDiscoveryList``; the value returned by :func:`negotiate_discovery`
  must be sent verbatim.
"""

from __future__ import annotations

import base64
import hashlib
import platform
from collections.abc import Sequence
from typing import Any

from apiserver.api.resources import (
    ResourceInfo,
    SubresourceInfo,
    by_group_version,
    served_resources,
)
from apiserver.openapi import KUBE_VERSION

DISCOVERY_GROUP = "apidiscovery.k8s.io"
#: Versions of aggregated discovery we answer, in our order of preference.
DISCOVERY_VERSIONS: tuple[str, ...] = ("v2", "v2beta1")
AGGREGATED_KIND = "APIGroupDiscoveryList"

#: ``Content-Type`` of an aggregated discovery response, by discovery version.
AGGREGATED_CONTENT_TYPES: dict[str, str] = {
    version: f"application/json;g={DISCOVERY_GROUP};v={version};as={AGGREGATED_KIND}"
    for version in DISCOVERY_VERSIONS
}

#: Version of kubemu reported in ``gitVersion`` build metadata.
KUBEMU_VERSION = "0.1.0"
#: Build date reported by ``/version`` (RFC 3339); fixed so responses are reproducible.
BUILD_DATE = "2025-06-01T00:00:00Z"

_MACHINE_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def version_info(
    *, git_commit: str = "unknown", git_tree_state: str = "", build_date: str = BUILD_DATE
) -> dict[str, str]:
    """The ``/version`` body (``version.Info``).

    Reports the Kubernetes release whose API (and schemas) we serve:
    ``major`` "1", ``minor`` "33", and ``gitVersion`` ``v1.33.0+kubemu.0.1.0``
    — valid semver whose build metadata marks the implementation without
    changing precedence (as k3s does). ``goVersion`` and ``compiler`` honestly
    name the Python runtime; ``platform`` is ``<os>/<GOARCH-style arch>``.
    The 1.33 emulation/compatibility fields are included.
    """
    major, minor, _patch = KUBE_VERSION.split(".")
    machine = platform.machine().lower()
    return {
        "major": major,
        "minor": minor,
        "emulationMajor": major,
        "emulationMinor": minor,
        "minCompatibilityMajor": major,
        "minCompatibilityMinor": str(int(minor) - 1),
        "gitVersion": f"v{KUBE_VERSION}+kubemu.{KUBEMU_VERSION}",
        "gitCommit": git_commit,
        "gitTreeState": git_tree_state,
        "buildDate": build_date,
        "goVersion": f"python{platform.python_version()}",
        "compiler": platform.python_implementation().lower(),
        "platform": f"{platform.system().lower()}/{_MACHINE_ARCH.get(machine, machine)}",
    }


def api_versions(server_address: str) -> dict[str, Any]:
    """The ``/api`` body (legacy ``APIVersions``).

    ``server_address`` is ``host:port`` clients should use; it is published for
    every client CIDR.
    """
    versions = _unique(info.version for info in served_resources() if not info.group)
    return {
        "kind": "APIVersions",
        "versions": versions,
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def api_group_list(extra: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """The ``/apis`` body (legacy ``APIGroupList``) of every non-core group, in table order,
    then the ``APIGroup`` entries of ``extra`` (the aggregator's, in its order; versions of
    a group served here too are appended to it)."""
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": merge_groups([_group(group) for group in _groups()], extra, "name",
                               "versions", "groupVersion"),
    }


def merge_groups(local: list[dict[str, Any]], extra: Sequence[dict[str, Any]],
                 name_of: str, versions_of: str, version_key: str) -> list[dict[str, Any]]:
    """``local`` groups then ``extra`` ones; an extra group already in ``local`` adds
    the versions it lacks to it. ``name_of`` names the group key (``name``, or
    ``metadata`` for aggregated items), ``versions_of`` the versions list and
    ``version_key`` the key identifying a version."""

    def name(group: dict[str, Any]) -> Any:
        value = group.get(name_of)
        return value.get("name") if isinstance(value, dict) else value

    merged = list(local)
    positions = {name(g): i for i, g in enumerate(merged)}
    for group in extra:
        at = positions.get(name(group))
        if at is None:
            positions[name(group)] = len(merged)
            merged.append(group)
            continue
        known = {v.get(version_key) for v in merged[at][versions_of]}
        added = [v for v in group[versions_of] if v.get(version_key) not in known]
        merged[at] = {**merged[at], versions_of: [*merged[at][versions_of], *added]}
    return merged


def api_group(group: str) -> dict[str, Any] | None:
    """The ``/apis/<group>`` body (``APIGroup``), or ``None`` if the group is not served."""
    if not group or group not in _groups():
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(group)}


def api_resource_list(group_version: str) -> dict[str, Any] | None:
    """The ``APIResourceList`` of ``group_version`` (``v1`` or ``<group>/<version>``).

    Lists each resource and each subresource (``pods/status``), sorted by
    name as upstream does. ``None`` if the group version is not served.
    """
    infos = by_group_version().get(group_version)
    if not infos:
        return None
    entries: list[dict[str, Any]] = []
    for info in infos:
        entries.append(_api_resource(info))
        for sub in info.subresources:
            entries.append(
                {
                    "name": f"{info.plural}/{sub.name}",
                    "singularName": "",
                    "namespaced": info.namespaced,
                    "kind": sub.kind,
                    "verbs": list(sub.verbs),
                    **({"group": sub.group, "version": sub.version} if sub.group else {}),
                }
            )
    entries.sort(key=lambda entry: str(entry["name"]))
    body: dict[str, Any] = {"kind": "APIResourceList", "groupVersion": group_version}
    if "/" in group_version:
        body["apiVersion"] = "v1"
    body["resources"] = entries
    return body


def storage_version_hash(info: ResourceInfo) -> str:
    """Upstream's ``storageVersionHash``: base64 of the first 8 bytes of the
    SHA-256 of ``<group>/<version>/<kind>`` of the storage version (both versions of a
    kind served in two have the stored one's)."""
    group, version = info.stored_group_version
    digest = hashlib.sha256(f"{group}/{version}/{info.kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode("ascii")


def aggregated_discovery(core: bool, version: str = "v2",
                         extra: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """The aggregated discovery body (``APIGroupDiscoveryList``).

    ``core`` selects ``/api`` (one item for the legacy group, named ``""``)
    or ``/apis`` (one item per non-core group, in table order). ``version``
    is ``v2`` or ``v2beta1``; the two shapes are identical but for
    ``apiVersion``. ``extra`` are the aggregator's ``APIGroupDiscovery`` items (for
    ``/apis``), merged as :func:`api_group_list` merges. Raises ``ValueError`` for
    another version.
    """
    if version not in DISCOVERY_VERSIONS:
        raise ValueError(f"unsupported aggregated discovery version {version!r}")
    groups = [""] if core else _groups()
    items = [_group_discovery(group) for group in groups if _versions(group)]
    if extra and not core:
        items = merge_groups(items, extra, "metadata", "versions", "version")
    return {
        "kind": AGGREGATED_KIND,
        "apiVersion": f"{DISCOVERY_GROUP}/{version}",
        "metadata": {},
        "items": items,
    }


def negotiate_discovery(accept_header: str) -> str | None:
    """The ``Content-Type`` to answer ``/api`` or ``/apis`` with, if aggregated.

    Returns one of :data:`AGGREGATED_CONTENT_TYPES` when the ``Accept`` header
    asks for ``application/json;g=apidiscovery.k8s.io;v=<v2|v2beta1>;as=APIGroupDiscoveryList``
    (the client's highest-``q`` acceptable entry wins; parameter order and case
    of names are irrelevant; ``q=0`` refuses), else ``None``: serve the legacy
    body as ``application/json``.
    """
    candidates: list[tuple[float, int, str]] = []
    for index, entry in enumerate(accept_header.split(",")):
        parts = [part.strip() for part in entry.split(";")]
        if parts[0].lower() != "application/json":
            continue
        params: dict[str, str] = {}
        for part in parts[1:]:
            key, _, value = part.partition("=")
            params[key.strip().lower()] = value.strip().strip('"')
        version = params.get("v", "")
        if (
            params.get("g") != DISCOVERY_GROUP
            or params.get("as") != AGGREGATED_KIND
            or version not in DISCOVERY_VERSIONS
        ):
            continue
        quality = _quality(params.get("q"))
        if quality > 0:
            candidates.append((-quality, index, version))
    if not candidates:
        return None
    return AGGREGATED_CONTENT_TYPES[min(candidates)[2]]


def _quality(value: str | None) -> float:
    if value is None:
        return 1.0
    try:
        return float(value)
    except ValueError:
        return 0.0


def _unique(values: Any) -> list[str]:
    return list(dict.fromkeys(values))


def _groups() -> list[str]:
    return _unique(info.group for info in served_resources() if info.group)


def _versions(group: str) -> list[str]:
    return _unique(info.version for info in served_resources() if info.group == group)


def _group(group: str) -> dict[str, Any]:
    versions = [
        {"groupVersion": f"{group}/{version}", "version": version} for version in _versions(group)
    ]
    return {"name": group, "versions": versions, "preferredVersion": versions[0]}


def _api_resource(info: ResourceInfo) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": info.plural,
        "singularName": info.singular,
        "namespaced": info.namespaced,
        "kind": info.kind,
        "verbs": list(info.verbs),
    }
    if info.short_names:
        entry["shortNames"] = list(info.short_names)
    if info.categories:
        entry["categories"] = list(info.categories)
    entry["storageVersionHash"] = storage_version_hash(info)
    return entry


def _group_discovery(group: str) -> dict[str, Any]:
    versions = []
    for version in _versions(group):
        infos = [i for i in served_resources() if i.group == group and i.version == version]
        versions.append(
            {
                "version": version,
                "resources": [_resource_discovery(info) for info in infos],
                "freshness": "Current",
            }
        )
    metadata = {"name": group} if group else {}
    return {"metadata": metadata, "versions": versions}


def _resource_discovery(info: ResourceInfo) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": info.plural,
        "responseKind": _kind(info, info.kind),
        "scope": "Namespaced" if info.namespaced else "Cluster",
        "singularResource": info.singular,
        "verbs": list(info.verbs),
    }
    if info.short_names:
        entry["shortNames"] = list(info.short_names)
    if info.categories:
        entry["categories"] = list(info.categories)
    if info.subresources:
        entry["subresources"] = [
            {
                "subresource": sub.name,
                "responseKind": _sub_kind(info, sub),
                "verbs": list(sub.verbs),
            }
            for sub in info.subresources
        ]
    return entry


def _sub_kind(info: ResourceInfo, sub: SubresourceInfo) -> dict[str, str]:
    if sub.group or sub.version:
        return {"group": sub.group, "version": sub.version, "kind": sub.kind}
    return _kind(info, sub.kind)


def _kind(info: ResourceInfo, kind: str) -> dict[str, str]:
    return {"group": info.group, "version": info.version, "kind": kind}
