"""Training: fit BG/NBD and the discriminative models on an event history up to a date.

Labels come from rolling origins: features at ``as_of - k * horizon``, the label is what happened in
the following ``horizon`` days — all before ``as_of``, so a model trained "as of" a date has never
seen anything after it. When there are at least two origins, the most recent one is held out to
choose, per score, between BG/NBD and the discriminative model (the published artefact records the
choice and the validation numbers); the final models are then refitted on every origin.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from nudge.predictions import accuracy
from nudge.predictions.fit import fit_bgnbd, fit_glm
from nudge.predictions.history import EventHistory
from shared.predictions import bgnbd
from shared.predictions.features import MODEL_FEATURES, buyer_summary, model_features, rfm_values
from shared.predictions.linear import LinearModel
from shared.predictions.model import ModelArtefact, Source
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


@dataclass
class LabelledSet:
    features: list[list[float]]
    ordered: list[float]
    orders: list[float]

    @classmethod
    def empty(cls) -> LabelledSet:
        return cls([], [], [])

    def extend(self, other: LabelledSet) -> None:
        self.features += other.features
        self.ordered += other.ordered
        self.orders += other.orders

    def matrix(self) -> np.ndarray:
        return np.asarray(self.features, dtype=float).reshape(-1, len(MODEL_FEATURES))


def labelled(profiles: dict[str, Profile], history: EventHistory, cut: datetime, horizon: int) -> LabelledSet:
    outcomes = history.orders_between(cut, cut + timedelta(days=horizon))
    rows = LabelledSet.empty()
    for user_id, profile in profiles.items():
        features = model_features(profile, cut)
        n = len(outcomes.get(user_id, []))
        rows.features.append([features[name] for name in MODEL_FEATURES])
        rows.ordered.append(1.0 if n else 0.0)
        rows.orders.append(float(n))
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
    history: EventHistory, as_of: datetime, options: TrainingOptions, progress: Progress | None = None
) -> ModelArtefact:
    say = progress or (lambda _message: None)
    short, long = options.propensity_horizon_days, options.horizon_days
    short_cuts, long_cuts = origins(history, as_of, short), origins(history, as_of, long)
    moments = sorted({as_of, *short_cuts, *long_cuts})
    say(f"folding events into profiles at {len(moments)} dates")
    snapshots = dict(zip(moments, history.profiles_at(moments), strict=True))

    say("labelling rolling origins")
    short_sets = [labelled(snapshots[c], history, c, short) for c in short_cuts]
    long_sets = [labelled(snapshots[c], history, c, long) for c in long_cuts]

    choices: dict[str, Source] = {}
    validation: dict[str, Any] = {}
    if len(short_cuts) >= 2 or len(long_cuts) >= 2:
        say("validating on the most recent origin")
        choices, validation = _choose(
            history, snapshots, short_cuts, long_cuts, short_sets, long_sets, options
        )

    say("fitting the final models")
    propensity = _fit_on(short_sets, "ordered", "logit")
    horizon_order = _fit_on(long_sets, "ordered", "logit")
    expected = _fit_on(long_sets, "orders", "log")
    params = _bgnbd_fit_at(snapshots[as_of], as_of)

    current = snapshots[as_of]
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
        propensity=propensity.to_dict(),
        horizon_order=horizon_order.to_dict(),
        expected_orders=expected.to_dict(),
        choices=choices,
        rfm_edges=edges_of(rfm_rows).to_dict(),
        population_hours=[round(v, 4) for v in sketch.local_hours],
        validation={
            **validation,
            "profiles": len(current),
            "buyers": len(rfm_rows),
            "origins": {
                "propensity": [c.date().isoformat() for c in short_cuts],
                "horizon": [c.date().isoformat() for c in long_cuts],
            },
        },
    )
    return artefact.with_version()


def _fit_on(sets: list[LabelledSet], target: str, link: str) -> LinearModel:
    merged = LabelledSet.empty()
    for s in sets:
        merged.extend(s)
    y = np.asarray(getattr(merged, target), dtype=float)
    return fit_glm(MODEL_FEATURES, merged.matrix(), y, "logit" if link == "logit" else "log")


def _choose(
    history: EventHistory,
    snapshots: dict[datetime, dict[str, Profile]],
    short_cuts: list[datetime],
    long_cuts: list[datetime],
    short_sets: list[LabelledSet],
    long_sets: list[LabelledSet],
    options: TrainingOptions,
) -> tuple[dict[str, Source], dict[str, Any]]:
    """Fit on older origins, compare both models on the newest one (buyers only: BG/NBD's domain)."""
    choices: dict[str, Source] = {}
    report: dict[str, Any] = {}
    for score, cuts, sets, horizon in (
        ("purchase_propensity", short_cuts, short_sets, options.propensity_horizon_days),
        ("churn_risk", long_cuts, long_sets, options.horizon_days),
    ):
        if len(cuts) < 2:
            continue
        cut = cuts[0]
        ordered_model = _fit_on(sets[1:], "ordered", "logit")
        count_model = _fit_on(sets[1:], "orders", "log") if score == "churn_risk" else None
        params = _bgnbd_fit_at(snapshots[cut], cut)
        outcomes = history.orders_between(cut, cut + timedelta(days=horizon))
        truth, disc, base, disc_n, base_n, actual_n = [], [], [], [], [], []
        for user_id, profile in snapshots[cut].items():
            summary = buyer_summary(profile, cut)
            if summary is None:
                continue
            values = model_features(profile, cut)
            n = len(outcomes.get(user_id, []))
            truth.append(1.0 if n else 0.0)
            actual_n.append(float(n))
            disc.append(ordered_model.predict(values))
            args = (params, summary.repeat_orders, summary.t_x, summary.age)
            base.append(bgnbd.probability_of_order(*args, t=horizon))
            if count_model is not None:
                disc_n.append(count_model.predict(values))
                base_n.append(bgnbd.expected_orders(*args, t=horizon))
        loss_disc, loss_base = accuracy.log_loss(truth, disc), accuracy.log_loss(truth, base)
        choices[score] = "discriminative" if loss_disc <= loss_base else "bgnbd"
        report[score] = {
            "origin": cut.date().isoformat(),
            "buyers": len(truth),
            "log_loss": {"discriminative": round(loss_disc, 4), "bgnbd": round(loss_base, 4)},
            "auc": {
                "discriminative": round(accuracy.auc(truth, disc), 4),
                "bgnbd": round(accuracy.auc(truth, base), 4),
            },
        }
        if count_model is not None:
            mae_disc, mae_base = accuracy.mae(actual_n, disc_n), accuracy.mae(actual_n, base_n)
            choices["expected_orders"] = "discriminative" if mae_disc <= mae_base else "bgnbd"
            report["expected_orders"] = {
                "mae": {"discriminative": round(mae_disc, 4), "bgnbd": round(mae_base, 4)}
            }
    return choices, report
