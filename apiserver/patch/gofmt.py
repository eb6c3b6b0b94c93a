"""How upstream words a strategic-merge-patch result its Go types cannot hold.

Upstream applies a strategic merge patch to the object's unstructured map, then
converts the result into the typed object with ``DefaultUnstructuredConverter``; a
value of the wrong type fails that conversion, and the 422 names the *patch map*
printed with Go's ``%+v`` (:func:`go_value`) and the converter's error
(:func:`conversion_error`).
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

#: Named Go types decoded through their own JSON unmarshaller, not the converter's walk.
_CUSTOM_DECODERS = frozenset({
    "intstr.IntOrString", "resource.Quantity", "v1.Time", "v1.MicroTime",
})
_INTS = frozenset({"int", "int32", "int64"})
_SCALARS = _INTS | {"string", "bool", "float64"}


def go_value(value: Any) -> str:
    """``value`` (decoded JSON, integers kept) as Go's ``fmt.Sprintf("%+v", v)`` prints it.

    Maps print as ``map[k:v ...]`` with sorted keys, lists as ``[a b]``, ``null`` as
    ``<nil>``, strings unquoted, floats in ``%g`` form.
    """
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        inner = " ".join(f"{key}:{go_value(value[key])}" for key in sorted(value))
        return f"map[{inner}]"
    if isinstance(value, list):
        return "[" + " ".join(go_value(v) for v in value) + "]"
    if isinstance(value, float):
        return _go_float(value)
    return str(value)


def _go_float(value: float) -> str:
    """A float64 as Go's ``%v`` prints it (shortest digits; exponent past 1e+06 or below 1e-04)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(str(d) for d in digits)
    point = len(text) + exponent  # digits before the decimal point
    exp = point - 1
    minus = "-" if sign else ""
    if exp < -4 or exp >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{minus}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{minus}0.{'0' * -point}{text}"
    if point >= len(text):
        return minus + text + "0" * (point - len(text))
    return f"{minus}{text[:point]}.{text[point:]}"


def _source_kind(json_type: str) -> str:
    """The Go kind the unstructured value of ``json_type`` has (a typecheck JSON type)."""
    if json_type == "object":
        return "map"
    if json_type == "array":
        return "slice"
    if json_type.startswith("number"):
        detail = json_type[len("number"):].strip()
        return "float64" if any(c in detail for c in ".eE") else "int64"
    return json_type


def conversion_error(json_type: str, go_type: str) -> str | None:
    """The converter's error for a ``json_type`` value where Go holds ``go_type``.

    ``json_type``/``go_type`` are as :class:`apiserver.schema.typecheck.TypeIssue`
    reports them. None when the converter would accept the value or decodes it
    through a type's own JSON unmarshaller (then the JSON decoder's wording applies).
    """
    source = _source_kind(json_type)
    if go_type in _CUSTOM_DECODERS or go_type == "interface {}":
        return None
    if go_type.startswith("map["):
        return f"cannot restore map from {source}"
    if go_type == "[]uint8":
        return None if source == "string" else f"cannot restore slice from {source}"
    if go_type.startswith("[]"):
        return f"cannot restore slice from {source}"
    if go_type not in _SCALARS:
        return f"cannot restore struct from: {source}"
    if source == "int64" and go_type in _INTS:
        return None  # out of range: the converter narrows without a check
    if source == "float64" and go_type in _INTS:
        return f"cannot convert float64 to {go_type}"
    if source in ("int64", "float64") and go_type == "string":
        return f"cannot convert {source} to string"
    return f"unrecognized type: {go_type}"
