"""Resource quantities (``resource.Quantity``) as validation needs them.

Parsing lives in :mod:`apiserver.api.quantity` (admission and the controllers need it
too); this module adds the validation rules and their upstream messages.
"""

from __future__ import annotations

from typing import Any

from apiserver.api.quantity import parse_quantity
from apiserver.registry import common as c
from apiserver.registry.strategy import Cause

__all__ = ["PARSE_MSG", "nonnegative_quantity", "parse_quantity", "positive_quantity", "shown"]

PARSE_MSG = ("quantities must match the regular expression "
             "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")


def shown(value: Any) -> str:
    """A quantity as upstream prints it in an error (its string form, quoted)."""
    return c.go_value(value if isinstance(value, str) else str(value))


def nonnegative_quantity(path: str, value: Any) -> list[Cause]:
    """``ValidateNonnegativeQuantity``: malformed or negative quantities are errors."""
    number = parse_quantity(value)
    if number is None:
        return [c.invalid(path, shown(value), PARSE_MSG)]
    if number < 0:
        return [c.invalid(path, shown(value), c.NONNEGATIVE)]
    return []


def positive_quantity(path: str, value: Any) -> list[Cause]:
    """``ValidatePositiveQuantityValue``: the quantity must be greater than zero."""
    number = parse_quantity(value)
    if number is None:
        return [c.invalid(path, shown(value), PARSE_MSG)]
    if number <= 0:
        return [c.invalid(path, shown(value), "must be greater than zero")]
    return []
