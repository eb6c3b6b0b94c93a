"""A storage decorator that encrypts the values of configured resources at rest.

It wraps any backend (SQLite, etcd, memory) and applies the
:class:`~apiserver.storage.encryption.ValueTransformer` of a key's resource on the way in
(create, update) and on the way out (get, list, history, the change feed) — upstream's
``value.Transformer`` in ``etcd3.store``. Only values are transformed; keys, revisions
and everything above (watch cache, registry) see plain bytes. Keys of resources no rule
covers pass through untouched.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

from apiserver.api.resources import RESOURCES
from apiserver.storage.encryption import ResourceRule, TransformError, ValueTransformer
from apiserver.storage.errors import CompactedError
from apiserver.storage.interface import EventType, KeyValue, Storage, StorageEvent, Subscriber

_VERSION = re.compile(r"v\d+((alpha|beta)\d+)?")
#: API groups without a dot (core kinds are stored at ``/registry/<plural>/``).
_GROUPS = frozenset(info.group for info in RESOURCES if info.group)


def group_resource(key: str) -> tuple[str, str]:
    """The (group, plural) a storage key belongs to (see ``ResourceInfo.storage_prefix``)."""
    parts = key.split("/", 5)  # "", "registry", <group or plural>, …
    if len(parts) < 4:
        return "", parts[-1]
    first = parts[2]
    if first not in _GROUPS and "." not in first:
        return "", first
    plural = parts[3]
    if _VERSION.fullmatch(plural) and len(parts) > 4:
        plural = parts[4]  # a second version's own prefix: /registry/<group>/<version>/…
    return first, plural


class TransformedStorage(Storage):
    """``inner`` with the values of the resources ``rules`` cover encrypted."""

    def __init__(self, inner: Storage, rules: list[ResourceRule]) -> None:
        self.inner = inner
        self.remote_revision = inner.remote_revision
        self._rules = rules
        self._by_resource: dict[tuple[str, str], ValueTransformer | None] = {}
        #: Keys whose current value was read with a key that is not the first one.
        self._stale: set[str] = set()
        #: History at or below this revision cannot be decrypted with the configured keys.
        self._unreadable_before = 0

    def transformer(self, key: str) -> ValueTransformer | None:
        """The transformer for ``key``'s resource (the first rule that covers it)."""
        resource = group_resource(key)
        try:
            return self._by_resource[resource]
        except KeyError:
            pass
        found = next((ValueTransformer(rule.transformers) for rule in self._rules
                      if rule.matches(*resource)), None)
        self._by_resource[resource] = found
        return found

    def _seal(self, key: str, value: bytes) -> bytes:
        transformer = self.transformer(key)
        return value if transformer is None else transformer.to_storage(value, key)

    def _open(self, key: str, value: bytes, latest: bool = False) -> bytes:
        """``value`` decrypted; for a key's ``latest`` value, remember whether it is stale."""
        transformer = self.transformer(key)
        if transformer is None:
            return value
        try:
            opened, stale = transformer.from_storage(value, key)
        except TransformError as exc:
            raise TransformError(f"unable to transform key {key!r}: {exc}") from None
        if latest:
            if stale:
                self._stale.add(key)
            else:
                self._stale.discard(key)
        return opened

    def _open_kv(self, kv: KeyValue) -> KeyValue:
        return dataclasses.replace(kv, value=self._open(kv.key, kv.value, latest=True))

    def _open_event(self, event: StorageEvent, latest: bool = False) -> StorageEvent:
        if self.transformer(event.key) is None:
            return event
        if latest and event.type is EventType.DELETE:
            self._stale.discard(event.key)
            latest = False
        prev = None if event.prev_value is None else self._open(event.key, event.prev_value)
        # A delete may come without its value (see StorageEvent): nothing to open.
        value = self._open(event.key, event.value, latest) if event.value else event.value
        return dataclasses.replace(event, value=value, prev_value=prev)

    def needs_rewrite(self, key: str) -> bool:
        return key in self._stale

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def create(self, key: str, value: bytes) -> int:
        return await self.inner.create(key, self._seal(key, value))

    async def update(self, key: str, value: bytes, expected_revision: int) -> int:
        return await self.inner.update(key, self._seal(key, value), expected_revision)

    async def delete(self, key: str, expected_revision: int | None = None) -> int:
        return await self.inner.delete(key, expected_revision)

    async def get(self, key: str) -> KeyValue | None:
        kv = await self.inner.get(key)
        return None if kv is None else self._open_kv(kv)

    async def list_prefix(self, prefix: str) -> tuple[list[KeyValue], int]:
        items, revision = await self.inner.list_prefix(prefix)
        return [self._open_kv(kv) for kv in items], revision

    def current_revision(self) -> int:
        return self.inner.current_revision()

    async def fetch_current_revision(self) -> int:
        return await self.inner.fetch_current_revision()

    async def check_revision(self, revision: int) -> None:
        if revision < self._unreadable_before:
            raise CompactedError(revision, self._unreadable_before)
        await self.inner.check_revision(revision)

    def compacted_revision(self) -> int:
        return max(self.inner.compacted_revision(), self._unreadable_before)

    async def history(self, after_revision: int) -> list[StorageEvent]:
        """Events after ``after_revision``; history that no configured key opens any more
        (its key was removed after a rotation) counts as compacted."""
        if after_revision < self._unreadable_before:
            raise CompactedError(after_revision, self._unreadable_before)
        opened: list[StorageEvent] = []
        for event in await self.inner.history(after_revision):
            try:
                opened.append(self._open_event(event))
            except TransformError:
                self._unreadable_before = event.revision
        if after_revision < self._unreadable_before:
            raise CompactedError(after_revision, self._unreadable_before)
        return opened

    async def compact(self, revision: int) -> None:
        await self.inner.compact(revision)

    async def size_bytes(self) -> tuple[str, int] | None:
        return await self.inner.size_bytes()

    def subscribe(self, subscriber: Subscriber) -> None:
        self.inner.subscribe(lambda event: subscriber(self._open_event(event, latest=True)))

    def on_feed_gap(self, callback: Callable[[int], None]) -> None:
        self.inner.on_feed_gap(callback)
