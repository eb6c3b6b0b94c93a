"""Fakes for the batch controllers' sync tests: a writer that applies writes to stores,
and a settable clock."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from apiserver.api.resources import ResourceInfo
from controllers.client.store import Store


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += timedelta(seconds=seconds)


class FakeWriter:
    """Records writes and applies them to the stores the controller reads (by plural)."""

    def __init__(self, stores: Mapping[str, Store]) -> None:
        self.stores = stores
        self.calls: list[tuple[str, str, str]] = []
        self._ids = itertools.count(1)

    def _store(self, info: ResourceInfo) -> Store:
        return self.stores[info.plural]

    async def create(self, info: ResourceInfo, namespace: str | None,
                     obj: Mapping[str, Any]) -> dict[str, Any]:
        body = copy.deepcopy(dict(obj))
        md = body.setdefault("metadata", {})
        n = next(self._ids)
        md.setdefault("name", f"{md.get('generateName', 'obj-')}{n:05d}")
        md.update(namespace=namespace, uid=f"uid-{n}", resourceVersion=str(n))
        self._store(info).add(body)
        self.calls.append(("create", info.plural, md["name"]))
        return body

    async def update(self, info: ResourceInfo, namespace: str | None, obj: Mapping[str, Any],
                     subresource: str | None = None) -> dict[str, Any]:
        body = copy.deepcopy(dict(obj))
        self._store(info).add(body)
        self.calls.append(("update" + (f"/{subresource}" if subresource else ""), info.plural,
                           body["metadata"]["name"]))
        return body

    async def patch(self, info: ResourceInfo, namespace: str | None, name: str, patch: Any,
                    **options: Any) -> dict[str, Any]:
        obj = copy.deepcopy(self._store(info).get(namespace, name) or {})
        for op in patch if isinstance(patch, list) else []:
            if op["op"] == "remove" and op["path"].startswith("/metadata/finalizers/"):
                del obj["metadata"]["finalizers"][int(op["path"].rsplit("/", 1)[1])]
        self._store(info).add(obj)
        self.calls.append(("patch", info.plural, name))
        return obj

    async def delete(self, info: ResourceInfo, namespace: str | None, name: str,
                     **options: Any) -> dict[str, Any]:
        store = self._store(info)
        obj = copy.deepcopy(store.get(namespace, name) or {})
        self.calls.append(("delete", info.plural, name))
        if obj.get("metadata", {}).get("finalizers"):
            obj["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
            store.add(obj)
        elif obj:
            store.delete(obj)
        return obj
