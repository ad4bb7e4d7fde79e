"""RFM: recency, frequency and monetary value, quintile scores over the whole base, named segments.

Quintile edges are the 20/40/60/80th percentiles of the buyers' values. A value scores one more
than the number of edges it beats, so equal values always share a score (with many one-order
shoppers, F is mostly 1 and the top F scores are thinner than a fifth: that is the data, not a bug).
Recency beats an edge by being *smaller* (more recent).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

# The segment of every (R, FM) cell, FM = round-half-up of (F + M) / 2. Rows are R = 5 … 1,
# columns FM = 1 … 5. See docs/predictions.md for the table and the reasoning.
_GRID: Mapping[int, tuple[str, str, str, str, str]] = {
    5: ("new", "potential_loyalist", "potential_loyalist", "champions", "champions"),
    4: ("promising", "potential_loyalist", "potential_loyalist", "loyal", "loyal"),
    3: ("about_to_sleep", "about_to_sleep", "need_attention", "loyal", "loyal"),
    2: ("hibernating", "hibernating", "at_risk", "at_risk", "cant_lose"),
    1: ("lost", "hibernating", "at_risk", "at_risk", "cant_lose"),
}
SEGMENTS = (
    "champions",
    "loyal",
    "potential_loyalist",
    "new",
    "promising",
    "need_attention",
    "about_to_sleep",
    "at_risk",
    "cant_lose",
    "hibernating",
    "lost",
)
QUANTILES = (0.2, 0.4, 0.6, 0.8)
# Monetary values are sketched in log bins 2% wide: edges within 2% whatever the currency scale.
_MONEY_BIN = math.log(1.02)


def segment_of(r: int, f: int, m: int) -> str:
    """The named segment for quintile scores 1-5."""
    for score in (r, f, m):
        if not 1 <= score <= 5:
            raise ValueError(f"RFM scores are 1-5, got {(r, f, m)}")
    fm = (f + m + 1) // 2
    return _GRID[r][fm - 1]


def quantile_edges(values: Sequence[float]) -> tuple[float, ...]:
    """The 20/40/60/80th percentiles (nearest-rank, so each edge is a value that occurs)."""
    if not values:
        return ()
    ordered = sorted(values)
    n = len(ordered)
    return tuple(ordered[min(n - 1, max(0, math.ceil(q * n) - 1))] for q in QUANTILES)


def score_higher_better(value: float, edges: Sequence[float]) -> int:
    return 1 + sum(value > e for e in edges) if edges else 3


def score_lower_better(value: float, edges: Sequence[float]) -> int:
    return 1 + sum(value < e for e in edges) if edges else 3


@dataclass(frozen=True)
class RfmEdges:
    recency: tuple[float, ...]
    frequency: tuple[float, ...]
    monetary: tuple[float, ...]

    def scores(self, recency_days: float, frequency: int, monetary: float) -> tuple[int, int, int]:
        return (
            score_lower_better(recency_days, self.recency),
            score_higher_better(frequency, self.frequency),
            score_higher_better(monetary, self.monetary),
        )

    def to_dict(self) -> dict[str, list[float]]:
        return {
            "recency": list(self.recency),
            "frequency": list(self.frequency),
            "monetary": list(self.monetary),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Sequence[float]]) -> RfmEdges:
        return cls(
            tuple(float(v) for v in data.get("recency", ())),
            tuple(float(v) for v in data.get("frequency", ())),
            tuple(float(v) for v in data.get("monetary", ())),
        )


@dataclass
class RfmSketch:
    """Mergeable histograms of the buyers' R, F and M: each scan segment builds one, the scorer merges
    them into the base's quintile edges. Recency and frequency are whole numbers (exact); monetary is
    binned logarithmically. A few hundred bins at most, whatever the size of the base."""

    recency: dict[int, int] = field(default_factory=dict)
    frequency: dict[int, int] = field(default_factory=dict)
    monetary: dict[int, int] = field(default_factory=dict)

    def add(self, recency_days: int, frequency: int, monetary: float) -> None:
        self.recency[recency_days] = self.recency.get(recency_days, 0) + 1
        self.frequency[frequency] = self.frequency.get(frequency, 0) + 1
        money_bin = _money_bin(monetary)
        self.monetary[money_bin] = self.monetary.get(money_bin, 0) + 1

    def merge(self, other: RfmSketch) -> None:
        for mine, theirs in (
            (self.recency, other.recency),
            (self.frequency, other.frequency),
            (self.monetary, other.monetary),
        ):
            for key, n in theirs.items():
                mine[key] = mine.get(key, 0) + n

    @property
    def buyers(self) -> int:
        return sum(self.frequency.values())

    def edges(self) -> RfmEdges:
        return RfmEdges(
            _histogram_edges(self.recency, float),
            _histogram_edges(self.frequency, float),
            _histogram_edges(self.monetary, _money_value),
        )

    def to_dict(self) -> dict[str, dict[str, int]]:
        return {
            name: {str(k): v for k, v in sorted(hist.items())}
            for name, hist in (("r", self.recency), ("f", self.frequency), ("m", self.monetary))
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Mapping[str, int]]) -> RfmSketch:
        def ints(name: str) -> dict[int, int]:
            return {int(k): int(v) for k, v in data.get(name, {}).items()}

        return cls(ints("r"), ints("f"), ints("m"))


def _money_bin(value: float) -> int:
    return math.floor(math.log(value) / _MONEY_BIN) if value > 0 else -10_000


def _money_value(money_bin: int) -> float:
    return 0.0 if money_bin <= -10_000 else round(math.exp((money_bin + 0.5) * _MONEY_BIN), 2)


def _histogram_edges(histogram: Mapping[int, int], value_of: Callable[[int], float]) -> tuple[float, ...]:
    """Nearest-rank percentiles of the values a histogram counts (as :func:`quantile_edges`)."""
    total = sum(histogram.values())
    if total == 0:
        return ()
    edges: list[float] = []
    cumulative = 0
    targets = iter(max(1, math.ceil(q * total)) for q in QUANTILES)
    target: int | None = next(targets)
    for key in sorted(histogram):
        cumulative += histogram[key]
        while target is not None and cumulative >= target:
            edges.append(float(value_of(key)))
            target = next(targets, None)
        if target is None:
            break
    return tuple(edges)


def edges_of(rows: Iterable[tuple[int, int, float]]) -> RfmEdges:
    """Edges straight from (recency_days, frequency, monetary) rows, through the same sketch."""
    sketch = RfmSketch()
    for recency_days, frequency, monetary in rows:
        sketch.add(recency_days, frequency, monetary)
    return sketch.edges()
