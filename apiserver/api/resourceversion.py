"""resourceVersion text → revision number, as upstream's ``APIObjectVersioner`` reads it.

A resourceVersion is an etcd revision: Go parses it with ``strconv.ParseUint(s, 10, 64)``,
so only ASCII digits are accepted (no sign, no spaces, no underscores) and values above
``2**64 - 1`` are out of range. ``""`` and ``"0"`` mean "any".

Upstream answers a list with such a resourceVersion 400 (``invalid resource version: …``,
storage ``ValidateListOptions``); for get, watch and a body's ``metadata.resourceVersion``
the same parse error escapes as a plain error (500). kubemu answers all of them 400 with
upstream's words: bad input never gets a 500.
"""

from __future__ import annotations

from apiserver.api import errors
from apiserver.api.gostrings import go_quote

#: The largest revision (Go ``uint64``).
MAX_REVISION = 2**64 - 1


def parse_uint_error(text: str) -> str | None:
    """Go's ``strconv.ParseUint(text, 10, 64)`` error text, or None when it parses."""
    if not text or not (text.isascii() and text.isdigit()):
        return f"strconv.ParseUint: parsing {go_quote(text)}: invalid syntax"
    if int(text) > MAX_REVISION:
        return f"strconv.ParseUint: parsing {go_quote(text)}: value out of range"
    return None


def parse_query(text: str) -> int:
    """The revision a ``resourceVersion`` query parameter names; 400 when malformed."""
    if text in ("", "0"):
        return 0
    problem = parse_uint_error(text)
    if problem is not None:
        raise errors.bad_request(
            f"invalid resource version: resourceVersion: Invalid value: {go_quote(text)}: "
            f"{problem}"
        )
    return int(text)


def parse_object(text: str) -> int:
    """The revision an object's ``metadata.resourceVersion`` names (0: none); 400 when
    malformed, with the parse error upstream's versioner returns."""
    if text == "":
        return 0
    problem = parse_uint_error(text)
    if problem is not None:
        raise errors.bad_request(problem)
    return int(text)
