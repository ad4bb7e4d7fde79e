"""``nudge score``: scores for every shopper in an event export, as of a date, as CSV rows."""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from nudge.predictions.history import EventHistory
from nudge.predictions.train import TrainingOptions, train
from shared.predictions.model import ModelArtefact
from shared.predictions.scoring import Population, PopulationSketch, score_profile

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
)


def score_history(
    history: EventHistory,
    as_of: datetime,
    horizon_days: int,
    artefact: ModelArtefact | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[list[dict[str, Any]], ModelArtefact]:
    """One row per profile. Without an artefact, the models are trained on the same events (only
    those up to ``as_of``: labels come from rolling origins before it)."""
    if artefact is None:
        artefact = train(history, as_of, TrainingOptions(horizon_days=horizon_days), progress)
    elif artefact.horizon_days != horizon_days:
        raise ValueError(
            f"the model was trained for a {artefact.horizon_days}-day horizon, not {horizon_days}; "
            "retrain it or pass --horizon-days " + str(artefact.horizon_days)
        )
    model = artefact.loaded()
    if progress:
        progress("scoring profiles")
    (profiles,) = history.profiles_at([as_of])
    sketch = PopulationSketch()
    for profile in profiles.values():
        sketch.add(profile, as_of, artefact.rfm_window_days)
    population = Population.from_sketch(sketch, model)
    rows = []
    for user_id in sorted(profiles):
        scores = score_profile(profiles[user_id], model, population, as_of)
        rows.append(csv_row(user_id, scores))
    return rows, artefact


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
    }


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if row.get(k) is None else row[k] for k in COLUMNS})
