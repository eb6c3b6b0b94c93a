"""Field checks shared by the per-family validators, with upstream's messages.

Counterparts of apimachinery's ``ValidateNonnegativeField``, ``ValidateImmutableField``,
``ValidateLabelSelector``, ``IsValidPercent``/``IsNotMoreThan100Percent``,
``IsConfigMapKey``, and of the Go value printing ``field.Error`` does. Every function
takes plain JSON values and never raises on malformed input: a value of the wrong
type is reported or skipped, so a strategy's ``validate`` cannot fail with a 500.
"""

from __future__ import annotations

import re
from typing import Any, TypeGuard

from apiserver.api import labels as labelsel
from apiserver.api.labels import SelectorError
from apiserver.registry.service.fielderrors import (
    forbidden,
    go_list,
    go_value,
    invalid,
    not_supported,
    required,
)
from apiserver.registry.strategy import Cause
from apiserver.registry.validation import _label_value_errors, _qualified_name_errors

__all__ = [
    "IMMUTABLE",
    "config_key",
    "forbidden",
    "go_int_or_string",
    "go_list",
    "go_map",
    "go_value",
    "immutable",
    "int_or_percent",
    "invalid",
    "is_int",
    "label_selector",
    "nonnegative",
    "not_supported",
    "positive",
    "required",
    "selector_matches",
]

IMMUTABLE = "field is immutable"
NONNEGATIVE = "must be greater than or equal to 0"
_PERCENT = re.compile(r"^[0-9]+%$")
_PERCENT_MSG = ("a valid percent string must be a numeric string followed by an ending '%' "
                "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')")
_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_CONFIG_KEY_MSG = ("a valid config key must consist of alphanumeric characters, '-', '_' or "
                   "'.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for "
                   "validation is '[-._a-zA-Z0-9]+')")


def is_int(value: Any) -> TypeGuard[int]:
    """An integer JSON value (``true``/``false`` excluded)."""
    return isinstance(value, int) and not isinstance(value, bool)


def go_map(value: Any) -> str:
    """``map[string]string{"a":"b"}`` as Go's ``%#v`` prints a label map (keys sorted)."""
    items = value if isinstance(value, dict) else {}
    if not items:
        return "map[string]string(nil)" if value is None else "map[string]string{}"
    body = ", ".join(f"{go_value(str(k))}:{go_value(str(v))}" for k, v in sorted(items.items()))
    return f"map[string]string{{{body}}}"


def go_int_or_string(value: Any) -> str:
    """An ``intstr.IntOrString`` as ``%#v`` prints it."""
    if isinstance(value, str):
        return f'intstr.IntOrString{{Type:1, IntVal:0, StrVal:{go_value(value)}}}'
    number = value if is_int(value) else 0
    return f'intstr.IntOrString{{Type:0, IntVal:{number}, StrVal:""}}'


def nonnegative(path: str, value: Any) -> list[Cause]:
    """``must be greater than or equal to 0`` for a negative integer (absent: no error)."""
    if is_int(value) and value < 0:
        return [invalid(path, go_value(value), NONNEGATIVE)]
    return []


def positive(path: str, value: Any) -> list[Cause]:
    """``must be greater than 0`` for a non-positive integer (absent: no error)."""
    if is_int(value) and value <= 0:
        return [invalid(path, go_value(value), "must be greater than 0")]
    return []


def immutable(path: str, new: Any, old: Any, shown: str | None = None) -> list[Cause]:
    """``field is immutable`` when ``new`` differs from ``old``."""
    if new != old:
        return [invalid(path, shown if shown is not None else go_value(new), IMMUTABLE)]
    return []


def int_or_percent(path: str, value: Any) -> list[Cause]:
    """An int ≥ 0 or a percent string ``N%`` with N ≤ 100 (absent: no error)."""
    if value is None:
        return []
    if isinstance(value, str):
        if not _PERCENT.match(value):
            return [invalid(path, go_value(value), _PERCENT_MSG)]
        if int(value[:-1]) > 100:
            return [invalid(path, go_value(value), "must not be greater than 100%")]
        return []
    if not is_int(value):
        return [invalid(path, go_value(value), "must be an integer or percentage (e.g '5%')")]
    return nonnegative(path, value)


def percent_value(value: Any) -> int | None:
    """The integer of an int-or-percent (``"25%"`` → 25); None when not one."""
    if isinstance(value, str) and _PERCENT.match(value):
        return int(value[:-1])
    return value if is_int(value) else None


def label_selector(selector: Any, path: str) -> list[Cause]:
    """``ValidateLabelSelector``: keys, values and operators of a ``metav1.LabelSelector``."""
    if selector is None:
        return []
    if not isinstance(selector, dict):
        return [invalid(path, go_value(str(selector)), "must be an object")]
    causes: list[Cause] = []
    match_labels = selector.get("matchLabels") or {}
    if isinstance(match_labels, dict):
        for key, value in match_labels.items():
            causes += [invalid(f"{path}.matchLabels", go_value(str(key)), m)
                       for m in _qualified_name_errors(str(key))]
            causes += [invalid(f"{path}.matchLabels", go_value(str(value)), m)
                       for m in _label_value_errors(str(value))]
    for i, expr in enumerate(selector.get("matchExpressions") or []):
        epath = f"{path}.matchExpressions[{i}]"
        if not isinstance(expr, dict):
            causes.append(invalid(epath, go_value(str(expr)), "must be an object"))
            continue
        op = expr.get("operator")
        values = expr.get("values") or []
        if op in ("In", "NotIn"):
            if not values:
                causes.append(required(f"{epath}.values",
                                       "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist"):
            if values:
                causes.append(forbidden(f"{epath}.values", "may not be specified when "
                                        "`operator` is 'Exists' or 'DoesNotExist'"))
        else:
            causes.append(invalid(f"{epath}.operator", go_value(op),
                                  "not a valid selector operator"))
        key = str(expr.get("key") or "")
        causes += [invalid(f"{epath}.key", go_value(key), m) for m in _qualified_name_errors(key)]
        for j, value in enumerate(values if isinstance(values, list) else []):
            causes += [invalid(f"{epath}.values[{j}]", go_value(str(value)), m)
                       for m in _label_value_errors(str(value))]
    return causes


def selector_is_empty(selector: Any) -> bool:
    """A selector with neither matchLabels nor matchExpressions (it selects everything)."""
    return isinstance(selector, dict) and not selector.get("matchLabels") and not selector.get(
        "matchExpressions")


def selector_matches(selector: Any, labels: Any) -> bool:
    """Whether a ``metav1.LabelSelector`` selects ``labels``; False when it is malformed."""
    if not isinstance(selector, dict):
        return False
    try:
        parsed = labelsel.selector_from_label_selector_object(selector)
    except (SelectorError, TypeError, AttributeError, ValueError):
        return False
    return parsed.matches(labels if isinstance(labels, dict) else {})


def go_selector(selector: Any) -> str:
    """A ``metav1.LabelSelector`` as its generated ``String()`` prints it."""
    sel = selector if isinstance(selector, dict) else {}
    labels = sel.get("matchLabels") or {}
    shown = ",".join(f"{k}: {v}" for k, v in sorted(labels.items())) if isinstance(
        labels, dict) else ""
    body = f"map[string]string{{{shown + ',' if shown else ''}}}"
    return f"&LabelSelector{{MatchLabels:{body},MatchExpressions:[]LabelSelectorRequirement{{}},}}"


def config_key(path: str, key: str) -> list[Cause]:
    """``IsConfigMapKey`` on a data key; errors at ``path[key]``."""
    field_path = f"{path}[{key}]"
    errs: list[str] = []
    if len(key) > 253:
        errs.append("must be no more than 253 characters")
    if not _CONFIG_KEY.match(key):
        errs.append(_CONFIG_KEY_MSG)
    if key == ".":
        errs.append("must not be '.'")
    elif key == "..":
        errs.append("must not be '..'")
    elif key.startswith(".."):
        errs.append("must not start with '..'")
    return [invalid(field_path, go_value(key), e) for e in errs]


def path_segment_name_errors(name: str) -> list[str]:
    """Upstream ``path.IsValidPathSegmentName``: names such as RBAC's ``system:node`` or
    the APIService ``v1.`` are path segments, not DNS names."""
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{bad}'" for bad in ("/", "%") if bad in name]
