"""Secrets and ConfigMaps: key names, the 1 MiB limit, typed Secrets, ``immutable``.

Counterparts of ``ValidateSecret``/``ValidateSecretUpdate`` and
``ValidateConfigMap``/``ValidateConfigMapUpdate`` of ``pkg/apis/core/validation``.
Secret ``data`` and ConfigMap ``binaryData`` values arrive base64-encoded; sizes count the
decoded bytes, as upstream counts the []byte values.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from apiserver.api import meta
from apiserver.registry import common as c
from apiserver.registry.strategy import Cause
from apiserver.registry.table_strategy import TableStrategy

MAX_SIZE = 1024 * 1024
SA_NAME_ANNOTATION = "kubernetes.io/service-account.name"
_TOO_LONG = f"Too long: may not be more than {MAX_SIZE} bytes"
_IMMUTABLE_SET = "field is immutable when `immutable` is set"
_REDACTED = '"<secret contents redacted>"'


def _map(obj: dict[str, Any], key: str) -> dict[str, Any]:
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def _decoded(value: Any) -> bytes | None:
    """The bytes of a base64 value (None when it is not valid base64)."""
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def _too_long(path: str) -> Cause:
    return {"reason": "FieldValueTooLong", "message": _TOO_LONG, "field": path}


def _typed_secret(obj: dict[str, Any], data: dict[str, Any]) -> list[Cause]:
    """The keys each built-in Secret type requires."""
    kind = obj.get("type")
    causes: list[Cause] = []
    if kind == "kubernetes.io/service-account-token":
        annotations = meta.metadata(obj).get("annotations")
        if not isinstance(annotations, dict) or not annotations.get(SA_NAME_ANNOTATION):
            causes.append(c.required(f"metadata.annotations[{SA_NAME_ANNOTATION}]"))
    elif kind in ("kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"):
        key = ".dockercfg" if kind == "kubernetes.io/dockercfg" else ".dockerconfigjson"
        if key not in data:
            causes.append(c.required(f"data[{key}]"))
        else:
            raw = _decoded(data[key]) or b""
            try:
                json.loads(raw)
            except ValueError as exc:
                causes.append(c.invalid(f"data[{key}]", _REDACTED, _json_error(exc)))
    elif kind == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            causes += [c.required("data[username]"), c.required("data[password]")]
    elif kind == "kubernetes.io/ssh-auth":
        if "ssh-privatekey" not in data:
            causes.append(c.required("data[ssh-privatekey]"))
    elif kind == "kubernetes.io/tls":
        for key in ("tls.key", "tls.crt"):
            if key not in data:
                causes.append(c.required(f"data[{key}]"))
    return causes


def _json_error(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError) and exc.pos >= len(exc.doc):
        return "unexpected end of JSON input"
    return "invalid character in JSON input"


def validate_secret(obj: dict[str, Any]) -> list[Cause]:
    """``ValidateSecret`` without metadata: keys, total size, the type's required keys."""
    data = _map(obj, "data")
    causes: list[Cause] = []
    total = 0
    for key, value in data.items():
        causes += c.config_key("data", str(key))
        total += len(_decoded(value) or b"")
    if total > MAX_SIZE:
        causes.append(_too_long("data"))
    return causes + _typed_secret(obj, data)


def _immutable_content(new: dict[str, Any], old: dict[str, Any],
                       keys: tuple[str, ...]) -> list[Cause]:
    """Once ``immutable`` is true, ``immutable`` and the content keys are fixed."""
    if old.get("immutable") is not True:
        return []
    causes: list[Cause] = []
    if new.get("immutable") is not True:
        causes.append(c.forbidden("immutable", _IMMUTABLE_SET))
    for key in keys:
        if new.get(key) != old.get(key):
            causes.append(c.forbidden(key, _IMMUTABLE_SET))
    return causes


def validate_config_map(obj: dict[str, Any]) -> list[Cause]:
    """``ValidateConfigMap`` without metadata."""
    causes: list[Cause] = []
    data, binary = _map(obj, "data"), _map(obj, "binaryData")
    total = 0
    for key, value in data.items():
        causes += c.config_key("data", str(key))
        if key in binary:
            causes.append(c.invalid(f"data[{key}]", c.go_value(str(key)),
                                    "duplicate of key present in binaryData"))
        total += len(str(value).encode())
    for key, value in binary.items():
        causes += c.config_key("binaryData", str(key))
        total += len(_decoded(value) or b"")
    if total > MAX_SIZE:
        causes.append(_too_long(""))
    return causes


def merge_string_data(obj: dict[str, Any]) -> None:
    """Fold write-only ``stringData`` into ``data`` (base64), as upstream's conversion does.

    ``stringData`` values win over ``data`` values of the same key; the field itself is
    never stored. Non-string values are left for validation to report.
    """
    string_data = obj.get("stringData")
    if not isinstance(string_data, dict):
        return
    if not all(isinstance(v, str) for v in string_data.values()):
        return
    data = dict(_map(obj, "data"))
    for key, value in string_data.items():
        data[key] = base64.b64encode(value.encode()).decode()
    obj["data"] = data
    del obj["stringData"]


class SecretStrategy(TableStrategy):
    """core/v1 Secrets: ``type`` is fixed after create; ``stringData`` folds into ``data``."""

    def default(self, obj: dict[str, Any]) -> None:
        super().default(obj)
        merge_string_data(obj)

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_secret(obj)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        causes = validate_secret(new)
        causes += c.immutable("type", new.get("type"), old.get("type"))
        return causes + _immutable_content(new, old, ("data",))


class ConfigMapStrategy(TableStrategy):
    """core/v1 ConfigMaps."""

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        return validate_config_map(obj)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[Cause]:
        return validate_config_map(new) + _immutable_content(new, old, ("data", "binaryData"))
