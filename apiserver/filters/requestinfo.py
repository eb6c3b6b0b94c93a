"""What a request asks for, from its method, path and query alone (upstream ``RequestInfoFactory``).

Unlike :func:`apiserver.handlers.routing.parse` this needs no resource table: filters run
before routing, and must classify requests for unknown resources too (a 404 still counts
toward the in-flight limit upstream).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

_API_PREFIXES = ("api", "apis")
#: Subresources of a namespace that are not namespaced resource names.
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
_METHOD_VERBS = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update",
                 "PATCH": "patch", "DELETE": "delete"}
#: ``watch`` query values Go's ``strconv.ParseBool`` reads as true.
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
#: Upstream's ``BasicLongRunningRequestCheck(sets.NewString("watch", "proxy"),
#: sets.NewString("attach", "exec", "proxy", "log", "portforward"))``.
LONG_RUNNING_VERBS = frozenset({"watch", "proxy"})
LONG_RUNNING_SUBRESOURCES = frozenset({"attach", "exec", "proxy", "log", "portforward"})
#: Verbs that do not change state (upstream ``nonMutatingRequestVerbs``).
READ_ONLY_VERBS = frozenset({"get", "list", "watch"})


@dataclass(slots=True)
class RequestInfo:
    """Upstream ``request.RequestInfo``; the resource fields are empty for non-resource requests.

    Treat as read-only (not frozen: a frozen dataclass costs microseconds per request).
    """

    is_resource_request: bool
    path: str
    verb: str
    api_prefix: str = ""
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""

    @property
    def long_running(self) -> bool:
        """Whether upstream exempts the request from the in-flight limit and request timeout."""
        return (self.verb in LONG_RUNNING_VERBS
                or (self.is_resource_request and self.subresource in LONG_RUNNING_SUBRESOURCES))

    @property
    def mutating(self) -> bool:
        """Whether the request counts against the mutating in-flight limit."""
        return self.verb not in READ_ONLY_VERBS


def request_info(method: str, path: str, query_string: bytes = b"") -> RequestInfo:
    """Classify a request as upstream's ``NewRequestInfo`` does."""
    parts = path.split("/")
    if "" in parts:  # leading, trailing or doubled slashes
        parts = [p for p in parts if p]
    if len(parts) < 3 or parts[0] not in _API_PREFIXES:
        return RequestInfo(False, path, method.lower())
    prefix = parts[0]
    group = ""
    if prefix == "apis":
        if len(parts) < 4:  # /apis, /apis/<group>, /apis/<group>/<version>: discovery
            return RequestInfo(False, path, method.lower())
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        version, rest = parts[1], parts[2:]
    verb = _METHOD_VERBS.get(method.upper(), method.lower())
    legacy_watch = False
    if rest[0] == "watch" and len(rest) > 1:
        legacy_watch, rest = True, rest[1:]
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    if legacy_watch:
        verb = "watch"
    elif verb == "get" and not name:
        verb = "list"
        if b"watch" in query_string:
            query = dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))
            if query.get("watch", "") in _TRUE:
                verb = "watch"
    elif verb == "delete" and not name:
        verb = "deletecollection"
    return RequestInfo(True, path, verb, prefix, group, version, namespace, resource,
                       subresource, name)


_SCOPE_KEY = "kubemu.request_info"


def scope_request_info(scope: MutableMapping[str, Any]) -> RequestInfo:
    """The request info of an HTTP ``scope``, computed once per request (as upstream's
    ``WithRequestInfo`` filter stores it in the request context)."""
    info: RequestInfo | None = scope.get(_SCOPE_KEY)
    if info is None:
        info = request_info(scope["method"], scope["path"], scope.get("query_string", b""))
        scope[_SCOPE_KEY] = info
    return info
