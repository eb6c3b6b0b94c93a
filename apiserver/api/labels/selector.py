"""Label selector values: requirements, selectors, matching and conversion.

:class:`Requirement` and :class:`LabelSelector` are immutable; ``matches``
follows upstream ``Requirement.Matches`` / ``Selector.Matches``.
:func:`new_requirement` validates (upstream ``labels.NewRequirement``) and
:func:`selector_from_label_selector_object` converts a ``metav1.LabelSelector``
dict; both raise :class:`SelectorError` carrying the upstream message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from apiserver.api.labels.validation import (
    aggregate,
    go_quote,
    invalid,
    invalid_list,
    label_key_errors,
    label_value_errors,
)


class SelectorError(ValueError):
    """A label or field selector could not be parsed or validated.

    ``str(err)`` (also ``err.message``) is the upstream error text, suitable as
    the ``message`` of a 400 ``BadRequest`` Status.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Operator(StrEnum):
    """Requirement operators (apimachinery ``selection.Operator`` values)."""

    IN = "in"
    NOT_IN = "notin"
    EQUALS = "="
    DOUBLE_EQUALS = "=="
    NOT_EQUALS = "!="
    GREATER_THAN = "gt"
    LESS_THAN = "lt"
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"


def _parse_go_int64(text: str) -> int | None:
    """``strconv.ParseInt(text, 10, 64)``, or ``None`` when it fails."""
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        return None
    value = int(text)
    if not -(2**63) <= value < 2**63:
        return None
    return value


@dataclass(frozen=True)
class Requirement:
    """One ``key op values`` term; build it with :func:`new_requirement`."""

    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this requirement (upstream ``Requirement.Matches``)."""
        op = self.operator
        present = self.key in labels
        if op in (Operator.IN, Operator.EQUALS, Operator.DOUBLE_EQUALS):
            return present and labels[self.key] in self.values
        if op in (Operator.NOT_IN, Operator.NOT_EQUALS):
            return not present or labels[self.key] not in self.values
        if op is Operator.EXISTS:
            return present
        if op is Operator.DOES_NOT_EXIST:
            return not present
        if not present or len(self.values) != 1:
            return False
        have = _parse_go_int64(labels[self.key])
        want = _parse_go_int64(self.values[0])
        if have is None or want is None:
            return False
        return have > want if op is Operator.GREATER_THAN else have < want

    def __str__(self) -> str:
        op = self.operator
        if op is Operator.EXISTS:
            return self.key
        if op is Operator.DOES_NOT_EXIST:
            return "!" + self.key
        vals = ",".join(sorted(self.values))
        if op in (Operator.IN, Operator.NOT_IN):
            return f"{self.key} {op.value} ({vals})"
        sym = {Operator.GREATER_THAN: ">", Operator.LESS_THAN: "<"}.get(op, op.value)
        return f"{self.key}{sym}{vals}"


def new_requirement(key: str, operator: Operator, values: Iterable[str] = ()) -> Requirement:
    """Validate and build a requirement (upstream ``labels.NewRequirement``).

    Raises :class:`SelectorError` with the aggregated field errors when the key
    or a value is invalid or the number of values does not suit the operator.
    """
    vals = tuple(values)
    errs: list[str] = []
    key_errs = label_key_errors(key)
    if key_errs:
        errs.append(invalid("key", key, "; ".join(key_errs)))
    if operator in (Operator.IN, Operator.NOT_IN):
        if not vals:
            errs.append(
                invalid_list(
                    "values", vals, "for 'in', 'notin' operators, values set can't be empty"
                )
            )
    elif operator in (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.NOT_EQUALS):
        if len(vals) != 1:
            errs.append(
                invalid_list("values", vals, "exact-match compatibility requires one single value")
            )
    elif operator in (Operator.EXISTS, Operator.DOES_NOT_EXIST):
        if vals:
            errs.append(
                invalid_list(
                    "values", vals, "values set must be empty for exists and does not exist"
                )
            )
    else:
        if len(vals) != 1:
            errs.append(
                invalid_list(
                    "values", vals, "for 'Gt', 'Lt' operators, exactly one value is required"
                )
            )
        for i, v in enumerate(vals):
            if _parse_go_int64(v) is None:
                errs.append(
                    invalid(
                        f"values[{i}]", v, "for 'Gt', 'Lt' operators, the value must be an integer"
                    )
                )
    for i, v in enumerate(vals):
        value_errs = label_value_errors(v)
        if value_errs:
            errs.append(invalid(f"values[{i}][{key}]", v, "; ".join(value_errs)))
    if errs:
        raise SelectorError(aggregate(errs))
    return Requirement(key, operator, vals)


@dataclass(frozen=True)
class LabelSelector:
    """An AND of requirements, sorted by key.

    ``LabelSelector()`` selects everything; :meth:`nothing` selects nothing
    (what a nil ``metav1.LabelSelector`` converts to).
    """

    requirements: tuple[Requirement, ...] = ()
    matches_nothing: bool = field(default=False)

    @classmethod
    def nothing(cls) -> LabelSelector:
        """A selector that matches no object."""
        return cls((), True)

    @property
    def empty(self) -> bool:
        """True when the selector does not restrict anything (selects everything)."""
        return not self.matches_nothing and not self.requirements

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        """Whether an object with these labels is selected (``None`` = no labels)."""
        if self.matches_nothing:
            return False
        have = labels or {}
        return all(r.matches(have) for r in self.requirements)

    def requires_exact_match(self, key: str) -> str | None:
        """The single value ``key`` must have, if the selector pins one (else ``None``)."""
        for r in self.requirements:
            if r.key == key:
                exact = (Operator.EQUALS, Operator.DOUBLE_EQUALS, Operator.IN)
                if r.operator in exact and len(r.values) == 1:
                    return r.values[0]
                return None
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def sorted_selector(reqs: Iterable[Requirement]) -> LabelSelector:
    return LabelSelector(tuple(sorted(reqs, key=lambda r: r.key)))


def selector_from_set(labels: Mapping[str, str] | None) -> LabelSelector:
    """A selector matching exactly ``labels`` (each ``k=v``), unvalidated.

    ``None`` or ``{}`` selects everything, as upstream ``SelectorFromSet``.
    """
    reqs = (Requirement(k, Operator.EQUALS, (v,)) for k, v in (labels or {}).items())
    return sorted_selector(reqs)


def format_labels(labels: Mapping[str, str] | None) -> str:
    """``k1=v1,k2=v2`` sorted by key, or ``<none>`` (upstream ``labels.FormatLabels``)."""
    if not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


_MATCH_EXPRESSION_OPERATORS = {
    "In": Operator.IN,
    "NotIn": Operator.NOT_IN,
    "Exists": Operator.EXISTS,
    "DoesNotExist": Operator.DOES_NOT_EXIST,
}


def selector_from_label_selector_object(obj: Mapping[str, Any] | None) -> LabelSelector:
    """Convert a ``metav1.LabelSelector`` dict (upstream ``LabelSelectorAsSelector``).

    ``None`` selects nothing; ``{}`` (no matchLabels, no matchExpressions)
    selects everything. Raises :class:`SelectorError` for an unknown operator
    (``"Foo" is not a valid label selector operator``) or invalid keys/values.
    """
    if obj is None:
        return LabelSelector.nothing()
    match_labels: Mapping[str, str] = obj.get("matchLabels") or {}
    expressions: Sequence[Mapping[str, Any]] = obj.get("matchExpressions") or []
    reqs: list[Requirement] = []
    for k, v in match_labels.items():
        reqs.append(new_requirement(k, Operator.EQUALS, [v]))
    for expr in expressions:
        op_name = expr.get("operator", "")
        op = _MATCH_EXPRESSION_OPERATORS.get(op_name)
        if op is None:
            raise SelectorError(f"{go_quote(str(op_name))} is not a valid label selector operator")
        reqs.append(new_requirement(expr.get("key", ""), op, list(expr.get("values") or [])))
    return sorted_selector(reqs)
