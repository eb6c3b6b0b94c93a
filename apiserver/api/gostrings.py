"""Go's text formatting of values that reach messages, so clients see upstream's words.

:func:`go_quote` is Go's ``strconv.Quote`` (``%q``): printable characters are kept,
everything else is escaped, so a quoted text never carries a control character —
which is also what keeps client text safe inside a ``Warning`` header.
"""

from __future__ import annotations

_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
               "\t": "\\t", "\v": "\\v", "\\": "\\\\", '"': '\\"'}


def go_quote(text: str) -> str:
    """``text`` as Go's ``%q`` quotes it (printable characters kept, others escaped)."""
    out = []
    for ch in text:
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif 0xD800 <= ord(ch) <= 0xDFFF:
            out.append("\\ufffd")  # a lone surrogate is invalid UTF-8: Go prints U+FFFD
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'


_SUBSECOND_UNITS = ((1_000_000, "ms"), (1_000, "µs"), (1, "ns"))


def _fraction(value: int, digits: int) -> str:
    """``value`` (``digits`` decimals) as Go's ``fmtFrac`` prints it: trailing zeros and
    a bare point dropped."""
    whole, frac = divmod(value, 10 ** digits)
    text = f"{frac:0{digits}d}".rstrip("0")
    return f"{whole}.{text}" if text else str(whole)


def go_duration(nanoseconds: int) -> str:
    """Go's ``time.Duration.String`` of ``nanoseconds``: ``0s``, ``1.5ms``, ``15.012s``,
    ``1m0.5s``, ``2h3m4s`` (the shape ``metav1.Duration`` serializes to)."""
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    value = abs(nanoseconds)
    if value < 1_000_000_000:
        for unit, name in _SUBSECOND_UNITS:
            if value >= unit:
                digits = len(str(unit)) - 1
                return f"{sign}{_fraction(value, digits)}{name}"
    hours, rest = divmod(value, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    text = _fraction(rest, 9) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{text}"
    if minutes:
        return f"{sign}{minutes}m{text}"
    return sign + text
