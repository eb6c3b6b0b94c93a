"""Strategic-merge-patch metadata of a field, read from the upstream schema annotations.

Contract: :func:`meta_of` and :func:`patch_meta` never raise for fields outside the
schema; they report "no merge key, no strategy", which makes strategic merge patch
fall back to replace semantics for lists and recursive merge for maps (as upstream
does for fields it cannot look up in free-form values).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from apiserver.schema.node import SchemaNode, navigate


@dataclass(frozen=True)
class PatchMeta:
    """What strategic merge patch needs to know about one field.

    * ``merge_key``: ``x-kubernetes-patch-merge-key`` (e.g. ``"port"`` for Service
      ``spec.ports``), or ``None``.
    * ``strategies``: the comma-separated ``x-kubernetes-patch-strategy`` values, e.g.
      ``{"merge"}``, ``{"merge", "retainKeys"}``, ``{"replace"}``; empty if none.
    * ``is_list`` / ``is_map``: the field holds an array / an object or map.
    * ``list_type`` and ``list_map_keys``: the server-side-apply list annotations.
    """

    merge_key: str | None = None
    strategies: frozenset[str] = frozenset()
    is_list: bool = False
    is_map: bool = False
    list_type: str | None = None
    list_map_keys: tuple[str, ...] = ()

    @property
    def merges_lists(self) -> bool:
        """True when list values of this field are merged rather than replaced."""
        return self.is_list and "merge" in self.strategies

    @property
    def replaces(self) -> bool:
        """True when the field's value is replaced as a whole (strategy ``replace``)."""
        return "replace" in self.strategies


NO_META = PatchMeta()
"""Metadata of a field the schema does not describe."""


def meta_of(node: SchemaNode | None) -> PatchMeta:
    """Extract :class:`PatchMeta` from a field's node (``None`` gives :data:`NO_META`)."""
    if node is None:
        return NO_META
    raw_strategy = node.annotation("x-kubernetes-patch-strategy")
    strategies = frozenset(
        part.strip()
        for part in (raw_strategy.split(",") if isinstance(raw_strategy, str) else ())
        if part.strip()
    )
    merge_key = node.annotation("x-kubernetes-patch-merge-key")
    list_type = node.annotation("x-kubernetes-list-type")
    map_keys = node.annotation("x-kubernetes-list-map-keys")
    return PatchMeta(
        merge_key=merge_key if isinstance(merge_key, str) else None,
        strategies=strategies,
        is_list=node.kind == "array",
        is_map=node.kind in ("object", "map"),
        list_type=list_type if isinstance(list_type, str) else None,
        list_map_keys=tuple(map_keys) if isinstance(map_keys, list) else (),
    )


def patch_meta(root_ref: str, path: Iterable[str | int]) -> PatchMeta:
    """Patch metadata of the field at ``path`` below the definition ``root_ref``.

    ``path`` holds field names; lists are passed through implicitly, so
    ``patch_meta("io.k8s.api.core.v1.Pod", ["spec", "containers", "env"])`` describes
    a container's ``env``.  Raises ``KeyError`` only for an unknown ``root_ref``.
    """
    return meta_of(navigate(root_ref, path))
