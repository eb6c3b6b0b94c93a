"""Request paths → what is asked for (upstream's ``RequestInfoFactory``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from apiserver.api.resources import ResourceInfo, lookup

#: Subresources of a namespace that are not namespaced resource names.
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """A parsed resource request.

    ``verb`` is the Kubernetes verb (get, list, watch, create, update, patch,
    delete, deletecollection). ``namespace`` is ``None`` for cluster-wide
    requests.
    """

    verb: str
    info: ResourceInfo
    namespace: str | None
    name: str | None
    subresource: str | None


class RouteNotFound(Exception):
    """The path does not name a served resource."""


class MethodNotSupported(Exception):
    """The method is not valid for the path."""


def parse(method: str, path: str, watch_param: bool,
          segments: Sequence[str] | None = None) -> RequestInfo:
    """Parse ``path`` under ``/api`` or ``/apis`` for ``method``; ``segments``, when
    given, are its non-empty segments as the request chain already split them
    (:attr:`apiserver.handlers.requestinfo.RequestInfo.segments`)."""
    parts = segments if segments is not None else [p for p in path.split("/") if p]
    if len(parts) >= 3 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 4 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        raise RouteNotFound(path)
    legacy_watch = False
    if rest and rest[0] == "watch":
        legacy_watch = True
        rest = rest[1:]
    namespace: str | None = None
    if len(rest) >= 2 and rest[0] == "namespaces" and (
        len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES
    ):
        namespace = rest[1]
        rest = rest[2:]
    if not rest or len(rest) > 3:
        raise RouteNotFound(path)
    info = lookup(group, version, rest[0])
    if info is None:
        raise RouteNotFound(path)
    name = rest[1] if len(rest) >= 2 else None
    subresource = rest[2] if len(rest) == 3 else None
    if namespace is not None and not info.namespaced:
        raise RouteNotFound(path)
    if subresource is not None and info.subresource(subresource) is None:
        raise RouteNotFound(path)
    if name is not None and info.namespaced and namespace is None:
        raise RouteNotFound(path)
    if method == "POST" and name is not None and subresource is not None:
        verb = "create"  # pods/{name}/binding
    else:
        verb = _verb(method, name, watch_param or legacy_watch)
    if legacy_watch and verb not in ("watch",):
        raise MethodNotSupported(method)
    if info.namespaced and namespace is None and verb not in ("list", "watch"):
        # Across namespaces a namespaced resource is only read: no create or
        # deletecollection without a namespace (upstream serves no such route: 405).
        raise MethodNotSupported(method)
    return RequestInfo(verb, info, namespace, name, subresource)


def _verb(method: str, name: str | None, watch: bool) -> str:
    if method == "GET":
        if watch:
            return "watch"
        return "get" if name else "list"
    if method == "POST" and name is None:
        return "create"
    if method == "PUT" and name:
        return "update"
    if method == "PATCH" and name:
        return "patch"
    if method == "DELETE":
        return "delete" if name else "deletecollection"
    raise MethodNotSupported(method)
