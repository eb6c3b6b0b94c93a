"""What a request asks for, as upstream's ``RequestInfoFactory`` sees it.

:func:`request_attributes` turns an ASGI scope into the
:class:`~apiserver.registry.reviews.Attributes` an authorizer decides on. It follows
``k8s.io/apiserver/pkg/endpoints/request/requestinfo.go`` path by path and does not
consult the served-resource table (an unknown resource is still a resource request):

* paths outside ``/api/<version>/…`` and ``/apis/<group>/<version>/…`` are non-resource
  requests whose verb is the lower-cased HTTP method (``get``, ``post``, ``head``…);
* ``/watch/`` and ``/proxy/`` after the version set the verb; otherwise the method does
  (POST create, GET/HEAD get, PUT update, PATCH patch, DELETE delete);
* ``namespaces/<ns>/<resource>/…`` sets the namespace, except for a namespace's own
  ``status`` and ``finalize`` subresources;
* a get without a name is a ``list``, or a ``watch`` with ``?watch=<true>``, and a
  ``fieldSelector`` of ``metadata.name=<n>`` names the object; a delete without a name is
  a ``deletecollection``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from functools import lru_cache
from typing import Any
from urllib.parse import unquote_plus

from apiserver.api.user import ANONYMOUS, UserInfo
from apiserver.registry.reviews import Attributes, field_requirements

_API_PREFIXES = frozenset({"api", "apis"})
_GROUPLESS_PREFIXES = frozenset({"api"})
_SPECIAL_VERBS = frozenset({"proxy", "watch"})
_NO_SUBRESOURCE_VERBS = frozenset({"proxy"})
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
_QUERY_KEYS = frozenset({"watch", "fieldSelector"})
_METHOD_VERBS = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update",
                 "PATCH": "patch", "DELETE": "delete"}
#: ``watch`` parameter values that do not ask for a watch (Go's ParseBool false forms
#: plus the empty string).
_NOT_WATCH = frozenset({"", "0", "f", "F", "false", "FALSE", "False"})


def _query(text: str) -> dict[str, str]:
    """The first ``watch`` and ``fieldSelector`` values (Go's ``url.Values.Get``); the
    other parameters do not matter here."""
    out: dict[str, str] = {}
    for pair in text.split("&"):
        key, _, value = pair.partition("=")
        if key in _QUERY_KEYS and key not in out:
            out[key] = unquote_plus(value)
    return out


def _valid_path_segment(name: str) -> bool:
    """Upstream ``path.IsValidPathSegmentName``."""
    return name not in (".", "..") and "/" not in name and "%" not in name


def _named_by_selector(requirements: tuple[tuple[str, str, str], ...]) -> str:
    """The name a field selector pins with ``metadata.name=`` (else "")."""
    names = [v for k, op, v in requirements if k == "metadata.name" and op == "="]
    return names[0] if len(names) == 1 else ""


def request_attributes(scope: Mapping[str, Any], user: UserInfo) -> Attributes:
    """The authorization attributes of the request ``scope`` made by ``user``."""
    path: str = scope.get("path", "") or "/"
    method: str = scope.get("method", "GET") if scope.get("type") != "websocket" else "GET"
    raw = scope.get("query_string", b"")
    query = raw.decode("latin-1") if isinstance(raw, bytes | bytearray) else str(raw)
    return replace(_parse(method, path, query), user=user)


@lru_cache(maxsize=4096)
def _parse(method: str, path: str, query_string: str) -> Attributes:
    """The attributes of a request, for the anonymous user (memoised: the same requests
    come again and again)."""
    user = ANONYMOUS
    non_resource = Attributes(user=user, verb=method.lower(), resource_request=False,
                              path=path)
    parts = [p for p in path.strip("/").split("/") if p] if path.strip("/") else []
    if len(parts) < 3 or parts[0] not in _API_PREFIXES:
        return non_resource
    prefix, parts = parts[0], parts[1:]
    group = ""
    if prefix not in _GROUPLESS_PREFIXES:
        if len(parts) < 3:
            return non_resource
        group, parts = parts[0], parts[1:]
    version, parts = parts[0], parts[1:]
    if parts[0] in _SPECIAL_VERBS:
        if len(parts) < 2:
            # Upstream answers such a path with an error from the factory; deciding on
            # it as a non-resource request keeps the path's own 404.
            return non_resource
        verb, parts = parts[0], parts[1:]
    else:
        verb = _METHOD_VERBS.get(method.upper(), "")
    namespace = ""
    if parts[0] == "namespaces" and len(parts) > 1:
        namespace = parts[1]
        if len(parts) > 2 and parts[2] not in _NAMESPACE_SUBRESOURCES:
            parts = parts[2:]
    resource = parts[0]
    name = parts[1] if len(parts) >= 2 else ""
    subresource = parts[2] if len(parts) >= 3 and verb not in _NO_SUBRESOURCE_VERBS else ""
    selector: tuple[tuple[str, str, str], ...] = ()
    if not name and verb == "get":
        query = _query(query_string)
        verb = "watch" if query.get("watch", "") not in _NOT_WATCH else "list"
        selector = field_requirements(query.get("fieldSelector", ""))
        selected = _named_by_selector(selector)
        if selected and _valid_path_segment(selected):
            name = selected
    if not name and verb == "delete":
        verb = "deletecollection"
    return Attributes(user=user, verb=verb, resource_request=True, namespace=namespace,
                      api_group=group, api_version=version, resource=resource,
                      subresource=subresource, name=name, path=path,
                      field_selector=selector)
