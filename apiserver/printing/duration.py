"""Human-readable ages, as apimachinery ``duration.HumanDuration``.

Timestamps come from API objects as RFC 3339 strings; the clock is always
passed in (``now``) so output is deterministic in tests.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["UNKNOWN", "human_duration", "parse_time", "translate_timestamp_since"]

#: What upstream prints for a zero (missing) timestamp.
UNKNOWN = "<unknown>"

_US_PER_S = 1_000_000
_US_PER_M = 60 * _US_PER_S
_US_PER_H = 60 * _US_PER_M


def _trunc_div(a: int, b: int) -> int:
    """Integer division truncating toward zero, like Go's ``/`` on ints."""
    q = abs(a) // b
    return q if a >= 0 else -q


def human_duration(d: timedelta) -> str:
    """A succinct ~2-3 significant figure rendering of ``d``.

    ``<invalid>`` below -1s, ``0s`` for small negatives, then ``%ds`` below 2m,
    ``%dm%ds`` below 10m, ``%dm`` below 3h, ``%dh%dm`` below 8h, ``%dh`` below
    48h, ``%dd%dh`` below 8d, ``%dd`` below 2y, ``%dy%dd`` below 8y, else
    ``%dy`` (zero components are dropped: ``5m``, ``3h``, ``4d``, ``3y``).
    """
    us = d // timedelta(microseconds=1)
    seconds = _trunc_div(us, _US_PER_S)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60 * 2:
        return f"{seconds}s"
    minutes = us // _US_PER_M
    if minutes < 10:
        s = seconds % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = us // _US_PER_H
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y" if dy == 0 else f"{years}y{dy}d"
    return f"{hours // 24 // 365}y"


def parse_time(value: object) -> datetime | None:
    """Parse an RFC 3339 (optionally fractional) timestamp; ``None`` if absent/invalid.

    A timestamp without a zone is taken as UTC.
    """
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _aware(now: datetime) -> datetime:
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def translate_timestamp_since(value: object, now: datetime) -> str:
    """``human_duration(now - value)``, or ``<unknown>`` when ``value`` is missing.

    ``value`` is an RFC 3339 string (or an already parsed ``datetime``).
    """
    ts = value if isinstance(value, datetime) else parse_time(value)
    if ts is None:
        return UNKNOWN
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return human_duration(_aware(now) - ts)
