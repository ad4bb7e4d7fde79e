"""Durations written as a number and a unit (``30m``, ``12h``, ``7d``, ``2w``): one parser for all.

Campaign files take minutes, hours and days (``delay``, ``throttle``, ``within``, ...; spaces around the
parts allowed); audience expressions also take weeks, as tokens of at most five digits.
"""

from __future__ import annotations

import re
from datetime import timedelta

UNITS: dict[str, timedelta] = {
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
CAMPAIGN_UNITS = "mhd"
CAMPAIGN_PATTERN = rf"^\s*\d+\s*[{CAMPAIGN_UNITS}]\s*$"  # what a campaign file's schema says of it
_DURATION = re.compile(r"^\s*(\d+)\s*([a-z])\s*$")


def duration_parts(text: str, units: str = CAMPAIGN_UNITS) -> tuple[int, str] | None:
    """``30m`` → ``(30, "m")`` when the unit is one of ``units``; None when ``text`` is no such duration."""
    match = _DURATION.match(text)
    if match is None or match[2] not in units:
        return None
    return int(match[1]), match[2]


def parse_duration(text: str, units: str = CAMPAIGN_UNITS) -> timedelta:
    """``30m``, ``1h``, ``7d`` → a timedelta; anything else is a ValueError naming the text."""
    parts = duration_parts(str(text), units)
    if parts is None:
        raise ValueError(f"{text!r} is not a duration like 30m, 1h or 7d")
    amount, unit = parts
    try:
        return amount * UNITS[unit]
    except OverflowError:
        raise ValueError(f"{text!r} is longer than any duration Nudge can wait") from None
