"""EventBridge Scheduler expressions: fire times, validation, and properties checked by an oracle."""

from __future__ import annotations

import calendar
import itertools
import re
import time
from collections.abc import Callable
from dataclasses import FrozenInstanceError
from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.campaigns.schedules import InvalidSchedule, ScheduleExpression


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def fires(expression: str, timezone: str, start: str, end: str) -> list[str]:
    schedule = ScheduleExpression.parse(expression, timezone)
    return [t.strftime("%Y-%m-%dT%H:%M:%S") for t in schedule.occurrences(utc(start), utc(end))]


# --------------------------------------------------------------------------------------------------
# Table-driven fire times (all instants UTC)
# --------------------------------------------------------------------------------------------------

FIRE_TIMES = [
    pytest.param(
        "cron(0 10 ? * SAT *)",
        "Asia/Jakarta",
        "2026-11-20T00:00",
        "2026-12-10T00:00",
        ["2026-11-21T03:00:00", "2026-11-28T03:00:00", "2026-12-05T03:00:00"],
        id="weekly-saturday-10am-jakarta",
    ),
    pytest.param(
        "cron(0 10 ? * 7 *)",
        "Asia/Jakarta",
        "2026-11-28T03:00",
        "2026-12-05T03:00",
        ["2026-12-05T03:00:00"],
        id="numeric-saturday-window-is-start-exclusive-end-inclusive",
    ),
    pytest.param(
        "cron(0 10 * * ? *)",
        "UTC",
        "2026-01-01T00:00",
        "2026-01-03T23:59",
        ["2026-01-01T10:00:00", "2026-01-02T10:00:00", "2026-01-03T10:00:00"],
        id="daily-utc",
    ),
    pytest.param(
        "cron(0 12 L * ? *)",
        "UTC",
        "2026-01-01T00:00",
        "2026-05-01T00:00",
        ["2026-01-31T12:00:00", "2026-02-28T12:00:00", "2026-03-31T12:00:00", "2026-04-30T12:00:00"],
        id="last-day-of-month",
    ),
    pytest.param(
        "cron(0 12 L 2 ? *)",
        "UTC",
        "2027-03-01T00:00",
        "2029-03-01T00:00",
        ["2028-02-29T12:00:00", "2029-02-28T12:00:00"],
        id="last-day-of-february-leap-year",
    ),
    pytest.param(
        "cron(0 8 ? * 6#3 *)",
        "UTC",
        "2026-01-01T00:00",
        "2026-04-01T00:00",
        ["2026-01-16T08:00:00", "2026-02-20T08:00:00", "2026-03-20T08:00:00"],
        id="third-friday",
    ),
    pytest.param(
        "cron(0 8 ? * FRI#3 *)",
        "UTC",
        "2026-01-01T00:00",
        "2026-02-01T00:00",
        ["2026-01-16T08:00:00"],
        id="third-friday-by-name",
    ),
    pytest.param(
        "cron(0 8 ? * 5#5 *)",
        "UTC",
        "2026-01-01T00:00",
        "2026-05-01T00:00",
        ["2026-01-29T08:00:00", "2026-04-30T08:00:00"],
        id="fifth-thursday-only-in-months-that-have-one",
    ),
    pytest.param(
        "cron(0 9 ? * 5L *)",
        "UTC",
        "2026-10-01T00:00",
        "2026-12-01T00:00",
        ["2026-10-29T09:00:00", "2026-11-26T09:00:00"],
        id="last-thursday",
    ),
    pytest.param(
        "cron(0 9 ? * L 2026)",
        "UTC",
        "2026-12-20T00:00",
        "2027-01-20T00:00",
        ["2026-12-26T09:00:00"],
        id="day-of-week-L-is-saturday-and-year-bounds",
    ),
    pytest.param(
        "cron(0 9 1W * ? *)",
        "UTC",
        "2026-07-15T00:00",
        "2026-09-15T00:00",
        ["2026-08-03T09:00:00", "2026-09-01T09:00:00"],
        id="1W-saturday-first-moves-forward-to-monday",
    ),
    pytest.param(
        "cron(0 9 31W * ? *)",
        "UTC",
        "2026-05-01T00:00",
        "2026-07-15T00:00",
        ["2026-05-29T09:00:00"],
        id="31W-sunday-last-moves-back-to-friday-and-skips-30-day-months",
    ),
    pytest.param(
        "cron(0 9 15W * ? *)",
        "UTC",
        "2026-08-01T00:00",
        "2026-12-01T00:00",
        ["2026-08-14T09:00:00", "2026-09-15T09:00:00", "2026-10-15T09:00:00", "2026-11-16T09:00:00"],
        id="15W-saturday-to-friday-sunday-to-monday",
    ),
    pytest.param(
        "cron(0 9 LW * ? *)",
        "UTC",
        "2026-04-15T00:00",
        "2026-06-01T00:00",
        ["2026-04-30T09:00:00", "2026-05-29T09:00:00"],
        id="last-weekday-of-month",
    ),
    pytest.param(
        "cron(0 0 1,15 JAN,JUL ? *)",
        "UTC",
        "2026-01-01T00:00",
        "2027-01-01T00:00",
        ["2026-01-15T00:00:00", "2026-07-01T00:00:00", "2026-07-15T00:00:00", "2027-01-01T00:00:00"],
        id="lists-and-month-names",
    ),
    pytest.param(
        "cron(5-59/20 0 * * ? *)",
        "UTC",
        "2026-01-01T00:00",
        "2026-01-01T23:00",
        ["2026-01-01T00:05:00", "2026-01-01T00:25:00", "2026-01-01T00:45:00"],
        id="range-with-increment",
    ),
    pytest.param(
        "cron(1/10 0 * * ? *)",
        "UTC",
        "2026-01-01T00:00",
        "2026-01-01T00:30",
        ["2026-01-01T00:01:00", "2026-01-01T00:11:00", "2026-01-01T00:21:00"],
        id="start-with-increment-aws-example",
    ),
    pytest.param(
        "cron(0 0 1/10 * ? *)",
        "UTC",
        "2026-02-01T00:00",
        "2026-03-01T00:00",
        ["2026-02-11T00:00:00", "2026-02-21T00:00:00", "2026-03-01T00:00:00"],
        id="day-of-month-increment",
    ),
    pytest.param(
        "cron(30 0 * * ? *)",
        "Asia/Kolkata",
        "2026-01-01T00:00",
        "2026-01-02T00:00",
        ["2026-01-01T19:00:00"],
        id="half-hour-offset-zone-crosses-utc-date",
    ),
    # America/New_York: clocks go 02:00 -> 03:00 on 2026-03-08 and 02:00 -> 01:00 on 2026-11-01.
    pytest.param(
        "cron(30 2 * * ? *)",
        "America/New_York",
        "2026-03-06T00:00",
        "2026-03-10T12:00",
        ["2026-03-06T07:30:00", "2026-03-07T07:30:00", "2026-03-09T06:30:00", "2026-03-10T06:30:00"],
        id="new-york-spring-forward-nonexistent-time-skipped",
    ),
    pytest.param(
        "cron(0 10 * * ? *)",
        "America/New_York",
        "2026-03-07T00:00",
        "2026-03-09T00:00",
        ["2026-03-07T15:00:00", "2026-03-08T14:00:00"],
        id="new-york-wall-clock-kept-across-spring-forward",
    ),
    pytest.param(
        "cron(30 1 * * ? *)",
        "America/New_York",
        "2026-10-31T00:00",
        "2026-11-03T00:00",
        ["2026-10-31T05:30:00", "2026-11-01T05:30:00", "2026-11-02T06:30:00"],
        id="new-york-fall-back-ambiguous-time-fires-once-first-occurrence",
    ),
    pytest.param(
        "cron(0/30 * * * ? *)",
        "America/New_York",
        "2026-11-01T04:00",
        "2026-11-01T08:00",
        [
            "2026-11-01T04:30:00",
            "2026-11-01T05:00:00",
            "2026-11-01T05:30:00",
            "2026-11-01T07:00:00",
            "2026-11-01T07:30:00",
            "2026-11-01T08:00:00",
        ],
        id="new-york-repeated-hour-not-repeated",
    ),
    pytest.param(
        "cron(0/30 * * * ? *)",
        "America/New_York",
        "2026-03-08T06:00",
        "2026-03-08T08:00",
        ["2026-03-08T06:30:00", "2026-03-08T07:00:00", "2026-03-08T07:30:00", "2026-03-08T08:00:00"],
        id="new-york-missing-hour-has-no-fires",
    ),
    # Europe/Berlin: 02:00 -> 03:00 on 2026-03-29 and 03:00 -> 02:00 on 2026-10-25.
    pytest.param(
        "cron(30 2 ? * SUN *)",
        "Europe/Berlin",
        "2026-03-20T00:00",
        "2026-04-06T00:00",
        ["2026-03-22T01:30:00", "2026-04-05T00:30:00"],
        id="berlin-spring-forward-sunday-skipped",
    ),
    pytest.param(
        "cron(30 2 ? * SUN *)",
        "Europe/Berlin",
        "2026-10-20T00:00",
        "2026-11-02T00:00",
        ["2026-10-25T00:30:00", "2026-11-01T01:30:00"],
        id="berlin-fall-back-first-occurrence",
    ),
    pytest.param(
        "cron(0 9 ? * MON *)",
        "Europe/Berlin",
        "2026-03-20T00:00",
        "2026-04-07T00:00",
        ["2026-03-23T08:00:00", "2026-03-30T07:00:00", "2026-04-06T07:00:00"],
        id="berlin-weekly-follows-the-wall-clock",
    ),
    pytest.param(
        "at(2026-11-28T10:00:00)",
        "Asia/Jakarta",
        "2026-01-01T00:00",
        "2027-01-01T00:00",
        ["2026-11-28T03:00:00"],
        id="at-in-zone",
    ),
    pytest.param(
        "at(2026-11-28T10:00:00)",
        "UTC",
        "2026-11-28T10:00",
        "2027-01-01T00:00",
        [],
        id="at-excluded-when-equal-to-window-start",
    ),
    pytest.param(
        "at(2026-11-28T10:00:00)",
        "UTC",
        "2026-01-01T00:00",
        "2026-11-28T10:00",
        ["2026-11-28T10:00:00"],
        id="at-included-when-equal-to-window-end",
    ),
    pytest.param(
        "at(2026-11-28T10:00:30)",
        "UTC",
        "2026-11-28T10:00",
        "2026-11-28T10:01",
        ["2026-11-28T10:00:30"],
        id="at-keeps-seconds",
    ),
    pytest.param(
        "at(2026-03-08T02:30:00)",
        "America/New_York",
        "2026-03-01T00:00",
        "2026-03-31T00:00",
        ["2026-03-08T07:00:00"],
        id="at-in-spring-gap-fires-when-the-clocks-jump",
    ),
    pytest.param(
        "at(2026-11-01T01:30:00)",
        "America/New_York",
        "2026-10-01T00:00",
        "2026-11-30T00:00",
        ["2026-11-01T05:30:00"],
        id="at-ambiguous-first-occurrence",
    ),
    pytest.param(
        "rate(5 minutes)",
        "UTC",
        "2026-01-01T00:02",
        "2026-01-01T00:17",
        ["2026-01-01T00:05:00", "2026-01-01T00:10:00", "2026-01-01T00:15:00"],
        id="rate-minutes-anchored-at-epoch",
    ),
    pytest.param(
        "rate(1 hour)",
        "UTC",
        "2026-01-01T00:00",
        "2026-01-01T02:00",
        ["2026-01-01T01:00:00", "2026-01-01T02:00:00"],
        id="rate-one-hour",
    ),
    pytest.param(
        "rate(1 day)",
        "America/New_York",
        "2026-03-07T00:00",
        "2026-03-09T23:00",
        ["2026-03-08T00:00:00", "2026-03-09T00:00:00"],
        id="rate-days-are-24-hours-whatever-the-zone",
    ),
]


@pytest.mark.parametrize(("expression", "timezone", "start", "end", "expected"), FIRE_TIMES)
def test_fire_times(expression: str, timezone: str, start: str, end: str, expected: list[str]) -> None:
    assert fires(expression, timezone, start, end) == expected


def test_business_hours_every_quarter_hour() -> None:
    schedule = ScheduleExpression.parse("cron(0/15 9-17 ? * MON-FRI *)", "UTC")
    got = list(schedule.occurrences(utc("2026-01-04T00:00"), utc("2026-01-11T00:00")))
    assert len(got) == 5 * 9 * 4
    assert got[:5] == [
        utc("2026-01-05T09:00"),
        utc("2026-01-05T09:15"),
        utc("2026-01-05T09:30"),
        utc("2026-01-05T09:45"),
        utc("2026-01-05T10:00"),
    ]
    assert got[-1] == utc("2026-01-09T17:45")
    assert {t.date() for t in got} == {date(2026, 1, day) for day in range(5, 10)}
    assert {(t.hour, t.minute) for t in got} == {(h, m) for h in range(9, 18) for m in (0, 15, 30, 45)}


def test_fire_times_are_aware_utc() -> None:
    got = list(
        ScheduleExpression.parse("cron(0 10 ? * SAT *)", "Asia/Jakarta").occurrences(
            datetime(2026, 11, 27, tzinfo=ZoneInfo("Asia/Jakarta")), utc("2026-11-29T00:00")
        )
    )
    assert got == [utc("2026-11-28T03:00")]
    assert got[0].tzinfo is UTC


# --------------------------------------------------------------------------------------------------
# next_after, start dates, rates
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "timezone", "after", "expected"),
    [
        ("cron(0 0 29 2 ? *)", "UTC", "2024-02-29T00:00", "2028-02-29T00:00"),
        ("cron(0 0 29 2 ? *)", "UTC", "2026-03-01T00:00", "2028-02-29T00:00"),
        ("cron(0 10 ? * SAT *)", "Asia/Jakarta", "2026-11-28T03:00", "2026-12-05T03:00"),
        ("cron(0 10 ? * SAT *)", "Asia/Jakarta", "2026-11-28T02:59:59.999999", "2026-11-28T03:00"),
        ("cron(0 0 1 1 ? 2199)", "UTC", "2026-01-01T00:00", "2199-01-01T00:00"),
        ("cron(0 0 1 1 ? 2199)", "UTC", "2199-01-01T00:00", None),
        ("cron(0 0 1 1 ? 1970-1980)", "UTC", "2026-01-01T00:00", None),
        ("cron(0 0 31 2 ? *)", "UTC", "2026-01-01T00:00", None),
        ("cron(0 0 1 1 ? *)", "UTC", "1900-01-01T00:00", "1970-01-01T00:00"),
        ("at(2026-11-28T10:00:00)", "UTC", "2026-11-28T09:59", "2026-11-28T10:00"),
        ("at(2026-11-28T10:00:00)", "UTC", "2026-11-28T10:00", None),
        ("rate(5 minutes)", "UTC", "2026-01-01T00:05", "2026-01-01T00:10"),
        ("rate(7 days)", "UTC", "1969-01-01T00:00", "1970-01-01T00:00"),
    ],
)
def test_next_after(expression: str, timezone: str, after: str, expected: str | None) -> None:
    got = ScheduleExpression.parse(expression, timezone).next_after(utc(after))
    assert got == (utc(expected) if expected else None)


def test_rare_schedules_are_found_without_minute_stepping() -> None:
    began = time.perf_counter()
    assert ScheduleExpression.parse("cron(0 0 29 2 ? *)").next_after(utc("2028-03-01T00:00")) == utc(
        "2032-02-29T00:00"
    )
    assert ScheduleExpression.parse("cron(0 0 31 2 ? *)").next_after(utc("2026-01-01T00:00")) is None
    assert time.perf_counter() - began < 1.0


def test_per_minute_cron_over_fourteen_days_is_fast() -> None:
    schedule = ScheduleExpression.parse("cron(* * * * ? *)", "Europe/Berlin")
    began = time.perf_counter()
    got = list(schedule.occurrences(utc("2026-03-20T00:00"), utc("2026-04-03T00:00")))
    assert time.perf_counter() - began < 2.0
    assert len(got) == 14 * 24 * 60
    assert got[0] == utc("2026-03-20T00:01") and got[-1] == utc("2026-04-03T00:00")


def test_rate_is_anchored_at_start() -> None:
    anchor = datetime(2026, 3, 7, 10, 0, tzinfo=ZoneInfo("America/New_York"))
    schedule = ScheduleExpression.parse("rate(1 day)", "America/New_York", start=anchor)
    got = list(schedule.occurrences(utc("2026-03-01T00:00"), utc("2026-03-10T00:00")))
    assert got == [utc("2026-03-07T15:00"), utc("2026-03-08T15:00"), utc("2026-03-09T15:00")]
    assert schedule.next_after(utc("2026-03-07T15:00")) == utc("2026-03-08T15:00")


def test_rate_fires_at_start_itself() -> None:
    schedule = ScheduleExpression("rate(2 hours)", start=utc("2026-05-01T09:17:30"))
    assert schedule.next_after(utc("2026-05-01T09:17:29")) == utc("2026-05-01T09:17:30")
    assert list(schedule.occurrences(utc("2026-05-01T09:17:30"), utc("2026-05-01T13:17:30"))) == [
        utc("2026-05-01T11:17:30"),
        utc("2026-05-01T13:17:30"),
    ]


def test_cron_start_date_is_a_lower_bound() -> None:
    schedule = ScheduleExpression("cron(0 10 * * ? *)", start=utc("2026-06-03T10:00"))
    got = list(schedule.occurrences(utc("2026-06-01T00:00"), utc("2026-06-05T00:00")))
    assert got == [utc("2026-06-03T10:00"), utc("2026-06-04T10:00")]
    assert schedule.next_after(utc("2026-01-01T00:00")) == utc("2026-06-03T10:00")


def test_at_ignores_start_date_like_aws() -> None:
    schedule = ScheduleExpression("at(2026-06-01T10:00:00)", start=utc("2026-07-01T00:00"))
    assert schedule.next_after(utc("2026-01-01T00:00")) == utc("2026-06-01T10:00")


def test_empty_or_reversed_windows() -> None:
    schedule = ScheduleExpression("cron(* * * * ? *)")
    assert list(schedule.occurrences(utc("2026-01-01T00:00"), utc("2026-01-01T00:00"))) == []
    assert list(schedule.occurrences(utc("2026-01-02T00:00"), utc("2026-01-01T00:00"))) == []
    assert list(ScheduleExpression("rate(1 minute)").occurrences(utc("2026-01-02"), utc("2026-01-01"))) == []


def test_extreme_instants_do_not_overflow() -> None:
    far_past = datetime.min.replace(tzinfo=UTC)
    far_future = datetime.max.replace(tzinfo=UTC)
    assert ScheduleExpression("cron(0 0 1 1 ? *)", "Pacific/Kiritimati").next_after(far_past) == datetime(
        1970, 1, 1, tzinfo=ZoneInfo("Pacific/Kiritimati")
    )
    assert ScheduleExpression("cron(0 0 1 1 ? *)", "Pacific/Kiritimati").next_after(far_future) is None
    assert ScheduleExpression("rate(1 day)").next_after(far_future) is None


def test_value_semantics() -> None:
    schedule = ScheduleExpression.parse("rate(1 day)", "Europe/Berlin")
    assert schedule == ScheduleExpression("rate(1 day)", "Europe/Berlin")
    assert hash(schedule) == hash(ScheduleExpression("rate(1 day)", "Europe/Berlin"))
    assert schedule != ScheduleExpression("rate(1 day)")
    assert (
        repr(schedule) == "ScheduleExpression(expression='rate(1 day)', timezone='Europe/Berlin', start=None)"
    )
    with pytest.raises(FrozenInstanceError):
        schedule.expression = "rate(2 days)"  # type: ignore[misc]


@pytest.mark.parametrize("expression", ["cron(0 10 ? * mon-fri *)", "cron(0 10 ? jan,jul 2#1 *)"])
def test_names_are_case_insensitive(expression: str) -> None:
    assert ScheduleExpression.parse(expression).next_after(utc("2026-01-01T00:00")) is not None


# --------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------

INVALID = [
    # shape
    ("", "UTC", "'' is not a schedule expression; expected at(...), rate(...) or cron(...)"),
    ("every day", "UTC", "'every day' is not a schedule expression"),
    ("0 10 * * ? *", "UTC", "is not a schedule expression"),
    ("CRON(0 10 * * ? *)", "UTC", "is not a schedule expression"),
    (
        "cron(0 10 * * ?)",
        "UTC",
        "cron(0 10 * * ?): expected 6 fields (minutes hours day-of-month month day-of-week year), got 5",
    ),
    (
        "cron(0 0 10 * * ? *)",
        "UTC",
        "expected 6 fields (minutes hours day-of-month month day-of-week year), got 7",
    ),
    # ranges of single values
    ("cron(0 25 * * ? *)", "UTC", "cron(0 25 * * ? *): hour 25 is out of range 0-23"),
    ("cron(60 10 * * ? *)", "UTC", "minute 60 is out of range 0-59"),
    ("cron(0 10 0 * ? *)", "UTC", "day-of-month 0 is out of range 1-31"),
    ("cron(0 10 32 * ? *)", "UTC", "day-of-month 32 is out of range 1-31"),
    ("cron(0 10 1 13 ? *)", "UTC", "month 13 is out of range 1-12"),
    ("cron(0 10 ? * 0 *)", "UTC", "day-of-week 0 is out of range 1-7"),
    ("cron(0 10 ? * 8 *)", "UTC", "day-of-week 8 is out of range 1-7"),
    ("cron(0 10 * * ? 1969)", "UTC", "year 1969 is out of range 1970-2199"),
    ("cron(0 10 * * ? 2200)", "UTC", "year 2200 is out of range 1970-2199"),
    ("cron(0 10 * * ? 2026-2200)", "UTC", "year 2200 is out of range 1970-2199"),
    ("cron(0 10 ? * FOO *)", "UTC", "day-of-week value 'FOO' is not valid; expected 1-7 or SUN-SAT"),
    ("cron(0 10 1 JANUARY ? *)", "UTC", "month value 'JANUARY' is not valid; expected 1-12 or JAN-DEC"),
    ("cron(0 MON * * ? *)", "UTC", "hour value 'MON' is not valid; expected 0-23"),
    ("cron(\u0663 10 * * ? *)", "UTC", "minute item '\u0663' is not a value, range or increment"),
    ("cron(0 10 \u00b2W * ? *)", "UTC", "day-of-month '\u00b2W': 'W' must follow a single day"),
    ("cron(0 10 ? * 6#\u00b2 *)", "UTC", "'#' takes a single expression like 6#3"),
    ("at(\uff12\uff10\uff12\uff16-11-28T10:00:00)", "UTC", "expected at(yyyy-mm-ddThh:mm:ss)"),
    # list / range / increment syntax
    ("cron(0 10-8 * * ? *)", "UTC", "hour range 10-8 runs backwards; write it low-high"),
    ("cron(0 10 ? * FRI-MON *)", "UTC", "day-of-week range FRI-MON runs backwards"),
    ("cron(0/0 10 * * ? *)", "UTC", "minute increment 0 is out of range 1-59"),
    ("cron(0/60 10 * * ? *)", "UTC", "minute increment 60 is out of range 1-59"),
    ("cron(0 */24 * * ? *)", "UTC", "hour increment 24 is out of range 1-23"),
    ("cron(1,,2 10 * * ? *)", "UTC", "minute item '' is not a value, range or increment"),
    ("cron(1-2-3 10 * * ? *)", "UTC", "minute item '1-2-3' is not a value, range or increment"),
    ("cron(1/2/3 10 * * ? *)", "UTC", "minute item '1/2/3' is not a value, range or increment"),
    ("cron(-5 10 * * ? *)", "UTC", "minute item '-5' is not a value, range or increment"),
    ("cron(0 10 ? * 2/2 *)", "UTC", "'/' increments are not allowed in day-of-week"),
    # ? rules
    ("cron(0 10 * * MON *)", "UTC", "day-of-month and day-of-week cannot both be specified; use '?' in one"),
    ("cron(0 10 1 * 2 *)", "UTC", "day-of-month and day-of-week cannot both be specified"),
    ("cron(0 10 ? * ? *)", "UTC", "day-of-month and day-of-week cannot both be '?'"),
    ("cron(? 10 * * ? *)", "UTC", "'?' is only allowed in day-of-month or day-of-week, not in minute"),
    ("cron(0 10 * * ? ?)", "UTC", "'?' is only allowed in day-of-month or day-of-week, not in year"),
    ("cron(0 10 1,? * ? *)", "UTC", "day-of-month '1,?': '?' must stand alone"),
    ("cron(0 10 * * ?,2 *)", "UTC", "day-of-week '?,2': '?' must stand alone"),
    ("cron(0 10 1-? * ? *)", "UTC", "day-of-month '1-?': '?' must stand alone"),
    ("cron(0 10 ?,1 * * *)", "UTC", "day-of-month '?,1': '?' must stand alone"),
    # L, W, #
    ("cron(L 10 * * ? *)", "UTC", "'L' is only allowed in day-of-month or day-of-week, not in minute"),
    ("cron(0 10 * L ? *)", "UTC", "'L' is only allowed in day-of-month or day-of-week, not in month"),
    (
        "cron(0 10 1,L * ? *)",
        "UTC",
        "day-of-month '1,L': 'L' and 'W' must stand alone, as L, LW or a day like 15W",
    ),
    ("cron(0 10 L-2 * ? *)", "UTC", "day-of-month offset 'L-2' is not supported; use L or LW"),
    ("cron(0 10 W * ? *)", "UTC", "day-of-month 'W': 'W' must follow a single day, as in 15W or LW"),
    ("cron(0 10 1-5W * ? *)", "UTC", "day-of-month '1-5W': 'W' must follow a single day, as in 15W or LW"),
    ("cron(0 10 32W * ? *)", "UTC", "day-of-month 32 is out of range 1-31"),
    ("cron(0 10 ? * LW *)", "UTC", "'W' is only allowed in day-of-month, not in day-of-week"),
    ("cron(0 W * * ? *)", "UTC", "'W' is only allowed in day-of-month, not in hour"),
    (
        "cron(0 10 ? * 2,L *)",
        "UTC",
        "day-of-week '2,L': 'L' must stand alone, as L (Saturday) or a weekday like 5L",
    ),
    ("cron(0 10 ? * 8L *)", "UTC", "day-of-week 8 is out of range 1-7"),
    (
        "cron(0 10 ? * 3#1,6#3 *)",
        "UTC",
        "'#' takes a single expression like 6#3 (third Friday); lists such as "
        "3#1,6#3 are rejected by EventBridge",
    ),
    ("cron(0 10 ? * 6#6 *)", "UTC", "day-of-week '6#6': occurrence 6 is out of range 1-5"),
    ("cron(0 10 ? * 6#0 *)", "UTC", "occurrence 0 is out of range 1-5"),
    ("cron(0 10 ? * 9#2 *)", "UTC", "day-of-week 9 is out of range 1-7"),
    ("cron(0 10 ? * 6# *)", "UTC", "'#' takes a single expression like 6#3"),
    (
        "cron(0 10 1#2 * ? *)",
        "UTC",
        "'#' is only allowed in day-of-week (a single expression like 6#3), not in day-of-month",
    ),
    # rate
    ("rate(1 days)", "UTC", "rate(1 days): a rate of 1 takes the singular unit, rate(1 day)"),
    ("rate(1 minutes)", "UTC", "a rate of 1 takes the singular unit, rate(1 minute)"),
    ("rate(5 minute)", "UTC", "rate(5 minute): a rate of 5 takes the plural unit, rate(5 minutes)"),
    ("rate(2 hour)", "UTC", "a rate of 2 takes the plural unit, rate(2 hours)"),
    ("rate(0 minutes)", "UTC", "rate value '0' must be a positive whole number"),
    ("rate(-1 minutes)", "UTC", "rate value '-1' must be a positive whole number"),
    ("rate(1.5 hours)", "UTC", "rate value '1.5' must be a positive whole number"),
    ("rate(05 minutes)", "UTC", "rate value '05' must be a positive whole number"),
    ("rate(5 weeks)", "UTC", "rate unit 'weeks' must be minute(s), hour(s) or day(s)"),
    ("rate(5 Minutes)", "UTC", "rate unit 'Minutes' must be minute(s), hour(s) or day(s)"),
    ("rate(5)", "UTC", "rate(5): expected rate(value unit), e.g. rate(5 minutes)"),
    ("rate(5  minutes)", "UTC", "expected rate(value unit)"),
    ("rate(99999999999999 days)", "UTC", "rate value 99999999999999 is too large"),
    # at
    ("at(2026-11-28 10:00:00)", "UTC", "at(2026-11-28 10:00:00): expected at(yyyy-mm-ddThh:mm:ss)"),
    ("at(2026-11-28T10:00)", "UTC", "expected at(yyyy-mm-ddThh:mm:ss), e.g. at(2026-11-28T10:00:00)"),
    ("at(2026-11-28T10:00:00Z)", "UTC", "expected at(yyyy-mm-ddThh:mm:ss)"),
    ("at(2026-02-30T10:00:00)", "UTC", "at(2026-02-30T10:00:00): day is out of range for month"),
    ("at(2026-11-28T24:00:00)", "UTC", "at(2026-11-28T24:00:00): hour must be in 0..23"),
    ("at(0000-01-01T00:00:00)", "UTC", "at(0000-01-01T00:00:00): year 0 is out of range"),
    (
        "at(0001-01-01T00:00:00)",
        "Asia/Tokyo",
        "at(0001-01-01T00:00:00): outside the representable range in Asia/Tokyo",
    ),
    # time zones
    ("rate(1 day)", "Mars/Olympus_Mons", "time zone 'Mars/Olympus_Mons' is not an IANA time zone name"),
    ("rate(1 day)", "", "time zone '' is not an IANA time zone name"),
    ("rate(1 day)", "utc", "time zone 'utc' is not an IANA time zone name"),
    ("rate(1 day)", "../etc/passwd", "time zone '../etc/passwd' is not an IANA time zone name"),
    ("rate(1 day)", "/usr/share/zoneinfo/UTC", "is not an IANA time zone name"),
    ("rate(1 day)", "localtime", "time zone 'localtime' is not an IANA time zone name"),
]


@pytest.mark.parametrize(("expression", "timezone", "message"), INVALID)
def test_invalid_expressions_are_rejected_with_a_reason(expression: str, timezone: str, message: str) -> None:
    with pytest.raises(InvalidSchedule, match=re.escape(message)):
        ScheduleExpression.parse(expression, timezone)
    with pytest.raises(ValueError, match=re.escape(message)):
        ScheduleExpression(expression, timezone)


def test_invalid_argument_types() -> None:
    with pytest.raises(InvalidSchedule, match="schedule expression must be a string, got int"):
        ScheduleExpression(5)  # type: ignore[arg-type]
    with pytest.raises(InvalidSchedule, match="time zone None is not an IANA time zone name"):
        ScheduleExpression("rate(1 day)", None)  # type: ignore[arg-type]
    with pytest.raises(InvalidSchedule, match=r"rate\(1 day\): start must be a timezone-aware datetime"):
        ScheduleExpression.parse("rate(1 day)", start=datetime(2026, 1, 1))


def test_naive_window_bounds_are_rejected() -> None:
    schedule = ScheduleExpression("rate(1 day)")
    with pytest.raises(ValueError, match="start must be a timezone-aware datetime"):
        schedule.occurrences(datetime(2026, 1, 1), utc("2026-01-02T00:00"))
    with pytest.raises(ValueError, match="end must be a timezone-aware datetime"):
        schedule.occurrences(utc("2026-01-01T00:00"), datetime(2026, 1, 2))
    with pytest.raises(ValueError, match="t must be a timezone-aware datetime"):
        schedule.next_after(datetime(2026, 1, 1))


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 10 * * ? *)",
        "cron(0 10 ? * * *)",
        "cron(*/5 * * * ? *)",
        "cron(0 0 L * ? *)",
        "cron(0 0 LW * ? *)",
        "cron(0 0 15W * ? *)",
        "cron(0 0 ? * 5L *)",
        "cron(0 0 ? * THUL *)",
        "cron(0 0 ? * 2#1 *)",
        "cron(0 0 ? * L *)",
        "cron(0 0 ? * SUN,SAT *)",
        "cron(0 0 ? JAN-MAR/2 MON *)",
        "cron(0 0 1 * ? 2026,2028-2030/2)",
        "cron(0 0 * * ? 1970-2199)",
        "cron(0-59/59 0/23 1/31 1/12 ? 1970/229)",
        "rate(1 minute)",
        "rate(1 hour)",
        "rate(1 day)",
        "rate(15 minutes)",
        "rate(2 hours)",
        "rate(30 days)",
        "at(2026-11-28T10:00:00)",
        "at(1999-12-31T23:59:59)",
    ],
)
def test_valid_expressions_are_accepted(expression: str) -> None:
    assert ScheduleExpression.parse(expression, "Europe/Berlin").expression == expression


# --------------------------------------------------------------------------------------------------
# Properties, checked against a brute-force oracle that steps through every minute
# --------------------------------------------------------------------------------------------------

ZONES = [
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Asia/Jakarta",
    "Asia/Kolkata",
    "Australia/Lord_Howe",  # 30-minute DST shift
    "America/Sao_Paulo",  # DST changed at midnight until 2019, so whole 00:xx hours go missing
    "Pacific/Apia",  # skipped 2011-12-30 entirely
]
YEARS = (2010, 2030)


@cache
def transitions(zone_name: str) -> tuple[datetime, ...]:
    """Instants where the zone's UTC offset changes, found by a daily scan refined to the second."""
    zone = ZoneInfo(zone_name)
    found = []
    probe = datetime(YEARS[0], 1, 1, tzinfo=UTC)
    while probe.year < YEARS[1]:
        following = probe + timedelta(days=1)
        if probe.astimezone(zone).utcoffset() != following.astimezone(zone).utcoffset():
            low, high = probe, following
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                if middle.astimezone(zone).utcoffset() == low.astimezone(zone).utcoffset():
                    low = middle
                else:
                    high = middle
            found.append(high.replace(microsecond=0))
        probe = following
    return tuple(found)


def aws_weekday(day: date) -> int:
    return day.isoweekday() % 7 + 1


def month_length(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def nearest_weekday(day: date, n: int) -> int | None:
    length = month_length(day)
    if n > length:
        return None
    weekdays = [d for d in range(1, length + 1) if day.replace(day=d).weekday() < 5]
    return min(weekdays, key=lambda d: abs(d - n))


def numeric_field(
    low: int, high: int, names: list[str] | None = None, slash: bool = True
) -> st.SearchStrategy[tuple[str, set[int]]]:
    def render(value: int, by_name: bool) -> str:
        return names[value - low] if names and by_name else str(value)

    value = st.integers(low, high)
    step = st.integers(1, high - low)
    single = st.builds(lambda v, n: (render(v, n), {v}), value, st.booleans())
    span = st.tuples(value, value).map(sorted)
    ranged = st.builds(
        lambda ab, n: (f"{render(ab[0], n)}-{render(ab[1], n)}", set(range(ab[0], ab[1] + 1))),
        span,
        st.booleans(),
    )
    stepped = st.builds(lambda v, s: (f"{v}/{s}", set(range(v, high + 1, s))), value, step)
    everyth = st.builds(lambda s: (f"*/{s}", set(range(low, high + 1, s))), step)
    ranged_step = st.builds(
        lambda ab, s: (f"{ab[0]}-{ab[1]}/{s}", set(range(ab[0], ab[1] + 1, s))), span, step
    )
    item = st.one_of(single, ranged, stepped, everyth, ranged_step) if slash else st.one_of(single, ranged)
    listed = st.lists(item, min_size=2, max_size=3).map(
        lambda items: (",".join(t for t, _ in items), set().union(*(v for _, v in items)))
    )
    return st.one_of(st.just(("*", set(range(low, high + 1)))), item, listed)


MONTH_NAMES = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAY_NAMES = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]


def last_weekday(d: date) -> int:
    return max(x for x in range(1, month_length(d) + 1) if d.replace(day=x).weekday() < 5)


@st.composite
def day_fields(draw: st.DrawFn) -> tuple[str, str, Callable[[date], bool]]:
    """Day-of-month and day-of-week texts (one of them '?') plus which dates they mean."""
    kind = draw(st.sampled_from(["days", "L", "LW", "W", "weekdays", "weekday L", "nL", "#"]))
    if kind == "days":
        text, days = draw(numeric_field(1, 31))
        return text, "?", lambda d: d.day in days
    if kind == "L":
        return "L", "?", lambda d: d.day == month_length(d)
    if kind == "LW":
        return "LW", "?", lambda d: d.day == last_weekday(d)
    if kind == "W":
        n = draw(st.integers(1, 31))
        return f"{n}W", "?", lambda d: d.day == nearest_weekday(d, n)
    if kind == "weekdays":
        text, weekdays = draw(numeric_field(1, 7, DAY_NAMES, slash=False))
        return "?", text, lambda d: aws_weekday(d) in weekdays
    if kind == "weekday L":
        return "?", "L", lambda d: aws_weekday(d) == 7
    w = draw(st.integers(1, 7))
    weekday = DAY_NAMES[w - 1] if draw(st.booleans()) else str(w)
    if kind == "nL":
        return "?", f"{weekday}L", lambda d: aws_weekday(d) == w and d.day + 7 > month_length(d)
    k = draw(st.integers(1, 5))
    return "?", f"{weekday}#{k}", lambda d: aws_weekday(d) == w and (d.day - 1) // 7 + 1 == k


@st.composite
def cron_expressions(draw: st.DrawFn) -> tuple[str, Callable[[datetime], bool]]:
    """A valid cron expression plus a wall-clock matcher written independently of the parser."""
    minute_text, minutes = draw(numeric_field(0, 59))
    hour_text, hours = draw(numeric_field(0, 23))
    every_month = st.just(("*", set(range(1, 13))))
    month_text, months = draw(st.one_of(every_month, every_month, numeric_field(1, 12, MONTH_NAMES)))
    year_text, years = draw(
        st.sampled_from(
            [
                ("*", set(range(1970, 2200))),
                ("2010-2030", set(range(2010, 2031))),
                ("2011,2026", {2011, 2026}),
                ("1970/4", set(range(1970, 2200, 4))),
            ]
        )
    )
    dom_text, dow_text, day_ok = draw(day_fields())

    def matches(wall: datetime) -> bool:
        return (
            wall.minute in minutes
            and wall.hour in hours
            and wall.month in months
            and wall.year in years
            and day_ok(wall.date())
        )

    return f"cron({minute_text} {hour_text} {dom_text} {month_text} {dow_text} {year_text})", matches


@st.composite
def windows(
    draw: st.DrawFn,
    zone_name: str,
    max_minutes: int = 3 * 24 * 60,
    schedule: ScheduleExpression | None = None,
) -> tuple[datetime, datetime]:
    """Windows anywhere in YEARS, often straddling an offset change or (so sparse crons get tested) a fire."""
    length = timedelta(minutes=draw(st.integers(0, max_minutes)))
    lead = timedelta(seconds=30 * draw(st.integers(1, max(1, int(length.total_seconds()) // 30))))
    second = draw(st.sampled_from([0, 0, 30]))
    start = draw(st.datetimes(datetime(YEARS[0], 1, 2), datetime(YEARS[1] - 1, 12, 30)))
    start = start.replace(second=second, microsecond=0, tzinfo=UTC)
    where = draw(st.sampled_from(["anywhere", "transition", "fire", "fire near transition"]))
    if "transition" in where and transitions(zone_name):
        start = draw(st.sampled_from(transitions(zone_name))) - lead
    if "fire" in where and schedule is not None:
        fire = schedule.next_after(start)
        if fire is not None and fire.year < YEARS[1]:
            start = fire - lead
    return start, start + max(length, lead)


def oracle(
    matches: Callable[[datetime], bool], zone: ZoneInfo, start: datetime, end: datetime
) -> list[datetime]:
    """Every minute whose wall clock matches and is shown for the first time (fold 0)."""
    result = []
    minute = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while minute <= end:
        wall = minute.astimezone(zone)
        if wall.fold == 0 and matches(wall.replace(tzinfo=None)):
            result.append(minute)
        minute += timedelta(minutes=1)
    return result


PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(data=st.data(), cron=cron_expressions(), zone_name=st.sampled_from(ZONES))
def test_cron_occurrences_match_minute_by_minute_oracle(
    data: st.DataObject, cron: tuple[str, Callable[[datetime], bool]], zone_name: str
) -> None:
    expression, matches = cron
    schedule = ScheduleExpression.parse(expression, zone_name)
    start, end = data.draw(windows(zone_name, schedule=schedule))
    zone = ZoneInfo(zone_name)
    got = list(schedule.occurrences(start, end))

    assert all(a < b for a, b in itertools.pairwise(got)), "strictly increasing"
    assert all(start < t <= end for t in got), "inside (start, end]"
    assert all(t.tzinfo is UTC and t.second == 0 and t.microsecond == 0 for t in got)
    assert all(matches(t.astimezone(zone).replace(tzinfo=None)) for t in got), (
        "wall clock satisfies the fields"
    )
    assert got == oracle(matches, zone, start, end)


@PROPERTY_SETTINGS
@given(data=st.data(), cron=cron_expressions(), zone_name=st.sampled_from(ZONES))
def test_cron_next_after_is_first_occurrence(
    data: st.DataObject, cron: tuple[str, Callable[[datetime], bool]], zone_name: str
) -> None:
    schedule = ScheduleExpression.parse(cron[0], zone_name)
    t, _ = data.draw(windows(zone_name, max_minutes=0, schedule=schedule))
    first = next(iter(schedule.occurrences(t, datetime(2200, 1, 2, tzinfo=UTC))), None)
    assert schedule.next_after(t) == first
    if first is not None:
        assert schedule.next_after(first - timedelta(microseconds=1)) == first
        following = schedule.next_after(first)
        assert following is None or following > first


@PROPERTY_SETTINGS
@given(
    value=st.integers(1, 500),
    unit=st.sampled_from(["minute", "hour", "day"]),
    anchor=st.one_of(
        st.none(), st.datetimes(datetime(2000, 1, 1), datetime(2040, 1, 1), timezones=st.just(UTC))
    ),
    start=st.datetimes(datetime(1990, 1, 1), datetime(2040, 1, 1), timezones=st.just(UTC)),
    span=st.integers(0, 100_000),
)
def test_rate_properties(value: int, unit: str, anchor: datetime | None, start: datetime, span: int) -> None:
    expression = f"rate({value} {unit}{'' if value == 1 else 's'})"
    schedule = ScheduleExpression.parse(expression, "America/New_York", start=anchor)
    interval = timedelta(**{f"{unit}s": value})
    end = start + timedelta(minutes=span)
    origin = anchor or datetime(1970, 1, 1, tzinfo=UTC)
    got = list(schedule.occurrences(start, end))

    assert all(start < t <= end for t in got)
    assert all(b - a == interval for a, b in itertools.pairwise(got))
    assert all((t - origin) % interval == timedelta(0) and t >= origin for t in got)
    assert schedule.next_after(start) == (got[0] if got else schedule.next_after(end))
    if got:
        assert got[0] - interval <= start or got[0] == origin
        assert got[-1] + interval > end


@PROPERTY_SETTINGS
@given(
    wall=st.datetimes(datetime(1971, 1, 1), datetime(2199, 12, 31)).map(lambda d: d.replace(microsecond=0)),
    zone_name=st.sampled_from(ZONES),
)
def test_at_fires_once_when_the_wall_clock_first_reaches_it(wall: datetime, zone_name: str) -> None:
    zone = ZoneInfo(zone_name)
    schedule = ScheduleExpression.parse(f"at({wall:%Y-%m-%dT%H:%M:%S})", zone_name)
    fire = schedule.next_after(datetime(1970, 1, 1, tzinfo=UTC))
    assert fire is not None and fire.tzinfo is UTC
    assert list(schedule.occurrences(fire - timedelta(days=2), fire + timedelta(days=2))) == [fire]
    assert schedule.next_after(fire) is None
    shown = fire.astimezone(zone)
    before = (fire - timedelta(seconds=1)).astimezone(zone).replace(tzinfo=None)
    assert before < wall <= shown.replace(tzinfo=None), "first instant the clock reads `wall` or later"
    assert shown.fold == 0
