"""What the controllers need to write: create, update and delete objects.

:class:`controllers.client.rest.RestClient` satisfies :class:`ObjectWriter`;
unit tests pass a recorder.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from apiserver.api.resources import ResourceInfo

__all__ = ["ObjectWriter", "Writer"]


class ObjectWriter(Protocol):
    """The write half of a REST client."""

    async def create(
        self, info: ResourceInfo, namespace: str | None, obj: Mapping[str, Any]
    ) -> dict[str, Any]:
        """POST ``obj``; returns the stored object."""
        ...

    async def update(
        self, info: ResourceInfo, namespace: str | None, obj: Mapping[str, Any]
    ) -> dict[str, Any]:
        """PUT ``obj``; returns the stored object."""
        ...

    async def delete(self, info: ResourceInfo, namespace: str | None, name: str) -> dict[str, Any]:
        """DELETE ``namespace/name``."""
        ...


class Writer(Protocol):
    """Everything a workload controller writes with: :class:`ObjectWriter` plus ``/status``
    updates, patches and deletes with options (``grace_period_seconds``, ``preconditions``,
    ``propagation_policy``). :class:`~controllers.client.rest.RestClient` and the
    leader-guarded writer satisfy it."""

    async def create(
        self, info: ResourceInfo, namespace: str | None, obj: Mapping[str, Any]
    ) -> dict[str, Any]:
        """POST ``obj``; returns the stored object."""
        ...

    async def update(
        self, info: ResourceInfo, namespace: str | None, obj: Mapping[str, Any],
        subresource: str | None = None,
    ) -> dict[str, Any]:
        """PUT ``obj`` (to ``/status`` with ``subresource="status"``)."""
        ...

    async def patch(
        self, info: ResourceInfo, namespace: str | None, name: str, patch: Any,
        **options: Any,
    ) -> dict[str, Any]:
        """PATCH (merge patch unless ``content_type=`` says otherwise; ``subresource=``)."""
        ...

    async def delete(
        self, info: ResourceInfo, namespace: str | None, name: str, **options: Any
    ) -> dict[str, Any]:
        """DELETE ``namespace/name`` with delete options."""
        ...
