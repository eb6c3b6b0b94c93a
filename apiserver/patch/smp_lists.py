"""Strategic merge patch of lists whose patch strategy is ``merge``.

* Lists of scalars (e.g. ``metadata.finalizers``): union, keeping first occurrences.
* Lists of objects: merged element by element on the merge key (e.g. Service
  ``spec.ports`` by ``port``); unmatched patch elements are appended.  Elements carrying
  ``$patch`` are directives: ``delete`` removes the original elements with that merge key,
  ``replace`` makes the list exactly the other patch elements.
* ``$setElementOrder/<field>`` reorders the result as upstream ``normalizeElementOrder``:
  listed items follow the given order, other (server-only) items keep their original
  relative position.

Contract: ``original`` is owned by the caller's copy and may be reused; patch values
are never aliased into the result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from apiserver.patch import smp_directives as d
from apiserver.patch.jsonvalue import JSONObject, deep_copy, json_equal
from apiserver.schema import SchemaNode

MergeElement = Callable[[JSONObject | None, JSONObject, SchemaNode | None], JSONObject]
"""Merges one object element: ``(original or None, patch, items schema) -> result``."""


def _index(values: list[Any], value: Any) -> int:
    for position, candidate in enumerate(values):
        if json_equal(candidate, value):
            return position
    return -1


def _dedupe(values: list[Any]) -> list[Any]:
    result: list[Any] = []
    for value in values:
        if _index(result, value) < 0:
            result.append(value)
    return result


def _all_objects(patch: list[Any], original: list[Any]) -> bool:
    """Whether elements are objects (judged on the patch, else on the original)."""
    if any(isinstance(element, list) for element in patch):
        raise d.list_of_lists()
    sample = patch if patch else original
    kinds = {isinstance(element, dict) for element in sample}
    if len(kinds) > 1:
        raise d.mixed_list()
    return kinds == {True}


def _merge_key_value(element: Any, merge_key: str | None) -> Any:
    if not isinstance(element, dict) or merge_key is None or merge_key not in element:
        raise d.no_merge_key(element, merge_key)
    return element[merge_key]


def _merge_objects(
    original: list[Any],
    patch: list[Any],
    items: SchemaNode | None,
    merge_key: str | None,
    merge_element: MergeElement,
) -> list[Any]:
    plain: list[JSONObject] = []
    replace = False
    merged = original
    for element in patch:
        directive = element.get(d.PATCH)
        if directive is None:
            plain.append(element)
        elif directive == d.DELETE:
            key = _merge_key_value(element, merge_key)
            merged = [
                item
                for item in merged
                if not (isinstance(item, dict) and json_equal(item.get(merge_key), key))
            ]
        elif directive == d.REPLACE:
            replace = True
        elif directive == d.MERGE:
            raise d.merge_directive_in_list()
        else:
            raise d.bad_patch_type(directive, element)
    if replace:
        merged = []
    for element in plain:
        key = _merge_key_value(element, merge_key)
        keys = [item.get(merge_key) if isinstance(item, dict) else None for item in merged]
        position = _index(keys, key)
        if position >= 0:
            merged[position] = merge_element(merged[position], element, items)
        else:
            merged.append(merge_element(None, element, items))
    return merged


def _ordered(
    merged: list[Any], order: Any, original: list[Any], merge_key: str | None, objects: bool
) -> list[Any]:
    """Apply ``$setElementOrder`` (upstream ``normalizeElementOrder``)."""
    if not isinstance(order, list):
        raise d.bad_set_element_order()

    def ident(item: Any) -> Any:
        return _merge_key_value(item, merge_key) if objects else item

    order_ids = [ident(item) for item in order]
    server_ids = [ident(item) for item in original if not objects or isinstance(item, dict)]
    listed: list[tuple[int, Any]] = []
    server_only: list[tuple[int, Any]] = []
    for position, item in enumerate(merged):
        item_id = ident(item)
        order_pos = _index(order_ids, item_id)
        if order_pos >= 0:
            listed.append((order_pos, item))
        else:
            server_pos = _index(server_ids, item_id)
            server_only.append(
                (server_pos if server_pos >= 0 else len(server_ids) + position, item)
            )
    left = [item for _, item in sorted(listed, key=lambda pair: pair[0])]
    right = [item for _, item in sorted(server_only, key=lambda pair: pair[0])]
    result: list[Any] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if j >= len(right):
            result.append(left[i])
            i += 1
        elif i >= len(left):
            result.append(right[j])
            j += 1
        else:
            left_pos = _index(server_ids, ident(left[i]))
            right_pos = _index(server_ids, ident(right[j]))
            if left_pos >= 0 and right_pos >= 0 and left_pos < right_pos:
                result.append(left[i])
                i += 1
            else:
                result.append(right[j])
                j += 1
    return result


def merge_list(
    original: list[Any],
    patch: list[Any],
    items: SchemaNode | None,
    merge_key: str | None,
    merge_element: MergeElement,
    order: Any = None,
) -> list[Any]:
    """Merge ``patch`` into the merge-strategy list ``original``; see the module docstring.

    ``order`` is the value of ``$setElementOrder/<field>`` or ``None``.  Raises
    :class:`~apiserver.patch.errors.PatchError` for malformed directives.
    """
    if not patch and order is None:
        return original
    objects = _all_objects(patch, original)
    if objects:
        merged = _merge_objects(original, patch, items, merge_key, merge_element)
    else:
        merged = _dedupe(original + [deep_copy(element) for element in patch])
    if order is None:
        return merged
    return _ordered(merged, order, original, merge_key, objects)


def delete_from_primitive_list(original: Any, values: Any) -> list[Any] | None:
    """Apply ``$deleteFromPrimitiveList/<field>``: drop ``values`` from ``original``.

    Returns ``None`` when the field is absent (nothing to delete).
    """
    if not isinstance(values, list):
        raise d.bad_primitive_list()
    if original is None:
        return None
    if not isinstance(original, list):
        raise d.bad_primitive_list()
    return [item for item in original if _index(values, item) < 0]
