"""Strategic merge patch (``application/strategic-merge-patch+json``) on plain dicts.

Follows apimachinery ``strategicpatch.StrategicMergeMapPatch`` with patch metadata from
the upstream schema (:mod:`apiserver.schema`):

* maps merge recursively; ``null`` deletes a key; scalars replace;
* lists with patch strategy ``merge`` merge (see :mod:`.smp_lists`), others replace;
* fields with strategy ``replace`` (e.g. PodDisruptionBudget ``spec.selector``) replace;
* directives in maps: ``$patch: replace`` (the map becomes the patch), ``$patch: delete``
  (the map becomes empty), ``$patch: merge`` (the default), ``$retainKeys`` (drop keys
  not listed), ``$setElementOrder/<list>`` and ``$deleteFromPrimitiveList/<list>``.

Other ``$``-prefixed keys are ordinary fields, as upstream (strict field validation then
reports them as unknown).  Inputs are never mutated.
"""

from __future__ import annotations

from typing import Any

from apiserver.patch import smp_directives as d
from apiserver.patch.jsonvalue import JSONObject, decode_body, deep_copy, require_object
from apiserver.patch.smp_lists import delete_from_primitive_list, merge_list
from apiserver.schema import SchemaNode, meta_of, root_node


def _child(node: SchemaNode | None, key: str) -> SchemaNode | None:
    return node.child(key) if node is not None else None


def _check_retain_keys(patch: JSONObject) -> list[Any] | None:
    """Validate ``$retainKeys`` against the patch's own fields and return it."""
    if d.RETAIN_KEYS not in patch:
        return None
    retain = patch[d.RETAIN_KEYS]
    if not isinstance(retain, list):
        raise d.bad_retain_keys()
    for key, value in patch.items():
        if value is not None and not key.startswith("$") and key not in retain:
            raise d.retain_keys_mismatch()
    return retain


def _merge_field(current: Any, value: Any, node: SchemaNode | None, order: Any = None) -> Any:
    """New value of one field; ``current`` is owned, ``value`` is the (non-null) patch."""
    meta = meta_of(node)
    if isinstance(value, dict):
        if isinstance(current, dict) and not meta.replaces:
            return merge_map(current, value, node)
        return merge_map(None, value, node)
    if isinstance(value, list):
        items = node.items() if node is not None else None
        if meta.merges_lists:
            base = current if isinstance(current, list) else []
            return merge_list(base, value, items, meta.merge_key, merge_map, order)
        return [
            merge_map(None, element, items) if isinstance(element, dict) else deep_copy(element)
            for element in value
        ]
    return value


def merge_map(
    original: JSONObject | None, patch: JSONObject, node: SchemaNode | None
) -> JSONObject:
    """Merge the patch map ``patch`` into ``original`` (owned; ``None`` means absent).

    ``node`` is the schema of the map (``None`` when unknown: lists then replace).
    Raises :class:`~apiserver.patch.errors.PatchError` for malformed directives.
    """
    directive = patch.get(d.PATCH)
    if directive is not None and directive != d.MERGE:
        if directive == d.REPLACE:
            rest = {key: value for key, value in patch.items() if key != d.PATCH}
            return merge_map(None, rest, node)
        if directive == d.DELETE:
            return {}
        raise d.bad_patch_type(directive, patch)

    result: JSONObject = original if original is not None else {}
    retain = _check_retain_keys(patch)
    if retain is not None:
        result = {key: value for key, value in result.items() if key in retain}

    orders: dict[str, Any] = {}
    fields: list[tuple[str, Any]] = []
    for key, value in patch.items():
        if key in (d.PATCH, d.RETAIN_KEYS):
            continue
        if key.startswith(d.SET_ELEMENT_ORDER_PREFIX):
            orders[key[len(d.SET_ELEMENT_ORDER_PREFIX) :]] = value
        elif key.startswith(d.DELETE_FROM_PRIMITIVE_LIST_PREFIX):
            name = key[len(d.DELETE_FROM_PRIMITIVE_LIST_PREFIX) :]
            remaining = delete_from_primitive_list(result.get(name), value)
            if remaining is not None:
                result[name] = remaining
        else:
            fields.append((key, value))

    for key, value in fields:
        if value is None:
            result.pop(key, None)
            orders.pop(key, None)
            continue
        result[key] = _merge_field(result.get(key), value, _child(node, key), orders.pop(key, None))

    for key, order in orders.items():
        current = result.get(key)
        if isinstance(current, list):
            result[key] = _merge_field(current, [], _child(node, key), order)
    return result


def apply_strategic_merge_patch(
    doc: JSONObject, patch: bytes | str | JSONObject, root_ref: str
) -> JSONObject:
    """Apply a strategic merge patch to a copy of ``doc`` (never mutated) and return it.

    ``root_ref`` names the object's definition, e.g. ``io.k8s.api.core.v1.Service``
    (``KeyError`` if unknown).  Raises :class:`~apiserver.patch.errors.PatchError`:
    400 for invalid JSON, a non-object patch or malformed directives; 422 for lists of
    lists and ``$retainKeys`` mismatches; also 400 for unknown ``$patch`` values and
    list elements without their merge key (upstream's plain errors, which it answers 500).
    """
    node = root_node(root_ref)
    patch_obj = require_object(decode_body(patch))
    return merge_map(deep_copy(doc), patch_obj, node)
