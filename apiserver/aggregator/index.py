"""The APIServices of the watch cache, as what routing and discovery need of them.

Contract: :class:`APIServiceIndex` reads the ``apiservices`` cache and re-indexes only when
its generation changed, so every request may ask it (a dictionary lookup). An entry whose
``spec.service`` is unset is local; only service-backed entries route
(:meth:`APIServiceIndex.remote`), and only for group/versions no local resource serves.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from apiserver.api.resources import by_group_version, lookup
from apiserver.registry.registry import Registry

GROUP = "apiregistration.k8s.io"


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


@dataclass(frozen=True)
class Entry:
    """One APIService: where it routes and how it is ranked in discovery."""

    name: str
    group: str
    version: str
    group_priority: int
    version_priority: int
    #: None: a local APIService (served by this apiserver).
    service_namespace: str | None = None
    service_name: str = ""
    port: int = 443
    #: PEM bytes of ``spec.caBundle``; None when it is not valid base64.
    ca_bundle: bytes | None = b""
    insecure: bool = False
    available: bool = False

    @property
    def local(self) -> bool:
        """Whether the apiserver serves it itself."""
        return self.service_namespace is None

    @property
    def server_name(self) -> str:
        """The name the extension server's certificate must carry (upstream's
        ``<service>.<namespace>.svc``)."""
        return f"{self.service_name}.{self.service_namespace}.svc"


def _ca_bundle(value: Any) -> bytes | None:
    if value is None or value == "":
        return b""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        return None


def entry_of(obj: Mapping[str, Any]) -> Entry:
    """The :class:`Entry` of an APIService object (tolerant of odd values: the object
    passed validation, but the index must never raise on stored data)."""
    spec = _m(obj.get("spec"))
    conditions = _m(obj.get("status")).get("conditions") or []
    available = any(_m(c).get("type") == "Available" and _m(c).get("status") == "True"
                    for c in conditions)
    local = Entry(name=str(_m(obj.get("metadata")).get("name") or ""),
                  group=str(spec.get("group") or ""), version=str(spec.get("version") or ""),
                  group_priority=_int(spec.get("groupPriorityMinimum"), 0),
                  version_priority=_int(spec.get("versionPriority"), 0), available=available)
    service = spec.get("service")
    if not isinstance(service, Mapping):
        return local
    return replace(local, service_namespace=str(service.get("namespace") or ""),
                   service_name=str(service.get("name") or ""),
                   port=_int(service.get("port"), 443),
                   ca_bundle=_ca_bundle(spec.get("caBundle")),
                   insecure=spec.get("insecureSkipTLSVerify") is True)


class APIServiceIndex:
    """Entries of the stored APIServices, re-read when the cache changes."""

    def __init__(self, registry: Registry) -> None:
        info = lookup(GROUP, "v1", "apiservices")
        assert info is not None
        self._cache = registry.store(info).cache
        self._generation = -1
        self._entries: tuple[Entry, ...] = ()
        self._remote: dict[tuple[str, str], Entry] = {}

    def entries(self) -> tuple[Entry, ...]:
        """Every APIService (unordered)."""
        self._refresh()
        return self._entries

    def remote(self, group: str, version: str) -> Entry | None:
        """The service-backed APIService serving ``group/version``, unless a local
        resource serves that group/version (local wins, as upstream's delegation)."""
        self._refresh()
        entry = self._remote.get((group, version))
        if entry is None or f"{group}/{version}" in by_group_version():
            return None
        return entry

    def remote_entries(self) -> list[Entry]:
        """The service-backed APIServices not shadowed by local resources."""
        self._refresh()
        local = by_group_version()
        return [e for e in self._remote.values() if f"{e.group}/{e.version}" not in local]

    def _refresh(self) -> None:
        generation = self._cache.generation
        if generation == self._generation:
            return
        self._generation = generation
        self._entries = tuple(entry_of(c.obj) for c in self._cache.objects())
        self._remote = {(e.group, e.version): e for e in self._entries
                        if not e.local and e.group}
