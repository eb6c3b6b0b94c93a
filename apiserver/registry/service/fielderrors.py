"""Field errors of Service validation, printed the way Go's ``field.Error`` prints them.

Builders of the :data:`~apiserver.registry.strategy.Cause` dicts that go into a
422 ``Invalid`` Status (``Invalid value``, ``Required value``, ``Forbidden``,
``Unsupported value``, ``Duplicate value``) and the Go-style rendering of bad
values (``"a"``, ``30080``, ``[]string{"10.0.0.1"}``). Used by every registry
whose messages follow upstream's ``field`` package.
"""

from __future__ import annotations

from typing import Any

from apiserver.api import errors
from apiserver.registry.strategy import Cause
from apiserver.registry.validation import _qualified_name_errors


def go_value(value: Any) -> str:
    """A bad value as ``field.Error`` prints it (strings quoted, ints bare)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return go_quote(value)
    return str(value)


def go_list(value: Any, elem: str = "string") -> str:
    """``[]string{"a", "b"}`` (Go's ``%#v`` of a slice); ``[]string(nil)`` when empty."""
    items = value if isinstance(value, list) else []
    if not items:
        return f"[]{elem}(nil)"
    return f"[]{elem}{{" + ", ".join(go_quote(str(i)) for i in items) + "}"


def go_quote(text: str) -> str:
    """A string in double quotes, with backslash and ``"`` escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def invalid(path: str, shown: str, detail: str) -> Cause:
    """``path: Invalid value: <shown>: detail`` with ``shown`` already formatted."""
    return errors.field_cause("FieldValueInvalid", path, f"Invalid value: {shown}: {detail}")


def required(path: str, detail: str = "") -> Cause:
    """``path: Required value`` (``: detail`` when given)."""
    msg = "Required value" + (f": {detail}" if detail else "")
    return errors.field_cause("FieldValueRequired", path, msg)


def forbidden(path: str, detail: str) -> Cause:
    """``path: Forbidden: detail``."""
    return errors.forbidden_field(path, detail)


def not_supported(path: str, value: Any, supported: tuple[str, ...]) -> Cause:
    """``path: Unsupported value: <value>: supported values: ...``."""
    listed = ", ".join(go_quote(s) for s in supported)
    return errors.field_cause(
        "FieldValueNotSupported", path,
        f"Unsupported value: {go_value(value)}: supported values: {listed}",
    )


def duplicate(path: str, shown: str) -> Cause:
    """``path: Duplicate value: <shown>`` with ``shown`` already formatted."""
    return errors.field_cause("FieldValueDuplicate", path, f"Duplicate value: {shown}")


def qualified_name(path: str, value: str) -> list[Cause]:
    """``Invalid value`` causes for each way ``value`` is not a qualified name."""
    return [invalid(path, go_value(value), msg) for msg in _qualified_name_errors(value)]
