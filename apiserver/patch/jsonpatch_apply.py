"""RFC 6902 JSON Patch (``application/json-patch+json``), as kube-apiserver applies it.

Upstream (apiserver ``endpoints/handlers/patch.go``, ``jsonPatcher.applyJSPatch``):
a body that does not decode as a patch is 400 BadRequest; more than 10000 operations is
413; any failure while applying (bad op, missing path, failed ``test``) is a 422 whose
message is the generic "the server rejected our request due to an error in our request".

``copy`` is bounded as upstream bounds it: the apiserver sets evanphx/json-patch's
``AccumulatedCopySizeLimit`` to 3 MiB (``JSONPatchMaxCopyBytes``), and each copy adds the
encoded size of the copied value to the total; past the limit the patch fails (422).

A copy costs no more than its bookkeeping: the copied value is shared, not duplicated
(containers reachable from two places are copied shallowly on the way to a later
change — path copying), and its encoded size is summed from cached sizes of shared
parts. A few dozen self-doubling copies therefore cost microseconds each until they
trip the limit; only a patch that stays under it pays for one real copy at the end.
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


class _Sharing:
    """Which containers of the document are reachable from more than one place (by id),
    and the encoded sizes of those (they are never changed in place, so sizes hold)."""

    def __init__(self) -> None:
        self.shared: set[int] = set()
        self.sizes: dict[int, int] = {}

    def share(self, value: Any) -> None:
        if isinstance(value, (dict, list)):
            self.shared.add(id(value))

    def owned(self, container: Any) -> Any:
        """``container`` itself if owned, else a shallow copy whose children are shared."""
        if id(container) not in self.shared:
            return container
        clone: Any = dict(container) if isinstance(container, dict) else list(container)
        for child in (clone.values() if isinstance(clone, dict) else clone):
            self.share(child)
        return clone

    def own_path(self, doc: Any, path: Any) -> Any:
        """Make every container from the root to the parent of ``path`` owned; returns
        the (possibly new) root. A path that does not resolve is left to the operation."""
        if not isinstance(path, str):
            return doc
        try:
            parts = jsonpatch.JsonPointer(path).parts
        except jsonpatch.JsonPointerException:
            return doc
        doc = self.owned(doc) if isinstance(doc, (dict, list)) else doc
        node = doc
        for part in parts[:-1]:
            key: str | int
            if isinstance(node, dict) and part in node:
                key = part
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                key = int(part)
            else:
                return doc
            child = node[key]
            if isinstance(child, (dict, list)):
                child = self.owned(child)
                node[key] = child
            node = child
        return doc

    def encoded_size(self, value: Any) -> int:
        """The length of ``value`` as compact JSON, walking only parts not yet sized."""
        if not isinstance(value, (dict, list)):
            return len(orjson.dumps(value))
        local: dict[int, int] = {}
        stack = [value]
        while stack:
            node = stack[-1]
            if id(node) in self.sizes or id(node) in local:
                stack.pop()
                continue
            children = list(node.values()) if isinstance(node, dict) else node
            pending = [child for child in children if isinstance(child, (dict, list))
                       and id(child) not in self.sizes and id(child) not in local]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            size = 2 + max(len(node) - 1, 0)
            if isinstance(node, dict):
                size += sum(len(orjson.dumps(key)) + 1 for key in node)
            for child in children:
                if isinstance(child, (dict, list)):
                    size += self.sizes.get(id(child)) or local[id(child)]
                else:
                    size += len(orjson.dumps(child))
            local[id(node)] = size
            if id(node) in self.shared:
                self.sizes[id(node)] = size
        return self.sizes.get(id(value)) or local[id(value)]


def _place(doc: Any, op: dict[str, Any], value: Any) -> Any:
    """RFC 6902 ``add`` (or ``replace``) of ``value`` at ``op["path"]``, without copying
    ``value``; returns the document (whose path to the target is owned)."""
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


def _copy(doc: Any, op: dict[str, Any], sharing: _Sharing, accumulated: int) -> tuple[Any, int]:
    """``copy``: the source shared into the target; 422 once the accumulated encoded size
    of copies passes :data:`MAX_COPY_BYTES` (evanphx's ``AccumulatedCopySizeLimit``)."""
    source = op.get("from")
    if not isinstance(source, str):
        raise generic_invalid("copy operation has no valid 'from' location")
    value = jsonpatch.JsonPointer(source).resolve(doc)
    accumulated += sharing.encoded_size(value)
    if accumulated > MAX_COPY_BYTES:
        raise generic_invalid(
            "Unable to complete the copy, the accumulated size increase of copy is "
            f"{accumulated}, exceeding the limit {MAX_COPY_BYTES}"
        )
    sharing.share(value)
    # Owned again now that the value is shared: when the target lies inside the value,
    # the value's containers on the way are copied, so the value does not contain itself.
    doc = sharing.own_path(doc, op.get("path"))
    return _place(doc, {**op, "op": "add"}, value), accumulated


def _apply_op(doc: Any, op: dict[str, Any], sharing: _Sharing, copied: int) -> tuple[Any, int]:
    """One operation; add, replace and copy here (no per-value ``deepcopy``), the others
    through the ``jsonpatch`` library, always on an owned path."""
    kind = op.get("op")
    doc = sharing.own_path(doc, op.get("path"))
    if kind == "move":
        doc = sharing.own_path(doc, op.get("from"))
    if kind in ("add", "replace"):
        if "value" not in op:
            raise generic_invalid(f"The operation does not contain a 'value' member: {kind}")
        return _place(doc, op, op["value"]), copied
    if kind == "copy":
        return _copy(doc, op, sharing, copied)
    return jsonpatch.JsonPatch([op]).apply(doc, in_place=True), copied


def apply_json_patch(doc: JSONObject, patch: bytes | str | list[Any]) -> JSONObject:
    """Apply the JSON Patch ``patch`` to a copy of ``doc`` and return the copy.

    Raises :class:`PatchError` (400, 413 or 422, see the module docstring); a result
    that is not a JSON object is also a 422.  ``doc`` is never mutated; values of the
    decoded ``patch`` may end up in the result (the caller owns ``patch``).
    """
    ops = _operations(patch)
    result: Any = deep_copy(doc)
    sharing = _Sharing()
    copied = 0
    try:
        for op in ops:
            result, copied = _apply_op(result, op, sharing, copied)
        if sharing.shared:
            # One real copy, so that no part of the result is reachable twice.
            result = orjson.loads(orjson.dumps(result))
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
        raise generic_invalid(str(exc)) from None
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
        raise generic_invalid(f"invalid JSON patch operation: {exc}") from None
    if not isinstance(result, dict):
        raise generic_invalid("the patched document is not a JSON object")
    return result
