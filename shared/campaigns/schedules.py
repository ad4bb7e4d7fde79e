"""Amazon EventBridge Scheduler schedule expressions, parsed and evaluated locally.

CDK deploys a campaign's expression and time zone to EventBridge Scheduler as they are; the local
runtime runs on a simulated clock and must fire the same schedule at the same instants, so this module
follows AWS's grammar and semantics rather than those of Unix cron.  Standard library only, because it
is bundled into Lambdas.

Time-zone and daylight-saving rules (the ones AWS documents for EventBridge Scheduler):

* cron fields are matched against the wall clock of the schedule's time zone; fire times are UTC.
* A wall-clock time that does not exist (the spring-forward gap) is skipped that day, as AWS does.
* A wall-clock time that happens twice (fall back) fires once, at its first occurrence.
  Together: a cron schedule fires whenever the zone's clock *first* shows a matching minute.
* ``rate()`` intervals are elapsed time (``1 day`` is 24 hours), untouched by daylight saving.
* ``at()`` names a wall-clock time too; AWS documents nothing for one in a gap, and silently never
  firing a one-time campaign would lose it, so it fires at the first valid instant after the gap
  starts (the moment the clocks jump).  An ambiguous ``at()`` fires at its first occurrence.
* ``start`` mirrors the schedule's StartDate: it anchors ``rate()``, bounds cron from below
  (fires at or after it) and, as in AWS, is ignored by ``at()``.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["InvalidSchedule", "ScheduleExpression"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CRON_FLOOR = datetime(1969, 12, 30, tzinfo=UTC)
_CRON_CEILING = datetime(2200, 1, 2, tzinfo=UTC)
_MINUTE = timedelta(minutes=1)
_TICK = timedelta(microseconds=1)
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})

_MONTH_NAMES = {name.upper(): number for number, name in enumerate(calendar.month_abbr) if name}
_DAY_NAMES = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}

_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_AT_RE = re.compile(r"at\(([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\)")
_NUMBER_RE = re.compile(r"[0-9]+")
_ITEM_RE = re.compile(r"(?P<base>\*|[0-9A-Z]+(?:-[0-9A-Z]+)?)(?:/(?P<step>[0-9]+))?")


class InvalidSchedule(ValueError):
    """A schedule EventBridge Scheduler would reject, or that this module cannot evaluate faithfully."""


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
class _Cron:
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


@dataclass(frozen=True)
class _Rate:
    interval: timedelta


@dataclass(frozen=True)
class _At:
    instant: datetime


_Plan = _Cron | _Rate | _At
_Fail = Callable[[str], InvalidSchedule]


@dataclass(frozen=True)
class ScheduleExpression:
    """An EventBridge Scheduler ScheduleExpression + ScheduleExpressionTimezone (+ StartDate), evaluable.

    Construction validates; ``parse`` is the explicit spelling of the same thing.
    """

    expression: str
    timezone: str = "UTC"
    start: datetime | None = None
    _zone: ZoneInfo = field(init=False, repr=False, compare=False, hash=False)
    _plan: _Plan = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.expression, str):
            kind = type(self.expression).__name__
            raise InvalidSchedule(f"schedule expression must be a string, got {kind}")
        zone = _load_zone(self.timezone)
        start = self.start
        if start is not None and (not isinstance(start, datetime) or start.utcoffset() is None):
            raise InvalidSchedule(f"{self.expression}: start must be a timezone-aware datetime")
        object.__setattr__(self, "_zone", zone)
        object.__setattr__(self, "_plan", _compile(self.expression, zone))

    @classmethod
    def parse(
        cls, expression: str, timezone: str = "UTC", start: datetime | None = None
    ) -> ScheduleExpression:
        """Validate ``expression`` in ``timezone``; raises InvalidSchedule naming what is wrong."""
        return cls(expression, timezone, start)

    def occurrences(self, start: datetime, end: datetime) -> Iterator[datetime]:
        """Fire times t with start < t <= end, as timezone-aware UTC datetimes, ascending."""
        _require_aware(start, "start")
        _require_aware(end, "end")
        return self._fires(start, end)

    def next_after(self, t: datetime) -> datetime | None:
        """The first fire time strictly after ``t`` (UTC), or None if the schedule never fires again."""
        _require_aware(t, "t")
        return next(self._fires(t, None), None)

    def _fires(self, after: datetime, until: datetime | None) -> Iterator[datetime]:
        plan = self._plan
        if isinstance(plan, _At):
            if plan.instant > after and (until is None or plan.instant <= until):
                yield plan.instant
        elif isinstance(plan, _Rate):
            yield from _rate_fires(plan.interval, self.start or _EPOCH, after, until)
        else:
            if self.start is not None:
                after = max(after, self.start - _TICK)
            yield from _cron_fires(plan, self._zone, after, until)


def _require_aware(value: datetime, name: str) -> None:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")


def _load_zone(name: object) -> ZoneInfo:
    if not isinstance(name, str) or not name or name in _NOT_ZONES:
        raise InvalidSchedule(f"time zone {name!r} is not an IANA time zone name")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidSchedule(f"time zone {name!r} is not an IANA time zone name") from exc


def _compile(expression: str, zone: ZoneInfo) -> _Plan:
    if expression.startswith("cron(") and expression.endswith(")"):
        return _compile_cron(expression)
    if expression.startswith("rate(") and expression.endswith(")"):
        return _compile_rate(expression)
    if expression.startswith("at(") and expression.endswith(")"):
        return _compile_at(expression, zone)
    raise InvalidSchedule(
        f"{expression!r} is not a schedule expression; expected at(...), rate(...) or cron(...)"
    )


def _compile_rate(expression: str) -> _Rate:
    parts = expression[len("rate(") : -1].split(" ")
    if len(parts) != 2:
        raise InvalidSchedule(f"{expression}: expected rate(value unit), e.g. rate(5 minutes)")
    value_text, unit = parts
    if not re.fullmatch(r"[1-9][0-9]*", value_text):
        raise InvalidSchedule(
            f"{expression}: rate value {value_text!r} must be a positive whole number (no sign, decimals or "
            "leading zeros)"
        )
    value = int(value_text)
    singular = unit.removesuffix("s")
    if singular not in _UNIT_SECONDS:
        raise InvalidSchedule(f"{expression}: rate unit {unit!r} must be minute(s), hour(s) or day(s)")
    if value == 1 and unit != singular:
        raise InvalidSchedule(f"{expression}: a rate of 1 takes the singular unit, rate(1 {singular})")
    if value != 1 and unit == singular:
        raise InvalidSchedule(
            f"{expression}: a rate of {value} takes the plural unit, rate({value} {singular}s)"
        )
    try:
        return _Rate(timedelta(seconds=value * _UNIT_SECONDS[singular]))
    except OverflowError as exc:
        raise InvalidSchedule(f"{expression}: rate value {value} is too large") from exc


def _compile_at(expression: str, zone: ZoneInfo) -> _At:
    match = _AT_RE.fullmatch(expression)
    if match is None:
        raise InvalidSchedule(f"{expression}: expected at(yyyy-mm-ddThh:mm:ss), e.g. at(2026-11-28T10:00:00)")
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        wall = datetime(year, month, day, hour, minute, second)
        return _At(_to_utc(wall, zone) or _gap_end(wall, zone))
    except ValueError as exc:
        raise InvalidSchedule(f"{expression}: {exc}") from exc
    except OverflowError as exc:
        raise InvalidSchedule(f"{expression}: outside the representable range in {zone.key}") from exc


def _to_utc(wall: datetime, zone: ZoneInfo) -> datetime | None:
    """The first instant the zone's clock shows ``wall``; None if it never does (a DST gap)."""
    instant = wall.replace(tzinfo=zone).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != wall:
        return None
    return instant


def _gap_end(wall: datetime, zone: ZoneInfo) -> datetime:
    """The instant the clocks jump over ``wall``: the first valid instant after a nonexistent time."""
    low = int(wall.replace(tzinfo=zone, fold=1).timestamp())
    high = int(wall.replace(tzinfo=zone, fold=0).timestamp())
    while low < high:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).replace(tzinfo=None) > wall:
            high = middle
        else:
            low = middle + 1
    return datetime.fromtimestamp(low, UTC)


def _rate_fires(
    interval: timedelta, anchor: datetime, after: datetime, until: datetime | None
) -> Iterator[datetime]:
    anchor = anchor.astimezone(UTC)
    index = 0 if after < anchor else (after - anchor) // interval + 1
    try:
        instant = anchor + index * interval
        while until is None or instant <= until:
            yield instant
            instant += interval
    except OverflowError:
        return


def _cron_fires(plan: _Cron, zone: ZoneInfo, after: datetime, until: datetime | None) -> Iterator[datetime]:
    after = max(after, _CRON_FLOOR)
    until = min(until, _CRON_CEILING) if until is not None else _CRON_CEILING
    if until <= after:
        return
    floor = after.astimezone(zone)
    first_day = floor.date()
    floor_wall = floor.replace(tzinfo=None, fold=0)
    last_day = until.astimezone(zone).date() + timedelta(days=1)
    previous = after
    for day in plan.dates_from(first_day):
        if day > last_day:
            return
        for hour in plan.hours:
            if day == first_day and hour < floor_wall.hour:
                continue
            for minute in plan.minutes:
                wall = datetime(day.year, day.month, day.day, hour, minute)
                if wall + _MINUTE <= floor_wall:
                    continue
                instant = _to_utc(wall, zone)
                if instant is None or instant <= previous:
                    continue
                if instant > until:
                    return
                previous = instant
                yield instant


def _compile_cron(expression: str) -> _Cron:
    fields = expression[len("cron(") : -1].split()
    if len(fields) != 6:
        raise InvalidSchedule(
            f"{expression}: expected 6 fields (minutes hours day-of-month month day-of-week year), "
            f"got {len(fields)}"
        )
    minute, hour, dom, month, dow, year = (text.upper() for text in fields)

    def fail(detail: str) -> InvalidSchedule:
        return InvalidSchedule(f"{expression}: {detail}")

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
    return _Cron(
        minutes=_values(minute, _MINUTES, fail),
        hours=_values(hour, _HOURS, fail),
        day_rule=_day_of_month(dom, fail) if dow == "?" else _day_of_week(dow, fail),
        months=_values(month, _MONTHS, fail),
        years=_values(year, _YEARS, fail),
    )


def _values(text: str, spec: _FieldSpec, fail: _Fail) -> tuple[int, ...]:
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


def _value(token: str, spec: _FieldSpec, fail: _Fail) -> int:
    if _NUMBER_RE.fullmatch(token):
        number = int(token)
        if not spec.low <= number <= spec.high:
            raise fail(f"{spec.name} {number} is out of range {spec.low}-{spec.high}")
        return number
    if token in spec.names:
        return spec.names[token]
    named = f" or {next(iter(spec.names))}-{next(reversed(spec.names))}" if spec.names else ""
    raise fail(f"{spec.name} value {token!r} is not valid; expected {spec.low}-{spec.high}{named}")


def _reject_specials(text: str, spec: _FieldSpec, fail: _Fail) -> None:
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


def _day_of_month(text: str, fail: _Fail) -> _DayRule:
    if text == "L":
        return _DayRule("last")
    if text == "LW":
        return _DayRule("last_weekday")
    if text.endswith("W") and _NUMBER_RE.fullmatch(text[:-1]):
        return _DayRule("nearest_weekday", n=_value(text[:-1], _DAYS_OF_MONTH, fail))
    if re.fullmatch(r"L-[0-9]+", text):
        raise fail(f"day-of-month offset {text!r} is not supported; use L or LW")
    return _DayRule("days", frozenset(_values(text, _DAYS_OF_MONTH, fail)))


def _day_of_week(text: str, fail: _Fail) -> _DayRule:
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
