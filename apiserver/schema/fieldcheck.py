"""Strict field validation: unknown and duplicate fields, reported as upstream does.

Upstream's strict JSON decoder (``sigs.k8s.io/json``) names a field by its path with
dots between field names and ``[i]`` for list indexes, without a leading dot:
``spec.ports[0].bar``; map keys are appended like field names.  The messages are
``unknown field "spec.foo"`` and ``duplicate field "metadata.name"``, joined as
``strict decoding error: <msg>, <msg>`` (apimachinery ``runtime.NewStrictDecodingError``).

Contract: every function here is pure; issues come out in document order.  ``apiVersion``,
``kind`` and ``metadata`` are always known at the root.  Values the schema leaves
free-form (maps, RawExtension, JSON, ``x-kubernetes-preserve-unknown-fields``) are
not searched for unknown fields, but are still searched for duplicate keys.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

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
        return f'{self.kind} field "{self.path}"'


def _join_field(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _entries(value: Any) -> list[tuple[str, Any]] | None:
    if isinstance(value, _Pairs):
        return value
    if isinstance(value, Mapping):
        return list(value.items())
    return None


def _walk(
    node: SchemaNode | None, value: Any, path: str, *, root: bool, unknown: bool
) -> Iterator[FieldIssue]:
    if isinstance(value, list) and not isinstance(value, _Pairs):
        items = node.items() if node is not None else None
        for index, element in enumerate(value):
            if isinstance(element, (list, Mapping)):
                yield from _walk(items, element, f"{path}[{index}]", root=False, unknown=unknown)
        return
    entries = _entries(value)
    if entries is None:
        return
    check_unknown = unknown and node is not None and node.kind == "object"
    seen: set[str] = set()
    for key, child_value in entries:
        if key in seen:
            yield FieldIssue("duplicate", _join_field(path, key))
            continue
        seen.add(key)
        child = node.child(key) if node is not None else None
        if child is None and check_unknown:
            if not (root and key in _ALWAYS_KNOWN_AT_ROOT):
                yield FieldIssue("unknown", _join_field(path, key))
                continue
            child = ANY
        if isinstance(child_value, (list, Mapping)):  # scalars hold no fields
            yield from _walk(
                child, child_value, _join_field(path, key), root=False, unknown=unknown
            )


def unknown_fields(root_ref: str, obj: Mapping[str, Any]) -> list[str]:
    """Paths (``spec.foo``, ``spec.ports[0].bar``) of fields ``root_ref`` does not define.

    Raises ``KeyError`` for an unknown ``root_ref``.
    """
    return [
        issue.path
        for issue in _walk(root_node(root_ref), obj, "", root=True, unknown=True)
        if issue.kind == "unknown"
    ]


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
    return [issue.path for issue in _walk(None, _parse_pairs(raw), "", root=True, unknown=False)]


def strict_field_issues(root_ref: str, raw: bytes | str) -> list[FieldIssue]:
    """Duplicate and unknown fields of the JSON body ``raw``, in document order.

    This is what upstream's strict decoder reports for ``fieldValidation=Strict|Warn``.
    Raises ``ValueError`` on invalid JSON and ``KeyError`` for an unknown ``root_ref``.
    """
    return list(_walk(root_node(root_ref), _parse_pairs(raw), "", root=True, unknown=True))


def strict_field_messages(root_ref: str, raw: bytes | str) -> list[str]:
    """Messages of :func:`strict_field_issues` (one ``Warning`` header each for Warn)."""
    return [issue.message for issue in strict_field_issues(root_ref, raw)]


def strict_decoding_error_message(messages: list[str]) -> str:
    """The single upstream error text for Strict: ``strict decoding error: a, b``."""
    return "strict decoding error: " + ", ".join(messages)
