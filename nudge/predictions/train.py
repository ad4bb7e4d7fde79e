"""Training: fit BG/NBD and the stacked discriminative models on an event history up to a date.

Labels come from rolling origins: features at ``as_of - k * horizon``, the label is what happened in
the following ``horizon`` days, all before ``as_of``, so a model trained "as of" a date has never
seen anything after it. BG/NBD is fitted afresh at every origin on the summaries at that origin, and
its forecast for the horizon is among the features there (``shared.predictions.horizons``). Every
horizon the history can teach is trained (the published two must be; a year needs a year and two
weeks of history); the others are extrapolated at scoring time. When there are at least two
origins, the most recent one is held out to choose, per published score, between BG/NBD and the
stacked model (the artefact records the choice and the validation numbers); the final models are
then refitted on every origin.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from nudge.predictions import accuracy
from nudge.predictions.fit import fit_bgnbd, fit_glm
from nudge.predictions.history import EventHistory
from shared.predictions import bgnbd
from shared.predictions.features import buyer_summary, rfm_values
from shared.predictions.horizons import BGNBD_FEATURES, FLOOR, STACKED_FEATURES
from shared.predictions.linear import CLIP, LinearModel
from shared.predictions.model import ModelArtefact, Shopper, Source
from shared.predictions.rfm import edges_of
from shared.predictions.scoring import PopulationSketch
from shared.profiles.profile import Profile

MAX_ORIGINS = 4
MIN_HISTORY_DAYS = 14
Progress = Callable[[str], None]


@dataclass(frozen=True)
class TrainingOptions:
    propensity_horizon_days: int = 30
    horizon_days: int = 90
    rfm_window_days: int = 365
    # Trained besides the published two when the history is long enough; the others are
    # extrapolated from the nearest trained horizon through BG/NBD.
    longer_horizons: tuple[int, ...] = (180, 365)
    # STACKED_FEATURES: the profile's features and BG/NBD's forecast; MODEL_FEATURES: the profile's
    # alone (the discriminative model before stacking, which the evaluation still reports).
    features: tuple[str, ...] = STACKED_FEATURES

    @property
    def horizons(self) -> tuple[int, ...]:
        return tuple(sorted({self.propensity_horizon_days, self.horizon_days, *self.longer_horizons}))


@dataclass
class LabelledSet:
    """One origin's shoppers: their features, what happened in the horizon after it, and, for the
    validation, whether they are buyers and BG/NBD's forecast for them."""

    features: tuple[str, ...]
    rows: list[list[float]] = field(default_factory=list)
    ordered: list[float] = field(default_factory=list)
    orders: list[float] = field(default_factory=list)
    baseline_probability: list[float | None] = field(default_factory=list)
    baseline_expected: list[float | None] = field(default_factory=list)

    def extend(self, other: LabelledSet) -> None:
        self.rows += other.rows
        self.ordered += other.ordered
        self.orders += other.orders

    def matrix(self) -> np.ndarray:
        return np.asarray(self.rows, dtype=float).reshape(-1, len(self.features))


def labelled(
    profiles: dict[str, Profile],
    history: EventHistory,
    cut: datetime,
    horizon: int,
    params: bgnbd.BgNbdParams,
    features: tuple[str, ...] = STACKED_FEATURES,
) -> LabelledSet:
    """The shoppers at ``cut`` with what they ordered in the ``horizon`` days after it."""
    rows = unlabelled(profiles, cut, horizon, params, features)
    outcomes = history.orders_between(cut, cut + timedelta(days=horizon))
    for user_id in profiles:
        n = len(outcomes.get(user_id, []))
        rows.ordered.append(1.0 if n else 0.0)
        rows.orders.append(float(n))
    return rows


def unlabelled(
    profiles: dict[str, Profile],
    cut: datetime,
    horizon: int,
    params: bgnbd.BgNbdParams,
    features: tuple[str, ...] = STACKED_FEATURES,
) -> LabelledSet:
    """The shoppers' features and BG/NBD's forecasts at ``cut``, in ``profiles``' order; no outcome."""
    stacked = any(name in BGNBD_FEATURES for name in features)
    rows = LabelledSet(features)
    for profile in profiles.values():
        shopper = Shopper.of(profile, cut, params)
        values = shopper.stacked(horizon) if stacked else shopper.features
        baseline = shopper.baseline(horizon)
        rows.rows.append([values[name] for name in features])
        rows.baseline_probability.append(baseline.probability if baseline else None)
        rows.baseline_expected.append(baseline.expected if baseline else None)
    return rows


def _bgnbd_fit_at(profiles: dict[str, Profile], cut: datetime) -> bgnbd.BgNbdParams:
    summaries = [s for p in profiles.values() if (s := buyer_summary(p, cut)) is not None]
    if len(summaries) < 10:
        raise ValueError(f"too few buyers to fit BG/NBD ({len(summaries)}); give a longer history")
    params, _ = fit_bgnbd(
        [s.repeat_orders for s in summaries], [s.t_x for s in summaries], [s.age for s in summaries]
    )
    return params


def origins(history: EventHistory, as_of: datetime, horizon: int) -> list[datetime]:
    """Cut dates as_of - horizon, as_of - 2 horizon, … while some history precedes them."""
    first = history.first_event_at()
    if first is None:
        raise ValueError("the event history is empty")
    found = []
    for k in range(1, MAX_ORIGINS + 1):
        cut = as_of - timedelta(days=horizon * k)
        if cut < first + timedelta(days=MIN_HISTORY_DAYS):
            break
        found.append(cut)
    if not found:
        raise ValueError(
            f"need at least {horizon + MIN_HISTORY_DAYS} days of events before {as_of.date()} "
            f"to learn a {horizon}-day horizon"
        )
    return found


def train(
    history: EventHistory,
    as_of: datetime,
    options: TrainingOptions,
    progress: Progress | None = None,
    snapshots: Mapping[datetime, dict[str, Profile]] | None = None,
) -> ModelArtefact:
    """The artefact as of ``as_of``. ``snapshots`` may hold profiles already folded at some of the
    moments training needs (the evaluation folds once for all its cuts); only moments up to
    ``as_of`` are ever read."""
    say = progress or (lambda _message: None)
    short, long = options.propensity_horizon_days, options.horizon_days
    cuts = {short: origins(history, as_of, short), long: origins(history, as_of, long)}
    for days in options.horizons:
        if days not in cuts:
            try:
                cuts[days] = origins(history, as_of, days)
            except ValueError:
                say(f"not enough history for a {days}-day model: it will be extrapolated")
    moments = sorted({as_of, *(c for found in cuts.values() for c in found)})
    known = dict(snapshots or {})
    missing = [m for m in moments if m not in known]
    if missing:
        say(f"folding events into profiles at {len(missing)} dates")
        known.update(zip(missing, history.profiles_at(missing), strict=True))
    say(f"fitting BG/NBD at {len(moments)} dates")
    fits: dict[datetime, bgnbd.BgNbdParams] = {}
    for moment in moments:
        try:
            fits[moment] = _bgnbd_fit_at(known[moment], moment)
        except ValueError:
            if moment == as_of:
                raise
    say("labelling rolling origins")
    sets: dict[int, list[LabelledSet]] = {}
    for days, found in sorted(cuts.items()):
        usable = [c for c in found if c in fits]
        if usable:
            cuts[days] = usable
            sets[days] = [labelled(known[c], history, c, days, fits[c], options.features) for c in usable]
        elif days in (short, long):
            raise ValueError(f"too few buyers before {found[0].date()} to learn a {days}-day horizon")
        else:
            del cuts[days]

    say("validating on the most recent origin of each horizon")
    weights, validation = _blend_weights(sets)
    say("fitting the final models")
    horizon_models: dict[str, dict[str, Any]] = {}
    for days, training in sorted(sets.items()):
        ordered, orders = _fit_on(training, "ordered", "logit"), _fit_on(training, "orders", "log")
        now = unlabelled(known[as_of], as_of, days, fits[as_of], options.features)
        horizon_models[str(days)] = {
            "ordered": ordered.to_dict(),
            "orders": orders.to_dict(),
            "blend": {**weights[days], **_level(now, ordered, orders)},
        }
    # a published score whose blend leaves the stacked model out is BG/NBD's for buyers
    choices: dict[str, Source] = {
        score: "bgnbd" if weights[days][kind] == 0.0 else "discriminative"
        for score, days, kind in (
            ("purchase_propensity", short, "ordered"),
            ("churn_risk", long, "ordered"),
            ("expected_orders", long, "orders"),
        )
    }
    params = fits[as_of]

    current = known[as_of]
    sketch = PopulationSketch()
    for profile in current.values():
        sketch.add(profile, as_of, options.rfm_window_days)
    rfm_rows = [
        (v.recency_days, v.frequency, v.monetary)
        for p in current.values()
        if (v := rfm_values(p, as_of, options.rfm_window_days)) is not None
    ]
    artefact = ModelArtefact(
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        calibrated_until=as_of.isoformat(timespec="seconds"),
        propensity_horizon_days=short,
        horizon_days=long,
        rfm_window_days=options.rfm_window_days,
        bgnbd=params.to_dict(),
        horizon_models=horizon_models,
        choices=choices,
        rfm_edges=edges_of(rfm_rows).to_dict(),
        population_hours=[round(v, 4) for v in sketch.local_hours],
        validation={
            **validation,
            "profiles": len(current),
            "buyers": len(rfm_rows),
            "origins": {
                str(days): [c.date().isoformat() for c in found] for days, found in sorted(cuts.items())
            },
        },
    )
    return artefact.with_version()


def _fit_on(sets: list[LabelledSet], target: str, link: str) -> LinearModel:
    merged = LabelledSet(sets[0].features)
    for s in sets:
        merged.extend(s)
    y = np.asarray(getattr(merged, target), dtype=float)
    return fit_glm(merged.features, merged.matrix(), y, "logit" if link == "logit" else "log")


def _predicted(model: LinearModel, matrix: np.ndarray) -> np.ndarray:
    """``model.predict`` for every row at once (the same standardising, clipping and link)."""
    z = np.clip((matrix - np.asarray(model.means)) / np.asarray(model.scales), -CLIP, CLIP)
    eta = z @ np.asarray(model.weights) + model.intercept
    return (
        1.0 / (1.0 + np.exp(-np.clip(eta, -50.0, 50.0)))
        if model.link == "logit"
        else np.exp(np.minimum(eta, 50.0))
    )


BLEND_GRID = tuple(k / 10 for k in range(11))


def _blend_weights(
    sets: dict[int, list[LabelledSet]],
) -> tuple[dict[int, dict[str, float]], dict[str, Any]]:
    """Per horizon, how far the buyers' forecasts move from BG/NBD's towards the stacked model's: the
    weight (0 … 1, on the logit for P(order), on the count for expected orders) that did best on the
    newest origin, the models fitted on the older ones (log loss; squared error). A horizon with a
    single origin takes the probability's weight of the nearest validated horizon (0 if none is)
    and BG/NBD's expected orders (0)."""
    found: dict[int, dict[str, float]] = {}
    report: dict[str, Any] = {}
    for days, labelled_sets in sorted(sets.items()):
        if len(labelled_sets) < 2:
            continue
        newest = labelled_sets[0]
        buyers = [i for i, p in enumerate(newest.baseline_probability) if p is not None]
        if not buyers:
            continue
        matrix = newest.matrix()[buyers]
        truth = np.asarray([newest.ordered[i] for i in buyers])
        counts = np.asarray([newest.orders[i] for i in buyers])
        ordered, orders = (
            _fit_on(labelled_sets[1:], "ordered", "logit"),
            _fit_on(labelled_sets[1:], "orders", "log"),
        )
        level = _level(newest, ordered, orders)
        stacked_p = _shifted(_predicted(ordered, matrix), level["shift"])
        stacked_e = _predicted(orders, matrix) * level["scale"]
        base_p = np.asarray([newest.baseline_probability[i] or 0.0 for i in buyers])
        base_e = np.asarray([newest.baseline_expected[i] or 0.0 for i in buyers])
        losses = {w: _log_loss(truth, _blend_logit(base_p, stacked_p, w)) for w in BLEND_GRID}
        w_ordered = min(BLEND_GRID, key=lambda w: (losses[w], w))
        spread = float(np.sum((stacked_e - base_e) ** 2))
        w_orders = (
            float(np.clip(np.sum((counts - base_e) * (stacked_e - base_e)) / spread, 0, 1)) if spread else 0.0
        )
        w_orders = round(w_orders, 3)
        found[days] = {"ordered": w_ordered, "orders": w_orders}
        blended_e = base_e + w_orders * (stacked_e - base_e)
        report[f"{days}d"] = {
            "buyers": len(buyers),
            "blend": found[days],
            "log_loss": {"bgnbd": round(losses[0.0], 4), "stacked": round(losses[1.0], 4)},
            "auc": {
                "bgnbd": round(accuracy.auc(list(truth), list(base_p)), 4),
                "stacked": round(accuracy.auc(list(truth), list(stacked_p)), 4),
                "blend": round(
                    accuracy.auc(list(truth), list(_blend_logit(base_p, stacked_p, w_ordered))), 4
                ),
            },
            "rmse": {
                "bgnbd": round(_rmse(counts, base_e), 4),
                "stacked": round(_rmse(counts, stacked_e), 4),
                "blend": round(_rmse(counts, blended_e), 4),
            },
        }
    weights: dict[int, dict[str, float]] = {}
    for days in sets:
        if days in found:
            weights[days] = found[days]
        elif found:
            # the ranking's weight carries over; a count's least-squares weight depends on the
            # horizon's own spread, so an unvalidated one stays with BG/NBD's count
            nearest = min(found, key=lambda h: (abs(h - days), h))
            weights[days] = {"ordered": found[nearest]["ordered"], "orders": 0.0}
        else:
            weights[days] = {"ordered": 0.0, "orders": 0.0}
    return weights, report


def _level(rows: LabelledSet, ordered: LinearModel, orders: LinearModel) -> dict[str, float]:
    """BG/NBD's level for the stacked models' buyers at one moment, from features alone (no outcome):
    the shift of the logit that makes the buyers' mean P(order) BG/NBD's, and the factor that makes
    their expected orders add up to BG/NBD's. BG/NBD extrapolates how a base ages; the stacked model,
    trained on earlier origins, knows the base as it was."""
    buyers = [i for i, p in enumerate(rows.baseline_probability) if p is not None]
    if not buyers:
        return {"shift": 0.0, "scale": 1.0}
    matrix = rows.matrix()[buyers]
    stacked_p, stacked_e = _predicted(ordered, matrix), _predicted(orders, matrix)
    target_p = float(np.mean([rows.baseline_probability[i] or 0.0 for i in buyers]))
    target_e = float(np.sum([rows.baseline_expected[i] or 0.0 for i in buyers]))
    low, high = -10.0, 10.0
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (
            (middle, high) if float(np.mean(_shifted(stacked_p, middle))) < target_p else (low, middle)
        )
    total = float(np.sum(stacked_e))
    return {"shift": round((low + high) / 2, 6), "scale": round(target_e / total, 6) if total > 0 else 1.0}


def _shifted(p: np.ndarray, shift: float) -> np.ndarray:
    return _blend_logit(p, p, 0.0, shift)


def _blend_logit(base: np.ndarray, stacked: np.ndarray, weight: float, shift: float = 0.0) -> np.ndarray:
    def logit(p: np.ndarray) -> np.ndarray:
        p = np.clip(p, FLOOR, 1 - FLOOR)
        return np.log(p / (1 - p))

    return 1.0 / (1.0 + np.exp(-(logit(base) + weight * (logit(stacked) - logit(base)) + shift)))


def _log_loss(truth: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, accuracy.EPSILON, 1 - accuracy.EPSILON)
    return float(-np.mean(truth * np.log(p) + (1 - truth) * np.log(1 - p)))


def _rmse(actual: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.sqrt(np.mean((actual - predicted) ** 2)))
