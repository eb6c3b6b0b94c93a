"""The stores of built-in kinds served in two versions over one storage.

``autoscaling/v1`` HorizontalPodAutoscalers are stored as ``autoscaling/v2`` and
``events.k8s.io/v1`` Events as core ``v1`` (:mod:`apiserver.api.conversion`). The other
version's store is a :class:`~apiserver.registry.crd.converting_store.ConvertingStore`
over the stored version's watch cache, converting with :class:`BuiltinConverter`: an
object created through either version is read, listed and watched through both, as
upstream serves them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from apiserver.api import errors
from apiserver.api.conversion import convert

__all__ = ["BuiltinConverter"]


class BuiltinConverter:
    """Converts built-in objects in process (see :mod:`apiserver.api.conversion`)."""

    async def convert(self, objects: Sequence[dict[str, Any]], desired: str) \
            -> list[dict[str, Any]]:
        """``objects`` in ``desired``; those already in it are kept as they are."""
        out = []
        for obj in objects:
            if obj.get("apiVersion") == desired:
                out.append(obj)
                continue
            try:
                out.append(convert(obj, desired))
            except ValueError as exc:  # not a pair of this kind: stored data is corrupt
                raise errors.internal(str(exc)) from None
        return out
