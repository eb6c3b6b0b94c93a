"""RFC 7386 JSON Merge Patch (``application/merge-patch+json``).

``null`` deletes a key, objects merge recursively, anything else (lists included)
replaces.  A body that is not valid JSON, or is not an object, is 400 BadRequest as in
upstream (evanphx ``MergePatch`` followed by decoding into the object).
"""

from __future__ import annotations

from typing import Any

from apiserver.patch.jsonvalue import JSONObject, decode_body, deep_copy, require_object


def _merge_owned(target: Any, patch: Any) -> Any:
    """``MergePatch(target, patch)``; ``target`` is owned and may be reused."""
    if not isinstance(patch, dict):
        return deep_copy(patch)
    result: JSONObject = target if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_owned(result.get(key), value)
    return result


def merge_values(target: Any, patch: Any) -> Any:
    """RFC 7386 ``MergePatch(target, patch)`` as a new value; inputs are not mutated."""
    return _merge_owned(deep_copy(target), patch)


def apply_merge_patch(doc: JSONObject, patch: bytes | str | JSONObject) -> JSONObject:
    """Apply a JSON merge patch to a copy of ``doc``; ``doc`` is never mutated.

    Raises :class:`~apiserver.patch.errors.PatchError` 400 for invalid JSON or a
    non-object patch.
    """
    patch_obj = require_object(decode_body(patch))
    result = merge_values(doc, patch_obj)
    assert isinstance(result, dict)
    return result
