"""The three Kubernetes patch types as pure functions on JSON dicts.

* :func:`apply_json_patch` — RFC 6902 (``application/json-patch+json``)
* :func:`apply_merge_patch` — RFC 7386 (``application/merge-patch+json``)
* :func:`apply_strategic_merge_patch` — ``application/strategic-merge-patch+json``

All raise :class:`PatchError` (``message``, ``code``, ``reason``, ``detail``) with the
status upstream kube-apiserver answers with, and never mutate their inputs.
"""

from apiserver.patch.errors import GENERIC_INVALID_MESSAGE, PatchError
from apiserver.patch.jsonpatch_apply import MAX_JSON_PATCH_OPERATIONS, apply_json_patch
from apiserver.patch.merge import apply_merge_patch, merge_values
from apiserver.patch.strategic import apply_strategic_merge_patch

__all__ = [
    "GENERIC_INVALID_MESSAGE",
    "MAX_JSON_PATCH_OPERATIONS",
    "PatchError",
    "apply_json_patch",
    "apply_merge_patch",
    "apply_strategic_merge_patch",
    "merge_values",
]
