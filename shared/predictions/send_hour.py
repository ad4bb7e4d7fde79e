"""Best send hour: when, in their own time zone, a shopper tends to engage.

Ingest counts engagement events (track, page and screen calls: sessions, views, opens, clicks) per
UTC hour. Here the histogram is shifted into the shopper's time zone, smoothed over neighbouring
hours, and blended with the population's local-hour profile as a prior worth ``PRIOR_EVENTS``
events — so a shopper with little history gets the population's hour, and one with a clear habit
gets their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PRIOR_EVENTS = 8.0
HOURS = 24
_KERNEL = (0.25, 0.5, 0.25)


def utc_offset_hours(timezone: str | None, at: datetime) -> int:
    """Whole hours to add to UTC for ``timezone`` at ``at`` (0 when unknown; half hours round down)."""
    if not timezone:
        return 0
    try:
        offset = at.astimezone(ZoneInfo(timezone)).utcoffset()
    except (ZoneInfoNotFoundError, ValueError):
        return 0
    return int(offset.total_seconds() // 3600) if offset is not None else 0


def local_histogram(utc_hours: Sequence[float], offset_hours: int) -> list[float]:
    """Counts by local hour: local hour h collects UTC hour (h - offset) mod 24."""
    if len(utc_hours) != HOURS:
        return [0.0] * HOURS
    return [float(utc_hours[(h - offset_hours) % HOURS]) for h in range(HOURS)]


def smoothed(histogram: Sequence[float]) -> list[float]:
    return [
        sum(
            weight * histogram[(h + shift) % HOURS] for shift, weight in zip((-1, 0, 1), _KERNEL, strict=True)
        )
        for h in range(HOURS)
    ]


def normalised(histogram: Sequence[float]) -> list[float]:
    total = sum(histogram)
    return [v / total for v in histogram] if total > 0 else [1.0 / HOURS] * HOURS


def best_hour(local_counts: Sequence[float], population: Sequence[float] | None) -> int | None:
    """The local hour with the most (smoothed) engagement, pulled towards the population profile.
    None when there is neither personal history nor a population profile."""
    prior = normalised(population) if population and sum(population) > 0 else None
    if sum(local_counts) <= 0 and prior is None:
        return None
    blended = [
        c + (PRIOR_EVENTS * p if prior else 0.0)
        for c, p in zip(local_counts, prior or [0.0] * HOURS, strict=True)
    ]
    scores = smoothed(blended)
    return max(range(HOURS), key=lambda h: (scores[h], -h))
