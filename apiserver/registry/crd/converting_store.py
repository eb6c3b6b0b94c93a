"""The store of a resource version that a converter converts to and from the storage
version: a custom resource version with a conversion webhook, or the second version of a
built-in kind (``autoscaling/v1`` HPAs, ``events.k8s.io/v1`` Events).

Contract (as upstream's codec around a ``webhookConverter``): objects are stored, cached
and watched in the storage version. This store shows them in its own version: a get
converts one object, a list converts its page in one call (one ConversionReview), a watch
converts each write's batch of frames in one call (:meth:`present_frames`; a Table watch
gets its rows built from the converted objects). A write arrives in its version, is
prepared, defaulted, admitted and validated there (against the old object converted to
it), and is converted to the storage version just before it is stored; what it answers is
converted back. Webhook conversion failures are 500s (:mod:`.conversion`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Protocol

import orjson

from apiserver.registry.store import (
    DeleteOptions,
    DeleteResult,
    ListOptions,
    ListResult,
    Store,
    order_object,
)
from apiserver.storage.cache import CachedObject, FrameEncoder

_OBJECT_EVENTS = (b'{"type":"ADDED"', b'{"type":"MODIFIED"', b'{"type":"DELETED"')


class _Stale(Exception):
    """The object moved between its conversion and the patch attempt."""


class Converter(Protocol):
    """Converts objects to an API version (:class:`.conversion.WebhookConverter`, or the
    built-in kinds' :class:`apiserver.registry.versions.BuiltinConverter`)."""

    async def convert(self, objects: Sequence[dict[str, Any]], desired: str) \
            -> list[dict[str, Any]]:
        """``objects`` in API version ``desired`` (those already in it kept as they are)."""


class ConvertingStore(Store):
    """See the module docstring; ``storage_api_version`` is the storage version's."""

    converter: Converter
    storage_api_version: str
    #: guaranteed_update reads storage itself and hands the store's loop its converted
    #: state, which must be the one the loop starts from: no cached starting state.
    suggest_from_cache = False

    def configure(self, converter: Converter, storage_api_version: str) -> None:
        """Set the converter and the storage version (called once, after construction)."""
        self.converter = converter
        self.storage_api_version = storage_api_version
        self._converted_old: dict[tuple[str, int], dict[str, Any]] = {}
        #: The stored bytes of the write in flight per key (see :meth:`_result`).
        self._stored: dict[str, bytes] = {}

    # -- conversion ------------------------------------------------------------------

    async def _out(self, items: list[CachedObject]) -> list[CachedObject]:
        """``items`` (storage version) as this version shows them."""
        if not items:
            return items
        # ``obj`` of a cached object is decoded on each access: compare with this list.
        originals = [i.obj for i in items]
        converted = await self.converter.convert(originals, self.info.api_version)
        return [item if obj is original else
                self._cached(item.key, order_object(obj), item.revision)
                for item, original, obj in zip(items, originals, converted, strict=True)]

    async def _to_version(self, obj: dict[str, Any], api_version: str) -> dict[str, Any]:
        (out,) = await self.converter.convert([obj], api_version)
        return out

    # -- reads -----------------------------------------------------------------------

    async def get(self, namespace: str | None, name: str,
                  resource_version: str | None = None) -> CachedObject:
        (found,) = await self._out([await super().get(namespace, name, resource_version)])
        return found

    async def list_objects(self, opts: ListOptions) -> ListResult:
        result = await super().list_objects(opts)
        return replace(result, items=await self._out(result.items))

    converts = True

    async def present_frames(self, frames: list[bytes],
                             encoder: FrameEncoder | None = None) -> list[bytes]:
        """Watch frames (JSON, of stored objects) converted in one review, then encoded
        with ``encoder`` when given."""
        picked = [i for i, f in enumerate(frames) if f.startswith(_OBJECT_EVENTS)]
        if not picked:
            return frames
        events = [orjson.loads(frames[i]) for i in picked]
        converted = await self.converter.convert([e["object"] for e in events],
                                                 self.info.api_version)
        out = list(frames)
        for index, event, obj in zip(picked, events, converted, strict=True):
            obj = order_object(obj)
            if encoder is None:
                out[index] = orjson.dumps({"type": event["type"], "object": obj},
                                          option=orjson.OPT_APPEND_NEWLINE)
                continue
            md = obj.get("metadata") or {}
            key = self.key(md.get("namespace") or None, str(md.get("name") or ""))
            revision = int(md.get("resourceVersion") or 0)
            out[index] = encoder.encode(event["type"], self._cached(key, obj, revision))
        return out

    # -- writes ----------------------------------------------------------------------

    async def _write(self, key: str, value: bytes, obj: dict[str, Any],
                     expected_revision: int | None, *, copied: bool = False) -> int:
        # What is stored is a converted copy, encoded again: ``copied`` has no use here.
        stored = await self._to_version(copy.deepcopy(obj), self.storage_api_version)
        encoded = self._encode_for_storage(stored)
        revision = await super()._write(key, encoded, stored, expected_revision)
        self._stored[key] = encoded
        return revision

    def _result(self, key: str, value: bytes, revision: int) -> CachedObject:
        """The object just written, as stored (``value`` is this version's bytes, which
        skipped the trip through the storage version): what the answer converts back."""
        return super()._result(key, self._stored.pop(key, value), revision)

    async def create(self, namespace: str | None, obj: dict[str, Any], *,
                     dry_run: bool = False, manager: str | None = None) -> CachedObject:
        (created,) = await self._out([await super().create(
            namespace, obj, dry_run=dry_run, manager=manager)])
        return created

    async def _write_update(self, key: str, namespace: str | None, name: str,
                            new: dict[str, Any], old: dict[str, Any], revision: int,
                            subresource: str | None, dry_run: bool,
                            manager: str | None = None, *, fresh: bool = True) -> CachedObject:
        shown = self._converted_old.pop((key, revision), None)
        if shown is None:
            shown = await self._to_version(old, self.info.api_version)
        written = await super()._write_update(key, namespace, name, new, shown, revision,
                                              subresource, dry_run, manager, fresh=fresh)
        (out,) = await self._out([written])
        return out

    async def guaranteed_update(
        self, namespace: str | None, name: str,
        mutate: Callable[[dict[str, Any]], dict[str, Any]], **kwargs: Any,
    ) -> tuple[CachedObject, bool]:
        """As the store's, with ``mutate`` given the object in this version."""
        key = self.key(namespace, name)
        while True:
            current = await self.storage.get(key)
            shown: dict[str, Any] | None = None
            revision = 0
            if current is not None:
                revision = current.mod_revision
                stored = self.decode(key, current.value, revision).obj
                shown = await self._to_version(stored, self.info.api_version)
                self._converted_old[(key, revision)] = shown

            def converted(obj: dict[str, Any], shown: dict[str, Any] | None = shown,
                          revision: int = revision) -> dict[str, Any]:
                if shown is None or obj["metadata"].get("resourceVersion") != str(revision):
                    raise _Stale
                return mutate(copy.deepcopy(shown))

            try:
                result, created = await super().guaranteed_update(namespace, name, converted,
                                                                  **kwargs)
            except _Stale:
                continue
            finally:
                self._converted_old.pop((key, revision), None)
            if created:
                (result,) = await self._out([result])
            return result, created

    async def delete(self, namespace: str | None, name: str,
                     opts: DeleteOptions) -> DeleteResult:
        result = await super().delete(namespace, name, opts)
        (obj,) = await self._out([result.obj])
        return replace(result, obj=obj)
