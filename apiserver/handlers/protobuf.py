"""Decode ``application/vnd.kubernetes.protobuf`` request bodies into JSON-shaped dicts.

The body is the magic ``k8s\\x00`` followed by a ``runtime.Unknown`` message
(``typeMeta=1 {apiVersion=1, kind=2}``, ``raw=2``, ``contentEncoding=3``,
``contentType=4``) whose ``raw`` holds the object's own protobuf encoding. The object
is decoded with the field tables of :mod:`apiserver.schema.proto_messages` (the
message of its ``apiVersion`` and ``kind``) into the dict its JSON form would parse
to, so the rest of the server never sees protobuf:

* zero scalars are dropped where Go's JSON encoder would omit them (``omitempty``
  value fields) and kept for pointers and fields without ``omitempty``;
* messages present on the wire become objects (even empty: ``emptyDir: {}``);
* ``Time``/``MicroTime`` become RFC 3339 strings (an empty message is the zero time
  and is omitted), ``IntOrString`` an int or a string, ``Quantity`` its string,
  ``FieldsV1`` and ``RawExtension`` their JSON, Go named string slices
  (``ExtraValue``) a list, ``bytes`` base64.

Contract: :func:`decode` raises :class:`ProtobufError` (a ``ValueError``) with a
message naming the field path for anything malformed, including field numbers the
table does not know (upstream would skip them; we refuse rather than lose data).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from apiserver.schema.proto_messages import (
    JSON_FORMS,
    ProtoField,
    kind_candidates,
    kind_message,
    message,
    short_name,
)

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"

_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5
_VARINT_TYPES = frozenset({"bool", "int32", "int64"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_DEPTH = 64


class ProtobufError(ValueError):
    """The body is not a well-formed protobuf encoding of the expected kind."""


def decode(body: bytes, kind: str, api_version: str = "") -> dict[str, Any]:
    """The object encoded in ``body`` (magic + ``runtime.Unknown``) as a JSON dict.

    ``kind`` (and ``api_version``, when given) is what the request's URL expects;
    they are used when the envelope names none. When the envelope names another
    kind, or another ``apiVersion`` than a given ``api_version``, only ``apiVersion``
    and ``kind`` are returned, for the caller's check to reject. Without any
    ``apiVersion``, a kind tabulated in several groups (``Event``) is refused.
    """
    if not body.startswith(MAGIC):
        raise ProtobufError(
            "provided data does not appear to be a protobuf message, expected prefix "
            "[107 56 115 0]"
        )
    if len(body) == len(MAGIC):
        raise ProtobufError("empty body")
    api_version_, env_kind, raw = _unknown(body[len(MAGIC):])
    obj: dict[str, Any] = {}
    if api_version_:
        obj["apiVersion"] = api_version_
    if env_kind:
        obj["kind"] = env_kind
    if (env_kind or kind) != kind or (api_version and api_version_ not in ("", api_version)):
        return obj
    decoded = _message(raw, _kind_message(api_version_ or api_version, kind), "", 0)
    return {**obj, **decoded}


def _kind_message(api_version: str, kind: str) -> str:
    if api_version:
        name = kind_message(api_version, kind)
        if name is None:
            raise ProtobufError(
                f"no protobuf decoding is available for kind {kind!r} in {api_version}"
            )
        return name
    candidates = kind_candidates(kind)
    if not candidates:
        raise ProtobufError(f"no protobuf decoding is available for kind {kind!r}")
    if len(candidates) > 1:
        raise ProtobufError(f"kind {kind!r} needs an apiVersion in the body's TypeMeta")
    return candidates[0]


def _unknown(data: bytes) -> tuple[str, str, bytes]:
    api_version = kind = ""
    raw = b""
    for number, wire, value in _fields(data, "runtime.Unknown"):
        if number == 1:
            type_meta = _bytes(wire, value, "runtime.Unknown.typeMeta")
            for tnum, twire, tvalue in _fields(type_meta, "runtime.TypeMeta"):
                if tnum not in (1, 2):
                    raise ProtobufError(
                        f"unknown field number {tnum} in message runtime.TypeMeta"
                    )
                where = "apiVersion" if tnum == 1 else "kind"
                text = _string(_bytes(twire, tvalue, where), where)
                if tnum == 1:
                    api_version = text
                else:
                    kind = text
        elif number == 2:
            raw = _bytes(wire, value, "runtime.Unknown.raw")
        elif number in (3, 4):
            # contentEncoding / contentType: ignored, as upstream's decoder does.
            where = "contentEncoding" if number == 3 else "contentType"
            _string(_bytes(wire, value, where), where)
        else:
            raise ProtobufError(f"unknown field number {number} in message runtime.Unknown")
    return api_version, kind, raw


def _fields(data: bytes, where: str) -> Iterator[tuple[int, int, int | bytes]]:
    """``(number, wire type, value)`` of each field: an int for varints and fixed
    values, the bytes of a length-delimited field."""
    pos, end = 0, len(data)
    while pos < end:
        key, pos = _varint(data, pos, where)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtobufError(f"{where}: illegal field number 0")
        if wire == _VARINT:
            value, pos = _varint(data, pos, where)
            yield number, wire, value
        elif wire == _LENGTH:
            length, pos = _varint(data, pos, where)
            if length > end - pos:
                raise ProtobufError(f"{where}: unexpected end of data in field {number}")
            yield number, wire, data[pos:pos + length]
            pos += length
        elif wire in (_FIXED64, _FIXED32):
            size = 8 if wire == _FIXED64 else 4
            if size > end - pos:
                raise ProtobufError(f"{where}: unexpected end of data in field {number}")
            yield number, wire, int.from_bytes(data[pos:pos + size], "little")
            pos += size
        else:
            raise ProtobufError(f"{where}: unsupported wire type {wire} for field {number}")


def _varint(data: bytes, pos: int, where: str) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ProtobufError(f"{where}: unexpected end of data in a varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift >= 64:
            raise ProtobufError(f"{where}: varint overflows 64 bits")


def _bytes(wire: int, value: int | bytes, where: str) -> bytes:
    if wire != _LENGTH or not isinstance(value, bytes):
        raise ProtobufError(f"{where}: wrong wire type {wire} (expected length-delimited)")
    return value


def _string(value: bytes, where: str) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtobufError(f"{where}: invalid UTF-8 in a string field") from None


def _int(value: int, type_: str) -> int:
    if type_ == "int32":
        value &= 0xFFFFFFFF
        return value - (1 << 32) if value >= 1 << 31 else value
    return value - (1 << 64) if value >= 1 << 63 else value


def _scalar(f: ProtoField, wire: int, value: int | bytes, where: str) -> Any:
    if f.type in _VARINT_TYPES:
        if wire != _VARINT or not isinstance(value, int):
            raise ProtobufError(f"{where}: wrong wire type {wire} (expected varint)")
        return value != 0 if f.type == "bool" else _int(value, f.type)
    raw = _bytes(wire, value, where)
    if f.type == "bytes":
        return base64.b64encode(raw).decode("ascii")
    return _string(raw, where)


def _packed(f: ProtoField, raw: bytes, where: str) -> list[Any]:
    values: list[Any] = []
    pos = 0
    while pos < len(raw):
        value, pos = _varint(raw, pos, where)
        values.append(value != 0 if f.type == "bool" else _int(value, f.type))
    return values


def _value(f: ProtoField, wire: int, value: int | bytes, where: str, depth: int) -> Any:
    if f.is_message:
        return _message(_bytes(wire, value, where), f.type, where, depth + 1)
    return _scalar(f, wire, value, where)


def _map_entry(f: ProtoField, raw: bytes, where: str, depth: int) -> tuple[str, Any]:
    key = ""
    value: Any = None
    for number, wire, item in _fields(raw, where):
        if number == 1:
            key = _string(_bytes(wire, item, where), where)
        elif number == 2:
            value = _value(f, wire, item, f"{where}[value]", depth)
        else:
            raise ProtobufError(f"{where}: unknown field number {number} in a map entry")
    if value is None:
        value = _message(b"", f.type, where, depth + 1) if f.is_message else _zero(f.type)
    return key, value


def _zero(type_: str) -> Any:
    return {"bool": False, "int32": 0, "int64": 0}.get(type_, "")


def _message(data: bytes, name: str, path: str, depth: int) -> Any:
    """Decode message ``name``; special messages return their JSON scalar form."""
    short = short_name(name)
    if depth > _MAX_DEPTH:
        raise ProtobufError(f"{path or short}: messages nested too deeply")
    fields = message(name)
    out: dict[str, Any] = {}
    for number, wire, value in _fields(data, path or short):
        f = fields.get(number)
        if f is None:
            raise ProtobufError(
                f"{path or short}: unknown field number {number} in message {short}"
            )
        where = f"{path}.{f.name}" if path and f.name else (f.name or path or short)
        if f.map:
            key, item = _map_entry(f, _bytes(wire, value, where), where, depth)
            out.setdefault(f.name, {})[key] = item
        elif f.repeated:
            items = out.setdefault(f.name, [])
            if f.type in _VARINT_TYPES and wire == _LENGTH and isinstance(value, bytes):
                items.extend(_packed(f, value, where))
            else:
                items.append(_value(f, wire, value, f"{where}[{len(items)}]", depth))
        elif f.inline:
            inner = _message(_bytes(wire, value, where), f.type, path, depth + 1)
            out.update(inner)
        else:
            out[f.name] = _value(f, wire, value, where, depth)
    form = JSON_FORMS.get(name)
    if form is not None:
        return _FORMS[form](out, path or short)
    for f in fields.values():
        if f.name in out and not (f.repeated or f.map or f.pointer) and _omitted(f, out[f.name]):
            del out[f.name]
    return out


def _omitted(f: ProtoField, value: Any) -> bool:
    """Whether Go's JSON encoder would leave out this non-pointer value."""
    if value is None:
        return True
    if f.keep_zero or (f.is_message and f.type not in JSON_FORMS):
        return False
    return value in ("", 0, False)


def _time(fields: dict[str, Any], path: str, micro: bool) -> str | None:
    if not fields:
        return None
    seconds = fields.get("seconds", 0)
    nanos = fields.get("nanos", 0)
    try:
        moment = _EPOCH + timedelta(seconds=seconds)
    except OverflowError:
        raise ProtobufError(f"{path}: timestamp out of range") from None
    if moment.year > 9999 or not 0 <= nanos < 1_000_000_000:
        raise ProtobufError(f"{path}: timestamp out of range")
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if micro:
        text += f".{nanos // 1000:06d}"
    return text + "Z"


def _int_or_string(fields: dict[str, Any], path: str) -> int | str:
    kind = fields.get("type", 0)
    if kind == 1:
        return str(fields.get("strVal", ""))
    if kind != 0:
        raise ProtobufError(f"{path}: invalid IntOrString type {kind}")
    return int(fields.get("intVal", 0))


def _embedded_json(fields: dict[str, Any], path: str, what: str) -> Any:
    raw = base64.b64decode(fields.get("raw", ""))
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ProtobufError(f"{path}: {what} is not valid JSON: {exc}") from None


_FORMS: dict[str, Callable[[dict[str, Any], str], Any]] = {
    "time": lambda f, p: _time(f, p, micro=False),
    "microtime": lambda f, p: _time(f, p, micro=True),
    "intorstring": _int_or_string,
    "quantity": lambda f, p: str(f.get("string", "")),
    "fieldsv1": lambda f, p: _embedded_json(f, p, "FieldsV1"),
    "rawextension": lambda f, p: _embedded_json(f, p, "RawExtension"),
    "items": lambda f, p: list(f.get("items", [])),
}
