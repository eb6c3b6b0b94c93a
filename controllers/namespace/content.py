"""What the namespace deleter asks of the API, and its HTTP implementation.

:class:`ContentAPI` is the deleter's whole view of the cluster (unit tests give it a fake);
:class:`RestContentAPI` maps it onto the REST client: discovery of the preferred versions of
every namespaced resource, list and ``deletecollection`` on any discovered path, the
namespace's ``/status`` and ``/finalize`` subresources. Reads go through the reader, writes
through the (leader-guarded) writer.
"""

from __future__ import annotations

from typing import Any, Protocol

from apiserver.api.resources import NAMESPACES
from controllers.client.discovery import (
    APIResource,
    GroupDiscoveryFailed,
    server_preferred_resources,
)

__all__ = ["ContentAPI", "RestContentAPI"]

Obj = dict[str, Any]

#: The namespace controller's delete options: dependents go in the background, so the
#: garbage collector adds no ``orphan`` finalizer to what the namespace must lose anyway.
_BACKGROUND = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}


class ContentAPI(Protocol):
    """The calls a namespace deletion makes (errors are ``ApiError``)."""

    async def discover(self) -> tuple[list[APIResource], GroupDiscoveryFailed | None]:
        """Namespaced resources of each group's preferred version, and failed groups."""
        ...

    async def get_namespace(self, name: str) -> Obj:
        """GET the namespace (fresh, not from a cache)."""
        ...

    async def update_status(self, namespace: Obj) -> Obj:
        """PUT ``namespaces/{name}/status``."""
        ...

    async def finalize(self, namespace: Obj) -> Obj:
        """PUT ``namespaces/{name}/finalize``."""
        ...

    async def list(self, resource: APIResource, namespace: str) -> list[Obj]:
        """Every object of ``resource`` in ``namespace``."""
        ...

    async def delete_collection(self, resource: APIResource, namespace: str) -> None:
        """DELETE the collection (background propagation)."""
        ...

    async def delete(self, resource: APIResource, namespace: str, name: str) -> None:
        """DELETE one object (background propagation)."""
        ...


class RestContentAPI:
    """:class:`ContentAPI` over a reader (``get``, ``request``) and a writer (``update``,
    ``request``): a :class:`~controllers.client.rest.RestClient` and its guarded writer."""

    def __init__(self, reader: Any, writer: Any, page_size: int = 500) -> None:
        self.reader = reader
        self.writer = writer
        self.page_size = page_size

    async def discover(self) -> tuple[list[APIResource], GroupDiscoveryFailed | None]:
        found, failed = await server_preferred_resources(self.reader.request)
        return [r for r in found if r.namespaced], failed

    async def get_namespace(self, name: str) -> Obj:
        result: Obj = await self.reader.get(NAMESPACES, None, name)
        return result

    async def update_status(self, namespace: Obj) -> Obj:
        result: Obj = await self.writer.update(NAMESPACES, None, namespace, "status")
        return result

    async def finalize(self, namespace: Obj) -> Obj:
        result: Obj = await self.writer.update(NAMESPACES, None, namespace, "finalize")
        return result

    async def list(self, resource: APIResource, namespace: str) -> list[Obj]:
        items: list[Obj] = []
        token = ""
        while True:
            params = {"limit": str(self.page_size)}
            if token:
                params["continue"] = token
            page = await self.reader.request("GET", resource.path(namespace), params=params)
            items.extend(i for i in page.get("items") or [] if isinstance(i, dict))
            token = str((page.get("metadata") or {}).get("continue") or "")
            if not token:
                return items

    async def delete_collection(self, resource: APIResource, namespace: str) -> None:
        await self.writer.request("DELETE", resource.path(namespace), body=_BACKGROUND)

    async def delete(self, resource: APIResource, namespace: str, name: str) -> None:
        await self.writer.request("DELETE", resource.path(namespace, name), body=_BACKGROUND)
