"""The protobuf (gnostic ``openapi.v2.Document``) form of ``/openapi/v2``.

The bytes are decoded with a tiny wire-format reader written here, and the
fields that kubectl reads (definitions, types, properties, items,
additionalProperties, ``$ref``, vendor extensions) are compared with the JSON
document they were built from.
"""

from __future__ import annotations

import struct
from collections import defaultdict
from typing import Any

import orjson
import pytest
import yaml

from apiserver.openapi import openapi_v2, openapi_v2_encoded, openapi_v2_protobuf_encoded
from apiserver.openapi.protobuf_v2 import encode_document

Fields = dict[int, list[Any]]


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def decode(data: bytes) -> Fields:
    """Field number -> values (int for varints, bytes for length-delimited, float for fixed64)."""
    fields: Fields = defaultdict(list)
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            fields[field].append(value)
        elif wire == 1:
            fields[field].append(struct.unpack("<d", data[pos:pos + 8])[0])
            pos += 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            fields[field].append(data[pos:pos + length])
            pos += length
        else:
            raise AssertionError(f"unexpected wire type {wire} for field {field}")
    assert pos == len(data), "message overran its buffer"
    return fields


def text(fields: Fields, number: int) -> str:
    values = fields.get(number, [])
    assert len(values) <= 1
    return values[0].decode() if values else ""


def texts(fields: Fields, number: int) -> list[str]:
    return [value.decode() for value in fields.get(number, [])]


def sub(fields: Fields, number: int) -> Fields | None:
    values = fields.get(number, [])
    assert len(values) <= 1
    return decode(values[0]) if values else None


def named(fields: Fields, number: int) -> dict[str, Fields]:
    """Repeated Named* entries (1 name, 2 value) as an ordered dict of decoded values."""
    out: dict[str, Fields] = {}
    for raw in fields.get(number, []):
        entry = decode(raw)
        value = sub(entry, 2)
        assert value is not None
        out[text(entry, 1)] = value
    return out


def extensions(schema: Fields, number: int = 31) -> dict[str, Any]:
    """Vendor extensions (NamedAny with Any.yaml), parsed as YAML like kubectl does."""
    return {name: yaml.safe_load(text(value, 2)) for name, value in named(schema, number).items()}


@pytest.fixture(scope="module")
def swagger() -> dict[str, Any]:
    return openapi_v2()


@pytest.fixture(scope="module")
def document() -> Fields:
    return decode(openapi_v2_protobuf_encoded().data)


@pytest.fixture(scope="module")
def definitions(document: Fields) -> dict[str, Fields]:
    defs = sub(document, 9)
    assert defs is not None
    return named(defs, 1)


def test_document_header(document: Fields, swagger: dict[str, Any]) -> None:
    assert text(document, 1) == "2.0"
    info = sub(document, 2)
    assert info is not None
    assert text(info, 1) == swagger["info"]["title"]
    assert text(info, 2) == swagger["info"]["version"]


def test_every_definition_in_order(definitions: dict[str, Fields],
                                   swagger: dict[str, Any]) -> None:
    assert list(definitions) == list(swagger["definitions"])


def test_schema_fields_round_trip(definitions: dict[str, Fields],
                                  swagger: dict[str, Any]) -> None:
    """type, description, required, format, $ref, items and additionalProperties of every
    schema (recursively through properties) match the JSON document."""

    def check(schema: Fields, source: dict[str, Any], where: str) -> None:
        assert text(schema, 1) == source.get("$ref", ""), where
        assert text(schema, 2) == source.get("format", ""), where
        assert text(schema, 4) == source.get("description", ""), where
        assert texts(schema, 19) == source.get("required", []), where
        type_item = sub(schema, 22)
        if "type" in source:
            assert type_item is not None and texts(type_item, 1) == [source["type"]], where
        else:
            assert type_item is None, where
        assert extensions(schema) == {
            k: v for k, v in source.items() if k.startswith("x-")}, where
        properties = sub(schema, 25)
        if "properties" in source:
            assert properties is not None, where
            decoded = named(properties, 1)
            assert list(decoded) == list(source["properties"]), where
            for name, prop in decoded.items():
                check(prop, source["properties"][name], f"{where}.{name}")
        else:
            assert properties is None, where
        items = sub(schema, 23)
        if "items" in source:
            assert items is not None, where
            assert len(items[1]) == 1, where
            check(decode(items[1][0]), source["items"], f"{where}[]")
        else:
            assert items is None, where
        additional = sub(schema, 21)
        if isinstance(source.get("additionalProperties"), dict):
            assert additional is not None and 1 in additional, where
            check(decode(additional[1][0]), source["additionalProperties"], f"{where}{{}}")
        elif isinstance(source.get("additionalProperties"), bool):
            assert additional is not None
            assert additional[2] == [int(source["additionalProperties"])], where
        else:
            assert additional is None, where

    for name, schema in definitions.items():
        check(schema, swagger["definitions"][name], name)


def test_known_definitions(definitions: dict[str, Fields]) -> None:
    config_map = definitions["io.k8s.api.core.v1.ConfigMap"]
    assert extensions(config_map)["x-kubernetes-group-version-kind"] == [
        {"group": "", "kind": "ConfigMap", "version": "v1"}]
    props = named(sub(config_map, 25) or {}, 1)
    data = props["data"]
    assert texts(sub(data, 22) or {}, 1) == ["object"]
    value_schema = decode((sub(data, 21) or {})[1][0])
    assert texts(sub(value_schema, 22) or {}, 1) == ["string"]
    assert text(props["metadata"], 1) == (
        "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")

    ports = named(sub(definitions["io.k8s.api.core.v1.ServiceSpec"], 25) or {}, 1)["ports"]
    ext = extensions(ports)
    assert ext["x-kubernetes-list-type"] == "map"
    assert ext["x-kubernetes-list-map-keys"] == ["port", "protocol"]
    assert ext["x-kubernetes-patch-merge-key"] == "port"
    item = decode((sub(ports, 23) or {})[1][0])
    assert text(item, 1) == "#/definitions/io.k8s.api.core.v1.ServicePort"
    target_port = named(sub(definitions["io.k8s.api.core.v1.ServicePort"], 25) or {},
                        1)["targetPort"]
    assert text(target_port, 1) == (
        "#/definitions/io.k8s.apimachinery.pkg.util.intstr.IntOrString")
    int_or_string = definitions["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]
    assert text(int_or_string, 2) == "int-or-string"
    assert texts(sub(int_or_string, 22) or {}, 1) == ["string"]


def test_paths_and_operations(document: Fields, swagger: dict[str, Any]) -> None:
    paths = sub(document, 8)
    assert paths is not None
    decoded = named(paths, 2)
    assert list(decoded) == list(swagger["paths"])
    item = decoded["/api/v1/namespaces/{namespace}/configmaps/{name}"]
    get = sub(item, 2)
    assert get is not None
    source = swagger["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"]["get"]
    assert text(get, 5) == source["operationId"] == "readCoreV1NamespacedConfigMap"
    assert extensions(get, 13) == {
        "x-kubernetes-action": "get",
        "x-kubernetes-group-version-kind": {"group": "", "kind": "ConfigMap", "version": "v1"},
    }
    responses = named(sub(get, 9) or {}, 1)
    ok = sub(responses["200"], 1)
    assert ok is not None and text(ok, 1) == "OK"
    schema_item = sub(ok, 2)
    assert schema_item is not None
    assert text(sub(schema_item, 1) or {}, 1) == (
        "#/definitions/io.k8s.api.core.v1.ConfigMap")
    # Path-level parameters: NonBodyParameter field 4 (path) or 3 (query).
    decoded_params = []
    for raw in item[9]:
        non_body = sub(sub(decode(raw), 1) or {}, 2)
        assert non_body is not None and len(non_body) == 1
        [(which, [param])] = non_body.items()
        fields = decode(param)
        decoded_params.append((which, text(fields, 4), text(fields, 2), fields.get(1) == [1]))
    expected = [
        ({"path": 4, "query": 3}[p["in"]], p["name"], p["in"], p.get("required", False))
        for p in swagger["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"][
            "parameters"]
    ]
    assert decoded_params == expected
    assert ("path", True) in {(p[2], p[3]) for p in decoded_params}


def test_scalar_encodings() -> None:
    """Booleans (oneof false kept), doubles, negative int64 and enums (Any.yaml)."""
    data = encode_document({"definitions": {"X": {
        "type": "object",
        "additionalProperties": False,
        "minimum": 1.5,
        "minLength": -1,
        "enum": ["a", 2],
        "uniqueItems": False,
    }}})
    doc = decode(data)
    schema = named(sub(doc, 9) or {}, 1)["X"]
    assert (sub(schema, 21) or {})[2] == [0]
    assert schema[9] == [1.5]
    assert schema[12] == [(1 << 64) - 1]
    assert [yaml.safe_load(text(decode(raw), 2)) for raw in schema[20]] == ["a", 2]
    assert 16 not in schema  # proto3 default omitted


def test_encoding_is_cached_and_distinct_from_json() -> None:
    encoded = openapi_v2_protobuf_encoded()
    assert encoded is openapi_v2_protobuf_encoded()
    assert encoded.data != openapi_v2_encoded().data
    assert orjson.loads(openapi_v2_encoded().data)["swagger"] == "2.0"
