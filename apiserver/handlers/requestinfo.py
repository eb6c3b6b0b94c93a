"""What a request asks for, from its method, path and query alone — parsed once per request
(upstream ``RequestInfoFactory`` and the ``WithRequestInfo`` filter).

:func:`scope_request_info` computes the :class:`RequestInfo` of an ASGI scope once and keeps
it in the scope: the request timeout, max-in-flight, authorization and the router all read
that one object. It follows ``k8s.io/apiserver/pkg/endpoints/request/requestinfo.go`` path
by path and does not consult the served-resource table (filters run before routing and
must classify requests for unknown resources too: a 404 still counts toward the in-flight
limit, and an unknown resource is still a resource request to authorize):

* paths outside ``/api/<version>/…`` and ``/apis/<group>/<version>/…`` are non-resource
  requests whose verb is the lower-cased HTTP method (``get``, ``post``, ``head``…);
* ``/watch/`` and ``/proxy/`` after the version set the verb; otherwise the method does
  (POST create, GET/HEAD get, PUT update, PATCH patch, DELETE delete);
* ``namespaces/<ns>/<resource>/…`` sets the namespace, except for a namespace's own
  ``status`` and ``finalize`` subresources;
* a get without a name is a ``list``, or a ``watch`` with ``?watch=<true>``, and a
  ``fieldSelector`` of ``metadata.name=<n>`` names the object; a delete without a name is
  a ``deletecollection``.

The parse is memoised per (method, path, query): the same requests come again and again,
so a :class:`RequestInfo` is shared and must be treated as read-only.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import unquote_plus

from apiserver.api.user import ANONYMOUS
from apiserver.registry.reviews import Attributes, field_requirements

_API_PREFIXES = frozenset({"api", "apis"})
_SPECIAL_VERBS = frozenset({"proxy", "watch"})
_NO_SUBRESOURCE_VERBS = frozenset({"proxy"})
#: Subresources of a namespace that are not namespaced resource names.
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
_QUERY_KEYS = frozenset({"watch", "fieldSelector"})
_METHOD_VERBS = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update",
                 "PATCH": "patch", "DELETE": "delete"}
#: ``watch`` parameter values that do not ask for a watch (Go's ParseBool false forms
#: plus the empty string).
_NOT_WATCH = frozenset({"", "0", "f", "F", "false", "FALSE", "False"})
#: Upstream's ``BasicLongRunningRequestCheck(sets.NewString("watch", "proxy"),
#: sets.NewString("attach", "exec", "proxy", "log", "portforward"))``.
LONG_RUNNING_VERBS = frozenset({"watch", "proxy"})
LONG_RUNNING_SUBRESOURCES = frozenset({"attach", "exec", "proxy", "log", "portforward"})
#: Verbs that do not change state (upstream ``nonMutatingRequestVerbs``).
READ_ONLY_VERBS = frozenset({"get", "list", "watch"})


@dataclass(frozen=True)
class RequestInfo(Attributes):
    """Upstream ``request.RequestInfo``: the authorization attributes of the request for
    the anonymous user (the resource fields are empty for non-resource requests), plus
    what the limits and the router need, computed with the rest."""

    api_prefix: str = ""
    #: Whether upstream exempts the request from the in-flight limit and request timeout.
    long_running: bool = False
    #: Whether the request counts against the mutating in-flight limit.
    mutating: bool = False
    #: The path's non-empty segments (what the router resolves against the served
    #: resources, :func:`apiserver.handlers.routing.parse`).
    segments: tuple[str, ...] = ()


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


def request_info(method: str, path: str, query_string: bytes | str = b"") -> RequestInfo:
    """Classify a request as upstream's ``NewRequestInfo`` does (memoised)."""
    query = (query_string.decode("latin-1") if isinstance(query_string, bytes | bytearray)
             else str(query_string))
    return _parse(method, path or "/", query)


@lru_cache(maxsize=4096)
def _parse(method: str, path: str, query_string: str) -> RequestInfo:
    parts = path.split("/")
    if "" in parts:  # leading, trailing or doubled slashes
        parts = [p for p in parts if p]
    segments = tuple(parts)
    non_resource = RequestInfo(ANONYMOUS, method.lower(), resource_request=False, path=path,
                               mutating=method.lower() not in READ_ONLY_VERBS,
                               segments=segments)
    if len(parts) < 3 or parts[0] not in _API_PREFIXES:
        return non_resource
    prefix, parts = parts[0], parts[1:]
    group = ""
    if prefix == "apis":
        if len(parts) < 3:  # /apis/<group>/<version>: discovery
            return non_resource
        group, parts = parts[0], parts[1:]
    version, parts = parts[0], parts[1:]
    if parts[0] in _SPECIAL_VERBS:
        if len(parts) < 2:
            # Upstream answers such a path with an error from the factory; treating it
            # as a non-resource request keeps the path's own 404.
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
    return RequestInfo(ANONYMOUS, verb, True, namespace, group, version, resource, subresource,
                       name, path, selector, api_prefix=prefix,
                       long_running=(verb in LONG_RUNNING_VERBS
                                     or subresource in LONG_RUNNING_SUBRESOURCES),
                       mutating=verb not in READ_ONLY_VERBS, segments=segments)


_SCOPE_KEY = "kubemu.request_info"


def scope_request_info(scope: MutableMapping[str, Any]) -> RequestInfo:
    """The request info of an HTTP or WebSocket ``scope`` (a WebSocket asks with GET),
    computed once per request and kept in the scope."""
    info: RequestInfo | None = scope.get(_SCOPE_KEY)
    if info is None:
        method = scope.get("method", "GET") if scope.get("type") != "websocket" else "GET"
        info = request_info(method, scope.get("path", ""), scope.get("query_string", b""))
        scope[_SCOPE_KEY] = info
    return info
