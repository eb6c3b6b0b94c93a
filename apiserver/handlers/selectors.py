"""The label and field selectors of a list or watch request (``labelSelector``,
``fieldSelector``; a named request adds ``metadata.name``). Malformed selectors raise
:class:`~apiserver.api.labels.SelectorError` (a 400 at the handler's boundary)."""

from __future__ import annotations

from apiserver.api.fields import (
    FieldSelector,
    named_object_selector,
    parse_field_selector,
    validate_field_selector,
)
from apiserver.api.labels import LabelSelector, parse_label_selector
from apiserver.api.resources import ResourceInfo
from apiserver.handlers.http import Request

__all__ = ["request_selectors"]


def request_selectors(req: Request, info: ResourceInfo, name: str | None = None,
                      ) -> tuple[LabelSelector | None, FieldSelector | None]:
    """The request's selectors (None when empty), fields checked against ``info``."""
    label_text = req.query.get("labelSelector", "")
    labels = parse_label_selector(label_text) if label_text else None
    if labels is not None and labels.empty:
        labels = None
    field_text = req.query.get("fieldSelector", "")
    fields: FieldSelector | None = None
    if field_text:
        fields = validate_field_selector(parse_field_selector(field_text), info)
        if fields.empty:
            fields = None
    if name is not None:
        named = named_object_selector(name)
        fields = named if fields is None else FieldSelector(
            tuple(fields.requirements) + tuple(named.requirements)
        )
    return labels, fields
