"""How deep a body nests, checked before anything parses or walks it.

Upstream's decoders stop at 10,000 levels (``sigs.k8s.io/json``: ``invalid character
'[' exceeded max depth``; go-yaml: ``yaml: exceeded max depth of 10000``). kubemu's
bound, :data:`MAX_DEPTH`, is lower: orjson encodes at most 254 levels and the
pipeline's walks are recursive, so a deeper object could not be stored or checked.
Every body is measured against it here, in C-speed passes, and refused with the
decoder's words and a 400 before orjson, PyYAML or a recursive walk sees it — never a
``RecursionError`` or a 500. Real objects nest a few dozen levels at most.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

#: The deepest nesting of objects and arrays a body (and a patched object) may have.
#: Stored objects gain a few levels (managedFields, list items, watch events), which
#: must stay below orjson's encoding limit of 254.
MAX_DEPTH = 200

#: A JSON string, escapes included (the unrolled form: no backtracking per character).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
#: Opening brackets as +1 and closing ones as -1 (read as signed bytes).
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


def json_depth_error(body: bytes) -> str | None:
    """Go's scanner error for JSON ``body`` nesting past :data:`MAX_DEPTH`, else None.

    Brackets inside strings do not count. A body with no more brackets than the bound
    cannot exceed it and is not scanned (every ordinary body).
    """
    if body.count(b"[") + body.count(b"{") <= MAX_DEPTH:
        return None
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    steps = memoryview(brackets.translate(_STEPS)).cast("b")
    for position, depth in enumerate(itertools.accumulate(steps)):
        if depth > MAX_DEPTH:
            return f"invalid character '{chr(brackets[position])}' exceeded max depth"
    return None


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether a decoded value nests objects/arrays more than ``limit`` levels (iterative)."""
    level: list[Any] = [value]
    depth = 0
    while level:
        containers = [v for v in level if isinstance(v, (dict, list))]
        if not containers:
            return False
        depth += 1
        if depth > limit:
            return True
        level = []
        for container in containers:
            level.extend(container.values() if isinstance(container, dict) else container)
    return False
