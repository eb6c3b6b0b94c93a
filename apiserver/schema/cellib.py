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
  ``division by zero``).

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


def undeclared(program: cel.Program, declared: Iterable[str]) -> list[str]:
    """The variables ``program`` reads that are not in ``declared``."""
    known = set(declared) | set(FUNCTIONS)
    return [name for name in program.variables() if name not in known]


def new_context(variables: Mapping[str, Any]) -> cel.Context:
    """An activation with ``variables`` and the Kubernetes CEL libraries."""
    ctx = cel.Context()
    for name, value in variables.items():
        ctx.add_variable(name, value)
    for name, function in FUNCTIONS.items():
        ctx.add_function(name, function)
    return ctx


def error_text(exc: BaseException) -> str:
    """An evaluation error worded as cel-go words it."""
    if isinstance(exc, KeyError):
        return f"no such key: {exc.args[0] if exc.args else ''}"
    if isinstance(exc, ZeroDivisionError):
        return "division by zero"
    return str(exc)
