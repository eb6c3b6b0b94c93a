"""Small helpers on JSON values shared by the patch implementations.

Contract: :func:`deep_copy` copies dicts and lists (other values are immutable JSON
scalars and are shared); :func:`decode_body` accepts raw bytes/str or an already
decoded value and raises :class:`PatchError` 400 for invalid JSON.
"""

from __future__ import annotations

from typing import Any

import orjson

from apiserver.patch.errors import bad_request

JSONObject = dict[str, Any]

_GO_TYPE_NAMES = {
    list: "array",
    str: "string",
    bool: "bool",
    int: "number",
    float: "number",
    type(None): "null",
}


def deep_copy(value: Any) -> Any:
    """Copy a JSON value so that mutating the copy never touches the original."""
    if isinstance(value, dict):
        return {key: deep_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [deep_copy(item) for item in value]
    return value


def decode_body(body: bytes | bytearray | str | Any) -> Any:
    """Decode a request body; values that are not bytes/str are returned unchanged."""
    if isinstance(body, bytes | bytearray | memoryview | str):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise bad_request(f"invalid JSON: {exc}") from None
    return body


def go_type_name(value: Any) -> str:
    """The JSON type word Go's decoder uses in ``cannot unmarshal X`` messages."""
    return _GO_TYPE_NAMES.get(type(value), "object")


def require_object(value: Any) -> JSONObject:
    """Return ``value`` if it is a JSON object, else raise 400 like Go's decoder."""
    if isinstance(value, dict):
        return value
    raise bad_request(
        f"json: cannot unmarshal {go_type_name(value)} into Go value of type "
        "map[string]interface {}"
    )


def json_equal(left: Any, right: Any) -> bool:
    """JSON equality: unlike Python's ``==``, ``true`` is not ``1``."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(json_equal, left, right))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(json_equal(v, right[k]) for k, v in left.items())
    return bool(left == right)


def go_repr(value: Any) -> str:
    """Render a value as Go's ``%v`` would (``map[k:v]``, ``[a b]``), for messages."""
    if isinstance(value, dict):
        inner = " ".join(f"{key}:{go_repr(value[key])}" for key in sorted(value))
        return f"map[{inner}]"
    if isinstance(value, list):
        return "[" + " ".join(go_repr(item) for item in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
