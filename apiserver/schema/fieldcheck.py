"""Strict field validation: unknown and duplicate fields, reported as upstream does.

Upstream's strict JSON decoder (``sigs.k8s.io/json``) names a field by its path with
dots between field names and ``[i]`` for list indexes, without a leading dot:
``spec.ports[0].bar``; map keys are appended like field names.  The messages are
``unknown field "spec.foo"`` and ``duplicate field "metadata.name"`` (the path quoted as
Go's ``%q``), joined as
``strict decoding error: <msg>, <msg>`` (apimachinery ``runtime.NewStrictDecodingError``).

Contract: every function here is pure; issues come out in document order.  ``apiVersion``,
``kind`` and ``metadata`` are always known at the root.  Values the schema leaves
free-form (maps, RawExtension, JSON, ``x-kubernetes-preserve-unknown-fields``) are
not searched for unknown fields, but are still searched for duplicate keys.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from apiserver.api.gostrings import go_quote
from apiserver.schema.node import ANY, SchemaNode, root_node

_ALWAYS_KNOWN_AT_ROOT = frozenset({"apiVersion", "kind", "metadata"})


class _Pairs(list[tuple[str, Any]]):
    """A JSON object kept as its ordered key/value pairs, duplicates included."""


@dataclass(frozen=True)
class FieldIssue:
    """One strict-decoding problem: ``kind`` is ``"unknown"`` or ``"duplicate"``."""

    kind: Literal["unknown", "duplicate"]
    path: str

    @property
    def message(self) -> str:
        """The upstream message, e.g. ``unknown field "spec.foo"``."""
        return f"{self.kind} field {go_quote(self.path)}"  # Go's %q: control characters escaped


def _path(stack: list[str | int], name: str) -> str:
    """The upstream path of ``name`` below the field names and list indexes on ``stack``."""
    out = ""
    for segment in (*stack, name):
        if isinstance(segment, int):
            out += f"[{segment}]"
        else:
            out += f".{segment}" if out else segment
    return out


def _walk(node: SchemaNode | None, value: Any, stack: list[str | int], out: list[FieldIssue],
          root: bool, unknown: bool) -> None:
    """Append the issues of ``value`` (below the path on ``stack``) to ``out``.

    A plain recursive walk: paths are spelled out only for issues, and values are
    told apart with concrete types (objects come as dicts or :class:`_Pairs`), since
    this runs on every create and update body.
    """
    if isinstance(value, list) and not isinstance(value, _Pairs):
        items = node.items() if node is not None else None
        for index, element in enumerate(value):
            if isinstance(element, (list, dict)):
                stack.append(index)
                _walk(items, element, stack, out, False, unknown)
                stack.pop()
        return
    if isinstance(value, _Pairs):
        entries: Any = value
    elif isinstance(value, dict):
        entries = value.items()
    else:
        return
    check_unknown = unknown and node is not None and node.kind == "object"
    seen: set[str] = set()
    for key, child_value in entries:
        if key in seen:
            out.append(FieldIssue("duplicate", _path(stack, key)))
            continue
        seen.add(key)
        child = node.child(key) if node is not None else None
        if child is None and check_unknown:
            if not (root and key in _ALWAYS_KNOWN_AT_ROOT):
                out.append(FieldIssue("unknown", _path(stack, key)))
                continue
            child = ANY
        if isinstance(child_value, (list, dict)):  # scalars hold no fields
            stack.append(key)
            _walk(child, child_value, stack, out, False, unknown)
            stack.pop()


def _issues(node: SchemaNode | None, value: Any, unknown: bool) -> list[FieldIssue]:
    out: list[FieldIssue] = []
    _walk(node, value, [], out, True, unknown)
    return out


def unknown_fields(root_ref: str, obj: Mapping[str, Any]) -> list[str]:
    """Paths (``spec.foo``, ``spec.ports[0].bar``) of fields ``root_ref`` does not define.

    Raises ``KeyError`` for an unknown ``root_ref``.
    """
    return [issue.path for issue in _issues(root_node(root_ref), obj, True)
            if issue.kind == "unknown"]


def unknown_field_messages(root_ref: str, obj: Mapping[str, Any]) -> list[str]:
    """Upstream messages (``unknown field "spec.foo"``) for :func:`unknown_fields`."""
    return [FieldIssue("unknown", path).message for path in unknown_fields(root_ref, obj)]


def _parse_pairs(raw: bytes | str) -> Any:
    """Parse JSON keeping duplicate keys; raises ``ValueError`` on invalid JSON."""
    return json.loads(raw, object_pairs_hook=_Pairs)


def find_duplicate_fields(raw: bytes | str) -> list[str]:
    """Paths (``metadata.name``) of keys repeated within one JSON object of ``raw``.

    Raises ``ValueError`` (``json.JSONDecodeError``) if ``raw`` is not valid JSON.
    """
    return [issue.path for issue in _issues(None, _parse_pairs(raw), False)]


def strict_field_issues(root_ref: str, raw: bytes | str) -> list[FieldIssue]:
    """Duplicate and unknown fields of the JSON body ``raw``, in document order.

    This is what upstream's strict decoder reports for ``fieldValidation=Strict|Warn``.
    Raises ``ValueError`` on invalid JSON and ``KeyError`` for an unknown ``root_ref``.
    """
    return _issues(root_node(root_ref), _parse_pairs(raw), True)


def strict_field_messages(root_ref: str, raw: bytes | str) -> list[str]:
    """Messages of :func:`strict_field_issues` (one ``Warning`` header each for Warn)."""
    return [issue.message for issue in strict_field_issues(root_ref, raw)]


def strict_decoding_error_message(messages: list[str]) -> str:
    """The single upstream error text for Strict: ``strict decoding error: a, b``."""
    return "strict decoding error: " + ", ".join(messages)
