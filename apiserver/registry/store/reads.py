"""Reads of the generic store: GET and LIST, served from the watch cache.

A read without resourceVersion waits until the cache has every write acknowledged
before it started; ``resourceVersion=0`` is served as the cache stands; an exact or
paginated read is served from a snapshot rebuilt from the cache's event history.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable

from apiserver.api import errors, resourceversion
from apiserver.api.fields import FieldSelector
from apiserver.api.labels import LabelSelector
from apiserver.registry.store.core import StoreCore
from apiserver.registry.store.options import (
    ListOptions,
    ListResult,
    decode_continue,
    encode_continue,
)
from apiserver.storage.cache import CachedObject, TooOldResourceVersionError

_CONSISTENT_READ_TIMEOUT = 3.0


class ReadStore(StoreCore):
    """GET and LIST of one resource.

    A list without selectors is a slice of the objects sorted by key (kept until the
    cache changes) found by bisection: its cost does not grow with the other namespaces'
    objects, and the page's items are the cached objects themselves (read-only).
    """

    #: ((cache id, cache generation, object count), objects by key, their keys).
    _ordered_memo: tuple[tuple[int, int, int], list[CachedObject], list[str]] | None = None

    async def _consistent(self, resource_version: str | None) -> None:
        """Make the cache at least as new as the read asks for."""
        if resource_version == "0":
            return
        if resource_version:
            wanted = resourceversion.parse_query(resource_version)
            if not await self.watch_cache.wait_for_revision(wanted, _CONSISTENT_READ_TIMEOUT):
                raise errors.timeout(
                    f"Too large resource version: {wanted}, current: {self.watch_cache.revision}",
                    "ResourceVersionTooLarge",
                )
            return
        if not await self.watch_cache.wait_fresh(_CONSISTENT_READ_TIMEOUT):
            raise errors.timeout("resource cache is not up to date")

    async def get(
        self, namespace: str | None, name: str, resource_version: str | None = None
    ) -> CachedObject:
        """The object, or 404."""
        await self._consistent(resource_version)
        found = self.cache.get(self.key(namespace, name))
        if found is None:
            raise errors.not_found(self.info, name)
        return found

    def matches(
        self,
        namespace: str | None,
        labels: LabelSelector | None,
        fields: FieldSelector | None,
    ) -> Callable[[CachedObject], bool]:
        """The predicate of a namespace + selectors filter."""

        def predicate(obj: CachedObject) -> bool:
            if namespace and obj.namespace != namespace:
                return False
            if labels is not None and not labels.matches(obj.labels):
                return False
            return fields is None or fields.matches(obj.fields)

        return predicate

    async def list_objects(self, opts: ListOptions) -> ListResult:
        """A page of objects, served from the watch cache (upstream semantics)."""
        predicate = self.matches(opts.namespace, opts.label_selector, opts.field_selector)
        start_key = ""
        rv = opts.resource_version
        snapshot_rev: int | None = None
        if opts.continue_token:
            snapshot_rev, start_key = decode_continue(opts.continue_token)
        elif rv and rv != "0" and (
            opts.resource_version_match == "Exact"
            or (opts.limit and opts.resource_version_match is None)
        ):
            snapshot_rev = resourceversion.parse_query(rv)
            await self._consistent(rv)
        else:
            await self._consistent(rv)
        limit = opts.limit
        if rv == "0" and not opts.continue_token:
            limit = 0  # the cache ignores limit for resourceVersion=0, as upstream
        list_rev = self.watch_cache.revision
        if snapshot_rev is not None and snapshot_rev < list_rev:
            try:
                await self.watch_cache.ensure_available(snapshot_rev)
                # Writes to other resources advance the revision too (leases, events):
                # when none touched this one since, the snapshot is the current state.
                changed = bool(self.cache.events_after(snapshot_rev))
                objects = self._snapshot(snapshot_rev) if changed else []
            except TooOldResourceVersionError as exc:
                if opts.continue_token:
                    raise errors.expired(
                        "The provided continue parameter is too old to display a consistent "
                        "list result. You can start a new list without the continue parameter."
                    ) from exc
                raise errors.expired(
                    f"too old resource version: {snapshot_rev} ({exc.oldest})"
                ) from exc
            if changed:
                selected = sorted(
                    (o for o in objects if o.key > start_key and predicate(o)), key=_by_key
                )
                return _page(selected, snapshot_rev, limit, opts)
            list_rev = snapshot_rev
        elif snapshot_rev is not None and opts.continue_token:
            list_rev = max(snapshot_rev, list_rev)
        ordered, keys = self._ordered()
        low, high = 0, len(ordered)
        # A namespace of a cluster-scoped resource matches nothing: the predicate says so.
        plain = opts.label_selector is None and opts.field_selector is None and (
            not opts.namespace or self.info.namespaced)
        if opts.namespace and self.info.namespaced:
            # Keys are <prefix><namespace>/<name>: a namespace is one contiguous run.
            first = f"{self.info.storage_prefix}{opts.namespace}/"
            low = bisect_left(keys, first)
            high = bisect_left(keys, first[:-1] + "0", low)  # "0" sorts right after "/"
        if start_key:
            low = max(low, bisect_right(keys, start_key, low, high))
        if plain:
            if limit and high - low > limit:
                page = ordered[low:low + limit]
                token = encode_continue(list_rev, page[-1].key)
                return ListResult(page, list_rev, token, high - low - limit)
            return ListResult(ordered[low:high], list_rev, None, None)
        selected = [o for o in ordered[low:high] if predicate(o)]
        return _page(selected, list_rev, limit, opts)

    def _ordered(self) -> tuple[list[CachedObject], list[str]]:
        """The cached objects sorted by key, and their keys; rebuilt only after the cache
        changed (a sort of an almost sorted list: new keys mostly arrive in order)."""
        cache = self.cache
        stamp = (id(cache), cache.generation, len(cache.store))
        memo = self._ordered_memo
        if memo is None or memo[0] != stamp:
            ordered = sorted(cache.objects(), key=_by_key)
            memo = self._ordered_memo = (stamp, ordered, [o.key for o in ordered])
        return memo[1], memo[2]

    def _snapshot(self, revision: int) -> list[CachedObject]:
        """The objects as of ``revision``, rebuilt by undoing newer events."""
        state = dict(self.cache.store)
        newer = self.cache.events_after(revision)
        for event in reversed(newer):
            if event.prev is None:
                state.pop(event.obj.key, None)
            else:
                state[event.obj.key] = event.prev
        return list(state.values())


def _by_key(obj: CachedObject) -> str:
    return obj.key


def _page(selected: list[CachedObject], list_rev: int, limit: int,
          opts: ListOptions) -> ListResult:
    """The first ``limit`` objects of ``selected`` (all when 0) as one page."""
    if limit and len(selected) > limit:
        page = selected[:limit]
        token = encode_continue(list_rev, page[-1].key)
        remaining: int | None = None
        if opts.label_selector is None and opts.field_selector is None:
            remaining = len(selected) - limit
        return ListResult(page, list_rev, token, remaining)
    return ListResult(selected, list_rev, None, None)
