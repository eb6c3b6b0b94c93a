"""Serve what CustomResourceDefinitions define, as apiextensions-apiserver's controllers do.

:class:`CustomResourceManager` follows the CRD watch cache (so every apiserver replica
on one storage serves the same CRDs) and, per CRD:

* **naming** — the spec's names are accepted unless another CRD of the group already
  uses them (plural, singular, kind, list kind or a short name); ``status.acceptedNames``
  and the ``NamesAccepted`` condition say which;
* **establishing** — once the names are accepted, the storage version is served at
  ``/apis/<group>/<version>/<plural>`` (routing, discovery, the schema layer) and the
  ``Established`` condition is set; ``storedVersions`` records the storage version;
* **cleanup** — a deleted CRD (``customresourcecleanup`` finalizer) is ``Terminating``:
  every custom object is deleted (their own finalizers honoured), then the resource stops
  being served and the finalizer is removed.

Every served version is served. With ``conversion.strategy: None`` objects are stored as
the storage version and each version relabels ``apiVersion``, as upstream's "nop"
converter; with ``Webhook`` every version's store converts what is not in its version
through the CRD's conversion webhook (:mod:`.converting_store`, :mod:`.conversion`) — the
storage version's too, for objects stored under an earlier storage version — and a
changed webhook configuration replaces those stores.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from apiserver.api import errors, meta
from apiserver.api.resources import ResourceInfo, register_dynamic, unregister_dynamic
from apiserver.registry.crd.conversion import WebhookConverter, webhook_spec
from apiserver.registry.crd.definition import (
    CLEANUP_FINALIZER,
    definition_schema,
    list_definition_schema,
    resource_info,
    storage_version,
)
from apiserver.registry.crd.strategies import CustomResourceStrategy, served_versions
from apiserver.registry.store import DeleteOptions, ListOptions, Store
from apiserver.schema.loader import register_definition, unregister_definition
from apiserver.storage.cache import CacheEvent

log = logging.getLogger(__name__)

#: Seconds between attempts to finish a CRD's cleanup while custom objects remain.
_CLEANUP_RETRY = 1.0

def list_definition_name(info: ResourceInfo) -> str:
    """The definition name of a custom resource's list kind."""
    return info.schema_ref.rsplit(".", 1)[0] + "." + info.list_kind


StoreFactory = Callable[[ResourceInfo, CustomResourceStrategy, WebhookConverter | None, str],
                       Store]
ConverterFactory = Callable[[str, Mapping[str, Any]], WebhookConverter]


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _condition(type_: str, status: str, reason: str, message: str, now: str,
               old: list[Any]) -> dict[str, Any]:
    previous = next((c for c in old if _m(c).get("type") == type_), None)
    since = now
    if previous is not None and _m(previous).get("status") == status:
        since = str(_m(previous).get("lastTransitionTime") or now)
    return {"type": type_, "status": status, "lastTransitionTime": since, "reason": reason,
            "message": message}


def _conversion_of(store: Store) -> dict[str, Any] | None:
    converter = getattr(store, "converter", None)
    return converter.spec if isinstance(converter, WebhookConverter) else None


class CustomResourceManager:
    """See the module docstring. ``stores`` is the registry's table of stores."""

    def __init__(self, crds: Store, stores: dict[tuple[str, str, str], Store],
                 make_store: StoreFactory, clock: Callable[[], datetime],
                 make_converter: ConverterFactory) -> None:
        self.crds = crds
        self.stores = stores
        self.make_store = make_store
        self.make_converter = make_converter
        self.clock = clock
        #: CRD name → the (group, version, plural) paths it serves, storage version first.
        self.served: dict[str, list[tuple[str, str, str]]] = {}
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Serve every stored CRD, then follow changes."""
        self.crds.cache.listeners.append(self._on_event)
        for cached in list(self.crds.cache.objects()):
            await self._sync_logged(cached.name)
        self._task = asyncio.create_task(self._run(), name="crd-manager")

    async def stop(self) -> None:
        """Stop following changes."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _on_event(self, event: CacheEvent) -> None:
        self._queue.put_nowait(event.obj.name)

    async def _run(self) -> None:
        while True:
            name = await self._queue.get()
            await self._sync_logged(name)

    async def _sync_logged(self, name: str) -> None:
        try:
            done = await self.sync(name)
        except Exception:
            log.exception("serving CustomResourceDefinition %s failed", name)
            done = False
        if not done:
            asyncio.get_running_loop().call_later(_CLEANUP_RETRY, self._queue.put_nowait, name)

    # -- one CRD -------------------------------------------------------------------

    async def sync(self, name: str) -> bool:
        """Bring the served state of CRD ``name`` up to date; False to retry later."""
        cached = self.crds.cache.get(self.crds.key(None, name))
        if cached is None:
            await self._unserve(name)
            return True
        crd = cached.obj
        if _m(crd.get("metadata")).get("deletionTimestamp"):
            return await self._cleanup(crd)
        accepted, conflict = self._names(crd)
        stored = storage_version(crd)
        if accepted and stored is not None and stored.get("served") is True:
            await self._serve(crd, stored)
        await self._write_status(crd, accepted, conflict, stored)
        return True

    def _names(self, crd: Mapping[str, Any]) -> tuple[bool, str]:
        """Whether the CRD's names are free in its group, and the conflict if not."""
        spec = _m(crd.get("spec"))
        names = _m(spec.get("names"))
        mine = {str(names.get(k)) for k in ("plural", "singular", "kind", "listKind")
                if names.get(k)} | {str(s) for s in names.get("shortNames") or []}
        own = _m(crd.get("metadata")).get("name")
        for other in self.crds.cache.objects():
            if other.name == own:
                continue
            their_crd = other.obj  # decoded once: a settled cached object decodes per access
            if _m(their_crd.get("spec")).get("group") != spec.get("group"):
                continue
            theirs = _m(_m(their_crd.get("status")).get("acceptedNames"))
            taken = {str(theirs.get(k)) for k in ("plural", "singular", "kind", "listKind")
                     if theirs.get(k)} | {str(s) for s in theirs.get("shortNames") or []}
            clash = sorted(mine & taken)
            if clash:
                return False, f'"{clash[0]}" is already in use'
        return True, ""

    async def _serve(self, crd: Mapping[str, Any], stored: Mapping[str, Any]) -> None:
        """Serve every served version (the storage version's store loads the cache, the
        others share it and relabel what they answer)."""
        crd_name = str(_m(crd.get("metadata")).get("name"))
        versions = [stored, *(v for v in served_versions(crd) if v is not stored
                              and v.get("name") != stored.get("name"))]
        paths: list[tuple[str, str, str]] = []
        cache = None
        webhook = webhook_spec(crd)
        stored_info = resource_info(crd, stored)
        for index, version in enumerate(versions):
            # With a webhook every version converts, the storage version too: objects
            # stored under an earlier storage version are converted when read.
            converting = webhook is not None
            info = resource_info(crd, version, None if converting else stored)
            path = (info.group, info.version, info.plural)
            paths.append(path)
            schema = definition_schema(crd, version)
            existing = self.stores.get(path)
            conversion = dict(webhook) if converting and webhook is not None else None
            if existing is not None and existing.info == info \
                    and getattr(existing.strategy, "schema", None) == schema \
                    and _conversion_of(existing) == conversion:
                if cache is None:
                    cache = existing.cache
                existing.cache = cache
                continue
            register_definition(info.schema_ref, schema)
            register_definition(list_definition_name(info),
                                list_definition_schema(crd, version))
            converter = (self.make_converter(crd_name, webhook)
                         if converting and webhook is not None else None)
            store = self.make_store(info, CustomResourceStrategy(info, schema), converter,
                                    stored_info.api_version)
            if index == 0:
                if existing is not None and \
                        getattr(existing.strategy, "schema", None) != schema:
                    # The storage version's schema changed: load its objects again, so
                    # they are defaulted from storage by the new schema (watches end and
                    # clients relist, as when upstream replaces a CRD's storage).
                    self.crds.watch_cache.remove_resource(info.storage_prefix)
                await store.attach_cache()
            else:
                assert cache is not None
                store.cache = cache
            cache = store.cache
            self.stores[path] = store
            register_dynamic(info)
            log.info("serving %s/%s %s", info.group, info.version, info.plural)
        for old in self.served.get(crd_name, []):
            if old not in paths:
                self._drop(old, keep_cache=any(p[0] == old[0] and p[2] == old[2]
                                               for p in paths))
        self.served[crd_name] = paths

    def _drop(self, path: tuple[str, str, str], *, keep_cache: bool = False) -> None:
        store = self.stores.pop(path, None)
        unregister_dynamic(*path)
        if store is not None:
            unregister_definition(store.info.schema_ref)
            unregister_definition(list_definition_name(store.info))
            if not keep_cache:
                self.crds.watch_cache.remove_resource(store.info.storage_prefix)

    async def _unserve(self, crd_name: str) -> None:
        paths = self.served.pop(crd_name, [])
        for index, path in enumerate(paths):
            self._drop(path, keep_cache=index + 1 < len(paths))
            log.info("stopped serving %s/%s %s", *path)

    async def _write_status(self, crd: Mapping[str, Any], accepted: bool, conflict: str,
                            stored: Mapping[str, Any] | None) -> None:
        now = meta.rfc3339(self.clock())

        def mutate(current: dict[str, Any]) -> dict[str, Any]:
            status = dict(_m(current.get("status")))
            old = list(status.get("conditions") or [])
            names = dict(_m(_m(current.get("spec")).get("names")))
            conditions: list[dict[str, Any]] = []
            if accepted:
                status["acceptedNames"] = names
                conditions.append(_condition("NamesAccepted", "True", "NoConflicts",
                                             "no conflicts found", now, old))
                conditions.append(_condition("Established", "True", "InitialNamesAccepted",
                                             "the initial names have been accepted", now, old))
            else:
                conditions.append(_condition("NamesAccepted", "False", "NameConflict",
                                             conflict, now, old))
                conditions.append(_condition("Established", "False", "NotAccepted",
                                             "not all names are accepted", now, old))
            status["conditions"] = conditions
            versions = list(status.get("storedVersions") or [])
            if accepted and stored is not None and stored.get("name") not in versions:
                versions.append(stored.get("name"))
            status["storedVersions"] = versions
            current["status"] = status
            return current

        name = str(_m(crd.get("metadata")).get("name"))
        current = _m(crd.get("status"))
        preview = mutate({**crd, "status": dict(current)})["status"]
        if preview == current:
            return
        with contextlib.suppress(errors.ApiError):
            await self.crds.guaranteed_update(None, name, mutate, subresource="status")

    async def _cleanup(self, crd: Mapping[str, Any]) -> bool:
        """Delete every custom object, then stop serving and drop the finalizer."""
        name = str(_m(crd.get("metadata")).get("name"))
        if CLEANUP_FINALIZER not in (_m(crd.get("metadata")).get("finalizers") or []):
            await self._unserve(name)
            return True
        await self._set_terminating(name)
        paths = self.served.get(name) or []
        store = self.stores.get(paths[0]) if paths else None
        if store is not None:
            await store.delete_collection(ListOptions(), DeleteOptions())
            if any(True for _ in store.cache.objects()):
                return False
        await self._unserve(name)

        def drop_finalizer(current: dict[str, Any]) -> dict[str, Any]:
            md = meta.metadata(current)
            md["finalizers"] = [f for f in md.get("finalizers") or []
                                if f != CLEANUP_FINALIZER]
            return current

        with contextlib.suppress(errors.ApiError):
            await self.crds.guaranteed_update(None, name, drop_finalizer)
        return True

    async def _set_terminating(self, name: str) -> None:
        now = meta.rfc3339(self.clock())

        def mutate(current: dict[str, Any]) -> dict[str, Any]:
            status = dict(_m(current.get("status")))
            conditions = [c for c in status.get("conditions") or []
                          if _m(c).get("type") != "Terminating"]
            conditions.append({"type": "Terminating", "status": "True",
                               "lastTransitionTime": now,
                               "reason": "InstanceDeletionInProgress",
                               "message": "CustomResource deletion is in progress"})
            status["conditions"] = conditions
            current["status"] = status
            return current

        cached = self.crds.cache.get(self.crds.key(None, name))
        if cached is None or any(_m(c).get("type") == "Terminating"
                                 for c in _m(cached.obj.get("status")).get("conditions") or []):
            return
        with contextlib.suppress(errors.ApiError):
            await self.crds.guaranteed_update(None, name, mutate, subresource="status")
