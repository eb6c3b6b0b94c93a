"""HTTP for the resources whose meaning is not the generic store's.

``scale`` of the workload kinds, ``pods/eviction``, the legacy ``bindings`` resource,
``componentstatuses`` and the review kinds. Each entry of :data:`_HANDLERS` decodes
the request, calls its registry-layer module (:mod:`apiserver.registry.scale`,
:mod:`~apiserver.registry.eviction`, :mod:`~apiserver.registry.reviews`,
:mod:`~apiserver.registry.componentstatus`) and encodes the answer; the verbs a
resource serves were already checked by the caller against the resource table.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

import orjson

from apiserver.api import errors, meta
from apiserver.api.resources import PODS, ResourceInfo
from apiserver.api.user import REQUEST_USER
from apiserver.handlers import bodies, patches
from apiserver.handlers.encoding import (
    check_acceptable,
    encode_table,
    include_object_param,
    wants_table,
)
from apiserver.handlers.http import Request, respond, warning_headers
from apiserver.handlers.metricsapi.rest import GROUP as METRICS_GROUP
from apiserver.handlers.metricsapi.rest import MetricsREST
from apiserver.handlers.routing import RequestInfo
from apiserver.handlers.selectors import request_selectors
from apiserver.printing.table import build_table
from apiserver.registry.componentstatus import ComponentStatusREST
from apiserver.registry.eviction import EvictionREST, budgets_info
from apiserver.registry.kinds import bind_pod
from apiserver.registry.managedfields import Scope
from apiserver.registry.registry import Registry
from apiserver.registry.reviews import Reviews, UserInfo
from apiserver.registry.scale import ScaleREST, scale_info
from apiserver.registry.tokenrequest import TokenRequestREST, token_request_info
from apiserver.storage.cache import CachedObject

_EVICTION_SCHEMA = "io.k8s.api.policy.v1.Eviction"
_SUCCESS_CREATED = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                    "code": 201}


class SpecialHandlers:
    """The handlers of :data:`_HANDLERS`, with what they need from the server."""

    def __init__(self, registry: Registry, clock: Callable[[], datetime],
                 reviews: Reviews | None = None,
                 tokens: TokenRequestREST | None = None,
                 metrics: MetricsREST | None = None) -> None:
        self.registry = registry
        self.clock = clock
        self.reviews = reviews or Reviews()
        #: Issues ServiceAccount tokens; None when no signing key is configured.
        self.tokens = tokens
        #: Serves ``metrics.k8s.io``; None when the resource metrics API is off.
        self.metrics = metrics

    def lookup(self, info: ResourceInfo, subresource: str | None) -> Handler | None:
        """The handler of ``info`` (and ``subresource``), if it is not the generic one."""
        if info.custom:
            return _scale if subresource == "scale" else None
        return _HANDLERS.get((info.group, info.plural, subresource or ""))

    def requester(self, req: Request) -> UserInfo:
        """Who sent ``req``: the user the authentication stage of the request chain set
        (after impersonation), anonymous without one."""
        del req
        return REQUEST_USER.get()


Handler = Callable[[SpecialHandlers, Request, RequestInfo], Awaitable[None]]


async def _send_json(req: Request, status: int, obj: Any) -> None:
    headers = warning_headers(req.warnings) if req.warnings else None
    await respond(req.send, status, orjson.dumps(obj), extra_headers=headers)


def _check_name(obj: dict[str, Any], name: str) -> None:
    named = (obj.get("metadata") or {}).get("name")
    if named and named != name:
        raise errors.bad_request(
            f"the name of the object ({named}) does not match the name on the URL ({name})")


def _check_namespace(obj: dict[str, Any], info: ResourceInfo, namespace: str | None) -> None:
    """Upstream ``EnsureObjectNamespaceMatchesRequestNamespace`` (fills or clears it)."""
    md = meta.metadata(obj)
    if not info.namespaced:
        md.pop("namespace", None)
        return
    if md.get("namespace") and md["namespace"] != namespace:
        raise errors.bad_request("the namespace of the provided object does not match the "
                                 "namespace sent on the request")
    md["namespace"] = namespace


# -- scale ---------------------------------------------------------------------------------


async def _scale(ctx: SpecialHandlers, req: Request, route: RequestInfo) -> None:
    assert route.name is not None
    rest = ScaleREST(ctx.registry.store(route.info))
    sinfo = scale_info(route.info)
    if route.verb == "get":
        check_acceptable(req.headers.get("accept", ""))
        scale = await rest.get(route.namespace, route.name, req.query.get("resourceVersion"))
        await _send_json(req, 200, scale)
        return
    dry_run = bodies.dry_run(req)
    transform: Callable[[dict[str, Any]], dict[str, Any]]
    if route.verb == "update":
        body = await bodies.decode_object(req, sinfo)
        _check_name(body, route.name)
        _check_namespace(body, route.info, route.namespace)

        def replace_scale(current: dict[str, Any]) -> dict[str, Any]:
            del current
            return body

        transform = replace_scale
    elif req.content_type == bodies.APPLY_MEDIA:
        scope = Scope(schema_ref=sinfo.schema_ref, api_version=sinfo.api_version,
                      subresource="scale", status_path=None, now=ctx.clock)
        transform, _ = await patches.applier(req, sinfo, route.name, scope)
    else:
        patches.field_manager(req)
        transform = await patches.patcher(req, sinfo)
    scale = await rest.update(route.namespace, route.name, transform, dry_run=dry_run)
    await _send_json(req, 200, scale)


# -- eviction and bindings -----------------------------------------------------------------


async def _evict(ctx: SpecialHandlers, req: Request, route: RequestInfo) -> None:
    assert route.name is not None and route.namespace is not None
    sub = route.info.subresource("eviction")
    assert sub is not None
    einfo = replace(route.info, group=sub.group, version=sub.version, kind=sub.kind,
                    schema_ref=_EVICTION_SCHEMA, list_kind="", subresources=())
    dry_run = bodies.dry_run(req)
    eviction = await bodies.decode_object(req, einfo)
    _check_namespace(eviction, route.info, route.namespace)
    rest = EvictionREST(ctx.registry.store(PODS), ctx.registry.store(budgets_info()),
                        ctx.clock)
    await rest.evict(route.namespace, route.name, eviction, dry_run)
    await _send_json(req, 201, _SUCCESS_CREATED)


async def _bindings(ctx: SpecialHandlers, req: Request, route: RequestInfo) -> None:
    """``POST namespaces/{ns}/bindings``: the legacy form of ``pods/{name}/binding``."""
    dry_run = bodies.dry_run(req)
    binding = await bodies.decode_object(req, route.info)
    _check_namespace(binding, route.info, route.namespace)
    name = (binding.get("metadata") or {}).get("name") or ""
    if not name:
        raise errors.bad_request("Name parameter required.")
    now = meta.rfc3339(ctx.clock())
    await ctx.registry.store(PODS).guaranteed_update(
        route.namespace, name, lambda pod: bind_pod(pod, binding, now),
        subresource="binding", dry_run=dry_run)
    await _send_json(req, 201, _SUCCESS_CREATED)


async def _token_request(ctx: SpecialHandlers, req: Request, route: RequestInfo) -> None:
    """``POST serviceaccounts/{name}/token``: a bound ServiceAccount token."""
    assert route.name is not None and route.namespace is not None
    if ctx.tokens is None:
        raise errors.path_not_found()
    request = await bodies.decode_object(req, token_request_info(route.info))
    answer, warnings = await ctx.tokens.create(route.namespace, route.name, request)
    req.warnings.extend(warnings)
    await _send_json(req, 201, answer)


# -- componentstatuses ---------------------------------------------------------------------


def _cached(obj: dict[str, Any]) -> CachedObject:
    name = obj["metadata"]["name"]
    return CachedObject(key=name, namespace="", name=name, revision=0, obj=obj,
                        raw=orjson.dumps(obj), labels={}, fields={"metadata.name": name})


async def _component_statuses(ctx: SpecialHandlers, req: Request, route: RequestInfo) -> None:
    accept = req.headers.get("accept", "")
    check_acceptable(accept)
    rest = ComponentStatusREST(route.info, ctx.registry.storage)
    items = [await rest.get(route.name)] if route.name else await rest.list()
    if wants_table(accept):
        body = encode_table(route.info, [_cached(o) for o in items], 0, ctx.clock(),
                            include_object_param(req.query.get("includeObject")))
        headers = warning_headers(req.warnings) if req.warnings else None
        await respond(req.send, 200, body, extra_headers=headers)
        return
    if route.name:
        await _send_json(req, 200, items[0])
        return
    await _send_json(req, 200, {"kind": route.info.list_kind, "apiVersion": "v1",
                                "metadata": {}, "items": items})


# -- metrics.k8s.io ------------------------------------------------------------------------


async def _resource_metrics(ctx: SpecialHandlers, req: Request, route: RequestInfo) -> None:
    accept = req.headers.get("accept", "")
    check_acceptable(accept)
    if ctx.metrics is None:
        raise errors.path_not_found()
    if route.name:
        items = [await ctx.metrics.get(route.info, route.namespace, route.name)]
    else:
        labels, fields = request_selectors(req, route.info)
        items = await ctx.metrics.list(route.info, route.namespace, labels, fields)
    if wants_table(accept):
        table = build_table(route.info, items, "", ctx.clock(),
                            include_object_param(req.query.get("includeObject")))
        await _send_json(req, 200, table)
        return
    if route.name:
        await _send_json(req, 200, items[0])
        return
    await _send_json(req, 200, {"kind": route.info.list_kind,
                                "apiVersion": route.info.api_version,
                                "metadata": {}, "items": items})


# -- reviews -------------------------------------------------------------------------------


async def _review_body(req: Request, route: RequestInfo) -> dict[str, Any]:
    review = await bodies.decode_object(req, route.info)
    if not route.info.namespaced:
        meta.metadata(review).pop("namespace", None)
    return review


async def _access_review(ctx: SpecialHandlers, req: Request, route: RequestInfo) -> None:
    review = await _review_body(req, route)
    answer = ctx.reviews.access_review(route.info, review, ctx.requester(req),
                                       route.namespace)
    await _send_json(req, 201, answer)


async def _rules_review(ctx: SpecialHandlers, req: Request, route: RequestInfo) -> None:
    review = await _review_body(req, route)
    await _send_json(req, 201, ctx.reviews.rules_review(route.info, review,
                                                        ctx.requester(req)))


async def _token_review(ctx: SpecialHandlers, req: Request, route: RequestInfo) -> None:
    review = await _review_body(req, route)
    await _send_json(req, 201, ctx.reviews.token_review(review))


async def _self_subject_review(ctx: SpecialHandlers, req: Request, route: RequestInfo) -> None:
    await _review_body(req, route)
    answer = ctx.reviews.self_subject_review(route.info, ctx.requester(req),
                                             meta.rfc3339(ctx.clock()))
    await _send_json(req, 201, answer)


_AUTHZ = "authorization.k8s.io"
_HANDLERS: dict[tuple[str, str, str], Handler] = {
    ("apps", "deployments", "scale"): _scale,
    ("apps", "replicasets", "scale"): _scale,
    ("apps", "statefulsets", "scale"): _scale,
    ("", "replicationcontrollers", "scale"): _scale,
    ("", "pods", "eviction"): _evict,
    ("", "bindings", ""): _bindings,
    ("", "componentstatuses", ""): _component_statuses,
    ("", "serviceaccounts", "token"): _token_request,
    (_AUTHZ, "subjectaccessreviews", ""): _access_review,
    (_AUTHZ, "selfsubjectaccessreviews", ""): _access_review,
    (_AUTHZ, "localsubjectaccessreviews", ""): _access_review,
    (_AUTHZ, "selfsubjectrulesreviews", ""): _rules_review,
    ("authentication.k8s.io", "tokenreviews", ""): _token_review,
    ("authentication.k8s.io", "selfsubjectreviews", ""): _self_subject_review,
    (METRICS_GROUP, "nodes", ""): _resource_metrics,
    (METRICS_GROUP, "pods", ""): _resource_metrics,
}
