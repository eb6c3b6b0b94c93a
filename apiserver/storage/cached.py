"""One object of the watch cache: its bytes, and what selectors match (see
:mod:`apiserver.storage.cache`)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import orjson

from apiserver.storage.buffers import exact


class CachedObject:
    """An object as stored, decoded once and encoded once.

    ``raw`` is its JSON encoding with ``metadata.resourceVersion`` equal to
    ``revision``; ``labels`` and ``fields`` are what selectors match. ``obj``
    is the decoded object and must be treated as read-only. Once the object
    is part of a cache's state it is settled (:meth:`settle`): the decoded form is
    dropped and ``obj`` decodes ``raw`` again on every access (a fresh dict
    each time), so the cache holds each object's bytes once, not a tree of
    Python objects several times their size. Reads serve ``raw``; the
    decoded form is for the few paths that look inside an object.
    """

    __slots__ = ("_obj", "fields", "frames", "key", "labels", "name", "namespace", "raw",
                 "revision")

    def __init__(self, key: str, namespace: str, name: str, revision: int,
                 obj: dict[str, Any] | None, raw: bytes, labels: Mapping[str, str],
                 fields: Mapping[str, str],
                 frames: dict[tuple[str, str], bytes] | None = None) -> None:
        self.key = key
        self.namespace = namespace
        self.name = name
        self.revision = revision
        self._obj = obj
        self.raw = raw
        self.labels = labels
        self.fields = fields
        #: Watch frames of this object, memoised per (event type, format); None: none yet.
        self.frames = frames

    @property
    def obj(self) -> dict[str, Any]:
        """The decoded object (decoded from ``raw`` when settled)."""
        obj = self._obj
        if obj is None:
            decoded: dict[str, Any] = orjson.loads(self.raw)
            return decoded
        return obj

    def settle(self) -> CachedObject:
        """Keep only the encoded form (see the class docstring); returns ``self``.

        Label and field values, and the namespace, are interned: many objects
        share them (``app=web``, ``status.phase=Running``, node names); ``raw``
        is copied to an exactly sized buffer (see
        :func:`~apiserver.storage.buffers.exact`).
        """
        self._obj = None
        self.raw = exact(self.raw)
        self.namespace = sys.intern(self.namespace)
        self.labels = _interned(self.labels)
        self.fields = _interned(self.fields)
        return self

    def __repr__(self) -> str:
        return f"CachedObject({self.key!r}, revision={self.revision})"


def _interned(values: Mapping[str, str]) -> Mapping[str, str]:
    if not values:
        return values
    return {sys.intern(k) if type(k) is str else k: sys.intern(v) if type(v) is str else v
            for k, v in values.items()}
