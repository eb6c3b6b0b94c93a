"""Strategic-merge-patch directive names and upstream error texts (apimachinery
``pkg/util/mergepatch`` and ``strategicpatch``), with the status upstream maps them to
(apiserver ``interpretStrategicMergePatchError``: format errors 400, list-of-lists and
retainKeys mismatch 422 with the generic message).

Upstream lets the remaining errors (an unknown ``$patch``, a list element without its
merge key, ``$patch: merge`` in a list, a mixed list) escape as plain errors, which it
answers 500; they are malformed patches, and kubemu answers bad input 400 (BadRequest)
with upstream's message instead."""

from __future__ import annotations

from typing import Any

from apiserver.patch.errors import PatchError, bad_request, generic_invalid
from apiserver.patch.jsonvalue import go_repr

PATCH = "$patch"
RETAIN_KEYS = "$retainKeys"
SET_ELEMENT_ORDER_PREFIX = "$setElementOrder/"
DELETE_FROM_PRIMITIVE_LIST_PREFIX = "$deleteFromPrimitiveList/"

REPLACE = "replace"
DELETE = "delete"
MERGE = "merge"


def bad_primitive_list() -> PatchError:
    """``ErrBadPatchFormatForPrimitiveList`` (400)."""
    return bad_request("invalid patch format of primitive list")


def bad_retain_keys() -> PatchError:
    """``ErrBadPatchFormatForRetainKeys`` (400)."""
    return bad_request("invalid patch format of retainKeys")


def bad_set_element_order() -> PatchError:
    """``ErrBadPatchFormatForSetElementOrderList`` (400)."""
    return bad_request("invalid patch format of setElementOrder list")


def retain_keys_mismatch() -> PatchError:
    """``ErrPatchContentNotMatchRetainKeys`` (422, generic message)."""
    return generic_invalid("patch content doesn't match retainKeys list")


def list_of_lists() -> PatchError:
    """``ErrNoListOfLists`` (422, generic message)."""
    return generic_invalid("lists of lists are not supported")


def bad_patch_type(directive: Any, patch: dict[str, Any]) -> PatchError:
    """``ErrBadPatchType``: an unknown ``$patch`` value (400; upstream: 500)."""
    return bad_request(f"unknown patch type: {go_repr(directive)} in map: {go_repr(patch)}")


def no_merge_key(element: Any, merge_key: str | None) -> PatchError:
    """``ErrNoMergeKey``: a list element lacks the merge key (400; upstream: 500)."""
    return bad_request(
        f"map: {go_repr(element)} does not contain declared merge key: {merge_key or ''}"
    )


def merge_directive_in_list() -> PatchError:
    """``{"$patch": "merge"}`` as a list element, unsupported upstream (400; upstream: 500)."""
    return bad_request("merging lists cannot yet be specified in the patch")


def mixed_list() -> PatchError:
    """A merging list of objects and scalars mixed (400; upstream: 500)."""
    return bad_request("list elements of a merging list must all be objects or all be scalars")
