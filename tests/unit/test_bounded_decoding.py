"""Bounded decoding, each bound at the lowest layer that has it (no HTTP)."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import orjson
import pytest

from apiserver.api import errors, resourceversion
from apiserver.api.gostrings import go_quote
from apiserver.api.resources import CONFIGMAPS
from apiserver.handlers.bodies import decode_object
from apiserver.handlers.http import Request, warning_headers
from apiserver.handlers.nesting import MAX_DEPTH, json_depth_error, too_deep
from apiserver.handlers.yamlbody import YamlBodyError, load_yaml
from apiserver.patch import GENERIC_INVALID_MESSAGE, PatchError, apply_json_patch
from apiserver.patch.jsonpatch_apply import MAX_COPY_BYTES, _Sharing
from apiserver.schema.fieldcheck import FieldIssue

# -- nesting ---------------------------------------------------------------------------


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"1" + b"]" * depth


def test_json_nesting_up_to_the_bound_passes_and_beyond_is_refused() -> None:
    assert json_depth_error(_nested(MAX_DEPTH)) is None
    assert json_depth_error(_nested(MAX_DEPTH + 1)) == "invalid character '[' exceeded max depth"
    deep_object = b'{"a":' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1)
    assert json_depth_error(deep_object) == "invalid character '{' exceeded max depth"
    assert json_depth_error(b"[" * 3_000_000) is not None


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"a": "[" * 5000, "b": '\\"[[[' * 500, "c": [[1]]}).encode()
    assert json_depth_error(text) is None
    many_shallow = json.dumps([[i] for i in range(5000)]).encode()
    assert json_depth_error(many_shallow) is None


def test_too_deep_walks_without_recursion() -> None:
    value: Any = 1
    for _ in range(50_000):
        value = [value]
    assert too_deep(value)
    assert not too_deep({"a": [{"b": [1]}]}, limit=4)
    assert too_deep({"a": [{"b": [1]}]}, limit=3)


# -- YAML --------------------------------------------------------------------------------


def _alias_bomb(levels: int, per_level: int = 10) -> bytes:
    lines = ["a0: &a0 [" + ",".join(["lol"] * per_level) + "]"]
    for level in range(1, levels + 1):
        lines.append(f"a{level}: &a{level} [" + ",".join([f"*a{level - 1}"] * per_level) + "]")
    return "\n".join(lines).encode()


@pytest.mark.parametrize("levels", [3, 7, 9, 30])
def test_alias_expansion_past_go_yamls_budget_is_refused(levels: int) -> None:
    with pytest.raises(YamlBodyError, match=r"^document contains excessive aliasing$"):
        load_yaml(_alias_bomb(levels))


def test_aliasing_within_the_budget_is_expanded() -> None:
    # 2 levels: 1,320 alias decodes of about 1,360: a 97% share, within 99% (3 levels:
    # over 99%, refused).
    value = load_yaml(_alias_bomb(2))
    assert len(value["a2"]) == 10 and value["a2"][9][9] == ["lol"] * 10
    flat = b"a: &v hello\n" + b"".join(b"k%d: *v\n" % i for i in range(20_000))
    assert load_yaml(flat)["k19999"] == "hello"


def test_aliased_values_are_independent_copies() -> None:
    value = load_yaml(b"a: &x {b: [1]}\nc: *x\n")
    value["c"]["b"].append(2)
    assert value["a"] == {"b": [1]}


@pytest.mark.parametrize(("body", "problem"), [
    (b"a: &a [*a]", "anchor 'a' value contains itself"),
    (b"a: *nope", "unknown anchor 'nope' referenced"),
    (b"[" * (MAX_DEPTH + 1), f"exceeded max depth of {MAX_DEPTH}"),
    (b"a: .inf", "json: unsupported value: +Inf"),
    (b"a: !!int abc", "cannot decode !!int `abc`"),
    (b"? [1]\n: 2", "invalid map key: a collection"),
])
def test_yaml_go_yaml_refuses(body: bytes, problem: str) -> None:
    with pytest.raises(YamlBodyError) as caught:
        load_yaml(body)
    assert str(caught.value) == problem


def test_yaml_scalars_resolve_as_go_yaml_v2() -> None:
    value = load_yaml(
        b"big: 99999999999999999999999\nhuge: 1" + b"0" * 400 + b"\nu64: 18446744073709551615\n"
        b"hex: 0x1F\noctal: 017\nexp: 1e3\nfloat: 1.5\nquoted: '1'\nyes: yes\ntilde: ~\n"
        b"date: 2001-12-14\nunder: 1_000\nbin: !!binary aGk=\ns: !!str 12\n"
    )
    assert value == {
        "big": 1e23, "huge": "1" + "0" * 400, "u64": 2**64 - 1, "hex": 31, "octal": 15,
        "exp": 1000, "float": 1.5, "quoted": "1", "true": True, "tilde": None,
        "date": "2001-12-14", "under": 1000, "bin": "hi", "s": "12",
    }
    # YAML 1.1 booleans as keys become "true"/"false", as sigs.k8s.io/yaml writes them.
    assert load_yaml(b"y: 1\nn: 2\n1: 3\n") == {"true": 1, "false": 2, "1": 3}


def test_yaml_merge_keys_and_the_first_document_only() -> None:
    assert load_yaml(b"b: &b {x: 1, z: 2}\nm: {x: 0, <<: *b, z: 3}\n")["m"] == {"x": 1, "z": 3}
    assert load_yaml(b"m: {<<: [{a: 1}, {a: 2, b: 3}]}")["m"] == {"a": 1, "b": 3}
    assert load_yaml(b"a: 1\n---\nb: 2\n") == {"a": 1}


def _request(body: bytes, media: str) -> Request:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Any) -> None:
        raise AssertionError("nothing is sent while decoding")

    return Request("POST", "/api/v1/namespaces/ns/configmaps", {},
                   {"content-type": media}, receive, send)


def _decode_error(body: bytes, media: str) -> errors.ApiError:
    with pytest.raises(errors.ApiError) as caught:
        asyncio.run(decode_object(_request(body, media), CONFIGMAPS))
    return caught.value


def test_yaml_integer_beyond_int64_is_upstreams_400() -> None:
    error = _decode_error(b"metadata:\n  name: a\n  generation: 99999999999999999999999\n",
                          "application/yaml")
    assert (error.code, error.reason) == (400, "BadRequest")
    assert error.message == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal '
        "number 1e+23 into Go struct field ObjectMeta.metadata.generation of type int64")


def test_deep_bodies_are_400_before_parsing() -> None:
    error = _decode_error(b'{"metadata":' + _nested(5000) + b"}", "application/json")
    assert error.code == 400
    assert "json parse error: invalid character '[' exceeded max depth" in error.message
    error = _decode_error(b"a: " + _nested(5000), "application/yaml")
    assert "error converting YAML to JSON: yaml: exceeded max depth of 200" in error.message


# -- JSON patch copies -------------------------------------------------------------------


def _doubling(copies: int) -> list[dict[str, Any]]:
    return [{"op": "add", "path": "/metadata/annotations", "value": {"a": "x" * 32}},
            *({"op": "copy", "from": "/metadata/annotations",
               "path": f"/metadata/annotations/c{i}"} for i in range(copies))]


def test_accumulated_copy_size_past_3_mib_is_422() -> None:
    with pytest.raises(PatchError) as caught:
        apply_json_patch({"metadata": {}}, _doubling(21))
    assert (caught.value.code, caught.value.reason) == (422, "Invalid")
    assert caught.value.message == GENERIC_INVALID_MESSAGE
    assert caught.value.detail.startswith(
        "Unable to complete the copy, the accumulated size increase of copy is ")
    assert caught.value.detail.endswith(f", exceeding the limit {MAX_COPY_BYTES}")


def test_copies_under_the_limit_apply_as_independent_values() -> None:
    result = apply_json_patch({"metadata": {}}, _doubling(3))
    annotations = result["metadata"]["annotations"]
    assert annotations["c2"] == {"a": "x" * 32, "c0": {"a": "x" * 32},
                                 "c1": {"a": "x" * 32, "c0": {"a": "x" * 32}}}
    annotations["c1"]["c0"]["a"] = "changed"
    assert annotations["c0"]["a"] == "x" * 32
    doc = {"a": {"x": [1, 2]}}
    patched = apply_json_patch(doc, [
        {"op": "copy", "from": "/a", "path": "/c"}, {"op": "add", "path": "/c/x/-", "value": 3},
        {"op": "remove", "path": "/a/x/0"}, {"op": "move", "from": "/c/x", "path": "/m"},
        {"op": "copy", "from": "", "path": "/self"},
    ])
    assert patched == {"a": {"x": [2]}, "c": {}, "m": [1, 2, 3],
                       "self": {"a": {"x": [2]}, "c": {}, "m": [1, 2, 3]}}
    assert doc == {"a": {"x": [1, 2]}}


def test_copy_sizes_are_the_compact_json_length() -> None:
    rng = random.Random(7)

    def value(depth: int = 0) -> Any:
        pick = rng.random()
        if depth < 4 and pick < 0.3:
            return {f'k{i}"\u00e9': value(depth + 1) for i in range(rng.randint(0, 4))}
        if depth < 4 and pick < 0.5:
            return [value(depth + 1) for _ in range(rng.randint(0, 4))]
        return rng.choice([None, True, False, 0, -5, 2**63, 1.5, 1e300, "x", "<&>\u2028", "\x01"])

    for _ in range(500):
        sample = value()
        assert _Sharing().encoded_size(sample) == len(orjson.dumps(sample))


# -- resourceVersions, quoting, warnings, paths ---------------------------------------------


@pytest.mark.parametrize(("text", "problem"), [
    ("18446744073709551616", "value out of range"), ("abc", "invalid syntax"),
    ("-1", "invalid syntax"), ("+1", "invalid syntax"), (" 1", "invalid syntax"),
    ("1_0", "invalid syntax"), ("\u0661", "invalid syntax"),
])
def test_resource_versions_parse_as_uint64(text: str, problem: str) -> None:
    with pytest.raises(errors.ApiError) as caught:
        resourceversion.parse_query(text)
    assert caught.value.code == 400
    assert caught.value.message == (
        f"invalid resource version: resourceVersion: Invalid value: {go_quote(text)}: "
        f"strconv.ParseUint: parsing {go_quote(text)}: {problem}")
    with pytest.raises(errors.ApiError) as caught:
        resourceversion.parse_object(text)
    assert caught.value.message == f"strconv.ParseUint: parsing {go_quote(text)}: {problem}"


def test_valid_resource_versions() -> None:
    assert resourceversion.parse_query("") == resourceversion.parse_query("0") == 0
    assert resourceversion.parse_query("18446744073709551615") == 2**64 - 1
    assert resourceversion.parse_object("") == resourceversion.parse_object("00") == 0


def test_unknown_field_paths_are_quoted_as_go() -> None:
    assert go_quote('a\x01b\n"\\\u00e9\u2028') == '"a\\x01b\\n\\"\\\\\u00e9\\u2028"'
    assert FieldIssue("unknown", "spec.fo\x01o").message == 'unknown field "spec.fo\\x01o"'


def test_warning_headers_are_always_sendable() -> None:
    headers = warning_headers(["a \"quoted\" \\ text", "bad\x01text", "tab\there",
                               "a \"quoted\" \\ text", "", "caf\u00e9"])
    assert headers == [(b"warning", b'299 - "a \\"quoted\\" \\\\ text"'),
                       (b"warning", '299 - "caf\u00e9"'.encode())]
    many = warning_headers([f"{i}:" + "w" * 1000 for i in range(10)])
    assert all(len(value) <= 256 + 10 for _, value in many)
    assert sum(len(value) - 8 for _, value in many) <= 4096 + 256


def test_the_path_is_not_decoded_a_second_time() -> None:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        return None

    scope = {"type": "http", "method": "GET", "query_string": b"", "headers": [],
             "path": "/api/v1/namespaces/default%2Fconfigmaps%2Fcm1"}
    assert Request.from_scope(scope, receive, send).path == scope["path"]
