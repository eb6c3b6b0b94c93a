"""Cron schedules as CronJobs use them (robfig/cron's standard parser).

:func:`parse` reads the five fields ``minute hour day-of-month month day-of-week`` (lists
``a,b``, ranges ``a-b``, steps ``*/n``, ``a-b/n`` and ``a/n``, ``*`` and ``?``, month and
weekday names ``JAN``…``DEC``, ``SUN``…``SAT``) and the descriptors ``@yearly``,
``@annually``, ``@monthly``, ``@weekly``, ``@daily``, ``@midnight`` and ``@hourly``, and
``@every <Go duration>`` (e.g. ``@every 1h30m``: every interval after the previous time,
whole seconds, at least one second).
When both day fields are restricted a day matches either; when one of them is ``*``/``?``
both must match (cron's rule). Times are computed in a ``zoneinfo`` time zone: a wall-clock
minute that does not exist (DST gap) is skipped; an ambiguous one fires once, at its first
occurrence.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

__all__ = ["CronError", "Schedule", "parse"]

_MONTHS = {n: i + 1 for i, n in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])}
_DAYS = {n: i for i, n in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
_DESCRIPTORS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
#: How far ahead :meth:`Schedule.next` looks before giving up (e.g. ``0 0 30 2 *``).
_HORIZON_DAYS = 366 * 5


_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0,
                 "m": 60.0, "h": 3600.0}


class CronError(ValueError):
    """A schedule that does not parse."""


def _duration(text: str) -> timedelta:
    """A Go duration (``1h30m``, ``90s``, ``1.5h``), rounded to whole seconds, at least 1 s."""
    pos, total = 0, 0.0
    while pos < len(text):
        match = _DURATION_PART.match(text, pos)
        if match is None:
            raise CronError(f"failed to parse duration {text}")
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if not text or text == "0":
        raise CronError(f"failed to parse duration {text}")
    return timedelta(seconds=max(round(total), 1))


def _value(text: str, names: dict[str, int]) -> int:
    if text.lower() in names:
        return names[text.lower()]
    if not text.isdigit():
        raise CronError(f"failed to parse int from {text}")
    return int(text)


def _field(expr: str, low: int, high: int, names: dict[str, int]) -> tuple[frozenset[int], bool]:
    """The values of one field, and whether it is unrestricted (starts with ``*``/``?``)."""
    values: set[int] = set()
    for part in expr.split(","):
        rng, _, step_text = part.partition("/")
        step = _value(step_text, {}) if step_text else 1
        if rng in ("*", "?"):
            start, end = low, high
        else:
            first, _, last = rng.partition("-")
            start = _value(first, names)
            end = _value(last, names) if last else (high if step_text else start)
        if start < low or end > high or start > end or step < 1:
            raise CronError(f"out of range or invalid: {part}")
        values.update(range(start, end + 1, step))
    return frozenset(values), expr.startswith(("*", "?"))


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule; :meth:`next` gives fire times."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    any_day: bool
    any_weekday: bool
    #: The interval of an ``@every`` schedule (None for calendar schedules).
    every: timedelta | None = None

    def _day_matches(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        dom = day.day in self.days
        dow = (day.weekday() + 1) % 7 in self.weekdays
        if self.any_day or self.any_weekday:
            return dom and dow
        return dom or dow

    def times(self, after: datetime, tz: tzinfo = UTC) -> Iterator[datetime]:
        """Fire times strictly after ``after`` (aware), ascending, as aware UTC datetimes.

        An ``@every`` schedule fires ``every`` after ``after`` (its sub-second part dropped),
        then every ``every`` again; the time zone does not matter to it.
        """
        if self.every is not None:
            when = after.astimezone(UTC).replace(microsecond=0)
            while True:
                when += self.every
                yield when
        local = after.astimezone(tz)
        day = local.date()
        for _ in range(_HORIZON_DAYS):
            if self._day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        wall = datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
                        utc = wall.astimezone(UTC)
                        if utc.astimezone(tz).replace(tzinfo=None) != wall.replace(tzinfo=None):
                            continue  # skipped by a DST gap
                        if utc > after:
                            yield utc
            day += timedelta(days=1)

    def next(self, after: datetime, tz: tzinfo = UTC) -> datetime | None:
        """The first fire time strictly after ``after`` (None within five years)."""
        return next(self.times(after, tz), None)


def parse(schedule: str) -> Schedule:
    """Parse a standard cron schedule or descriptor; :class:`CronError` when invalid."""
    text = schedule.strip()
    if text.startswith("TZ=") or text.startswith("CRON_TZ="):
        raise CronError("time zones in the schedule are not supported; use spec.timeZone")
    if text.lower().startswith("@every "):
        every = _duration(text[len("@every "):].strip())
        none: frozenset[int] = frozenset()
        return Schedule(none, none, none, none, none, True, True, every)
    text = _DESCRIPTORS.get(text.lower(), text)
    if text.startswith("@"):
        raise CronError(f"unrecognized descriptor: {text}")
    fields = text.split()
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: {schedule}")
    minutes, _ = _field(fields[0], 0, 59, {})
    hours, _ = _field(fields[1], 0, 23, {})
    days, any_day = _field(fields[2], 1, 31, {})
    months, _ = _field(fields[3], 1, 12, _MONTHS)
    weekdays, any_weekday = _field(fields[4], 0, 6, _DAYS)
    return Schedule(minutes, hours, days, months, weekdays, any_day, any_weekday)
