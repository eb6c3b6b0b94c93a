"""How upstream's decoders word a body they cannot read, for the 400s of create and update.

kube-apiserver answers an unreadable body with ``the object provided is unrecognized
(must be of type <Kind>): <cause> (<summary>)``, where the cause is Go's JSON scanner's or
go-yaml's own error text; clients (kubectl's tests among them) match on those words, so
they are reproduced here.
"""

from __future__ import annotations

from typing import Any

import orjson
import yaml

from apiserver.api import errors
from apiserver.api.resources import ResourceInfo
from apiserver.handlers.nesting import json_depth_error
from apiserver.handlers.yamlbody import YamlBodyError, load_yaml

GO_KIND_STRUCT = (
    'struct { APIVersion string "json:\\"apiVersion,omitempty\\""; '
    'Kind string "json:\\"kind,omitempty\\"" }'
)
#: go-yaml's wording of problems PyYAML words differently.
_GO_YAML_PROBLEMS = {
    "mapping values are not allowed here": "mapping values are not allowed in this context",
}


def unrecognized(info: ResourceInfo, cause: str, body: bytes) -> errors.ApiError:
    """Upstream's 400 for a body whose kind cannot be read: the cause and a summary of the
    body (its first 30 bytes: as text when it starts with ``{``, else in hex)."""
    head = body[:30]
    more = " ..." if len(body) > 30 else ""
    if not body:
        summary = "<empty>"
    elif body.startswith(b"{"):
        summary = head.decode("utf-8", "replace") + more
    else:
        summary = head.hex() + more
    return errors.bad_request(
        f"the object provided is unrecognized (must be of type {info.kind}): {cause} "
        f"({summary})"
    )


def parse_body(body: bytes, media: str, info: ResourceInfo) -> Any:
    """The body as a value; a 400 worded as upstream's decoder when it is not JSON/YAML.

    Decoding is bounded (:mod:`apiserver.handlers.nesting`, :mod:`.yamlbody`): nesting
    and YAML alias expansion are measured before the value is built.
    """
    if media == "application/yaml":
        try:
            return load_yaml(body)
        except YamlBodyError as exc:
            raise unrecognized(info, f"error converting YAML to JSON: yaml: {exc}", body) \
                from None
        except yaml.YAMLError as exc:
            raise unrecognized(info, _yaml_error(exc), body) from None
        except UnicodeDecodeError as exc:
            raise unrecognized(info, f"error converting YAML to JSON: yaml: {exc}", body) \
                from None
    too_deep = json_depth_error(body)
    if too_deep is not None:
        raise unrecognized(info, f"couldn't get version/kind; json parse error: {too_deep}", body)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        syntax = go_json_syntax_error(body) or str(exc)
        raise unrecognized(
            info, f"couldn't get version/kind; json parse error: {syntax}", body
        ) from None


def _yaml_error(exc: yaml.YAMLError) -> str:
    """sigs.k8s.io/yaml's error for a YAML syntax error: ``yaml: line N: problem``."""
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None)
    if problem is None:
        return f"error converting YAML to JSON: yaml: {exc}"
    problem = _GO_YAML_PROBLEMS.get(problem, problem)
    where = f"line {mark.line + 1}: " if mark is not None else ""
    return f"error converting YAML to JSON: yaml: {where}{problem}"


def _go_quote_char(c: int) -> str:
    """A byte as Go's JSON scanner quotes it in an error (``'x'``, ``'\\n'``, ``'\\x01'``)."""
    if c == 0x27:
        return "'\\''"
    if c == 0x22:
        return "'\"'"
    escapes = {7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r",
               0x5C: "\\\\"}
    if c in escapes:
        return f"'{escapes[c]}'"
    if c < 0x20 or c == 0x7F:
        return f"'\\x{c:02x}'"
    if 0x80 <= c <= 0xA0 or c == 0xAD:
        return f"'\\u{c:04x}'"
    return f"'{chr(c)}'"


class _GoSyntaxError(Exception):
    pass


def go_json_syntax_error(data: bytes) -> str | None:
    """The message Go's ``encoding/json`` gives for invalid JSON ``data`` (None: valid).

    Follows the scanner's states: the first offending byte is named with the
    state it broke (``invalid character 'x' looking for beginning of value``),
    and input that stops early is ``unexpected end of JSON input``.
    """
    pos = 0
    n = len(data)

    def fail(context: str) -> _GoSyntaxError:
        if pos >= n:
            return _GoSyntaxError("unexpected end of JSON input")
        return _GoSyntaxError(f"invalid character {_go_quote_char(data[pos])} {context}")

    def skip() -> None:
        nonlocal pos
        while pos < n and data[pos] in b" \t\r\n":
            pos += 1

    def expect_digit(context: str) -> None:
        nonlocal pos
        if pos >= n or not 0x30 <= data[pos] <= 0x39:
            raise fail(context)
        while pos < n and 0x30 <= data[pos] <= 0x39:
            pos += 1

    def string() -> None:
        nonlocal pos
        pos += 1
        while True:
            if pos >= n:
                raise fail("")
            c = data[pos]
            if c == 0x22:
                pos += 1
                return
            if c < 0x20:
                raise fail("in string literal")
            if c == 0x5C:
                pos += 1
                if pos >= n or data[pos] not in b'"\\/bfnrtu':
                    raise fail("in string escape code")
                if data[pos] == 0x75:
                    for _ in range(4):
                        pos += 1
                        if pos >= n or data[pos] not in b"0123456789abcdefABCDEF":
                            raise fail("in \\u hexadecimal character escape")
            pos += 1

    def number() -> None:
        nonlocal pos
        if data[pos] == 0x2D:
            pos += 1
            if pos >= n or not 0x30 <= data[pos] <= 0x39:
                raise fail("in numeric literal")
        if data[pos] == 0x30:
            pos += 1
        else:
            expect_digit("in numeric literal")
        if pos < n and data[pos] == 0x2E:
            pos += 1
            expect_digit("after decimal point in numeric literal")
        if pos < n and data[pos] in b"eE":
            pos += 1
            if pos < n and data[pos] in b"+-":
                pos += 1
            expect_digit("in exponent of numeric literal")

    def literal(word: bytes) -> None:
        nonlocal pos
        for expected in word[1:]:
            pos += 1
            if pos >= n or data[pos] != expected:
                raise fail(f"in literal {word.decode()} (expecting {_go_quote_char(expected)})")
        pos += 1

    def value() -> None:
        nonlocal pos
        skip()
        if pos >= n:
            raise fail("")
        c = data[pos]
        if c == 0x7B:
            pos += 1
            skip()
            if pos < n and data[pos] == 0x7D:
                pos += 1
                return
            while True:
                if pos >= n or data[pos] != 0x22:
                    raise fail("looking for beginning of object key string")
                string()
                skip()
                if pos >= n or data[pos] != 0x3A:
                    raise fail("after object key")
                pos += 1
                value()
                skip()
                if pos < n and data[pos] == 0x2C:
                    pos += 1
                    skip()
                    continue
                if pos < n and data[pos] == 0x7D:
                    pos += 1
                    return
                raise fail("after object key:value pair")
        if c == 0x5B:
            pos += 1
            skip()
            if pos < n and data[pos] == 0x5D:
                pos += 1
                return
            while True:
                value()
                skip()
                if pos < n and data[pos] == 0x2C:
                    pos += 1
                    continue
                if pos < n and data[pos] == 0x5D:
                    pos += 1
                    return
                raise fail("after array element")
        if c == 0x22:
            string()
        elif c == 0x2D or 0x30 <= c <= 0x39:
            number()
        elif c in b"tfn":
            literal({0x74: b"true", 0x66: b"false", 0x6E: b"null"}[c])
        else:
            raise fail("looking for beginning of value")

    try:
        value()
        skip()
        if pos < n:
            raise fail("after top-level value")
    except _GoSyntaxError as exc:
        return str(exc)
    return None
