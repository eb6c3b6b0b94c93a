"""Request metrics of the chain (upstream ``endpoints/metrics``: ``MonitorRequest`` and
``RecordLongRunning``), recorded into :mod:`apiserver.api.metrics`.

Labels follow upstream: the verb is the upper-cased HTTP method made canonical
(``CanonicalVerb``: a GET without a name is ``LIST``) and clean (``CleanVerb``: ``WATCH``
for watches, ``APPLY`` for apply patches, ``CONNECT`` for the log, exec, attach,
portforward and proxy subresources); the scope is ``resource`` for a named object or a
create, ``namespace`` within a namespace, ``cluster`` otherwise and empty for
non-resource requests (``CleanScope``); ``dry_run`` is the sorted, de-duplicated
``dryRun`` values joined with ``,``; the component is ``apiserver``. Every request the
chain answers is counted, refusals (401, 403, 429, 504) included, with the status code
the client got.

The labels without code and dry run depend only on the :class:`RequestInfo` (and, for
PATCH, the content type), so they are computed once per distinct request and kept
(:func:`request_labels`; request infos are shared, see
:mod:`apiserver.handlers.requestinfo`).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from apiserver.api import metrics
from apiserver.handlers.requestinfo import RequestInfo

COMPONENT = "apiserver"
_CONNECT_SUBRESOURCES = frozenset({"log", "exec", "portforward", "attach", "proxy"})
_APPLY_PATCH = b"application/apply-patch+yaml"
#: Labels per (id of a shared RequestInfo, method, apply), bounded.
_KNOWN: dict[tuple[int, str, bool], tuple[RequestInfo, tuple[str, ...]]] = {}
_KNOWN_MAX = 8192


def clean_scope(info: RequestInfo) -> str:
    """Upstream ``CleanScope``."""
    if info.name or info.verb == "create":
        return "resource"
    if info.namespace:
        return "namespace"
    return "cluster" if info.resource_request else ""


def clean_verb(method: str, info: RequestInfo, scope: str, apply: bool) -> str:
    """Upstream ``CanonicalVerb`` then ``CleanVerb`` for an upper-case ``method``."""
    verb = method
    if verb in ("GET", "HEAD"):
        verb = "LIST" if scope not in ("resource", "") else "GET"
    if info.verb == "watch":
        verb = "WATCH"
    if verb == "PATCH" and apply:
        verb = "APPLY"
    if info.resource_request and info.subresource in _CONNECT_SUBRESOURCES:
        verb = "CONNECT"
    return verb


def request_labels(info: RequestInfo, method: str, apply: bool) -> tuple[str, ...]:
    """(verb, group, version, resource, subresource, scope) of a request."""
    scope = clean_scope(info)
    verb = clean_verb(method, info, scope, apply)
    if info.resource_request:
        return (verb, info.api_group, info.api_version, info.resource, info.subresource,
                scope)
    return (verb, "", "", "", "", scope)


def dry_run(query_string: bytes) -> str:
    """Upstream ``cleanDryRun``: the request's ``dryRun`` values, sorted and unique."""
    if b"dryRun" not in query_string:
        return ""
    values = {v for k, v in parse_qsl(query_string.decode("latin-1")) if k == "dryRun"}
    return ",".join(sorted(values))


def _is_apply(scope: MutableMapping[str, Any]) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return bool(value.split(b";", 1)[0].strip() == _APPLY_PATCH)
    return False


def labels_of(scope: MutableMapping[str, Any], info: RequestInfo) -> tuple[str, ...]:
    """The request's (verb, dry_run, group, version, resource, subresource, scope,
    component) labels."""
    method = scope.get("method", "GET") if scope.get("type") == "http" else "GET"
    apply = method == "PATCH" and _is_apply(scope)
    # The info is shared per (method, path, query), so its id stands for the query too.
    key = (id(info), method, apply)
    known = _KNOWN.get(key)
    if known is not None:
        return known[1]
    if len(_KNOWN) >= _KNOWN_MAX:
        _KNOWN.clear()
    verb, group, version, resource, subresource, where = request_labels(info, method, apply)
    labels = (verb, dry_run(scope.get("query_string", b"")), group, version, resource,
              subresource, where, COMPONENT)
    # The entry holds the info, so its id is not reused while the entry lives.
    _KNOWN[key] = (info, labels)
    return labels


def record(labels: tuple[str, ...], code: int, seconds: float) -> None:
    """Count one finished request and observe its duration."""
    codes = metrics.REQUEST_COUNTS[labels]
    codes[code] = codes.get(code, 0) + 1
    metrics.REQUEST_DURATIONS.observe(labels, seconds)


def long_running_labels(labels: tuple[str, ...]) -> tuple[str, ...]:
    """``apiserver_longrunning_requests`` labels from :func:`labels_of`'s (no dry run)."""
    return (labels[0], *labels[2:])


def begin_long_running(labels: tuple[str, ...]) -> None:
    """One more long-running request open."""
    metrics.LONG_RUNNING[labels] += 1


def end_long_running(labels: tuple[str, ...]) -> None:
    """One long-running request fewer."""
    metrics.LONG_RUNNING[labels] -= 1
