"""A variant's own send time: when its message goes out, relative to the step's moment
(docs/experiments.md, "A variant's send time").

``{delay: 2h}`` is the step's moment plus the delay; ``{at: "19:00"}`` the next 19:00 on the shopper's
wall clock at or after the moment; ``best_hour`` the next start of the shopper's predicted best send
hour (the score ``best_send_hour``), and, for a shopper not scored yet, the step's moment itself (the
message goes out as if the variant had no send time, and the log says so). The zone is the one quiet
hours use (the shopper's ``timezone`` trait, else the policy's default). A wall-clock time that a DST
change skips (02:30 on the spring-forward night) is read with the offset before the change, so it falls
an hour later on the clock; one the autumn change repeats is its first occurrence, or its second for a
moment between the two.

Delivery decides it (:func:`shared.delivery.decision.decide`, so ``nudge simulate`` agrees) and defers
the job to the planned instant through a one-time schedule named from its send key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared.campaigns.jobs import DeliveryJob
from shared.campaigns.variants import BEST_HOUR, SendTime

__all__ = ["PlannedSend", "next_wall_clock", "planned_send", "step_moment"]


@dataclass(frozen=True)
class PlannedSend:
    """When the variant's message goes out (UTC) and how that was found, as the send log says it."""

    at: datetime
    how: str


def step_moment(job: DeliveryJob, now: datetime) -> datetime:
    """The moment the send step was due: when a deferral made the job due (a trigger's delay, a batch
    send's holdback), else the triggering event or the occurrence; a journey's send step is due when
    its job first comes (it is made as the shopper reaches the step)."""
    if job.not_before is not None:
        return job.not_before
    if job.step is not None:
        return now
    return job.origin or now


def next_wall_clock(moment: datetime, clock: time, zone: ZoneInfo) -> datetime:
    """The first instant at or after ``moment`` at which the wall clock in ``zone`` reads ``clock`` (UTC)."""
    local = moment.astimezone(zone)
    for day in range(3):  # today, tomorrow; a third day only if a DST change swallowed tomorrow's
        wall = datetime.combine(local.date() + timedelta(days=day), clock, tzinfo=zone)
        first = wall.astimezone(UTC)
        # fold=1 is the autumn change's repeat of the same time, later (in a spring gap it is earlier)
        for candidate in (first, max(first, wall.replace(fold=1).astimezone(UTC))):
            if candidate >= moment:
                return candidate
    raise AssertionError("unreachable: a wall-clock time recurs within three days")


def planned_send(
    send_time: SendTime | str, moment: datetime, zone: ZoneInfo, best_send_hour: object = None
) -> PlannedSend:
    """When a variant with ``send_time`` sends, for a step due at ``moment`` (see the module docstring)."""
    if isinstance(send_time, SendTime):
        delay, clock = send_time.delay_time, send_time.at_time
        if delay is not None:
            return PlannedSend(moment + delay, f"delay {send_time.delay}")
        assert clock is not None  # the file was checked: exactly one of the two
        return PlannedSend(next_wall_clock(moment, clock, zone), f"at {send_time.at} {zone.key}")
    assert send_time == BEST_HOUR
    hour = _hour(best_send_hour)
    if hour is None:
        return PlannedSend(moment, "best hour: not scored yet, at the step's moment")
    return PlannedSend(next_wall_clock(moment, time(hour), zone), f"best hour {hour:02d}:00 {zone.key}")


def _hour(score: object) -> int | None:
    """The score as an hour of the day, or None (absent, or not a number in 0-23)."""
    if isinstance(score, bool) or not isinstance(score, int | float):
        return None
    hour = int(score)
    return hour if 0 <= hour <= 23 else None
