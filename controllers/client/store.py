"""Store and Indexer (client-go ``tools/cache``): objects by ``namespace/name``.

A :class:`Store` keeps the latest version of each object under its key
(:func:`meta_namespace_key`) and maintains any number of named indexes
(index function: object → list of index values). It is the cache informers
fill and controllers read ("listers").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "NAMESPACE_INDEX",
    "DeletedFinalStateUnknown",
    "IndexFunc",
    "Store",
    "meta_namespace_index",
    "meta_namespace_key",
    "split_key",
]

Obj = dict[str, Any]
IndexFunc = Callable[[Obj], list[str]]
_ObjList = list[Obj]
_StrList = list[str]

#: The conventional index of objects by namespace.
NAMESPACE_INDEX = "namespace"


@dataclass(frozen=True)
class DeletedFinalStateUnknown:
    """A deletion noticed only by a relist: ``obj`` is the last state we saw."""

    key: str
    obj: Obj


def meta_namespace_key(obj: Mapping[str, Any] | DeletedFinalStateUnknown) -> str:
    """``<namespace>/<name>``, or ``<name>`` for cluster-scoped objects (tombstones too)."""
    if isinstance(obj, DeletedFinalStateUnknown):
        return obj.key
    md = obj.get("metadata") or {}
    ns = md.get("namespace")
    name = str(md.get("name") or "")
    return f"{ns}/{name}" if ns else name


def split_key(key: str) -> tuple[str, str]:
    """``(namespace, name)`` of a key (namespace ``""`` for cluster-scoped)."""
    ns, sep, name = key.partition("/")
    if not sep:
        return "", ns
    if "/" in name:
        raise ValueError(f"unexpected key format: {key!r}")
    return ns, name


def meta_namespace_index(obj: Obj) -> list[str]:
    """Index function: the object's namespace."""
    return [str((obj.get("metadata") or {}).get("namespace") or "")]


class Store:
    """A thread-unsafe (asyncio, single loop) indexed object cache."""

    def __init__(
        self,
        indexers: Mapping[str, IndexFunc] | None = None,
        key_func: Callable[[Obj], str] = meta_namespace_key,
    ) -> None:
        self.key_func = key_func
        self._items: dict[str, Obj] = {}
        self._indexers: dict[str, IndexFunc] = dict(indexers or {})
        self._indices: dict[str, dict[str, set[str]]] = {n: {} for n in self._indexers}

    # -- index maintenance ------------------------------------------------------

    def indexer_names(self) -> list[str]:
        """Names of the indexes maintained."""
        return list(self._indexers)

    def add_indexers(self, indexers: Mapping[str, IndexFunc]) -> None:
        """Add index functions (and index the existing objects)."""
        for name, fn in indexers.items():
            if name in self._indexers:
                raise ValueError(f"indexer {name!r} already exists")
            self._indexers[name] = fn
            self._indices[name] = {}
            for key, obj in self._items.items():
                for value in fn(obj):
                    self._indices[name].setdefault(value, set()).add(key)

    def _unindex(self, key: str, obj: Obj) -> None:
        for name, fn in self._indexers.items():
            index = self._indices[name]
            for value in fn(obj):
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]

    def _index(self, key: str, obj: Obj) -> None:
        for name, fn in self._indexers.items():
            index = self._indices[name]
            for value in fn(obj):
                index.setdefault(value, set()).add(key)

    # -- Store -----------------------------------------------------------------

    def add(self, obj: Obj) -> None:
        """Insert or replace ``obj``."""
        key = self.key_func(obj)
        old = self._items.get(key)
        if old is not None:
            self._unindex(key, old)
        self._items[key] = obj
        self._index(key, obj)

    update = add

    def delete(self, obj: Obj) -> None:
        """Remove the object with ``obj``'s key (no-op if absent)."""
        self.delete_key(self.key_func(obj))

    def delete_key(self, key: str) -> Obj | None:
        """Remove and return the object at ``key``."""
        old = self._items.pop(key, None)
        if old is not None:
            self._unindex(key, old)
        return old

    def get_by_key(self, key: str) -> Obj | None:
        """The object at ``key``, if any."""
        return self._items.get(key)

    def get(self, namespace: str | None, name: str) -> Obj | None:
        """The object ``namespace/name`` (``namespace`` ``None``/``""`` for cluster-scoped)."""
        return self._items.get(f"{namespace}/{name}" if namespace else name)

    def list(self) -> _ObjList:
        """Every object."""
        return list(self._items.values())

    def list_keys(self) -> _StrList:
        """Every key."""
        return list(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def replace(self, objs: Iterable[Obj]) -> None:
        """Replace the whole content (after a list)."""
        self._items = {}
        self._indices = {n: {} for n in self._indexers}
        for obj in objs:
            self.add(obj)

    # -- Indexer -----------------------------------------------------------------

    def by_index(self, index_name: str, value: str) -> _ObjList:
        """Objects whose index function ``index_name`` yields ``value``."""
        keys = self._indices[index_name].get(value, set())
        return [self._items[k] for k in sorted(keys)]

    def index_size(self, index_name: str, value: str) -> int:
        """How many objects :meth:`by_index` would return (no copy, no sort)."""
        return len(self._indices[index_name].get(value, ()))

    def index_keys(self, index_name: str, value: str) -> _StrList:
        """Keys of :meth:`by_index`."""
        return sorted(self._indices[index_name].get(value, set()))

    def list_index_values(self, index_name: str) -> _StrList:
        """Every value of index ``index_name``."""
        return list(self._indices[index_name])

    def in_namespace(self, namespace: str) -> _ObjList:
        """Objects in ``namespace`` (uses the namespace index when present)."""
        if NAMESPACE_INDEX in self._indexers:
            return self.by_index(NAMESPACE_INDEX, namespace)
        return [
            o for o in self._items.values()
            if (o.get("metadata") or {}).get("namespace") == namespace
        ]
