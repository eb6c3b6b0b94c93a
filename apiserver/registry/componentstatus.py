"""``componentstatuses``: read-only health of the components the apiserver can check.

Upstream probes the scheduler's and controller-manager's ``/healthz`` on fixed local
ports and each etcd server, and reports one ComponentStatus per component with one
``Healthy`` condition. kubemu's scheduler and controller manager are separate
processes the apiserver has no address for, so it reports only what it can check
honestly: its storage backend, probed by asking it for its current revision. The
entry is named ``etcd-0`` on the etcd backend (as upstream) and ``<backend>-0``
(``sqlite-0``, ``memory-0``) otherwise. A healthy probe reads ``ok``; a failed one
is ``status: "False"`` with the error, never a 500. An unknown name is a 404
(upstream answers a 500 ``Component not found``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from apiserver.api import errors
from apiserver.api.resources import ResourceInfo
from apiserver.storage.etcd import EtcdStorage
from apiserver.storage.interface import Storage
from apiserver.storage.memory import MemoryStorage
from apiserver.storage.sqlite import SQLiteStorage
from apiserver.storage.transformed import TransformedStorage

#: How long a probe may take before the component counts as unhealthy.
PROBE_TIMEOUT = 2.0


def component_name(storage: Storage) -> str:
    """The ComponentStatus name of a storage backend."""
    if isinstance(storage, TransformedStorage):
        storage = storage.inner
    if isinstance(storage, EtcdStorage):
        return "etcd-0"
    if isinstance(storage, SQLiteStorage):
        return "sqlite-0"
    if isinstance(storage, MemoryStorage):
        return "memory-0"
    return "storage-0"


def component_status(name: str, healthy: bool, detail: str) -> dict[str, Any]:
    """One ComponentStatus with its ``Healthy`` condition (``detail``: message or error)."""
    condition: dict[str, Any] = {"type": "Healthy", "status": "True" if healthy else "False"}
    if healthy:
        condition["message"] = detail
    else:
        condition["error"] = detail
    return {"kind": "ComponentStatus", "apiVersion": "v1",
            "metadata": {"name": name, "creationTimestamp": None},
            "conditions": [condition]}


class ComponentStatusREST:
    """Get and list over the components of one server."""

    def __init__(self, info: ResourceInfo, storage: Storage) -> None:
        self.info = info
        self.storage = storage

    async def _probe_storage(self) -> dict[str, Any]:
        name = component_name(self.storage)
        try:
            await asyncio.wait_for(self.storage.fetch_current_revision(), PROBE_TIMEOUT)
        except Exception as exc:  # any failure is the component's health, not ours
            return component_status(name, False, str(exc) or type(exc).__name__)
        return component_status(name, True, "ok")

    async def list(self) -> list[dict[str, Any]]:
        """Every component's status, probed now."""
        return [await self._probe_storage()]

    async def get(self, name: str) -> dict[str, Any]:
        """One component's status; 404 for a component this server does not check."""
        for status in await self.list():
            if status["metadata"]["name"] == name:
                return status
        raise errors.not_found(self.info, name)
