"""The trained model artefact the scorer loads, and what it predicts for one profile.

An artefact is immutable and versioned (``<trained-at>-<content hash>``); ``nudge train`` fits it
offline and publishes it to the models table; the scorer always loads the newest. It carries both
the probabilistic baseline (BG/NBD) and the discriminative models (logistic regression for "orders
in the horizon", Poisson regression for the number of orders), and which of the two each published
score uses — chosen on the trainer's own time-based validation, not by hand.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.predictions import bgnbd
from shared.predictions.features import MODEL_FEATURES, buyer_summary, model_features
from shared.predictions.linear import LinearModel
from shared.predictions.rfm import RfmEdges
from shared.profiles.profile import Profile

ARTEFACT_NAME = "scoring-model"
# Days of events before the first origin, beyond the horizon, that training needs (``nudge train``):
# a shop with less history than a model's horizon plus this is scored with the label-free models.
MIN_HISTORY_DAYS = 14


class IncompatibleModel(ValueError):
    """An artefact this version of the scoring code cannot use."""


Source = Literal["discriminative", "bgnbd"]


class ModelArtefact(BaseModel):
    model_config = ConfigDict(frozen=True)

    version: str = ""
    trained_at: str
    calibrated_until: str
    propensity_horizon_days: int = 30
    horizon_days: int = 90
    rfm_window_days: int = 365
    bgnbd: dict[str, float]
    propensity: dict[str, Any]
    horizon_order: dict[str, Any]
    expected_orders: dict[str, Any]
    choices: dict[str, Source] = Field(default_factory=dict)
    rfm_edges: dict[str, list[float]] = Field(default_factory=dict)
    population_hours: list[float] = Field(default_factory=list)
    validation: dict[str, Any] = Field(default_factory=dict)

    def content_hash(self) -> str:
        body = self.model_dump(exclude={"version"})
        return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:12]

    def with_version(self) -> ModelArtefact:
        stamp = self.trained_at.replace(":", "").replace("-", "")[:15]
        return self.model_copy(update={"version": f"{stamp}-{self.content_hash()}"})

    def to_json(self) -> str:
        return self.model_dump_json(indent=1)

    @property
    def history_days_needed(self) -> int:
        """The history a shop needs for this model to fit it: what training needed to learn its
        longest horizon. Shorter, and every shopper's tenure, counts and recency lie outside what
        the model was fitted on."""
        return self.horizon_days + MIN_HISTORY_DAYS

    def loaded(self) -> LoadedModel:
        """The artefact ready to score; refuses one that needs features this code cannot compute
        (an artefact trained by another version of Nudge: retrain it)."""
        for name in ("propensity", "horizon_order", "expected_orders"):
            unknown = set(getattr(self, name).get("features", ())) - set(MODEL_FEATURES)
            if unknown:
                raise IncompatibleModel(
                    f"model {self.version} ({name}) needs features this code does not compute: "
                    f"{', '.join(sorted(unknown))}; retrain it with `nudge train`"
                )
        return LoadedModel(
            artefact=self,
            bgnbd=bgnbd.BgNbdParams(**self.bgnbd),
            propensity=LinearModel.from_dict(self.propensity),
            horizon_order=LinearModel.from_dict(self.horizon_order),
            expected_orders=LinearModel.from_dict(self.expected_orders),
            rfm_edges=RfmEdges.from_dict(self.rfm_edges),
        )


@dataclass(frozen=True)
class Predictions:
    """Both models' answers for one shopper (BG/NBD's are None for a shopper who never ordered)."""

    propensity: float
    horizon_order: float
    expected_orders: float
    bgnbd_propensity: float | None
    bgnbd_horizon_order: float | None
    bgnbd_expected_orders: float | None
    probability_alive: float | None

    def chosen(self, score: str, source: Source) -> float:
        discriminative, baseline = {
            "purchase_propensity": (self.propensity, self.bgnbd_propensity),
            "horizon_order": (self.horizon_order, self.bgnbd_horizon_order),
            "expected_orders": (self.expected_orders, self.bgnbd_expected_orders),
        }[score]
        return baseline if source == "bgnbd" and baseline is not None else discriminative


@dataclass(frozen=True)
class LoadedModel:
    artefact: ModelArtefact
    bgnbd: bgnbd.BgNbdParams
    propensity: LinearModel
    horizon_order: LinearModel
    expected_orders: LinearModel
    rfm_edges: RfmEdges
    kind: Literal["trained"] = "trained"

    @property
    def version(self) -> str:
        return self.artefact.version

    @property
    def propensity_horizon_days(self) -> int:
        return self.artefact.propensity_horizon_days

    @property
    def horizon_days(self) -> int:
        return self.artefact.horizon_days

    @property
    def rfm_window_days(self) -> int:
        return self.artefact.rfm_window_days

    @property
    def population_hours(self) -> list[float]:
        return list(self.artefact.population_hours)

    def scored(self, profile: Profile, as_of: datetime) -> dict[str, tuple[float, str]]:
        """Each score from the model the trainer chose for it, with that model's name."""
        predictions = self.predict(profile, as_of)
        found: dict[str, tuple[float, str]] = {}
        for score, choice, discriminative, baseline, own in (
            (
                "purchase_propensity",
                "purchase_propensity",
                predictions.propensity,
                predictions.bgnbd_propensity,
                "logistic",
            ),
            (
                "horizon_order",
                "churn_risk",
                predictions.horizon_order,
                predictions.bgnbd_horizon_order,
                "logistic",
            ),
            (
                "expected_orders",
                "expected_orders",
                predictions.expected_orders,
                predictions.bgnbd_expected_orders,
                "poisson",
            ),
        ):
            use_baseline = self.artefact.choices.get(choice) == "bgnbd" and baseline is not None
            found[score] = (
                (baseline, "bgnbd") if use_baseline and baseline is not None else (discriminative, own)
            )
        if predictions.probability_alive is not None:
            found["probability_alive"] = (predictions.probability_alive, "bgnbd")
        return found

    def predict(self, profile: Profile, as_of: datetime) -> Predictions:
        features = model_features(profile, as_of)
        summary = buyer_summary(profile, as_of)
        short, long = self.artefact.propensity_horizon_days, self.artefact.horizon_days
        baseline: tuple[float | None, ...] = (None, None, None, None)
        if summary is not None:
            args = (self.bgnbd, summary.repeat_orders, summary.t_x, summary.age)
            baseline = (
                bgnbd.probability_of_order(*args, t=short),
                bgnbd.probability_of_order(*args, t=long),
                bgnbd.expected_orders(*args, t=long),
                bgnbd.probability_alive(*args),
            )
        return Predictions(
            self.propensity.predict(features),
            self.horizon_order.predict(features),
            self.expected_orders.predict(features),
            *baseline,
        )
