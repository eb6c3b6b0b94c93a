"""RFC 6902 JSON Patch (``application/json-patch+json``), as kube-apiserver applies it.

Upstream (apiserver ``endpoints/handlers/patch.go``, ``jsonPatcher.applyJSPatch``):
a body that does not decode as a patch is 400 BadRequest; more than 10000 operations is
413; any failure while applying (bad op, missing path, failed ``test``) is a 422 whose
message is the generic "the server rejected our request due to an error in our request".

``copy`` is bounded as upstream bounds it: the apiserver sets evanphx/json-patch's
``AccumulatedCopySizeLimit`` to 3 MiB (``JSONPatchMaxCopyBytes``), and each copy adds the
encoded size of the copied value to the total; past the limit the patch fails (422) before
the copy is made, so a few dozen self-doubling copies cannot exhaust memory.
"""

from __future__ import annotations

from typing import Any

import jsonpatch
import orjson

from apiserver.patch.errors import PatchError, bad_request, generic_invalid
from apiserver.patch.jsonvalue import JSONObject, decode_body, deep_copy, go_type_name

MAX_JSON_PATCH_OPERATIONS = 10000
#: Upstream's ``JSONPatchMaxCopyBytes`` (3 MiB), the accumulated size ``copy`` may add.
MAX_COPY_BYTES = 3 * 1024 * 1024


def _operations(patch: Any) -> list[dict[str, Any]]:
    ops = decode_body(patch)
    if not isinstance(ops, list):
        raise bad_request(
            f"json: cannot unmarshal {go_type_name(ops)} into Go value of type jsonpatch.Patch"
        )
    for op in ops:
        if not isinstance(op, dict):
            raise bad_request(
                f"json: cannot unmarshal {go_type_name(op)} into Go value of type "
                "jsonpatch.Operation"
            )
    if len(ops) > MAX_JSON_PATCH_OPERATIONS:
        raise PatchError(
            f"The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, "
            f"got {len(ops)}",
            413,
            "RequestEntityTooLarge",
        )
    return ops


def _place(doc: Any, op: dict[str, Any], value: Any) -> Any:
    """RFC 6902 ``add`` (or ``replace``) of ``value`` at ``op["path"]``, without copying
    ``value`` (it is the patch's own, or a fresh copy); returns the document."""
    path = op.get("path")
    if not isinstance(path, str):
        raise generic_invalid(f"{op.get('op')} operation has no valid 'path'")
    pointer = jsonpatch.JsonPointer(path)
    if not pointer.parts:
        return value
    parent, part = pointer.to_last(doc)
    replacing = op.get("op") == "replace"
    if isinstance(parent, dict):
        if replacing and part not in parent:
            raise generic_invalid(f"replace operation does not apply: doc is missing key {part}")
        parent[part] = value
    elif isinstance(parent, list):
        if not isinstance(part, int):  # "-": the end of the list
            if part != "-":
                raise generic_invalid(f"unable to fully resolve json pointer {path}")
            if replacing:
                raise generic_invalid("'path' with '-' can't be applied to 'replace' operation")
            parent.append(value)
        elif replacing:
            if not 0 <= part < len(parent):
                raise generic_invalid("can't replace outside of list")
            parent[part] = value
        elif not 0 <= part <= len(parent):
            raise generic_invalid("can't insert outside of list")
        else:
            parent.insert(part, value)
    else:
        raise generic_invalid(f"unable to fully resolve json pointer {path}")
    return doc


def _copied(doc: Any, op: dict[str, Any], accumulated: int) -> tuple[Any, int]:
    """A fresh copy of a ``copy`` operation's source and the accumulated copy size; 422
    once the size passes :data:`MAX_COPY_BYTES` (before anything is copied)."""
    source = op.get("from")
    if not isinstance(source, str):
        raise generic_invalid("copy operation has no valid 'from' location")
    value = jsonpatch.JsonPointer(source).resolve(doc)
    encoded = orjson.dumps(value)
    accumulated += len(encoded)
    if accumulated > MAX_COPY_BYTES:
        raise generic_invalid(
            "Unable to complete the copy, the accumulated size increase of copy is "
            f"{accumulated}, exceeding the limit {MAX_COPY_BYTES}"
        )
    return orjson.loads(encoded), accumulated


def _apply_op(doc: Any, op: dict[str, Any], copied: int) -> tuple[Any, int]:
    """One operation; add, replace and copy here (no per-value ``deepcopy``), the others
    through the ``jsonpatch`` library."""
    kind = op.get("op")
    if kind in ("add", "replace"):
        if "value" not in op:
            raise generic_invalid(f"The operation does not contain a 'value' member: {kind}")
        return _place(doc, op, op["value"]), copied
    if kind == "copy":
        value, copied = _copied(doc, op, copied)
        return _place(doc, {**op, "op": "add"}, value), copied
    return jsonpatch.JsonPatch([op]).apply(doc, in_place=True), copied


def apply_json_patch(doc: JSONObject, patch: bytes | str | list[Any]) -> JSONObject:
    """Apply the JSON Patch ``patch`` to a copy of ``doc`` and return the copy.

    Raises :class:`PatchError` (400, 413 or 422, see the module docstring); a result
    that is not a JSON object is also a 422.  ``doc`` is never mutated; values of the
    decoded ``patch`` may end up in the result (the caller owns ``patch``).
    """
    ops = _operations(patch)
    result: Any = deep_copy(doc)
    copied = 0
    try:
        for op in ops:
            result, copied = _apply_op(result, op, copied)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
        raise generic_invalid(str(exc)) from None
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
        raise generic_invalid(f"invalid JSON patch operation: {exc}") from None
    if not isinstance(result, dict):
        raise generic_invalid("the patched document is not a JSON object")
    return result
