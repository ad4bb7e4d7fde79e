"""The trained model artefact the scorer loads, and what it predicts for one profile.

An artefact is immutable and versioned (``<trained-at>-<content hash>``); ``nudge train`` fits it
offline and publishes it to the models table; the scorer always loads the newest. It carries the
probabilistic baseline (BG/NBD) and, per trained horizon, the stacked discriminative models
(logistic regression for "an order within the horizon", Poisson regression for the number of
orders, both seeing BG/NBD's forecast among their features: ``shared.predictions.horizons``), and
which of the two each published score uses, chosen on the trainer's own time-based validation.
Any horizon can be forecast: one the artefact was not trained on is extrapolated from the nearest
trained one through BG/NBD.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.predictions import bgnbd
from shared.predictions.features import BuyerSummary, buyer_summary, model_features
from shared.predictions.horizons import (
    STACKED_FEATURES,
    BaselineForecast,
    Forecast,
    baseline_forecast,
    extrapolated_expected,
    extrapolated_probability,
    logit,
    nearest_trained,
    stacked_features,
)
from shared.predictions.linear import LinearModel, sigmoid
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
    # Per trained horizon in days ("30", "90", ...): {"ordered": logistic, "orders": Poisson}.
    horizon_models: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # Artefacts from before the horizon models hold only the published horizons' models here.
    propensity: dict[str, Any] = Field(default_factory=dict)
    horizon_order: dict[str, Any] = Field(default_factory=dict)
    expected_orders: dict[str, Any] = Field(default_factory=dict)
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
        longest published horizon. Shorter, and every shopper's tenure, counts and recency lie
        outside what the model was fitted on."""
        return self.horizon_days + MIN_HISTORY_DAYS

    def linear_models(self) -> tuple[dict[int, LinearModel], dict[int, LinearModel]]:
        """The logistic models by horizon, and the Poisson models by horizon."""
        ordered: dict[int, LinearModel] = {}
        orders: dict[int, LinearModel] = {}
        for days, models in self.horizon_models.items():
            ordered[int(days)] = LinearModel.from_dict(models["ordered"])
            orders[int(days)] = LinearModel.from_dict(models["orders"])
        if not self.horizon_models:  # an artefact from before the horizon models
            ordered[self.propensity_horizon_days] = LinearModel.from_dict(self.propensity)
            ordered[self.horizon_days] = LinearModel.from_dict(self.horizon_order)
            orders[self.horizon_days] = LinearModel.from_dict(self.expected_orders)
        return ordered, orders

    def loaded(self) -> LoadedModel:
        """The artefact ready to score; refuses one that needs features this code cannot compute
        (an artefact trained by another version of Nudge: retrain it)."""
        ordered, orders = self.linear_models()
        for kind, models in (("ordered", ordered), ("orders", orders)):
            for days, model in sorted(models.items()):
                unknown = set(model.features) - set(STACKED_FEATURES)
                if unknown:
                    raise IncompatibleModel(
                        f"model {self.version} ({kind}, {days} days) needs features this code does not "
                        f"compute: {', '.join(sorted(unknown))}; retrain it with `nudge train`"
                    )
        return LoadedModel(
            artefact=self,
            bgnbd=bgnbd.BgNbdParams(**self.bgnbd),
            ordered=ordered,
            orders=orders,
            blend={int(days): dict(models.get("blend", {})) for days, models in self.horizon_models.items()},
            rfm_edges=RfmEdges.from_dict(self.rfm_edges),
        )


@dataclass(frozen=True)
class Predictions:
    """Both models' answers for one shopper at the published horizons (BG/NBD's are None for a
    shopper who never ordered); the discriminative ones are the stacked models' own, before any
    choice."""

    propensity: float
    horizon_order: float
    expected_orders: float
    bgnbd_propensity: float | None
    bgnbd_horizon_order: float | None
    bgnbd_expected_orders: float | None
    probability_alive: float | None


@dataclass
class Shopper:
    """One shopper as the models see them at one moment: the profile's features, BG/NBD's summary,
    and BG/NBD's forecast per horizon, each computed once."""

    features: dict[str, float]
    summary: BuyerSummary | None
    params: bgnbd.BgNbdParams
    baselines: dict[int, BaselineForecast | None] = field(default_factory=dict)

    @classmethod
    def of(cls, profile: Profile, as_of: datetime, params: bgnbd.BgNbdParams) -> Shopper:
        return cls(model_features(profile, as_of), buyer_summary(profile, as_of), params)

    def baseline(self, days: int) -> BaselineForecast | None:
        if days not in self.baselines:
            self.baselines[days] = (
                None if self.summary is None else baseline_forecast(self.params, self.summary, days)
            )
        return self.baselines[days]

    def stacked(self, days: int) -> dict[str, float]:
        return stacked_features(self.features, self.baseline(days))


@dataclass(frozen=True)
class LoadedModel:
    artefact: ModelArtefact
    bgnbd: bgnbd.BgNbdParams
    ordered: dict[int, LinearModel]
    orders: dict[int, LinearModel]
    # per trained horizon, how far a buyer's forecast moves from BG/NBD's towards the stacked
    # model's ({"ordered": w, "orders": w}, 0 … 1; absent: all the way), and the stacked model's
    # buyers brought to BG/NBD's level first (logit "shift", expected orders' "scale")
    blend: dict[int, dict[str, float]]
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

    def shopper(self, profile: Profile, as_of: datetime) -> Shopper:
        return Shopper.of(profile, as_of, self.bgnbd)

    def probability(self, shopper: Shopper, days: int) -> float:
        """The stacked logistic model's P(order within ``days``), extrapolated if not trained on."""
        if days in self.ordered:
            return self._trained_probability(shopper, days)
        near = nearest_trained(self.ordered, days)
        trained = self._trained_probability(shopper, near)
        return extrapolated_probability(trained, near, days, shopper.baseline(near), shopper.baseline(days))

    def expected(self, shopper: Shopper, days: int) -> float:
        """The stacked Poisson model's expected orders within ``days``, extrapolated if not trained on."""
        if days in self.orders:
            return self._trained_expected(shopper, days)
        near = nearest_trained(self.orders, days)
        trained = self._trained_expected(shopper, near)
        return extrapolated_expected(trained, near, days, shopper.baseline(near), shopper.baseline(days))

    def _trained_probability(self, shopper: Shopper, days: int) -> float:
        stacked = self.ordered[days].predict(shopper.stacked(days))
        baseline = shopper.baseline(days)
        if baseline is None:
            return stacked
        blend = self.blend.get(days, {})
        weight, shift = blend.get("ordered", 1.0), blend.get("shift", 0.0)
        towards = logit(stacked) + shift - logit(baseline.probability)
        return sigmoid(logit(baseline.probability) + weight * towards)

    def _trained_expected(self, shopper: Shopper, days: int) -> float:
        stacked = self.orders[days].predict(shopper.stacked(days))
        baseline = shopper.baseline(days)
        if baseline is None:
            return stacked
        blend = self.blend.get(days, {})
        weight, scale = blend.get("orders", 1.0), blend.get("scale", 1.0)
        return baseline.expected + weight * (stacked * scale - baseline.expected)

    def chosen_probability(self, shopper: Shopper, days: int) -> tuple[float, str]:
        """P(order within ``days``) from the model the trainer chose (the propensity's choice at the
        propensity horizon, churn risk's at any other), with that model's name."""
        choice = "purchase_propensity" if days == self.propensity_horizon_days else "churn_risk"
        baseline = shopper.baseline(days) if self.artefact.choices.get(choice) == "bgnbd" else None
        if baseline is not None:
            return baseline.probability, "bgnbd"
        return self.probability(shopper, days), "logistic"

    def chosen_expected(self, shopper: Shopper, days: int) -> tuple[float, str]:
        baseline = shopper.baseline(days) if self.artefact.choices.get("expected_orders") == "bgnbd" else None
        if baseline is not None:
            return baseline.expected, "bgnbd"
        return self.expected(shopper, days), "poisson"

    def forecast(self, profile: Profile, as_of: datetime, days: int) -> Forecast:
        """What the scorer would publish for a horizon of ``days``: any horizon, trained or not."""
        shopper = self.shopper(profile, as_of)
        return Forecast(self.chosen_probability(shopper, days)[0], self.chosen_expected(shopper, days)[0])

    def scored(self, profile: Profile, as_of: datetime) -> dict[str, tuple[float, str]]:
        """Each score from the model the trainer chose for it, with that model's name."""
        shopper = self.shopper(profile, as_of)
        short, long = self.propensity_horizon_days, self.horizon_days
        found = {
            "purchase_propensity": self.chosen_probability(shopper, short),
            "horizon_order": self.chosen_probability(shopper, long),
            "expected_orders": self.chosen_expected(shopper, long),
        }
        baseline = shopper.baseline(long)
        if baseline is not None:
            found["probability_alive"] = (baseline.alive, "bgnbd")
        return found

    def predict(self, profile: Profile, as_of: datetime) -> Predictions:
        shopper = self.shopper(profile, as_of)
        short, long = self.propensity_horizon_days, self.horizon_days
        at_short, at_long = shopper.baseline(short), shopper.baseline(long)
        return Predictions(
            self.probability(shopper, short),
            self.probability(shopper, long),
            self.expected(shopper, long),
            at_short.probability if at_short else None,
            at_long.probability if at_long else None,
            at_long.expected if at_long else None,
            at_long.alive if at_long else None,
        )
