"""The cron grammar of EventBridge Scheduler: ``cron(minutes hours day-of-month month day-of-week year)``.

AWS's dialect, close to Quartz rather than Unix cron: six fields, one of day-of-month and day-of-week
is ``?``, names for months and weekdays (``JAN``, ``MON``; Sunday is 1), ``L`` (last day, last given
weekday), ``W`` (nearest weekday), ``#`` (nth weekday of the month), increments and ranges. A cron
compiles into the values each field matches and yields matching calendar dates; when they fire, in a
time zone, is :mod:`shared.campaigns.schedules`.  Standard library only (bundled into Lambdas).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

__all__ = ["Cron", "Fail", "compile_cron"]

_MONTH_NAMES = {name.upper(): number for number, name in enumerate(calendar.month_abbr) if name}
_DAY_NAMES = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}

_NUMBER_RE = re.compile(r"[0-9]+")
_ITEM_RE = re.compile(r"(?P<base>\*|[0-9A-Z]+(?:-[0-9A-Z]+)?)(?:/(?P<step>[0-9]+))?")


# Makes the error for what is wrong with a field, as the caller reports it (InvalidSchedule).
Fail = Callable[[str], Exception]


@dataclass(frozen=True)
class _FieldSpec:
    """Bounds and allowed wildcards of one cron field, as AWS documents them."""

    name: str
    low: int
    high: int
    max_step: int
    slash: bool
    names: dict[str, int] = field(default_factory=dict)


_MINUTES = _FieldSpec("minute", 0, 59, 59, True)
_HOURS = _FieldSpec("hour", 0, 23, 23, True)
_DAYS_OF_MONTH = _FieldSpec("day-of-month", 1, 31, 31, True)
_MONTHS = _FieldSpec("month", 1, 12, 12, True, _MONTH_NAMES)
_DAYS_OF_WEEK = _FieldSpec("day-of-week", 1, 7, 7, False, _DAY_NAMES)
_YEARS = _FieldSpec("year", 1970, 2199, 229, True)


def _aws_weekday(year: int, month: int, day: int) -> int:
    """AWS numbering: 1 = Sunday ... 7 = Saturday."""
    return (date(year, month, day).weekday() + 1) % 7 + 1


@dataclass(frozen=True)
class _DayRule:
    """Which days of a given month match the day-of-month or day-of-week field."""

    kind: Literal["days", "weekdays", "last", "last_weekday", "nearest_weekday", "last_of", "nth_of"]
    values: frozenset[int] = frozenset()
    weekday: int = 0
    n: int = 0

    def days(self, year: int, month: int) -> list[int]:
        length = calendar.monthrange(year, month)[1]
        if self.kind == "days":
            return [d for d in sorted(self.values) if d <= length]
        if self.kind == "weekdays":
            first = _aws_weekday(year, month, 1)
            return [d for d in range(1, length + 1) if (first + d - 2) % 7 + 1 in self.values]
        if self.kind == "last":
            return [length]
        if self.kind == "last_weekday":
            return [length - {1: 2, 7: 1}.get(_aws_weekday(year, month, length), 0)]
        if self.kind == "nearest_weekday":
            return self._nearest_weekday(year, month, length)
        if self.kind == "last_of":
            return [length - (_aws_weekday(year, month, length) - self.weekday) % 7]
        day = 1 + (self.weekday - _aws_weekday(year, month, 1)) % 7 + 7 * (self.n - 1)
        return [day] if day <= length else []

    def _nearest_weekday(self, year: int, month: int, length: int) -> list[int]:
        """Quartz ``nW``: never crosses into another month; no fire if the month is too short."""
        day = self.n
        if day > length:
            return []
        weekday = _aws_weekday(year, month, day)
        if weekday == 7:
            return [day + 2 if day == 1 else day - 1]
        if weekday == 1:
            return [day - 2 if day == length else day + 1]
        return [day]


@dataclass(frozen=True)
class Cron:
    """A compiled cron: the values each field matches (day rule: which days of a month)."""

    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    day_rule: _DayRule
    months: tuple[int, ...]
    years: tuple[int, ...]

    def dates_from(self, first: date) -> Iterator[date]:
        """Matching calendar dates from ``first`` on, skipping whole years and months that cannot match."""
        for year in self.years:
            if year < first.year:
                continue
            for month in self.months:
                if (year, month) < (first.year, first.month):
                    continue
                for day in self.day_rule.days(year, month):
                    candidate = date(year, month, day)
                    if candidate >= first:
                        yield candidate


def compile_cron(expression: str, fail: Fail) -> Cron:
    """Compile ``cron(...)``; ``fail(detail)`` makes the error raised for what is wrong."""
    fields = expression[len("cron(") : -1].split()
    if len(fields) != 6:
        raise fail(
            f"expected 6 fields (minutes hours day-of-month month day-of-week year), got {len(fields)}"
        )
    minute, hour, dom, month, dow, year = (text.upper() for text in fields)
    for text, spec in ((dom, _DAYS_OF_MONTH), (dow, _DAYS_OF_WEEK)):
        if "?" in text and text != "?":
            raise fail(f"{spec.name} {text!r}: '?' must stand alone")
    if dom == "?" and dow == "?":
        raise fail("day-of-month and day-of-week cannot both be '?'; one of them must name the days")
    if dom != "?" and dow != "?":
        raise fail(
            "day-of-month and day-of-week cannot both be specified; use '?' in one of them "
            "(e.g. cron(0 10 * * ? *) or cron(0 10 ? * MON *))"
        )
    return Cron(
        minutes=_values(minute, _MINUTES, fail),
        hours=_values(hour, _HOURS, fail),
        day_rule=_day_of_month(dom, fail) if dow == "?" else _day_of_week(dow, fail),
        months=_values(month, _MONTHS, fail),
        years=_values(year, _YEARS, fail),
    )


def _values(text: str, spec: _FieldSpec, fail: Fail) -> tuple[int, ...]:
    """Expand a field of values, ranges, lists and increments into the sorted values it matches."""
    _reject_specials(text, spec, fail)
    values: set[int] = set()
    for item in text.split(","):
        match = _ITEM_RE.fullmatch(item)
        if match is None:
            raise fail(f"{spec.name} item {item!r} is not a value, range or increment")
        base, step_text = match["base"], match["step"]
        step = 1
        if step_text is not None:
            if not spec.slash:
                raise fail(f"'/' increments are not allowed in {spec.name}")
            step = int(step_text)
            if not 1 <= step <= spec.max_step:
                raise fail(f"{spec.name} increment {step} is out of range 1-{spec.max_step}")
        if base == "*":
            low, high = spec.low, spec.high
        elif "-" in base:
            first, last = base.split("-")
            low, high = _value(first, spec, fail), _value(last, spec, fail)
            if low > high:
                raise fail(f"{spec.name} range {base} runs backwards; write it low-high")
        else:
            low = _value(base, spec, fail)
            high = spec.high if step_text is not None else low
        values.update(range(low, high + 1, step))
    return tuple(sorted(values))


def _value(token: str, spec: _FieldSpec, fail: Fail) -> int:
    if _NUMBER_RE.fullmatch(token):
        number = int(token)
        if not spec.low <= number <= spec.high:
            raise fail(f"{spec.name} {number} is out of range {spec.low}-{spec.high}")
        return number
    if token in spec.names:
        return spec.names[token]
    named = f" or {next(iter(spec.names))}-{next(reversed(spec.names))}" if spec.names else ""
    raise fail(f"{spec.name} value {token!r} is not valid; expected {spec.low}-{spec.high}{named}")


def _reject_specials(text: str, spec: _FieldSpec, fail: Fail) -> None:
    """Name the unsupported wildcard instead of reporting a generic syntax error."""
    if "?" in text:
        raise fail(f"'?' is only allowed in day-of-month or day-of-week, not in {spec.name}")
    if "#" in text:
        raise fail(f"'#' is only allowed in day-of-week (a single expression like 6#3), not in {spec.name}")
    words = set(re.findall(r"[A-Z]+", text)) - spec.names.keys()
    if words & {"W", "LW"} and spec is not _DAYS_OF_MONTH:
        raise fail(f"'W' is only allowed in day-of-month, not in {spec.name}")
    if "L" in words or "LW" in words:
        if spec is _DAYS_OF_MONTH:
            raise fail(f"day-of-month {text!r}: 'L' and 'W' must stand alone, as L, LW or a day like 15W")
        if spec is _DAYS_OF_WEEK:
            raise fail(f"day-of-week {text!r}: 'L' must stand alone, as L (Saturday) or a weekday like 5L")
        raise fail(f"'L' is only allowed in day-of-month or day-of-week, not in {spec.name}")
    if "W" in words:
        raise fail(f"day-of-month {text!r}: 'W' must follow a single day, as in 15W or LW")


def _day_of_month(text: str, fail: Fail) -> _DayRule:
    if text == "L":
        return _DayRule("last")
    if text == "LW":
        return _DayRule("last_weekday")
    if text.endswith("W") and _NUMBER_RE.fullmatch(text[:-1]):
        return _DayRule("nearest_weekday", n=_value(text[:-1], _DAYS_OF_MONTH, fail))
    if re.fullmatch(r"L-[0-9]+", text):
        raise fail(f"day-of-month offset {text!r} is not supported; use L or LW")
    return _DayRule("days", frozenset(_values(text, _DAYS_OF_MONTH, fail)))


def _day_of_week(text: str, fail: Fail) -> _DayRule:
    if text == "L":
        return _DayRule("weekdays", frozenset({7}))
    if "#" in text:
        weekday_text, _, nth_text = text.partition("#")
        if "," in text or "-" in text or "/" in text or not _NUMBER_RE.fullmatch(nth_text):
            raise fail(
                f"day-of-week {text!r}: '#' takes a single expression like 6#3 (third Friday); "
                "lists such as 3#1,6#3 are rejected by EventBridge"
            )
        nth = int(nth_text)
        if not 1 <= nth <= 5:
            raise fail(f"day-of-week {text!r}: occurrence {nth} is out of range 1-5")
        return _DayRule("nth_of", weekday=_value(weekday_text, _DAYS_OF_WEEK, fail), n=nth)
    if len(text) > 1 and text.endswith("L") and re.fullmatch(r"[0-9]+|[A-Z]{3}", text[:-1]):
        return _DayRule("last_of", weekday=_value(text[:-1], _DAYS_OF_WEEK, fail))
    return _DayRule("weekdays", frozenset(_values(text, _DAYS_OF_WEEK, fail)))
