"""RFC 6902 JSON Patch (``application/json-patch+json``), as kube-apiserver applies it.

Upstream (apiserver ``endpoints/handlers/patch.go``, ``jsonPatcher.applyJSPatch``):
a body that does not decode as a patch is 400 BadRequest; more than 10000 operations is
413; any failure while applying (bad op, missing path, failed ``test``) is a 422 whose
message is the generic "the server rejected our request due to an error in our request".
"""

from __future__ import annotations

from typing import Any

import jsonpatch

from apiserver.patch.errors import PatchError, bad_request, generic_invalid
from apiserver.patch.jsonvalue import JSONObject, decode_body, deep_copy, go_type_name

MAX_JSON_PATCH_OPERATIONS = 10000


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


def apply_json_patch(doc: JSONObject, patch: bytes | str | list[Any]) -> JSONObject:
    """Apply the JSON Patch ``patch`` to a copy of ``doc`` and return the copy.

    Raises :class:`PatchError` (400, 413 or 422, see the module docstring); a result
    that is not a JSON object is also a 422.  ``doc`` is never mutated.
    """
    ops = _operations(patch)
    try:
        result = jsonpatch.JsonPatch(ops).apply(deep_copy(doc), in_place=True)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
        raise generic_invalid(str(exc)) from None
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
        raise generic_invalid(f"invalid JSON patch operation: {exc}") from None
    if not isinstance(result, dict):
        raise generic_invalid("the patched document is not a JSON object")
    return result
