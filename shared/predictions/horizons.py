"""Predictions at any horizon: BG/NBD's answers as features of the discriminative models, and the
extrapolation to a horizon no model was trained on.

The trained scorer is a stacked model. For each horizon it was trained on, a logistic regression
(P(order within the horizon)) and a Poisson regression (orders within it) see the profile's own
features (:data:`shared.predictions.features.MODEL_FEATURES`) *and* BG/NBD's forecast for the same
shopper and horizon (:data:`BGNBD_FEATURES`), from BG/NBD fitted on the same calibration data. With
a weight of one on BG/NBD's logit (or log) and zero elsewhere the model *is* BG/NBD, so training
only departs from it where the profile's recent behaviour says more.

A horizon longer than the history can teach (a year, on a shop that is six months old) takes
BG/NBD's extrapolation to that horizon and carries over the correction the stacked model makes at
the nearest trained horizon: the same shift of the logit, the same ratio of expected orders.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from shared.predictions import bgnbd
from shared.predictions.features import MODEL_FEATURES, BuyerSummary
from shared.predictions.linear import sigmoid

BGNBD_FEATURES = ("bgnbd_logit_order", "bgnbd_log_expected_orders", "bgnbd_logit_alive")
STACKED_FEATURES = MODEL_FEATURES + BGNBD_FEATURES
# Probabilities and expectations are kept this far from 0 and 1 before a logit or a log.
FLOOR = 1e-6


@dataclass(frozen=True)
class Forecast:
    """P(at least one order within the horizon) and the expected number of orders in it."""

    probability: float
    expected: float


@dataclass(frozen=True)
class BaselineForecast:
    """BG/NBD's forecast for one buyer at one horizon."""

    probability: float
    expected: float
    alive: float

    @property
    def forecast(self) -> Forecast:
        return Forecast(self.probability, self.expected)


def baseline_forecast(params: bgnbd.BgNbdParams, summary: BuyerSummary, days: float) -> BaselineForecast:
    args = (params, summary.repeat_orders, summary.t_x, summary.age)
    return BaselineForecast(
        bgnbd.probability_of_order(*args, t=days),
        bgnbd.expected_orders(*args, t=days),
        bgnbd.probability_alive(*args),
    )


def logit(p: float) -> float:
    p = min(max(p, FLOOR), 1.0 - FLOOR)
    return math.log(p / (1.0 - p))


def bgnbd_features(baseline: BaselineForecast | None) -> dict[str, float]:
    """BG/NBD's forecast on the scale the linear models need (the logistic model's logit, the
    Poisson model's log); 0 for a shopper who never ordered, whom ``has_ordered`` already tells apart."""
    if baseline is None:
        return dict.fromkeys(BGNBD_FEATURES, 0.0)
    return {
        "bgnbd_logit_order": logit(baseline.probability),
        "bgnbd_log_expected_orders": math.log(max(baseline.expected, FLOOR)),
        "bgnbd_logit_alive": logit(baseline.alive),
    }


def stacked_features(
    profile_features: Mapping[str, float], baseline: BaselineForecast | None
) -> dict[str, float]:
    return {**profile_features, **bgnbd_features(baseline)}


def nearest_trained(trained: Collection[int], days: int) -> int:
    """The trained horizon to extrapolate ``days`` from: the longest one not beyond it, else the
    shortest (a horizon shorter than any trained one)."""
    if not trained:
        raise ValueError("no trained horizon")
    shorter = [h for h in trained if h <= days]
    return max(shorter) if shorter else min(trained)


def extrapolated_probability(
    trained: float,
    trained_days: int,
    days: int,
    baseline_trained: BaselineForecast | None,
    baseline: BaselineForecast | None,
) -> float:
    """P(order within ``days``) from the stacked model's P at ``trained_days``: for a buyer, BG/NBD's
    logit at ``days`` shifted by what the stacked model adds to BG/NBD's logit at the trained horizon;
    for a shopper who never ordered (no BG/NBD), a constant hazard: P(no order) to the power of the
    horizons' ratio."""
    if baseline is None or baseline_trained is None:
        return 1.0 - max(1.0 - trained, 0.0) ** (days / trained_days)
    return sigmoid(logit(baseline.probability) + logit(trained) - logit(baseline_trained.probability))


def extrapolated_expected(
    trained: float,
    trained_days: int,
    days: int,
    baseline_trained: BaselineForecast | None,
    baseline: BaselineForecast | None,
) -> float:
    """Expected orders within ``days`` from the stacked model's at ``trained_days``: for a buyer,
    BG/NBD's expectation at ``days`` times the stacked model's ratio to BG/NBD at the trained horizon;
    for a shopper who never ordered, a constant rate (scaled by the horizons' ratio)."""
    if baseline is None or baseline_trained is None:
        return trained * days / trained_days
    return baseline.expected * max(trained, FLOOR) / max(baseline_trained.expected, FLOOR)
