"""The evaluation across time cuts and horizons: BG/NBD, the discriminative model before stacking, and
the scorer as shipped (the stacked models, extrapolated through BG/NBD beyond what the history can
teach), each trained on the events up to a cut only and compared with the orders after it.

Every cut is a time-based split: the models see the events at or before the cut (``known_at``), the
outcomes are the orders strictly after it, within the horizon. A horizon is reported at a cut when
the data covers the whole of it. The population is the buyers at the cut, BG/NBD's domain.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from nudge.predictions import accuracy
from nudge.predictions.history import EventHistory
from nudge.predictions.train import TrainingOptions, origins, train
from shared.predictions.features import MODEL_FEATURES, buyer_summary
from shared.predictions.model import LoadedModel
from shared.profiles.profile import Profile

HORIZONS = (30, 90, 180, 365)
BGNBD = "BG/NBD"
BEFORE = "logistic / Poisson (profile features only)"
SCORER = "scorer: stacked (+ BG/NBD features)"
MODELS = (BGNBD, BEFORE, SCORER)
Say = Callable[[str], None]


@dataclass(frozen=True)
class HorizonRow:
    dataset: str
    cut: datetime
    history_days: int
    horizon: int
    model: str
    # how the model reached this horizon: "trained" on it, "extrapolated" from a shorter one, or
    # "closed form" (BG/NBD)
    how: str
    buyers: int
    auc: float
    mae: float
    rmse: float
    predicted_total: float
    actual_total: float


def known_at(full: EventHistory, cut: datetime) -> EventHistory:
    """The calibration period: every event at or before ``cut``, nothing after it."""
    kept = {u: [e for e in events if e.timestamp <= cut] for u, events in full.events_by_user.items()}
    return EventHistory({u: events for u, events in kept.items() if events})


def rmse(actual: Sequence[float], predicted: Sequence[float]) -> float:
    return math.sqrt(sum((a - p) ** 2 for a, p in zip(actual, predicted, strict=True)) / len(actual))


def horizon_rows(
    dataset: str,
    full: EventHistory,
    cuts: Sequence[datetime],
    observed_until: datetime,
    horizons: Sequence[int] = HORIZONS,
    say: Say | None = None,
) -> list[HorizonRow]:
    say = say or (lambda _m: None)
    stacked_options = TrainingOptions(longer_horizons=tuple(horizons))
    before_options = TrainingOptions(longer_horizons=tuple(horizons), features=MODEL_FEATURES)
    first = full.first_event_at()
    moments: set[datetime] = set()
    for cut in cuts:
        moments.add(cut)
        for days in horizons:
            with contextlib.suppress(ValueError):  # a horizon longer than the history: no origin
                moments.update(origins(full, cut, days))
    ordered = sorted(moments)
    say(f"{dataset}: folding events into profiles at {len(ordered)} dates for {len(cuts)} cuts")
    # a profile at a moment is folded from the events up to that moment only
    snapshots = dict(zip(ordered, full.profiles_at(ordered), strict=True))
    rows: list[HorizonRow] = []
    for cut in cuts:
        known = known_at(full, cut)
        mine = {m: s for m, s in snapshots.items() if m <= cut}
        say(f"{dataset}: training at the cut {cut.date()}")
        scorer = train(known, cut, stacked_options, snapshots=mine).loaded()
        # the discriminative model as it was: its own predictions, no BG/NBD in them
        before = replace(train(known, cut, before_options, snapshots=mine).loaded(), blend={})
        history_days = (cut - first).days if first else 0
        for days in horizons:
            if cut + timedelta(days=days) > observed_until:
                continue
            outcomes = full.orders_between(cut, cut + timedelta(days=days))
            rows += _rows_at(dataset, snapshots[cut], cut, history_days, days, outcomes, scorer, before)
    return rows


def _rows_at(
    dataset: str,
    profiles: dict[str, Profile],
    cut: datetime,
    history_days: int,
    days: int,
    outcomes: Mapping[str, Sequence[object]],
    scorer: LoadedModel,
    before: LoadedModel,
) -> list[HorizonRow]:
    columns: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in MODELS}
    truth: list[float] = []
    counts: list[float] = []
    for user_id, profile in profiles.items():
        if buyer_summary(profile, cut) is None:
            continue
        n = float(len(outcomes.get(user_id, [])))
        truth.append(1.0 if n else 0.0)
        counts.append(n)
        shopper = scorer.shopper(profile, cut)
        baseline = shopper.baseline(days)
        assert baseline is not None
        predictions = {
            BGNBD: (baseline.probability, baseline.expected),
            SCORER: (
                scorer.chosen_probability(shopper, days)[0],
                scorer.chosen_expected(shopper, days)[0],
            ),
        }
        if days in before.ordered:
            old = before.shopper(profile, cut)
            predictions[BEFORE] = (before.probability(old, days), before.expected(old, days))
        for name, (p, e) in predictions.items():
            columns[name][0].append(p)
            columns[name][1].append(e)
    rows = []
    for name in MODELS:
        probabilities, expected = columns[name]
        if not probabilities:
            continue  # the model cannot score this horizon
        how = "closed form" if name == BGNBD else "trained" if days in scorer.ordered else "extrapolated"
        rows.append(
            HorizonRow(
                dataset,
                cut,
                history_days,
                days,
                name,
                how,
                len(truth),
                accuracy.auc(truth, probabilities),
                accuracy.mae(counts, expected),
                rmse(counts, expected),
                sum(expected),
                sum(counts),
            )
        )
    return rows


def markdown(rows: Sequence[HorizonRow]) -> str:
    lines = [
        "| dataset | cut | history (days) | horizon (days) | model | how | buyers | AUC | MAE orders "
        "| RMSE orders | predicted / actual orders |",
        "|---|---|--:|--:|---|---|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.dataset} | {r.cut:%Y-%m-%d} | {r.history_days} | {r.horizon} | {r.model} | {r.how} "
            f"| {r.buyers:,} | {r.auc:.3f} | {r.mae:.3f} | {r.rmse:.3f} "
            f"| {r.predicted_total:,.0f} / {r.actual_total:,.0f} |"
        )
    return "\n".join(lines) + "\n"
