"""What the controllers need to write: create, update and delete objects.

:class:`controllers.client.rest.RestClient` satisfies :class:`ObjectWriter`;
unit tests pass a recorder.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from apiserver.api.resources import ResourceInfo

__all__ = ["ObjectWriter"]


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
