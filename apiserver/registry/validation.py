"""Generic ObjectMeta validation (apimachinery ``ValidateObjectMeta``)."""

from __future__ import annotations

import functools
import re
from typing import Any

from apiserver.api import errors, meta
from apiserver.registry.strategy import Cause, Strategy

_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_TOTAL_ANNOTATION_SIZE = 256 * 1024
_STANDARD_FINALIZERS = frozenset({"kubernetes", "orphan", "foregroundDeletion"})


#: Label and annotation keys and values recur in nearly every object of a cluster:
#: their (pure) checks are memoised, within a bound, as tuples nobody can change.
_MEMO_SIZE = 4096


@functools.lru_cache(maxsize=_MEMO_SIZE)
def _qualified_name_errors(key: str) -> tuple[str, ...]:
    parts = key.split("/")
    errs: list[str] = []
    if len(parts) > 2:
        return (
            "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and "
            "must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  "
            "or '123-abc', regex used for validation is "
            "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain "
            "prefix and '/' (e.g. 'example.com/MyName')",
        )
    name = parts[-1]
    if len(parts) == 2:
        if not parts[0]:
            errs.append("prefix part must be non-empty")
        else:
            errs += [f"prefix part {e}" for e in meta.dns1123_subdomain_errors(parts[0])]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part must be no more than 63 characters")
    if name and not _QUALIFIED_NAME.match(name):
        errs.append(
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must start "
            "and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
            "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        )
    return tuple(errs)


@functools.lru_cache(maxsize=_MEMO_SIZE)
def _label_value_errors(value: str) -> tuple[str, ...]:
    errs: list[str] = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _LABEL_VALUE.match(value):
        errs.append(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', "
            "'_' or '.', and must start and end with an alphanumeric character (e.g. "
            "'MyValue',  or 'my_value',  or '12345', regex used for validation is "
            "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        )
    return tuple(errs)


def validate_object_meta(obj: dict[str, Any], strategy: Strategy, namespaced: bool) -> list[Cause]:
    """Field errors of ``metadata``: name, namespace, labels, annotations."""
    causes: list[Cause] = []
    md = obj.get("metadata") or {}
    name = md.get("name") or ""
    if not name:
        causes.append(
            errors.field_cause(
                "FieldValueRequired",
                "metadata.name",
                "Required value: name or generateName is required",
            )
        )
    else:
        for msg in strategy.name_errors(name):
            causes.append(errors.invalid_value("metadata.name", name, msg))
    if not namespaced and md.get("namespace"):
        causes.append(errors.forbidden_field("metadata.namespace", "not allowed on this type"))
    labels = md.get("labels") or {}
    if not isinstance(labels, dict):
        causes.append(errors.invalid_value("metadata.labels", str(labels), "must be a map"))
        labels = {}
    for key, value in labels.items():
        for msg in _qualified_name_errors(str(key)):
            causes.append(errors.invalid_value("metadata.labels", key, msg))
        if not isinstance(value, str):
            causes.append(errors.invalid_value(f"metadata.labels.{key}", str(value),
                                               "must be a string"))
            continue
        for msg in _label_value_errors(value):
            causes.append(errors.invalid_value("metadata.labels", value, msg))
    annotations = md.get("annotations") or {}
    if isinstance(annotations, dict):
        total = 0
        for key, value in annotations.items():
            for msg in _qualified_name_errors(str(key)):
                causes.append(errors.invalid_value("metadata.annotations", key, msg))
            total += len(str(key)) + len(str(value))
        if total > _TOTAL_ANNOTATION_SIZE:
            causes.append(
                errors.field_cause(
                    "FieldValueTooLong",
                    "metadata.annotations",
                    f"Too long: may not be more than {_TOTAL_ANNOTATION_SIZE} bytes",
                )
            )
    finalizers = md.get("finalizers") or []
    if isinstance(finalizers, list):
        for i, fin in enumerate(finalizers):
            if not isinstance(fin, str) or _qualified_name_errors(fin) or (
                "/" not in fin and fin not in _STANDARD_FINALIZERS
                and not strategy.any_qualified_finalizer
            ):
                causes.append(
                    errors.invalid_value(f"metadata.finalizers[{i}]", str(fin),
                                         "name is neither a standard finalizer name nor is it "
                                         "fully qualified")
                )
        if "orphan" in finalizers and "foregroundDeletion" in finalizers:
            shown = ", ".join(f'"{f}"' for f in finalizers)
            causes.append(errors.field_cause(
                "FieldValueInvalid", "metadata.finalizers",
                f"Invalid value: []string{{{shown}}}: finalizer orphan and foregroundDeletion "
                "cannot be both set",
            ))
    return causes
