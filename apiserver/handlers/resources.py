"""The resource API: every verb on every resource, as a plain ASGI callable.

HTTP concerns only — parameters, content types, decoding, encoding. The
meaning of each verb lives in the registry's :class:`Store`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

import orjson

from apiserver.api import errors
from apiserver.api.labels import SelectorError
from apiserver.api.resources import ResourceInfo
from apiserver.api.warnings import collect
from apiserver.handlers import bodies, patches
from apiserver.handlers.encoding import (
    ListBody,
    TableFrames,
    check_acceptable,
    encode_list,
    encode_table,
    include_object_param,
    wants_table,
)
from apiserver.handlers.http import (
    Receive,
    Request,
    Scope,
    Send,
    respond,
    respond_chunks,
    respond_error,
    warning_headers,
)
from apiserver.handlers.requestinfo import scope_request_info
from apiserver.handlers.routing import MethodNotSupported, RequestInfo, RouteNotFound, parse
from apiserver.handlers.selectors import request_selectors
from apiserver.handlers.subresources import SpecialHandlers
from apiserver.handlers.watch import serve_watch, watch_params
from apiserver.registry.registry import Registry
from apiserver.registry.store import ListOptions, Store
from apiserver.storage.cache import CachedObject

log = logging.getLogger(__name__)

_ASGI = Callable[[Scope, Receive, Send], Any]
#: Resources whose DELETE answers with the deleted object (upstream
#: ``ReturnDeletedObject``); the others answer with a Success Status.
_RETURNS_DELETED_OBJECT = frozenset({"pods", "services"})
#: Deprecation warnings upstream 1.33 attaches to every request on a resource.
_DEPRECATED = {
    "endpoints": "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice",
    "componentstatuses": "v1 ComponentStatus is deprecated in v1.19+",
}


class ResourceAPI:
    """ASGI app serving ``/api/...`` and ``/apis/...`` resource paths.

    ``fallback`` receives every request that is not a resource request
    (discovery, OpenAPI, health…).
    """

    def __init__(
        self, registry: Registry, fallback: _ASGI, clock: Callable[[], datetime],
        special: SpecialHandlers | None = None,
    ) -> None:
        self.registry = registry
        self.fallback = fallback
        self.clock = clock
        self.special = special or SpecialHandlers(registry, clock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.fallback(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if not (path.startswith("/api/") or path.startswith("/apis/")):
            await self.fallback(scope, receive, send)
            return
        req = Request.from_scope(scope, receive, send)
        collect(req.warnings)
        try:
            try:
                route = parse(req.method, req.path, req.flag("watch"),
                              scope_request_info(scope).segments)
            except RouteNotFound:
                await self.fallback(scope, receive, send)
                return
            except MethodNotSupported:
                raise errors.method_not_allowed(
                    "the server does not allow this method on the requested resource"
                ) from None
            await self._dispatch(req, route)
        except errors.ApiError as exc:
            await respond_error(send, exc, req.warnings)
        except SelectorError as exc:
            await respond_error(send, errors.bad_request(str(exc)))
        except Exception as exc:
            log.exception("unhandled error serving %s %s", req.method, req.path)
            await respond_error(send, errors.internal(str(exc)))

    async def _dispatch(self, req: Request, route: RequestInfo) -> None:
        info = route.info
        sub = info.subresource(route.subresource) if route.subresource else None
        allowed = sub.verbs if sub is not None else info.verbs
        if route.verb not in allowed and not (route.verb == "watch" and "watch" in info.verbs):
            raise errors.method_not_allowed(
                "the server does not allow this method on the requested resource"
            )
        deprecation = _DEPRECATED.get(info.plural)
        if deprecation:
            req.warnings.append(deprecation)
        special = self.special.lookup(info, route.subresource)
        if special is not None:
            await special(self.special, req, route)
            return
        store = self.registry.store(info)
        handler = getattr(self, "_" + route.verb)
        await handler(req, route, store)

    # -- reads -----------------------------------------------------------------

    async def _get(self, req: Request, route: RequestInfo, store: Store) -> None:
        check_acceptable(req.headers.get("accept", ""))
        assert route.name is not None
        obj = await store.get(route.namespace, route.name, req.query.get("resourceVersion"))
        await self._send_object(req, store.info, obj, 200)

    async def _list(self, req: Request, route: RequestInfo, store: Store) -> None:
        check_acceptable(req.headers.get("accept", ""))
        opts = self._list_options(req, route, store.info)
        result = await store.list_objects(opts)
        accept = req.headers.get("accept", "")
        if wants_table(accept):
            body = encode_table(
                store.info,
                result.items,
                result.resource_version,
                self.clock(),
                include_object_param(req.query.get("includeObject")),
                result.continue_token,
                result.remaining,
            )
            await respond(req.send, 200, body, extra_headers=_warnings(req))
            return
        listing = ListBody(store.info, result.items, result.resource_version,
                           result.continue_token, result.remaining)
        await respond_chunks(req.send, 200, listing.length, listing.chunks(),
                             extra_headers=_warnings(req))

    def _list_options(self, req: Request, route: RequestInfo, info: ResourceInfo) -> ListOptions:
        labels, fields = request_selectors(req, info)
        rv = req.query.get("resourceVersion") or None
        match = req.query.get("resourceVersionMatch") or None
        token = req.query.get("continue") or None
        limit = req.integer("limit") or 0
        if limit < 0:
            limit = 0
        if match is not None:
            if match not in ("Exact", "NotOlderThan"):
                raise errors.unprocessable(
                    f'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Unsupported '
                    f'value: "{match}": supported values: "Exact", "NotOlderThan"'
                )
            if rv is None:
                raise errors.unprocessable(
                    'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: '
                    "resourceVersionMatch is forbidden unless resourceVersion is provided"
                )
            if token is not None:
                raise errors.unprocessable(
                    'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: '
                    "resourceVersionMatch is forbidden when continue is provided"
                )
            if match == "Exact" and rv == "0":
                raise errors.unprocessable(
                    'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: '
                    'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'
                )
        if token is not None and rv not in (None, "0"):
            raise errors.bad_request(
                "specifying resource version is not allowed when using continue"
            )
        return ListOptions(
            namespace=route.namespace,
            label_selector=labels,
            field_selector=fields,
            limit=limit,
            continue_token=token,
            resource_version=rv,
            resource_version_match=match,
        )

    async def _watch(self, req: Request, route: RequestInfo, store: Store) -> None:
        labels, fields = request_selectors(req, store.info, route.name)
        params = watch_params(req)
        predicate = store.matches(route.namespace, labels, fields)
        accept = req.headers.get("accept", "")
        table = None
        if wants_table(accept):
            table = TableFrames(
                store.info, include_object_param(req.query.get("includeObject")), self.clock
            )
        await serve_watch(req, store, predicate, params, table)

    async def _send_object(
        self,
        req: Request,
        info: ResourceInfo,
        obj: CachedObject,
        status: int,
    ) -> None:
        headers = _warnings(req)
        if wants_table(req.headers.get("accept", "")):
            body = encode_table(
                info, [obj], obj.revision, self.clock(),
                include_object_param(req.query.get("includeObject")),
            )
            await respond(req.send, status, body, extra_headers=headers)
            return
        await respond(req.send, status, info.relabel(obj.raw), extra_headers=headers)

    # -- writes ----------------------------------------------------------------

    async def _create(self, req: Request, route: RequestInfo, store: Store) -> None:
        dry_run = bodies.dry_run(req)
        manager = patches.field_manager(req)
        if route.subresource == "binding":
            await self._bind(req, route, store, dry_run)
            return
        obj = await bodies.decode_object(req, store.info)
        created = await store.create(route.namespace, obj, dry_run=dry_run, manager=manager)
        await self._send_object(req, store.info, created, 201)

    async def _bind(self, req: Request, route: RequestInfo, store: Store, dry_run: bool) -> None:
        """``POST pods/{name}/binding``: set ``spec.nodeName`` once (upstream BindingREST)."""
        from apiserver.api.meta import rfc3339
        from apiserver.registry.kinds import bind_pod

        assert route.name is not None
        binding_info = replace(store.info, kind="Binding", schema_ref="io.k8s.api.core.v1.Binding",
                               list_kind="", subresources=())
        binding = await bodies.decode_object(req, binding_info)
        named = (binding.get("metadata") or {}).get("name")
        if named and named != route.name:
            raise errors.bad_request(
                f"the name of the object ({named}) does not match the name on the URL "
                f"({route.name})")
        now = rfc3339(self.clock())
        await store.guaranteed_update(
            route.namespace, route.name, lambda pod: bind_pod(pod, binding, now),
            subresource="binding", dry_run=dry_run,
        )
        status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                  "code": 201}
        await respond(req.send, 201, orjson.dumps(status), extra_headers=_warnings(req))

    async def _update(self, req: Request, route: RequestInfo, store: Store) -> None:
        assert route.name is not None
        dry_run = bodies.dry_run(req)
        manager = patches.field_manager(req)
        obj = await bodies.decode_object(req, store.info)
        if route.subresource == "finalize":
            obj_out, created = await self._finalize(route, store, obj, dry_run)
        else:
            obj_out, created = await store.update(
                route.namespace, route.name, obj, subresource=route.subresource, dry_run=dry_run,
                manager=manager,
            )
        await self._send_object(req, store.info, obj_out, 201 if created else 200)

    async def _finalize(
        self, route: RequestInfo, store: Store, obj: dict[str, Any], dry_run: bool
    ) -> tuple[CachedObject, bool]:
        from apiserver.registry.kinds import NamespaceStrategy

        strategy = store.strategy
        assert isinstance(strategy, NamespaceStrategy) and route.name is not None

        def mutate(current: dict[str, Any]) -> dict[str, Any]:
            strategy.prepare_for_finalize(obj, current)
            return obj

        return await store.guaranteed_update(
            None, route.name, mutate, subresource="finalize", dry_run=dry_run
        )

    async def _patch(self, req: Request, route: RequestInfo, store: Store) -> None:
        assert route.name is not None
        dry_run = bodies.dry_run(req)
        create: Callable[[], dict[str, Any]] | None = None
        manager: str | None = None
        if req.content_type == bodies.APPLY_MEDIA:
            mutate, create = await patches.applier(
                req, store.info, route.name, store.field_scope(route.subresource)
            )
        else:
            manager = patches.field_manager(req)
            mutate = await patches.patcher(req, store.info)
        obj_out, created = await store.guaranteed_update(
            route.namespace, route.name, mutate, subresource=route.subresource, dry_run=dry_run,
            create_if_missing=create, manager=manager,
        )
        await self._send_object(req, store.info, obj_out, 201 if created else 200)

    async def _delete(self, req: Request, route: RequestInfo, store: Store) -> None:
        assert route.name is not None
        opts = await bodies.delete_options(req)
        result = await store.delete(route.namespace, route.name, opts)
        info = store.info
        if result.deleted and info.plural not in _RETURNS_DELETED_OBJECT:
            md = result.obj.obj["metadata"]
            details: dict[str, Any] = {"name": route.name}
            if info.group:
                details["group"] = info.group
            details["kind"] = info.plural
            details["uid"] = md.get("uid")
            status = {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": details,
            }
            await respond(req.send, 200, orjson.dumps(status), extra_headers=_warnings(req))
            return
        await self._send_object(req, info, result.obj, 200)

    async def _deletecollection(self, req: Request, route: RequestInfo, store: Store) -> None:
        opts = await bodies.delete_options(req)
        list_opts = self._list_options(req, route, store.info)
        deleted = await store.delete_collection(list_opts, opts)
        body = encode_list(store.info, deleted, store.watch_cache.revision, None, None)
        await respond(req.send, 200, body, extra_headers=_warnings(req))


def _warnings(req: Request) -> list[tuple[bytes, bytes]] | None:
    return warning_headers(req.warnings) if req.warnings else None

