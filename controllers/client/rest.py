"""An async REST client for every resource of :mod:`apiserver.api.resources`.

One :class:`RestClient` wraps one ``httpx.AsyncClient`` (connection pooling,
HTTP keep-alive). Objects are plain JSON dicts; every non-2xx answer raises
:class:`~controllers.client.errors.ApiError` with the server's Status.
:meth:`RestClient.watch` streams watch events (one JSON document per line).
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from apiserver.api.resources import ResourceInfo
from controllers.client.config import ClientConfig
from controllers.client.errors import ApiError

__all__ = ["RestClient", "resource_path"]

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"


def resource_path(
    info: ResourceInfo,
    namespace: str | None = None,
    name: str | None = None,
    subresource: str | None = None,
) -> str:
    """The REST path of a collection, an object or a subresource."""
    prefix = f"/apis/{info.group}/{info.version}" if info.group else f"/api/{info.version}"
    if info.namespaced and namespace:
        prefix += f"/namespaces/{quote(namespace, safe='')}"
    path = f"{prefix}/{info.plural}"
    if name is not None:
        path += f"/{quote(name, safe='')}"
        if subresource:
            path += f"/{subresource}"
    return path


def _params(**kwargs: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in kwargs.items():
        if value is None or value == "":
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = str(value)
    return out


class RestClient:
    """Typed-by-resource REST calls over one pooled async HTTP client."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self.timeout = timeout
        self._http = httpx.AsyncClient(
            base_url=config.server,
            headers={**config.headers(), "Accept": JSON},
            verify=config.verify(),
            timeout=timeout,
            transport=transport,
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._http.aclose()

    async def __aenter__(self) -> RestClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- plumbing ------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = JSON,
    ) -> dict[str, Any]:
        """Send one request and return the decoded JSON body (raises ``ApiError``)."""
        content = None if body is None else orjson.dumps(body)
        headers = {"Content-Type": content_type} if content is not None else None
        resp = await self._http.request(
            method, path, params=params, content=content, headers=headers
        )
        return self._decode(resp)

    @staticmethod
    def _decode(resp: httpx.Response) -> dict[str, Any]:
        try:
            data = orjson.loads(resp.content) if resp.content else {}
        except orjson.JSONDecodeError:
            data = None
        if resp.status_code >= 400:
            raise ApiError.from_response(resp.status_code, data, resp.text[:500])
        if not isinstance(data, dict):
            raise ApiError.from_response(500, None, f"unexpected response body: {resp.text[:200]}")
        return data

    # -- verbs -----------------------------------------------------------------------

    async def get(self, info: ResourceInfo, namespace: str | None, name: str) -> dict[str, Any]:
        """GET one object."""
        return await self.request("GET", resource_path(info, namespace, name))

    async def list(
        self,
        info: ResourceInfo,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        resource_version: str | None = None,
        limit: int | None = None,
        continue_: str | None = None,
    ) -> dict[str, Any]:
        """One page of a list."""
        params = _params(
            labelSelector=label_selector,
            fieldSelector=field_selector,
            resourceVersion=resource_version,
            limit=limit,
            **{"continue": continue_},
        )
        return await self.request("GET", resource_path(info, namespace), params=params)

    async def list_all(
        self,
        info: ResourceInfo,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int = 500,
    ) -> tuple[builtins.list[dict[str, Any]], str]:
        """A consistent, paginated list: ``(items, resourceVersion of the first page)``."""
        items: builtins.list[dict[str, Any]] = []
        token: str | None = None
        rv = ""
        while True:
            page = await self.list(
                info,
                namespace,
                label_selector=label_selector,
                field_selector=field_selector,
                limit=page_size,
                continue_=token,
            )
            meta = page.get("metadata") or {}
            if not rv:
                rv = str(meta.get("resourceVersion") or "")
            items.extend(page.get("items") or [])
            token = meta.get("continue") or None
            if not token:
                return items, rv

    async def create(
        self, info: ResourceInfo, namespace: str | None, obj: Mapping[str, Any]
    ) -> dict[str, Any]:
        """POST a new object."""
        return await self.request("POST", resource_path(info, namespace), body=obj)

    async def update(
        self,
        info: ResourceInfo,
        namespace: str | None,
        obj: Mapping[str, Any],
        subresource: str | None = None,
    ) -> dict[str, Any]:
        """PUT an object (``subresource="status"`` for ``/status``)."""
        name = str((obj.get("metadata") or {}).get("name") or "")
        return await self.request(
            "PUT", resource_path(info, namespace, name, subresource), body=obj
        )

    async def update_status(
        self, info: ResourceInfo, namespace: str | None, obj: Mapping[str, Any]
    ) -> dict[str, Any]:
        """PUT ``/status``."""
        return await self.update(info, namespace, obj, "status")

    async def patch(
        self,
        info: ResourceInfo,
        namespace: str | None,
        name: str,
        patch: Any,
        *,
        content_type: str = MERGE_PATCH,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        """PATCH an object (merge patch by default)."""
        return await self.request(
            "PATCH",
            resource_path(info, namespace, name, subresource),
            body=patch,
            content_type=content_type,
        )

    async def delete(
        self,
        info: ResourceInfo,
        namespace: str | None,
        name: str,
        *,
        grace_period_seconds: int | None = None,
        preconditions: Mapping[str, str] | None = None,
        propagation_policy: str | None = None,
    ) -> dict[str, Any]:
        """DELETE an object (optionally with a grace period, uid/RV preconditions and a
        propagation policy: ``Orphan``, ``Background`` or ``Foreground``)."""
        body: dict[str, Any] | None = None
        if grace_period_seconds is not None or preconditions or propagation_policy:
            body = {"kind": "DeleteOptions", "apiVersion": "v1"}
            if grace_period_seconds is not None:
                body["gracePeriodSeconds"] = grace_period_seconds
            if preconditions:
                body["preconditions"] = dict(preconditions)
            if propagation_policy:
                body["propagationPolicy"] = propagation_policy
        return await self.request("DELETE", resource_path(info, namespace, name), body=body)

    async def watch(
        self,
        info: ResourceInfo,
        namespace: str | None = None,
        *,
        resource_version: str | None = None,
        timeout_seconds: int | None = None,
        allow_bookmarks: bool = True,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Stream watch events (``{"type": ..., "object": ...}``) until the server ends it.

        An HTTP error before the stream starts raises ``ApiError``; an ``ERROR``
        event is yielded like any other event (the caller decides).
        """
        params = _params(
            watch=True,
            resourceVersion=resource_version,
            timeoutSeconds=timeout_seconds,
            allowWatchBookmarks=allow_bookmarks or None,
            labelSelector=label_selector,
            fieldSelector=field_selector,
        )
        # A silent connection is dead after a bookmark interval (60 s) plus slack.
        read = max(float(timeout_seconds or 0), 60.0) + 30.0
        timeout = httpx.Timeout(self.timeout, read=read)
        async with self._http.stream(
            "GET", resource_path(info, namespace), params=params, timeout=timeout
        ) as resp:
            if resp.status_code >= 400:
                body = await resp.aread()
                try:
                    data = orjson.loads(body) if body else None
                except orjson.JSONDecodeError:
                    data = None
                text = body[:500].decode(errors="replace")
                raise ApiError.from_response(resp.status_code, data, text)
            async for line in resp.aiter_lines():
                if not line.strip():
                    continue
                event = orjson.loads(line)
                if isinstance(event, dict):
                    yield event
