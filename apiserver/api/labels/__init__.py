"""Label selectors, with the grammar and error messages of apimachinery ``labels``.

The text form (``?labelSelector=``) is parsed by :func:`parse_label_selector`::

    <selector>    ::= <requirement> | <requirement> "," <selector>
    <requirement> ::= [!] KEY [ <set-based> | <exact-match> | <numeric> ]
    <set-based>   ::= ("in" | "notin") "(" VALUE {"," VALUE} ")"
    <exact-match> ::= ("=" | "==" | "!=") VALUE
    <numeric>     ::= (">" | "<") INTEGER

A comma is AND; whitespace between tokens is ignored; the empty string selects
everything. ``!=`` and ``notin`` also match objects that lack the key.

The structured form (``matchLabels`` / ``matchExpressions`` of a
``metav1.LabelSelector``) is converted by :func:`selector_from_label_selector_object`.

Every invalid input raises :class:`SelectorError` whose message is the one
kube-apiserver puts in its 400 ``BadRequest`` Status (e.g.
``unable to parse requirement: <nil>: Invalid value: "a b": ...``).

This package's public names are the ones below; its modules each do one job:
:mod:`.validation` (label key/value rules and field-error text),
:mod:`.selector` (requirements, selectors, matching, ``metav1.LabelSelector``
conversion) and :mod:`.parser` (the text form).
"""

from apiserver.api.labels.parser import parse_label_selector
from apiserver.api.labels.selector import (
    LabelSelector,
    Operator,
    Requirement,
    SelectorError,
    format_labels,
    new_requirement,
    selector_from_label_selector_object,
    selector_from_set,
)
from apiserver.api.labels.validation import label_key_errors, label_value_errors

__all__ = [
    "LabelSelector",
    "Operator",
    "Requirement",
    "SelectorError",
    "format_labels",
    "label_key_errors",
    "label_value_errors",
    "new_requirement",
    "parse_label_selector",
    "selector_from_label_selector_object",
    "selector_from_set",
]
