"""YAML bodies decoded as sigs.k8s.io/yaml (go-yaml v2) decodes them, with its bounds.

Contract: :func:`load_yaml` returns the first document of ``body`` as a JSON-compatible
value (str keys, no shared substructures, numbers JSON can hold) or raises
:class:`YamlBodyError` with go-yaml's words (``yaml.YAMLError`` for a syntax error).

The value is built in one pass over libyaml's events (C speed; no PyYAML node graph or
constructor), and every bound is checked as the events arrive, before more is built:

* **nesting** past :data:`~apiserver.handlers.nesting.MAX_DEPTH`;
* **aliases**, with go-yaml's budget (CVE-2019-11253): every node is one decode and an
  alias costs one decode plus the decodes of its anchor's expanded subtree, all counted
  as alias decodes; past 100 alias decodes and 1,000 decodes in all, the alias share may
  not exceed 99% up to 400,000 decodes, falling linearly to 10% at 4,000,000 —
  ``document contains excessive aliasing``. Sizes are counted, never expanded, so a
  billion-laughs body costs a few microseconds per event. An alias inside its own
  anchor is ``anchor 'a' value contains itself``;
* scalars resolve as go-yaml's resolver does: YAML 1.1 booleans and nulls, integers in
  any base Go's ``ParseInt(s, 0, 64)`` reads (beyond 64 bits they become floats, or text
  when no float holds them), timestamps kept as text, ``.inf``/``.nan`` refused when the
  value becomes JSON; merge keys (``<<``) as go-yaml merges them.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from typing import Any

import orjson
import yaml

from apiserver.handlers.nesting import MAX_DEPTH

_ALIAS_RATIO_LOW = 400_000
_ALIAS_RATIO_HIGH = 4_000_000
_INT64_MIN = -(2**63)
_UINT64_MAX = 2**64 - 1
_TAG = "tag:yaml.org,2002:"

_WORDS: dict[str, Any] = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "on", "On", "ON",
                     "true", "True", "TRUE"), True),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "off", "Off", "OFF",
                     "false", "False", "FALSE"), False),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), None),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
}
#: Go ``ParseInt(s, 0, 64)`` syntax: sign, base prefix, digits with single underscores.
_INT = re.compile(
    r"[-+]?(?:0[xX]_?[0-9a-fA-F]+(?:_[0-9a-fA-F]+)*|0[bB]_?[01]+(?:_[01]+)*"
    r"|0[oO]_?[0-7]+(?:_[0-7]+)*|0_?[0-7]+(?:_[0-7]+)*|[1-9](?:_?[0-9])*|0)"
)
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_NUMBER_START = frozenset("0123456789+-.")


class YamlBodyError(Exception):
    """The body is YAML go-yaml refuses; ``str(exc)`` is go-yaml's problem text without
    the ``yaml: `` prefix (e.g. ``document contains excessive aliasing``)."""


def _allowed_alias_ratio(decodes: int) -> float:
    if decodes <= _ALIAS_RATIO_LOW:
        return 0.99
    if decodes >= _ALIAS_RATIO_HIGH:
        return 0.10
    span = _ALIAS_RATIO_HIGH - _ALIAS_RATIO_LOW
    return 0.99 - 0.89 * ((decodes - _ALIAS_RATIO_LOW) / span)


def _go_int(text: str) -> int | None:
    """``strconv.ParseInt(text, 0, 64)`` widened to any size (None: not an integer)."""
    if not _INT.fullmatch(text):
        return None
    sign = -1 if text[0] == "-" else 1
    digits = text.lstrip("+-").replace("_", "")
    if len(digits) > 1 and digits[0] == "0" and digits[1] not in "xXbBoO":
        return sign * int(digits, 8)
    return sign * int(digits, 0)


def _plain(text: str) -> Any:
    """A plain scalar as go-yaml's resolver reads it into an ``interface{}``."""
    if text in _WORDS:
        return _WORDS[text]
    if not text or text[0] not in _NUMBER_START:
        return text
    number = _go_int(text)
    if number is not None and _INT64_MIN <= number <= _UINT64_MAX:
        return number
    if _FLOAT.fullmatch(text):
        try:
            value = float(text)
        except (ValueError, OverflowError):
            return text
        if not math.isfinite(value):
            return text  # ParseFloat's range error: go-yaml keeps the text
        if value.is_integer() and abs(value) < 1e21 and _INT64_MIN <= value <= _UINT64_MAX:
            return int(value)  # Go's JSON encoder writes such a float64 without a fraction
        return value
    return text


def _scalar(event: yaml.ScalarEvent) -> Any:
    tag = event.tag or ""
    if event.style is not None and event.style != "":
        return event.value  # quoted, literal or folded: always a string
    if tag == _TAG + "str":
        return event.value
    if tag == _TAG + "binary":
        try:
            return base64.b64decode(event.value, validate=False).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            raise YamlBodyError("!!binary value contains invalid base64 data") from None
    value = _plain(event.value)
    expected = {_TAG + "int": int, _TAG + "float": float, _TAG + "bool": bool}.get(tag)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if expected is not None and not isinstance(value, expected):
        raise YamlBodyError(f"cannot decode !!{tag[len(_TAG):]} `{event.value}`")
    return value


def _key(key: Any) -> str:
    """A map key as sigs.k8s.io/yaml's JSON conversion writes it."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int) and _INT64_MIN <= key < 2**63:
        return str(key)
    if isinstance(key, float):
        if math.isnan(key):
            return ".nan"
        if math.isinf(key):
            return ".inf" if key > 0 else "-.inf"
        return repr(key)
    raise YamlBodyError(f"unsupported map key of type: {type(key).__name__}, key: {key!r}")


class _Open:
    """A collection being built: its value, the pending key of a mapping, its anchor,
    and the decodes of its subtree so far (aliases expanded)."""

    __slots__ = ("anchor", "decodes", "is_map", "key", "value")

    def __init__(self, value: dict[str, Any] | list[Any], anchor: str | None) -> None:
        self.value = value
        self.is_map = isinstance(value, dict)
        self.anchor = anchor
        self.decodes = 1
        self.key: Any = _NO_KEY


_NO_KEY = object()
_MERGE = object()


def _json_value(value: Any) -> Any:
    """``value`` unless JSON cannot hold it (Go's encoder refuses NaN and infinities)."""
    if isinstance(value, float) and not math.isfinite(value):
        special = "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
        raise YamlBodyError(f"json: unsupported value: {special}")
    return value


def _set_value(parent: _Open, value: Any) -> None:
    """Store ``value`` under the pending key of the map ``parent`` (or merge it)."""
    container = parent.value
    assert isinstance(container, dict)
    if parent.key is _MERGE:
        _merge(container, value)
    else:
        container[_key(parent.key)] = _json_value(value)
    parent.key = _NO_KEY


def _merge(target: dict[str, Any], value: Any) -> None:
    """go-yaml's ``<<``: a map, or a list of maps (earlier ones win), merged in place."""
    sources = list(reversed(value)) if isinstance(value, list) else [value]
    for source in sources:
        if not isinstance(source, dict):
            raise YamlBodyError("map merge requires map or sequence of maps as the value")
        target.update(source)


def _over_budget(decodes: int, aliased: int) -> bool:
    return (aliased > 100 and decodes > 1000
            and aliased / decodes > _allowed_alias_ratio(decodes))


def load_yaml(body: bytes) -> Any:
    """The first YAML document of ``body``; see the module docstring."""
    anchors: dict[str, tuple[Any, int]] = {}
    stack: list[_Open] = []
    top: _Open | None = None  # stack[-1]: the hot loop reads it for every event
    decodes = aliased = 0
    result: Any = None
    loader = yaml.CSafeLoader(body)
    try:
        while True:
            event: Any = loader.get_event()
            kind = type(event)
            size = 1
            if kind is yaml.ScalarEvent:
                decodes += 1
                text = event.value
                if event.style or event.tag:
                    value = _scalar(event)
                elif text in _WORDS:
                    value = _WORDS[text]
                elif text and text[0] in _NUMBER_START:
                    value = _plain(text)
                elif (text == "<<" and top is not None and top.is_map
                      and top.key is _NO_KEY):
                    top.key = _MERGE
                    top.decodes += 1
                    continue
                else:
                    value = text
                if event.anchor is not None:
                    anchors[event.anchor] = (value, 1)
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                if len(stack) >= MAX_DEPTH:
                    raise YamlBodyError(f"exceeded max depth of {MAX_DEPTH}")
                decodes += 1
                if top is not None and top.is_map and top.key is _NO_KEY:
                    raise YamlBodyError("invalid map key: a collection")
                top = _Open({} if kind is yaml.MappingStartEvent else [], event.anchor)
                stack.append(top)
                continue
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                closed = stack.pop()
                top = stack[-1] if stack else None
                value, size = closed.value, closed.decodes
                if closed.anchor is not None:
                    anchors[closed.anchor] = (value, size)
            elif kind is yaml.AliasEvent:
                if event.anchor not in anchors:
                    if any(item.anchor == event.anchor for item in stack):
                        raise YamlBodyError(f"anchor '{event.anchor}' value contains itself")
                    raise YamlBodyError(f"unknown anchor '{event.anchor}' referenced")
                value, expanded = anchors[event.anchor]
                size = 1 + expanded
                decodes += size
                aliased += expanded
                if _over_budget(decodes, aliased):
                    raise YamlBodyError("document contains excessive aliasing")
            elif kind is yaml.DocumentEndEvent or kind is yaml.StreamEndEvent:
                break  # go-yaml decodes the first document only
            else:
                continue  # stream and document starts
            if top is None:
                result = _json_value(value)
                continue
            top.decodes += size
            if not top.is_map:
                top.value.append(_json_value(value))  # type: ignore[union-attr]
            elif top.key is _NO_KEY:
                top.key = value
            else:
                _set_value(top, value)
    finally:
        loader.dispose()
    try:
        # One encoding pass: shared (aliased) parts become independent copies, and a
        # value JSON cannot hold is refused here rather than deep in a handler.
        return orjson.loads(orjson.dumps(result))
    except orjson.JSONEncodeError as exc:
        raise YamlBodyError(f"json: unsupported value: {exc}") from None
