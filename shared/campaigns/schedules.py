"""Amazon EventBridge Scheduler schedule expressions, parsed and evaluated locally.

CDK deploys a campaign's expression and time zone to EventBridge Scheduler as they are; the local
runtime runs on a simulated clock and must fire the same schedule at the same instants, so this module
follows AWS's grammar and semantics rather than those of Unix cron (the cron grammar itself is
:mod:`shared.campaigns.cron`).  Standard library only, because it is bundled into Lambdas.

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

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.campaigns.cron import Cron, compile_cron

__all__ = ["InvalidSchedule", "ScheduleExpression"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CRON_FLOOR = datetime(1969, 12, 30, tzinfo=UTC)
_CRON_CEILING = datetime(2200, 1, 2, tzinfo=UTC)
_MINUTE = timedelta(minutes=1)
_TICK = timedelta(microseconds=1)
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})

_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_AT_RE = re.compile(r"at\(([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\)")


class InvalidSchedule(ValueError):
    """A schedule EventBridge Scheduler would reject, or that this module cannot evaluate faithfully."""


@dataclass(frozen=True)
class _Rate:
    interval: timedelta


@dataclass(frozen=True)
class _At:
    instant: datetime


_Plan = Cron | _Rate | _At


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
        return compile_cron(expression, lambda detail: InvalidSchedule(f"{expression}: {detail}"))
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


def _cron_fires(plan: Cron, zone: ZoneInfo, after: datetime, until: datetime | None) -> Iterator[datetime]:
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
