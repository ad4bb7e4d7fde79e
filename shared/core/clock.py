"""Time as a port: Lambdas read the system clock, the local runtime a simulated one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SimulatedClock:
    """A clock that only moves when told to, so a 14-day simulation runs in seconds."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("SimulatedClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance_to(self, moment: datetime) -> None:
        if moment < self._now:
            raise ValueError(f"time cannot go back from {self._now.isoformat()} to {moment.isoformat()}")
        self._now = moment.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        self.advance_to(self._now + delta)
