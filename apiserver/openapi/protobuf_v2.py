"""Protobuf encoding of the OpenAPI v2 document (gnostic ``openapi.v2.Document``).

kubectl asks ``/openapi/v2`` for
``application/com.github.proto-openapi.spec.v2@v1.0+protobuf`` and parses the
answer as the gnostic ``openapi.v2.Document`` message (``OpenAPIv2.proto``).
This module writes that message from the Swagger dict of
:func:`apiserver.openapi.v2.openapi_v2` with a minimal protobuf wire encoder:
varints, length-delimited strings and nested messages, 64-bit doubles.

Maps of the Swagger document become repeated ``Named*`` entries (name + value)
in document order, as gnostic does. Free-form values (``enum``, ``default``,
``example`` and every ``x-*`` vendor extension) are ``Any`` messages whose
``yaml`` field holds the value as JSON text (JSON is valid YAML, which is what
readers unmarshal it with).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

#: The media type kubectl requests (and the answer's Content-Type).
PROTOBUF_MEDIA_TYPE = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
#: The non-deprecated spelling of the same media type.
PROTOBUF_MEDIA_TYPE_V2 = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"

_VARINT = 0
_FIXED64 = 1
_LEN = 2


# --- wire primitives --------------------------------------------------------------------------


def _varint(value: int) -> bytes:
    if value < 0:
        value &= (1 << 64) - 1
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _key(field: int, wire_type: int) -> bytes:
    return _varint((field << 3) | wire_type)


class _Message:
    """A message being written: fields are appended in field-number order by callers."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def bytes_(self, field: int, data: bytes) -> None:
        """A length-delimited field, always written (message or oneof member)."""
        self._parts += (_key(field, _LEN), _varint(len(data)), data)

    def string(self, field: int, value: Any) -> None:
        """A proto3 string: omitted when empty or absent."""
        if isinstance(value, str) and value:
            self.bytes_(field, value.encode())

    def strings(self, field: int, values: Any) -> None:
        """A repeated string."""
        if isinstance(values, list):
            for value in values:
                if isinstance(value, str):
                    self.bytes_(field, value.encode())

    def message(self, field: int, sub: _Message | None) -> None:
        """An embedded message, written even when empty (presence matters)."""
        if sub is not None:
            self.bytes_(field, sub.encode())

    def messages(self, field: int, subs: Iterable[_Message]) -> None:
        """A repeated embedded message."""
        for sub in subs:
            self.message(field, sub)

    def boolean(self, field: int, value: Any, *, always: bool = False) -> None:
        """A bool: omitted when false unless ``always`` (oneof members)."""
        if isinstance(value, bool) and (value or always):
            self._parts += (_key(field, _VARINT), b"\x01" if value else b"\x00")

    def int64(self, field: int, value: Any) -> None:
        """An int64: omitted when zero or absent."""
        if isinstance(value, int) and not isinstance(value, bool) and value:
            self._parts += (_key(field, _VARINT), _varint(value))

    def double(self, field: int, value: Any) -> None:
        """A double: omitted when zero or absent."""
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value:
            self._parts += (_key(field, _FIXED64), struct.pack("<d", float(value)))

    def encode(self) -> bytes:
        """The serialized message."""
        return b"".join(self._parts)


# --- gnostic messages -------------------------------------------------------------------------


def _any(value: Any) -> _Message:
    """``Any``: field 2 ``yaml`` holds the value as JSON text."""
    msg = _Message()
    msg.bytes_(2, orjson.dumps(value) + b"\n")
    return msg


def _named(name: str, value: _Message) -> _Message:
    """Any ``Named*`` entry: 1 name, 2 value."""
    msg = _Message()
    msg.string(1, name)
    msg.message(2, value)
    return msg


def _extensions(node: Mapping[str, Any]) -> list[_Message]:
    """``NamedAny`` entries of the ``x-*`` keys of ``node``."""
    return [_named(key, _any(value)) for key, value in node.items() if key.startswith("x-")]


def _schema(schema: Mapping[str, Any]) -> _Message:
    """``Schema`` (OpenAPIv2.proto field numbers)."""
    msg = _Message()
    msg.string(1, schema.get("$ref"))
    msg.string(2, schema.get("format"))
    msg.string(3, schema.get("title"))
    msg.string(4, schema.get("description"))
    if "default" in schema:
        msg.message(5, _any(schema["default"]))
    msg.double(6, schema.get("multipleOf"))
    msg.double(7, schema.get("maximum"))
    msg.boolean(8, schema.get("exclusiveMaximum"))
    msg.double(9, schema.get("minimum"))
    msg.boolean(10, schema.get("exclusiveMinimum"))
    msg.int64(11, schema.get("maxLength"))
    msg.int64(12, schema.get("minLength"))
    msg.string(13, schema.get("pattern"))
    msg.int64(14, schema.get("maxItems"))
    msg.int64(15, schema.get("minItems"))
    msg.boolean(16, schema.get("uniqueItems"))
    msg.int64(17, schema.get("maxProperties"))
    msg.int64(18, schema.get("minProperties"))
    msg.strings(19, schema.get("required"))
    if isinstance(schema.get("enum"), list):
        msg.messages(20, (_any(value) for value in schema["enum"]))
    additional = schema.get("additionalProperties")
    if isinstance(additional, (bool, dict)):
        item = _Message()  # AdditionalPropertiesItem: oneof 1 schema | 2 boolean
        if isinstance(additional, bool):
            item.boolean(2, additional, always=True)
        else:
            item.message(1, _schema(additional))
        msg.message(21, item)
    kind = schema.get("type")
    if isinstance(kind, (str, list)):
        type_item = _Message()  # TypeItem: 1 repeated value
        type_item.strings(1, [kind] if isinstance(kind, str) else kind)
        msg.message(22, type_item)
    items = schema.get("items")
    if isinstance(items, (dict, list)):
        items_item = _Message()  # ItemsItem: 1 repeated schema
        listed = items if isinstance(items, list) else [items]
        items_item.messages(1, (_schema(s) for s in listed))
        msg.message(23, items_item)
    if isinstance(schema.get("allOf"), list):
        msg.messages(24, (_schema(s) for s in schema["allOf"]))
    if isinstance(schema.get("properties"), dict):
        msg.message(25, _named_schemas(schema["properties"]))  # Properties
    msg.string(26, schema.get("discriminator"))
    msg.boolean(27, schema.get("readOnly"))
    if "example" in schema:
        msg.message(30, _any(schema["example"]))
    msg.messages(31, _extensions(schema))
    return msg


def _named_schemas(schemas: Mapping[str, Any]) -> _Message:
    """``Properties`` / ``Definitions``: 1 repeated NamedSchema."""
    msg = _Message()
    msg.messages(1, (_named(name, _schema(s)) for name, s in schemas.items()))
    return msg


def _parameter(param: Mapping[str, Any]) -> _Message:
    """``ParametersItem`` holding a ``Parameter`` (body or non-body)."""
    parameter = _Message()
    location = param.get("in")
    if location == "body":
        body = _Message()  # BodyParameter
        body.string(1, param.get("description"))
        body.string(2, param.get("name"))
        body.string(3, location)
        body.boolean(4, param.get("required"))
        if isinstance(param.get("schema"), dict):
            body.message(5, _schema(param["schema"]))
        body.messages(6, _extensions(param))
        parameter.message(1, body)
    else:
        # NonBodyParameter oneof: 1 header, 2 formData, 3 query, 4 path. The query and
        # formData sub-schemas have allow_empty_value at 5, shifting later fields by one.
        which = {"header": 1, "formData": 2, "query": 3, "path": 4}.get(str(location), 3)
        shift = 1 if which in (2, 3) else 0
        sub = _Message()
        sub.boolean(1, param.get("required"))
        sub.string(2, location)
        sub.string(3, param.get("description"))
        sub.string(4, param.get("name"))
        if shift:
            sub.boolean(5, param.get("allowEmptyValue"))
        sub.string(5 + shift, param.get("type"))
        sub.string(6 + shift, param.get("format"))
        sub.string(8 + shift, param.get("collectionFormat"))
        if "default" in param:
            sub.message(9 + shift, _any(param["default"]))
        sub.boolean(19 + shift, param.get("uniqueItems"))
        if isinstance(param.get("enum"), list):
            sub.messages(20 + shift, (_any(value) for value in param["enum"]))
        sub.messages(22 + shift, _extensions(param))
        non_body = _Message()
        non_body.message(which, sub)
        parameter.message(2, non_body)
    item = _Message()
    item.message(1, parameter)
    return item


def _responses(responses: Mapping[str, Any]) -> _Message:
    """``Responses``: 1 repeated NamedResponseValue."""
    msg = _Message()
    for code, response in responses.items():
        resp = _Message()  # Response
        resp.string(1, response.get("description"))
        if isinstance(response.get("schema"), dict):
            schema_item = _Message()  # SchemaItem: oneof 1 schema
            schema_item.message(1, _schema(response["schema"]))
            resp.message(2, schema_item)
        resp.messages(5, _extensions(response))
        value = _Message()  # ResponseValue: oneof 1 response
        value.message(1, resp)
        msg.message(1, _named(code, value))
    msg.messages(2, _extensions(responses))
    return msg


def _operation(op: Mapping[str, Any]) -> _Message:
    """``Operation``."""
    msg = _Message()
    msg.strings(1, op.get("tags"))
    msg.string(2, op.get("summary"))
    msg.string(3, op.get("description"))
    msg.string(5, op.get("operationId"))
    msg.strings(6, op.get("produces"))
    msg.strings(7, op.get("consumes"))
    msg.messages(8, (_parameter(p) for p in op.get("parameters", [])))
    if isinstance(op.get("responses"), dict):
        msg.message(9, _responses(op["responses"]))
    msg.strings(10, op.get("schemes"))
    msg.boolean(11, op.get("deprecated"))
    msg.messages(13, _extensions(op))
    return msg


_METHOD_FIELDS = {"get": 2, "put": 3, "post": 4, "delete": 5, "options": 6, "head": 7, "patch": 8}


def _path_item(item: Mapping[str, Any]) -> _Message:
    """``PathItem``."""
    msg = _Message()
    msg.string(1, item.get("$ref"))
    for method, field in _METHOD_FIELDS.items():
        if isinstance(item.get(method), dict):
            msg.message(field, _operation(item[method]))
    msg.messages(9, (_parameter(p) for p in item.get("parameters", [])))
    msg.messages(10, _extensions(item))
    return msg


def encode_document(document: Mapping[str, Any]) -> bytes:
    """Serialize the Swagger 2.0 ``document`` as a gnostic ``openapi.v2.Document``."""
    msg = _Message()
    msg.string(1, document.get("swagger"))
    info = document.get("info")
    if isinstance(info, dict):
        info_msg = _Message()  # Info
        info_msg.string(1, info.get("title"))
        info_msg.string(2, info.get("version"))
        info_msg.string(3, info.get("description"))
        info_msg.messages(7, _extensions(info))
        msg.message(2, info_msg)
    msg.string(3, document.get("host"))
    msg.string(4, document.get("basePath"))
    msg.strings(5, document.get("schemes"))
    msg.strings(6, document.get("consumes"))
    msg.strings(7, document.get("produces"))
    paths = document.get("paths")
    if isinstance(paths, dict):
        paths_msg = _Message()  # Paths: 1 vendor_extension, 2 repeated NamedPathItem
        paths_msg.messages(1, _extensions(paths))
        paths_msg.messages(2, (
            _named(path, _path_item(item)) for path, item in paths.items()
            if not path.startswith("x-")
        ))
        msg.message(8, paths_msg)
    if isinstance(document.get("definitions"), dict):
        msg.message(9, _named_schemas(document["definitions"]))  # Definitions
    msg.messages(16, _extensions(document))
    return msg.encode()
