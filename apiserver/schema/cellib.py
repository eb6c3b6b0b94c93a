"""CEL for the API server: the Kubernetes CEL libraries, compilation, and error wording.

Expressions run on the engine of the ``common-expression-language`` package (Rust,
through Python bindings). This module is shared by the CRD rules
(``x-kubernetes-validations``) and the admission policies; it holds what both need:

* :func:`compile_expression` compiles once per distinct text (an LRU cache), raising
  ``ValueError`` with the parser's message;
* :func:`undeclared` names the variables an expression uses that its environment does
  not declare (upstream's ``undeclared reference to 'x'`` compile error);
* :func:`new_context` makes an activation with the Kubernetes libraries most policies and
  CRDs use: the string extensions (``lowerAscii``, ``upperAscii``, ``split``, ``trim``,
  ``replace``, ``join``, ``indexOf``, ``lastIndexOf``, ``find``, ``findAll``) and the
  list library (``isSorted``, ``sum``, ``min``, ``max``, ``indexOf``, ``lastIndexOf``);
* :func:`error_text` words an evaluation error as cel-go does (``no such key: x``,
  ``division by zero``);
* :func:`over_cost_limit` guards against runaway evaluations. The engine keeps no cost
  account, so the cost is estimated before evaluating: the largest list or map of the
  input to the power of the expression's nesting of comprehension macros (``all``,
  ``exists``, ``exists_one``, ``map``, ``filter``); above upstream's per-call limit
  (1,000,000) the expression is not evaluated and fails as cel-go's cost check fails it
  (``operation cancelled: actual cost limit exceeded``).

Optional types: ``optional.of``/``optional.none``/``orValue``/``hasValue`` work; the
``.?field`` and ``[?key]`` syntax is refused by the package's parser (version 0.10.0), so a
rule using it fails to compile with the parser's message.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import cel


def _index_of(value: Any, item: Any, last: bool = False) -> int:
    if isinstance(value, str):
        return value.rfind(item) if last else value.find(item)
    items = list(value)
    if item not in items:
        return -1
    return len(items) - 1 - items[::-1].index(item) if last else items.index(item)


def _find(text: str, pattern: str) -> str:
    match = re.search(pattern, text)
    return match.group(0) if match else ""


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "lowerAscii": lambda s: "".join(c.lower() if c.isascii() else c for c in s),
    "upperAscii": lambda s: "".join(c.upper() if c.isascii() else c for c in s),
    "split": lambda s, sep, *n: s.split(sep) if not n else s.split(sep, max(n[0] - 1, 0)),
    "trim": lambda s: s.strip(),
    "replace": lambda s, old, new, *n: s.replace(old, new) if not n else s.replace(old, new,
                                                                                 n[0]),
    "join": lambda items, *sep: (sep[0] if sep else "").join(items),
    "indexOf": lambda value, item: _index_of(value, item),
    "lastIndexOf": lambda value, item: _index_of(value, item, last=True),
    "find": _find,
    "findAll": lambda text, pattern, *n: re.findall(pattern, text)[: n[0] if n else None],
    "isSorted": lambda items: list(items) == sorted(items),
    "sum": lambda items: sum(items),
    "min": lambda items: min(items),
    "max": lambda items: max(items),
}


@functools.lru_cache(maxsize=4096)
def compile_expression(text: str) -> cel.Program:
    """The compiled expression; ``ValueError`` with the parser's message when it does not
    parse."""
    return cel.compile(text)


def compile_error(text: str) -> str | None:
    """Why ``text`` does not compile (None when it does)."""
    try:
        compile_expression(text)
    except ValueError as exc:
        return str(exc)
    return None


_BINDERS = re.compile(
    r"(?:\.\s*(?:all|exists|exists_one|map|filter|transformList|transformMap)\s*\(|"
    r"\bcel\.bind\s*\()\s*([A-Za-z_]\w*)\s*,(?:\s*([A-Za-z_]\w*)\s*,)?")


def undeclared(text: str, declared: Iterable[str]) -> list[str]:
    """The variables the expression ``text`` (which must compile) reads that are not in
    ``declared`` (names a macro or ``cel.bind`` binds are local, not variables)."""
    known = set(declared) | set(FUNCTIONS) | {"cel"}
    for match in _BINDERS.finditer(text):
        known.update(name for name in match.groups() if name)
    return [name for name in compile_expression(text).variables() if name not in known]


def new_context(variables: Mapping[str, Any]) -> cel.Context:
    """An activation with ``variables`` and the Kubernetes CEL libraries."""
    ctx = cel.Context()
    for name, value in variables.items():
        ctx.add_variable(name, value)
    for name, function in FUNCTIONS.items():
        ctx.add_function(name, function)
    return ctx


#: Upstream's ``PerCallLimit``: the cost one evaluation may reach.
PER_CALL_LIMIT = 1_000_000
COST_EXCEEDED = "operation cancelled: actual cost limit exceeded"
_MACRO = re.compile(r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(")


@functools.lru_cache(maxsize=4096)
def comprehension_depth(text: str) -> int:
    """How deeply the comprehension macros of ``text`` nest (string literals skipped)."""
    depth = best = 0
    open_macros: list[int] = []
    parens = 0
    index = 0
    quote = ""
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 1
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "(":
            parens += 1
        elif char == ")":
            parens -= 1
            if open_macros and open_macros[-1] == parens:
                open_macros.pop()
                depth -= 1
        elif char == ".":
            match = _MACRO.match(text, index)
            if match:
                open_macros.append(parens)
                parens += 1
                depth += 1
                best = max(best, depth)
                index = match.end()
                continue
        index += 1
    return best


def largest_collection(values: Iterable[Any]) -> int:
    """The size of the largest list or map in ``values`` (nested ones included)."""
    largest = 0
    work = list(values)
    while work:
        value = work.pop()
        if isinstance(value, dict):
            largest = max(largest, len(value))
            work.extend(value.values())
        elif isinstance(value, list):
            largest = max(largest, len(value))
            work.extend(value)
    return largest


def over_cost_limit(text: str, largest: int) -> bool:
    """Whether evaluating ``text`` over an input whose largest collection has ``largest``
    items is estimated to cost more than :data:`PER_CALL_LIMIT`."""
    depth = comprehension_depth(text)
    return depth > 0 and largest ** depth > PER_CALL_LIMIT


def error_text(exc: BaseException) -> str:
    """An evaluation error worded as cel-go words it."""
    if isinstance(exc, KeyError):
        return f"no such key: {exc.args[0] if exc.args else ''}"
    if isinstance(exc, ZeroDivisionError):
        return "division by zero"
    return str(exc)
