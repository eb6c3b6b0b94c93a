"""Undecodable create/update bodies get upstream's 400 message (no HTTP)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from apiserver.api import errors
from apiserver.api.resources import NAMESPACES
from apiserver.handlers.bodies import decode_object
from apiserver.handlers.decodeerrors import go_json_syntax_error
from apiserver.handlers.http import Request

_KIND_STRUCT = (
    'struct { APIVersion string "json:\\"apiVersion,omitempty\\""; '
    'Kind string "json:\\"kind,omitempty\\"" }'
)


def _decode(body: bytes, media: str = "application/json") -> dict[str, Any]:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Any) -> None:
        raise AssertionError("nothing is sent while decoding")

    req = Request("POST", "/api/v1/namespaces", {}, {"content-type": media}, receive, send)
    return asyncio.run(decode_object(req, NAMESPACES))


def _message(body: bytes, media: str = "application/json") -> str:
    with pytest.raises(errors.ApiError) as caught:
        _decode(body, media)
    assert caught.value.code == 400
    assert caught.value.reason == "BadRequest"
    return caught.value.message


@pytest.mark.parametrize(("data", "message"), [
    (b"not json", "invalid character 'o' in literal null (expecting 'u')"),
    (b'{"a":', "unexpected end of JSON input"),
    (b'{"a" 1}', "invalid character '1' after object key"),
    (b'{"a":1 "b"', "invalid character '\"' after object key:value pair"),
    (b"[1 2]", "invalid character '2' after array element"),
    (b"{1:2}", "invalid character '1' looking for beginning of object key string"),
    (b"-x", "invalid character 'x' in numeric literal"),
    (b"1.e", "invalid character 'e' after decimal point in numeric literal"),
    (b'"\\x"', "invalid character 'x' in string escape code"),
    (b'"\x01"', "invalid character '\\x01' in string literal"),
    (b"{} {}", "invalid character '{' after top-level value"),
    (b"'a'", "invalid character '\\'' looking for beginning of value"),
    (b'{"a":[1,{"b":null}]}', None),
])
def test_go_json_syntax_errors(data: bytes, message: str | None) -> None:
    assert go_json_syntax_error(data) == message


def test_invalid_json_is_unrecognized_with_a_text_summary() -> None:
    assert _message(b'{"metadata": {"name": "averyveryverylongname"') == (
        "the object provided is unrecognized (must be of type Namespace): couldn't get "
        "version/kind; json parse error: unexpected end of JSON input "
        '({"metadata": {"name": "averyve ...)'
    )


def test_yaml_sent_as_json_is_unrecognized_with_a_hex_summary() -> None:
    assert _message(b"apiVersion: v1\nkind: Pod\n") == (
        "the object provided is unrecognized (must be of type Namespace): couldn't get "
        "version/kind; json parse error: invalid character 'a' looking for beginning of "
        "value (61706956657273696f6e3a2076310a6b696e643a20506f640a)"
    )


def test_non_object_json_is_unrecognized() -> None:
    assert _message(b"[1]") == (
        "the object provided is unrecognized (must be of type Namespace): couldn't get "
        f"version/kind; json parse error: json: cannot unmarshal array into Go value of type "
        f"{_KIND_STRUCT} (5b315d)"
    )


def test_kind_of_the_wrong_type_is_unrecognized() -> None:
    assert _message(b'{"kind":1}') == (
        "the object provided is unrecognized (must be of type Namespace): couldn't get "
        "version/kind; json parse error: json: cannot unmarshal number into Go struct field "
        '.kind of type string ({"kind":1})'
    )


def test_invalid_yaml_is_unrecognized() -> None:
    assert _message(b"a: b: c\n", "application/yaml") == (
        "the object provided is unrecognized (must be of type Namespace): error converting "
        "YAML to JSON: yaml: line 1: mapping values are not allowed in this context "
        "(613a20623a20630a)"
    )


def test_missing_kind_and_api_version_default_from_the_url() -> None:
    obj = _decode(b'{"metadata":{"name":"x"}}')
    assert (obj["apiVersion"], obj["kind"]) == ("v1", "Namespace")
