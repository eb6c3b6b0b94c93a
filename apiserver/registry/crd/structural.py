"""A custom resource against its structural schema: prune, default, validate.

The contracts, as apiextensions-apiserver applies them to every write:

* :func:`prune` removes every field the schema does not name (unless a node says
  ``x-kubernetes-preserve-unknown-fields``); ``apiVersion``, ``kind`` and ``metadata``
  stay at the root.
* :func:`apply_defaults` fills ``default`` values of absent properties, top down (a
  defaulted object is itself defaulted).
* :func:`validate` returns upstream's field errors (OpenAPI v3 validation as kube-openapi
  words them: types, formats, enum, pattern, bounds, lengths, items, properties,
  required, nullable, allOf/anyOf/oneOf/not), each a ``Status`` cause.

The walk is iterative over explicit work lists of bounded depth, so a deeply nested
object costs no recursion.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from apiserver.api import errors

Cause = dict[str, str]
_MAX_DEPTH = 1000
_KEEP_AT_ROOT = ("apiVersion", "kind", "metadata")
_COMBINATORS = frozenset({"allOf", "anyOf", "oneOf", "not"})


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _preserves(schema: Mapping[str, Any]) -> bool:
    return schema.get("x-kubernetes-preserve-unknown-fields") is True


# -- pruning -----------------------------------------------------------------------------


def prune(obj: dict[str, Any], schema: Mapping[str, Any]) -> None:
    """Remove the fields ``schema`` does not name from ``obj``, in place."""
    work: list[tuple[Any, Mapping[str, Any], bool, int]] = [(obj, schema, True, 0)]
    while work:
        value, node, root, depth = work.pop()
        if depth > _MAX_DEPTH:
            continue
        if isinstance(value, dict):
            props = node.get("properties")
            extra = node.get("additionalProperties")
            if isinstance(props, dict):
                for key in list(value):
                    if key in props:
                        if not (root and key == "metadata"):
                            work.append((value[key], _m(props[key]), False, depth + 1))
                    elif not (_preserves(node) or isinstance(extra, dict)
                              or (root and key in _KEEP_AT_ROOT)):
                        del value[key]
            if isinstance(extra, dict):
                for key, item in value.items():
                    if not (isinstance(props, dict) and key in props):
                        work.append((item, extra, False, depth + 1))
        elif isinstance(value, list) and isinstance(node.get("items"), dict):
            for item in value:
                work.append((item, _m(node["items"]), False, depth + 1))


# -- defaulting --------------------------------------------------------------------------


def apply_defaults(obj: dict[str, Any], schema: Mapping[str, Any]) -> None:
    """Set the ``default`` of every absent property of every object present, in place."""
    work: list[tuple[Any, Mapping[str, Any], int]] = [(obj, schema, 0)]
    while work:
        value, node, depth = work.pop()
        if depth > _MAX_DEPTH:
            continue
        if isinstance(value, dict):
            props = _m(node.get("properties"))
            for key, sub in props.items():
                sub = _m(sub)
                if key not in value and "default" in sub:
                    value[key] = copy.deepcopy(sub["default"])
                if key in value:
                    work.append((value[key], sub, depth + 1))
            extra = node.get("additionalProperties")
            if isinstance(extra, dict):
                for key, item in value.items():
                    if key not in props:
                        work.append((item, extra, depth + 1))
        elif isinstance(value, list) and isinstance(node.get("items"), dict):
            for item in value:
                work.append((item, _m(node["items"]), depth + 1))


# -- validation --------------------------------------------------------------------------


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return '"null"'
    return str(value)


def _invalid(path: str, value: Any, detail: str) -> Cause:
    return errors.field_cause("FieldValueInvalid", path,
                              f"Invalid value: {_shown(value)}: {detail}")


def _type_ok(value: Any, wanted: str, schema: Mapping[str, Any]) -> bool:
    actual = _json_type(value)
    if schema.get("x-kubernetes-int-or-string") is True:
        return actual in ("integer", "string")
    if wanted == "number":
        return actual in ("integer", "number")
    if wanted == "integer" and isinstance(value, float) and value.is_integer():
        return False
    return actual == wanted


_FORMATS = {
    "date-time": lambda s: bool(re.fullmatch(
        r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", s)),
    "date": lambda s: bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", s)),
    "int32": None, "int64": None, "float": None, "double": None, "byte": None,
}


def _format_ok(value: str, fmt: str) -> bool:
    if fmt == "date-time":
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            return False
        return True
    check = _FORMATS.get(fmt)
    return check is None or bool(check(value))


def _scalar_causes(path: str, value: Any, node: Mapping[str, Any]) -> list[Cause]:
    out: list[Cause] = []
    if "enum" in node and value not in node["enum"]:
        supported = ", ".join(_shown(v) for v in node["enum"])
        out.append(errors.field_cause("FieldValueNotSupported", path,
                                      f"Unsupported value: {_shown(value)}: supported values: "
                                      f"{supported}"))
    if isinstance(value, str):
        if "maxLength" in node and len(value) > int(node["maxLength"]):
            out.append(errors.field_cause("FieldValueTooLong", path,
                                          f"Too long: may not be more than "
                                          f"{node['maxLength']} bytes"))
        if "minLength" in node and len(value) < int(node["minLength"]):
            out.append(_invalid(path, value, f"{path} in body should be at least "
                                             f"{node['minLength']} chars long"))
        pattern = node.get("pattern")
        if isinstance(pattern, str):
            try:
                matched = re.search(pattern, value) is not None
            except re.error:
                matched = True
            if not matched:
                out.append(_invalid(path, value, f"{path} in body should match '{pattern}'"))
        fmt = node.get("format")
        if isinstance(fmt, str) and not _format_ok(value, fmt):
            out.append(_invalid(path, value, f"{path} in body must be of type {fmt}: "
                                             f"{_shown(value)}"))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        low, high = node.get("minimum"), node.get("maximum")
        if low is not None:
            if node.get("exclusiveMinimum") and value <= low:
                out.append(_invalid(path, value, f"{path} in body should be greater than {low}"))
            elif value < low:
                out.append(_invalid(path, value, f"{path} in body should be greater than or "
                                                 f"equal to {low}"))
        if high is not None:
            if node.get("exclusiveMaximum") and value >= high:
                out.append(_invalid(path, value, f"{path} in body should be less than {high}"))
            elif value > high:
                out.append(_invalid(path, value, f"{path} in body should be less than or "
                                                 f"equal to {high}"))
        step = node.get("multipleOf")
        if step and (value / step) != int(value / step):
            out.append(_invalid(path, value, f"{path} in body should be a multiple of {step}"))
    return out


def _collection_causes(path: str, value: Any, node: Mapping[str, Any]) -> list[Cause]:
    out: list[Cause] = []
    if isinstance(value, list):
        if "maxItems" in node and len(value) > int(node["maxItems"]):
            out.append(errors.field_cause("FieldValueTooMany", path,
                                          f"Too many: {len(value)}: must have at most "
                                          f"{node['maxItems']} items"))
        if "minItems" in node and len(value) < int(node["minItems"]):
            out.append(_invalid(path, len(value), f"{path} in body should have at least "
                                                  f"{node['minItems']} items"))
        if node.get("uniqueItems") is True:
            seen: list[Any] = []
            for index, item in enumerate(value):
                if item in seen:
                    out.append(errors.field_cause("FieldValueDuplicate", f"{path}[{index}]",
                                                  f"Duplicate value: {_shown(item)}"))
                seen.append(item)
    elif isinstance(value, dict):
        if "maxProperties" in node and len(value) > int(node["maxProperties"]):
            out.append(errors.field_cause("FieldValueTooMany", path,
                                          f"Too many: {len(value)}: must have at most "
                                          f"{node['maxProperties']} items"))
        if "minProperties" in node and len(value) < int(node["minProperties"]):
            out.append(_invalid(path, len(value), f"{path} in body should have at least "
                                                  f"{node['minProperties']} properties"))
        for name in node.get("required") or []:
            if name not in value:
                sub = f"{path}.{name}" if path else str(name)
                out.append(errors.field_cause("FieldValueRequired", sub, "Required value"))
    return out


def _combinator_causes(path: str, value: Any, node: Mapping[str, Any], root: bool) -> list[Cause]:
    out: list[Cause] = []
    for sub in node.get("allOf") or []:
        out.extend(validate(value, _m(sub), path, root=root))
    any_of = node.get("anyOf")
    if isinstance(any_of, list) and any_of and \
            all(validate(value, _m(s), path, root=root) for s in any_of):
        out.append(_invalid(path, value, f'"{path}" must validate at least one schema (anyOf)'))
    one_of = node.get("oneOf")
    if isinstance(one_of, list) and one_of:
        passing = sum(1 for s in one_of if not validate(value, _m(s), path, root=root))
        if passing != 1:
            out.append(_invalid(path, value, f'"{path}" must validate one and only one schema '
                                             "(oneOf)"))
    negated = node.get("not")
    if isinstance(negated, dict) and not validate(value, negated, path, root=root):
        out.append(_invalid(path, value, f'"{path}" must not validate the schema (not)'))
    return out


def validate(obj: Any, schema: Mapping[str, Any], path: str = "", *,
             root: bool = True) -> list[Cause]:
    """The field errors of ``obj`` against ``schema`` (empty when valid)."""
    causes: list[Cause] = []
    work: list[tuple[str, Any, Mapping[str, Any], int, bool]] = [(path, obj, schema, 0, root)]
    while work:
        where, value, node, depth, at_root = work.pop()
        if depth > _MAX_DEPTH or not node:
            continue
        wanted = node.get("type")
        if value is None:
            if node.get("nullable") is not True and isinstance(wanted, str):
                causes.append(_invalid(where, None, f"{where} in body must be of type {wanted}: "
                                                    '"null"'))
            continue
        if isinstance(wanted, str) and not _type_ok(value, wanted, node):
            actual = _json_type(value)
            causes.append(_invalid(where, actual, f"{where} in body must be of type {wanted}: "
                                                  f'"{actual}"'))
            continue
        container = isinstance(value, (dict, list))
        if container:
            causes += _collection_causes(where, value, node)
        if not container or "enum" in node:
            causes += _scalar_causes(where, value, node)
        if not _COMBINATORS.isdisjoint(node):
            causes += _combinator_causes(where, value, node, at_root)
        if isinstance(value, dict):
            props = _m(node.get("properties"))
            extra = node.get("additionalProperties")
            for key, item in value.items():
                if at_root and key in _KEEP_AT_ROOT:
                    continue
                sub = f"{where}.{key}" if where else str(key)
                if key in props:
                    work.append((sub, item, _m(props[key]), depth + 1, False))
                elif isinstance(extra, dict):
                    work.append((sub, item, extra, depth + 1, False))
        elif isinstance(value, list) and isinstance(node.get("items"), dict):
            for index, item in enumerate(value):
                work.append((f"{where}[{index}]", item, _m(node["items"]), depth + 1, False))
    return sorted(causes, key=lambda c: c.get("field", ""))
