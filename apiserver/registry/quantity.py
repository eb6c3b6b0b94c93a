"""Resource quantities (``resource.Quantity``) as validation needs them.

:func:`parse_quantity` accepts apimachinery's serialized form: a signed decimal number
followed by an optional binary-SI (``Ki`` … ``Ei``), decimal-SI (``n`` … ``E``) or
decimal-exponent (``e3``) suffix; JSON numbers are accepted as they are. It returns the
value as a :class:`~decimal.Decimal`, or None when the text is not a quantity.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from apiserver.registry import common as c
from apiserver.registry.strategy import Cause

_QUANTITY = re.compile(
    r"^(?P<num>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?P<suffix>[KMGTPE]i|[eE][+-]?[0-9]+|[numkMGTPE])?$")
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
PARSE_MSG = ("quantities must match the regular expression "
             "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")


def parse_quantity(value: Any) -> Decimal | None:
    """The numeric value of a quantity string or JSON number; None when malformed."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return Decimal(str(value))
    if not isinstance(value, str):
        return None
    match = _QUANTITY.match(value)
    if match is None:
        return None
    try:
        number = Decimal(match["num"])
    except InvalidOperation:
        return None
    suffix = match["suffix"] or ""
    if suffix in _BINARY:
        return number * (Decimal(1024) ** _BINARY[suffix])
    if suffix in _DECIMAL:
        return number.scaleb(_DECIMAL[suffix])
    if suffix:
        return number.scaleb(int(suffix[1:]))
    return number


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
