"""Cron schedule parsing and next-time computation, with time zones."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from controllers.batch.cron import CronError, parse

T0 = datetime(2026, 3, 7, 12, 0, 30, tzinfo=UTC)  # a Saturday


def _next(schedule: str, after: datetime = T0, tz: str = "UTC") -> datetime | None:
    return parse(schedule).next(after, ZoneInfo(tz))


def test_every_minute_and_descriptors() -> None:
    assert _next("* * * * *") == datetime(2026, 3, 7, 12, 1, tzinfo=UTC)
    assert _next("@hourly") == datetime(2026, 3, 7, 13, 0, tzinfo=UTC)
    assert _next("@daily") == _next("@midnight") == datetime(2026, 3, 8, tzinfo=UTC)
    assert _next("@weekly") == datetime(2026, 3, 8, tzinfo=UTC)  # Sunday
    assert _next("@monthly") == datetime(2026, 4, 1, tzinfo=UTC)
    assert _next("@yearly") == _next("@annually") == datetime(2027, 1, 1, tzinfo=UTC)


def test_lists_ranges_steps_and_names() -> None:
    assert _next("*/15 9-17 * * MON-FRI") == datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
    assert _next("5,10 12 * * *") == datetime(2026, 3, 7, 12, 5, tzinfo=UTC)
    assert _next("0 0 1 jan,jul ?") == datetime(2026, 7, 1, tzinfo=UTC)
    assert _next("30/10 12 * * *") == datetime(2026, 3, 7, 12, 30, tzinfo=UTC)
    assert _next("0 0 29 2 *") == datetime(2028, 2, 29, tzinfo=UTC)


def test_day_of_month_or_day_of_week_when_both_restricted() -> None:
    # The 10th, or any Monday: Monday the 9th comes first.
    assert _next("0 0 10 * 1") == datetime(2026, 3, 9, tzinfo=UTC)
    # With the weekday unrestricted only the day of month counts.
    assert _next("0 0 10 * *") == datetime(2026, 3, 10, tzinfo=UTC)


def test_time_zones_and_dst() -> None:
    # 09:00 in Tokyo is 00:00 UTC.
    assert _next("0 9 * * *", tz="Asia/Tokyo") == datetime(2026, 3, 8, 0, 0, tzinfo=UTC)
    # New York springs forward on 2026-03-08: 02:30 does not exist that day.
    ny = [t for _, t in zip(range(2), parse("30 2 * * *").times(T0, ZoneInfo(
        "America/New_York")), strict=False)]
    assert ny == [datetime(2026, 3, 9, 6, 30, tzinfo=UTC), datetime(2026, 3, 10, 6, 30,
                                                                    tzinfo=UTC)]
    # Before the change 02:30 EST is 07:30 UTC.
    assert _next("30 2 * * *", datetime(2026, 3, 1, tzinfo=UTC), "America/New_York") == \
        datetime(2026, 3, 1, 7, 30, tzinfo=UTC)


def test_every() -> None:
    every = parse("@every 1h30m")
    assert every.next(T0) == datetime(2026, 3, 7, 13, 30, 30, tzinfo=UTC)
    assert parse("@every 90s").next(T0) == datetime(2026, 3, 7, 12, 2, 0, tzinfo=UTC)
    assert parse("@every 1.5h").every == every.every


@pytest.mark.parametrize("bad", ["", "* * * *", "@every", "@every 5x", "60 * * * *",
                                 "* 24 * * *", "* * 0 * *",
                                 "* * * 13 *", "* * * * 7", "*/0 * * * *", "@reboot",
                                 "5-1 * * * *", "x * * * *"])
def test_invalid_schedules(bad: str) -> None:
    with pytest.raises(CronError):
        parse(bad)
