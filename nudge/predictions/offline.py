"""``nudge score``: scores for every shopper in an event export, as of a date, as CSV rows.

The model is chosen as the scoring run chooses it: a trained model (given, or trained on these
events) when the history is long enough for it, else the label-free models fitted on these events
(``shared.predictions.label_free``), with the reason."""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from nudge.predictions.history import EventHistory
from nudge.predictions.train import TrainingOptions, train
from shared.predictions.label_free import fit_label_free
from shared.predictions.model import MIN_HISTORY_DAYS, ModelArtefact
from shared.predictions.scoring import Population, PopulationSketch, ScoringModel, score_profile

COLUMNS = (
    "user_id",
    "recency_days",
    "frequency",
    "monetary",
    "r",
    "f",
    "m",
    "rfm_segment",
    "purchase_propensity",
    "expected_orders",
    "churn_risk",
    "best_send_hour",
    "top_category",
    "model_kind",
)


@dataclass(frozen=True)
class ScoredHistory:
    rows: list[dict[str, Any]]
    model: ScoringModel
    label_free_reason: str | None


def score_history(
    history: EventHistory,
    as_of: datetime,
    horizon_days: int,
    artefact: ModelArtefact | None = None,
    progress: Callable[[str], None] | None = None,
) -> ScoredHistory:
    """One row per profile. Without an artefact, the models are trained on the same events (only
    those up to ``as_of``: labels come from rolling origins before it) when the history allows it."""
    say = progress or (lambda _message: None)
    first = history.first_event_at()
    if first is None:
        raise ValueError("the event history is empty")
    history_days = max(0, (as_of - first).days)
    reason: str | None = None
    if artefact is not None:
        if artefact.horizon_days != horizon_days:
            raise ValueError(
                f"the model was trained for a {artefact.horizon_days}-day horizon, not {horizon_days}; "
                "retrain it or pass --horizon-days " + str(artefact.horizon_days)
            )
        if history_days < artefact.history_days_needed:
            reason = (
                f"the history ({history_days} days) is shorter than the {artefact.history_days_needed} "
                f"days model {artefact.version} needs"
            )
    elif history_days < horizon_days + MIN_HISTORY_DAYS:
        reason = (
            f"the history ({history_days} days) is shorter than the {horizon_days + MIN_HISTORY_DAYS} "
            f"days training a {horizon_days}-day model needs"
        )
    else:
        try:
            artefact = train(history, as_of, TrainingOptions(horizon_days=horizon_days), progress)
        except ValueError as error:
            reason = f"no model could be trained: {error}"
    say("scoring profiles")
    (profiles,) = history.profiles_at([as_of])
    window = artefact.rfm_window_days if artefact is not None else TrainingOptions().rfm_window_days
    sketch = PopulationSketch()
    for profile in profiles.values():
        sketch.add(profile, as_of, window)
    model: ScoringModel
    if reason is None and artefact is not None:
        model = artefact.loaded()
        population = Population.from_sketch(sketch, model)
    else:
        say(f"scoring with label-free models (BG/NBD, RFM) fitted on these events: {reason}")
        population = Population.from_sketch(sketch, None)
        model = fit_label_free(
            sketch.buyers,
            population.rfm_edges,
            population.local_hours,
            as_of,
            reason or "",
            profiles=sketch.profiles,
            history_days=history_days,
            horizons=(TrainingOptions().propensity_horizon_days, horizon_days),
            rfm_window_days=window,
        ).loaded()
    rows = [
        csv_row(user_id, score_profile(profiles[user_id], model, population, as_of))
        for user_id in sorted(profiles)
    ]
    return ScoredHistory(rows, model, reason)


def csv_row(user_id: str, scores: dict[str, Any]) -> dict[str, Any]:
    rfm = scores.get("rfm") or {}
    return {
        "user_id": user_id,
        "recency_days": rfm.get("recency_days"),
        "frequency": rfm.get("frequency"),
        "monetary": rfm.get("monetary"),
        "r": rfm.get("r"),
        "f": rfm.get("f"),
        "m": rfm.get("m"),
        "rfm_segment": rfm.get("segment"),
        "purchase_propensity": scores.get("purchase_propensity"),
        "expected_orders": scores.get("expected_orders"),
        "churn_risk": scores.get("churn_risk"),
        "best_send_hour": scores.get("best_send_hour"),
        "top_category": scores.get("favourite_category"),
        "model_kind": scores.get("model_kind"),
    }


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if row.get(k) is None else row[k] for k in COLUMNS})
