"""Cell helpers shared by the per-family printers (upstream ``printers.go`` helpers).

Objects are JSON dicts that may lack any field (the table of a half-filled
object must still print), so every accessor here tolerates absence and wrong
types and falls back to the Go zero value.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from apiserver.api.labels import SelectorError, selector_from_label_selector_object
from apiserver.printing.duration import translate_timestamp_since

__all__ = [
    "age",
    "bool_ptr",
    "condition",
    "container_cells",
    "deleting",
    "format_label_selector",
    "i",
    "int_or_string",
    "label_selector_string",
    "lst",
    "m",
    "name",
    "opt_int",
    "quantity",
    "s",
]


def m(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a mapping, else ``{}``."""
    return value if isinstance(value, Mapping) else {}


def lst(value: Any) -> list[Any]:
    """``value`` if it is a list, else ``[]``."""
    return value if isinstance(value, list) else []


def s(value: Any) -> str:
    """``value`` if it is a string, else ``""``."""
    return value if isinstance(value, str) else ""


def opt_int(value: Any) -> int | None:
    """``value`` if it is an integer (not a bool), else ``None``."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def i(value: Any, default: int = 0) -> int:
    """``value`` if it is an integer (not a bool), else ``default``."""
    number = opt_int(value)
    return default if number is None else number


def name(obj: Mapping[str, Any]) -> str:
    """``metadata.name``."""
    return s(m(obj.get("metadata")).get("name"))


def age(obj: Mapping[str, Any], now: datetime) -> str:
    """Human duration since ``metadata.creationTimestamp`` (``<unknown>`` without one)."""
    return translate_timestamp_since(m(obj.get("metadata")).get("creationTimestamp"), now)


def deleting(obj: Mapping[str, Any]) -> bool:
    """Whether ``metadata.deletionTimestamp`` is set."""
    return bool(m(obj.get("metadata")).get("deletionTimestamp"))


def condition(conditions: Any, ctype: str) -> Mapping[str, Any] | None:
    """The first condition of type ``ctype`` in a conditions list, if any."""
    for cond in lst(conditions):
        if m(cond).get("type") == ctype:
            return m(cond)
    return None


def container_cells(pod_spec: Any) -> tuple[str, str]:
    """Container names and images of a pod spec, each comma-joined (``layoutContainerCells``)."""
    containers = [m(c) for c in lst(m(pod_spec).get("containers"))]
    return (
        ",".join(s(c.get("name")) for c in containers),
        ",".join(s(c.get("image")) for c in containers),
    )


def _selector_text(selector: Any) -> str:
    """The selector string; raises :class:`SelectorError` for an invalid selector."""
    return str(selector_from_label_selector_object(None if selector is None else m(selector)))


def label_selector_string(selector: Any) -> str:
    """A ``metav1.LabelSelector`` in selector syntax (``app=web,tier in (a,b)``).

    Requirements are sorted by key; an absent or empty selector gives ``""``
    and an invalid one ``<invalid>`` (as ``printDeployment`` renders it).
    """
    try:
        return _selector_text(selector)
    except SelectorError:
        return "<invalid>"


def format_label_selector(selector: Any) -> str:
    """``metav1.FormatLabelSelector``: the selector string, ``<none>`` when empty, ``<error>``."""
    try:
        text = _selector_text(selector)
    except SelectorError:
        return "<error>"
    return text or "<none>"


def bool_ptr(value: Any) -> str:
    """``True``/``False`` for a set boolean, ``<unset>`` otherwise (``printBoolPtr``)."""
    if isinstance(value, bool):
        return "True" if value else "False"
    return "<unset>"


def quantity(value: Any, missing: str = "0") -> str:
    """A resource quantity as stored (the server keeps its canonical form), or ``missing``."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return missing


def int_or_string(value: Any) -> str:
    """An ``IntOrString`` as text (``"2"`` or ``"50%"``)."""
    if isinstance(value, bool):
        return ""
    return str(value) if isinstance(value, int | str) else ""
