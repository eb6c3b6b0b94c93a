"""Resource quantities (apimachinery's ``resource.Quantity``): parse, add, print.

:func:`parse_quantity` accepts the serialized form: a signed decimal number followed by an
optional binary-SI (``Ki`` … ``Ei``), decimal-SI (``n`` … ``E``) or decimal-exponent
(``e3``) suffix; JSON numbers are accepted as they are. It returns the value as a
:class:`~decimal.Decimal`, or None when the text is not a quantity.

:class:`Quantity` keeps a value with the format it was written in, because upstream prints
a sum in its first operand's format (``128Mi`` + ``128Mi`` is ``256Mi``, ``500m`` + ``1`` is
``1500m``; a zero first operand takes the second's); :meth:`Quantity.__str__` is
upstream's canonical ``String()``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Any

_QUANTITY = re.compile(
    r"^(?P<num>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?P<suffix>[KMGTPE]i|[eE][+-]?[0-9]+|[numkMGTPE])?$")
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_BY_EXP = {exp: suffix for suffix, exp in _DECIMAL.items()} | {0: ""}
_BINARY_BY_POWER = {power: suffix for suffix, power in _BINARY.items()}
_NANO = Decimal("1e-9")

DECIMAL_SI = "DecimalSI"
BINARY_SI = "BinarySI"
DECIMAL_EXPONENT = "DecimalExponent"


def _split(value: Any) -> tuple[Decimal, str] | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return Decimal(str(value)), DECIMAL_SI
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
        return number * (Decimal(1024) ** _BINARY[suffix]), BINARY_SI
    if suffix in _DECIMAL:
        return number.scaleb(_DECIMAL[suffix]), DECIMAL_SI
    if suffix:
        return number.scaleb(int(suffix[1:])), DECIMAL_EXPONENT
    return number, DECIMAL_SI


def parse_quantity(value: Any) -> Decimal | None:
    """The numeric value of a quantity string or JSON number; None when malformed."""
    split = _split(value)
    return split[0] if split is not None else None


@dataclass(frozen=True, slots=True)
class Quantity:
    """A value and the format upstream prints it in."""

    value: Decimal
    format: str = DECIMAL_SI

    @classmethod
    def parse(cls, value: Any) -> Quantity | None:
        """The quantity of a serialized value; None when malformed."""
        split = _split(value)
        return cls(split[0], split[1]) if split is not None else None

    def _format_with(self, other: Quantity) -> str:
        # Upstream's Add/Sub: a zero receiver takes the other operand's format.
        return other.format if self.value == 0 else self.format

    def __add__(self, other: Quantity) -> Quantity:
        return Quantity(self.value + other.value, self._format_with(other))

    def __sub__(self, other: Quantity) -> Quantity:
        return Quantity(self.value - other.value, self._format_with(other))

    def __str__(self) -> str:
        return format_quantity(self.value, self.format)


def _mantissa_exponent(value: Decimal) -> tuple[int, int]:
    """``value`` as ``m * 10**e``: rounded up to nano precision (as upstream), ``e`` the
    largest multiple of 3 (at most 18) that keeps ``m`` an integer."""
    value = (value / _NANO).to_integral_value(rounding=ROUND_CEILING) * _NANO
    if value == 0:
        return 0, 0
    for exp in (18, 15, 12, 9, 6, 3, 0, -3, -6, -9):
        mantissa = value.scaleb(-exp)
        if mantissa == mantissa.to_integral_value():
            return int(mantissa), exp
    raise AssertionError("unreachable: nano precision always fits")


def format_quantity(value: Decimal, fmt: str = DECIMAL_SI) -> str:
    """Upstream's canonical string of ``value`` in format ``fmt``.

    Binary SI is used only for whole numbers of at least 1024 (in magnitude): anything
    else falls back to decimal SI, as ``Quantity.CanonicalizeBytes`` does.
    """
    if fmt == BINARY_SI and value == value.to_integral_value() and abs(value) >= 1024:
        number = int(value)
        power = 0
        while power < 6 and number % 1024 == 0:
            number //= 1024
            power += 1
        return f"{number}{_BINARY_BY_POWER.get(power, '')}"
    mantissa, exp = _mantissa_exponent(value)
    if fmt == DECIMAL_EXPONENT:
        return f"{mantissa}e{exp}" if exp else str(mantissa)
    return f"{mantissa}{_DECIMAL_BY_EXP[exp]}"


def canonical(value: Any) -> str:
    """The canonical string of a serialized quantity (the input when malformed)."""
    quantity = Quantity.parse(value)
    return str(quantity) if quantity is not None else str(value)
