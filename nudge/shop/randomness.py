"""Seeded helpers: weighted picks, RFC 4122 ids from a stream, slugs, ISO times, pauses."""

from __future__ import annotations

import bisect
import itertools
import random
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any


def iso(moment: datetime) -> str:
    """Segment's wire format: UTC, millisecond precision, a trailing ``Z``."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID_SET = (0x4000 << 64) | (0x8000 << 48)  # version 4, RFC 4122 variant


def uuid4_from(rng: random.Random) -> str:
    """A v4-shaped id drawn from a seeded stream, so ids repeat exactly with the seed.

    Same bits as ``uuid.UUID(int=..., version=4)``, formatted by hand because it is on the hot path.
    """
    h = f"{(rng.getrandbits(128) & _UUID_CLEAR) | _UUID_SET:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def ascii_slug(text: str, sep: str = "") -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    words = "".join(c if c.isalnum() else " " for c in folded).split()
    return sep.join(words)


def pick(rng: random.Random, weighted: Sequence[tuple[Any, float]]) -> Any:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


class Weighted:
    """A weighted choice with the cumulative weights computed once (it runs per event)."""

    def __init__(self, weighted: Sequence[tuple[Any, float]]) -> None:
        self.values = [v for v, _ in weighted]
        self.cumulative = list(itertools.accumulate(w for _, w in weighted))
        self.total = self.cumulative[-1]

    def __call__(self, rng: random.Random) -> Any:
        return self.values[bisect.bisect_right(self.cumulative, rng.random() * self.total)]


def pause(rng: random.Random, low: int, high: int) -> timedelta:
    """A uniform pause of ``low`` to ``high`` seconds, in whole milliseconds (the wire precision)."""
    return timedelta(milliseconds=int(1000 * (low + (high - low) * rng.random())))
