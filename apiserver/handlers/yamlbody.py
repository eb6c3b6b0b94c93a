"""YAML bodies decoded as sigs.k8s.io/yaml (go-yaml v2) decodes them, with its bounds.

Contract: :func:`load_yaml` returns a JSON-compatible value (str keys, no shared
substructures, ints within 64 bits) or raises :class:`YamlBodyError` carrying
go-yaml's wording, before any expensive work:

* **nesting** past :data:`~apiserver.handlers.nesting.MAX_DEPTH` is refused during a
  first pass over libyaml's events (C speed, nothing built);
* **aliases**: a node graph is built (aliases are shared references, so this is cheap)
  and the expansion go-yaml would perform is counted node by node with go-yaml's
  budget (CVE-2019-11253): past 100 alias-driven decodes and 1,000 decodes in all, the
  alias share may not exceed 99% up to 400,000 decodes, falling linearly to 10% at
  4,000,000 — ``yaml: document contains excessive aliasing``. The count stops at the
  first decode over budget, so a billion-laughs body costs a few thousand steps;
* an alias inside its own anchor is ``yaml: anchor 'a' value contains itself``;
* scalars resolve as go-yaml's: integers beyond 64 bits become floats (or stay text
  when even a float cannot hold them), timestamps stay text, ``!!set`` is a map of
  nulls; map keys become strings as sigs.k8s.io/yaml's JSON conversion writes them.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
import yaml

from apiserver.handlers.nesting import MAX_DEPTH

_ALIAS_RATIO_LOW = 400_000
_ALIAS_RATIO_HIGH = 4_000_000
_INT64_MIN = -(2**63)
_UINT64_MAX = 2**64 - 1
_TIMESTAMP = "tag:yaml.org,2002:timestamp"


class YamlBodyError(Exception):
    """The body is not YAML go-yaml would accept; ``str(exc)`` is go-yaml's problem
    text without the ``yaml: `` prefix (e.g. ``document contains excessive aliasing``)."""


def _allowed_alias_ratio(decodes: int) -> float:
    if decodes <= _ALIAS_RATIO_LOW:
        return 0.99
    if decodes >= _ALIAS_RATIO_HIGH:
        return 0.10
    span = _ALIAS_RATIO_HIGH - _ALIAS_RATIO_LOW
    return 0.99 - 0.89 * ((decodes - _ALIAS_RATIO_LOW) / span)


def _check_events(body: bytes) -> bool:
    """Depth and self-containing aliases, over the C parser's events; True if any alias."""
    depth = 0
    open_anchors: list[str | None] = []
    aliases = False
    for event in yaml.parse(body, Loader=yaml.CSafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise YamlBodyError(f"exceeded max depth of {MAX_DEPTH}")
            open_anchors.append(event.anchor)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
            open_anchors.pop()
        elif isinstance(event, yaml.AliasEvent):
            aliases = True
            if event.anchor in open_anchors:
                raise YamlBodyError(f"anchor '{event.anchor}' value contains itself")
    return aliases


def _check_alias_budget(root: yaml.Node) -> None:
    """Count go-yaml's decodes of the expanded document; raise past its alias budget."""
    decodes = aliased = 0
    seen: set[int] = set()
    # (node, inside an alias expansion); children pushed in reverse keep document order.
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, in_alias = stack.pop()
        if not in_alias and id(node) in seen:
            decodes += 1  # the alias node itself, then its target, expanded
            in_alias = True
        seen.add(id(node))
        decodes += 1
        if in_alias:
            aliased += 1
        if (aliased > 100 and decodes > 1000
                and aliased / decodes > _allowed_alias_ratio(decodes)):
            raise YamlBodyError("document contains excessive aliasing")
        if isinstance(node, yaml.MappingNode):
            for key, value in reversed(node.value):
                stack.append((value, in_alias))
                stack.append((key, in_alias))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((child, in_alias) for child in reversed(node.value))


def _key(key: Any) -> str:
    """A map key as sigs.k8s.io/yaml's JSON conversion writes it."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float):
        return repr(key)
    raise YamlBodyError(f"unsupported map key of type: {type(key).__name__}, key: {key!r}")


class _Loader(yaml.CSafeLoader):
    """libyaml's parser and composer with go-yaml's scalar resolution."""

    # go-yaml hands timestamps to an interface{} as the text they were written as.
    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP]
        for first, resolvers in yaml.CSafeLoader.yaml_implicit_resolvers.items()
    }

    def construct_yaml_int(self, node: yaml.ScalarNode) -> Any:
        value = super().construct_yaml_int(node)
        if _INT64_MIN <= value <= _UINT64_MAX:
            return value
        try:
            as_float = float(value)  # strconv.ParseFloat, as go-yaml's resolver falls back
        except OverflowError:
            return node.value
        return as_float if math.isfinite(as_float) else node.value

    def construct_yaml_float(self, node: yaml.ScalarNode) -> Any:
        value = super().construct_yaml_float(node)
        if not math.isfinite(value):
            raise YamlBodyError(f"json: unsupported value: {_go_special_float(value)}")
        return value

    def construct_yaml_set(self, node: yaml.MappingNode) -> Any:
        data: dict[Any, Any] = {}
        yield data
        data.update(dict.fromkeys(self.construct_mapping(node)))

    def construct_yaml_binary(self, node: yaml.ScalarNode) -> Any:
        return super().construct_yaml_binary(node).decode("utf-8", "replace")

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Any:
        mapping = super().construct_mapping(node, deep=deep)
        if all(isinstance(key, str) for key in mapping):
            return mapping
        return {_key(key): value for key, value in mapping.items()}


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _Loader.construct_yaml_float)
_Loader.add_constructor("tag:yaml.org,2002:set", _Loader.construct_yaml_set)
_Loader.add_constructor("tag:yaml.org,2002:binary", _Loader.construct_yaml_binary)


def _go_special_float(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return "+Inf" if value > 0 else "-Inf"


def load_yaml(body: bytes) -> Any:
    """``body`` (one YAML document) as a JSON-compatible value; see the module docstring.

    Raises :class:`YamlBodyError` for a bound or a value go-yaml refuses, and
    ``yaml.YAMLError`` for a syntax error (the caller words both).
    """
    aliases = _check_events(body)
    loader = _Loader(body)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        if aliases:
            _check_alias_budget(root)
        value = loader.construct_document(root)
    finally:
        loader.dispose()
    try:
        # One encoding pass: shared (aliased) parts become independent copies, and any
        # value JSON cannot hold is refused here rather than deep in a handler.
        return orjson.loads(orjson.dumps(value))
    except orjson.JSONEncodeError as exc:
        raise YamlBodyError(f"json: unsupported value: {exc}") from None
