"""Predictions at any horizon: BG/NBD's forecast inside the stacked models, the extrapolation beyond
the trained horizons, the time-based split of the evaluation, and the scorer against BG/NBD on a
seeded synthetic store."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import pytest

from nudge.predictions.datasets import synthetic_events
from nudge.predictions.history import EventHistory
from nudge.predictions.horizon_evaluation import BGNBD, SCORER, HorizonRow, horizon_rows, known_at, rmse
from nudge.predictions.train import TrainingOptions, train
from shared.predictions import bgnbd
from shared.predictions.features import BuyerSummary
from shared.predictions.horizons import (
    BGNBD_FEATURES,
    BaselineForecast,
    baseline_forecast,
    bgnbd_features,
    extrapolated_expected,
    extrapolated_probability,
    logit,
    nearest_trained,
)
from shared.predictions.model import ModelArtefact, Shopper

MODEL = Path(__file__).resolve().parents[2] / "models" / "scoring-model.json"
START = datetime(2026, 11, 1, tzinfo=UTC)  # the synthetic store's first day
STORE_DAYS = 200
CUT = START + timedelta(days=140)


@cache
def store() -> EventHistory:
    return EventHistory.from_payloads(synthetic_events(300, STORE_DAYS, seed=7))


# -- the statistics and the extrapolation, on hand-worked values ----------------------------------


def test_rmse_is_the_root_of_the_mean_squared_error() -> None:
    assert rmse([0.0, 1.0, 3.0], [1.0, 1.0, 1.0]) == pytest.approx(math.sqrt(5 / 3))
    assert rmse([2.0], [2.0]) == 0.0


def test_bgnbd_features_are_its_logits_and_log_and_zero_for_a_shopper_who_never_ordered() -> None:
    features = bgnbd_features(BaselineForecast(probability=0.2, expected=0.5, alive=0.8))
    assert features == pytest.approx(
        {
            "bgnbd_logit_order": math.log(0.25),
            "bgnbd_log_expected_orders": math.log(0.5),
            "bgnbd_logit_alive": math.log(4.0),
        }
    )
    assert bgnbd_features(None) == dict.fromkeys(BGNBD_FEATURES, 0.0)
    assert logit(0.0) == pytest.approx(math.log(1e-6 / (1 - 1e-6)))  # floored, never infinite


def test_baseline_forecast_is_bgnbds_closed_forms() -> None:
    params = bgnbd.BgNbdParams(r=0.25, alpha=30.0, a=0.8, b=2.4)
    found = baseline_forecast(params, BuyerSummary(repeat_orders=2, t_x=60.0, age=150.0), 90)
    args = (params, 2, 60.0, 150.0)
    assert found == BaselineForecast(
        bgnbd.probability_of_order(*args, t=90),
        bgnbd.expected_orders(*args, t=90),
        bgnbd.probability_alive(*args),
    )


def test_the_nearest_trained_horizon_is_the_longest_not_beyond_else_the_shortest() -> None:
    assert nearest_trained({30, 90, 180}, 365) == 180
    assert nearest_trained({30, 90, 180}, 120) == 90
    assert nearest_trained({30, 90}, 90) == 90
    assert nearest_trained({30, 90}, 7) == 30
    with pytest.raises(ValueError, match="no trained horizon"):
        nearest_trained(set(), 30)


def test_a_buyers_forecast_beyond_the_trained_horizon_carries_the_stacked_correction() -> None:
    at_90 = BaselineForecast(probability=0.2, expected=0.6, alive=0.9)
    at_365 = BaselineForecast(probability=0.5, expected=2.0, alive=0.9)
    # the stacked model says 0.5 where BG/NBD says 0.2 at 90 days: the logit moves by log 4
    assert extrapolated_probability(0.5, 90, 365, at_90, at_365) == pytest.approx(0.8)
    # and twice BG/NBD's expected orders
    assert extrapolated_expected(1.2, 90, 365, at_90, at_365) == pytest.approx(4.0)
    # a model equal to BG/NBD at the trained horizon extrapolates exactly as BG/NBD
    assert extrapolated_probability(0.2, 90, 365, at_90, at_365) == pytest.approx(0.5)


def test_a_shopper_who_never_ordered_extrapolates_at_a_constant_rate() -> None:
    assert extrapolated_probability(0.19, 30, 60, None, None) == pytest.approx(1 - 0.81**2)
    assert extrapolated_expected(0.5, 30, 90, None, None) == pytest.approx(1.5)


# -- the artefact ---------------------------------------------------------------------------------


def test_the_blend_runs_from_bgnbd_to_the_stacked_model() -> None:
    model = ModelArtefact.model_validate_json(MODEL.read_text()).loaded()
    from shared.profiles.profile import Profile

    as_of = datetime(2026, 6, 1, tzinfo=UTC)
    buyer = Profile(
        user_id="u-1",
        orders=3,
        revenue=120,
        first_order_at=as_of - timedelta(days=100),
        last_order_at=as_of - timedelta(days=20),
        first_seen=as_of - timedelta(days=110),
        last_seen=as_of - timedelta(days=2),
    )
    shopper = Shopper.of(buyer, as_of, model.bgnbd)
    baseline = shopper.baseline(90)
    assert baseline is not None
    stacked_p = model.ordered[90].predict(shopper.stacked(90))
    stacked_e = model.orders[90].predict(shopper.stacked(90))
    only_bgnbd = replace(model, blend={90: {"ordered": 0.0, "orders": 0.0}})
    assert only_bgnbd.probability(shopper, 90) == pytest.approx(baseline.probability)
    assert only_bgnbd.expected(shopper, 90) == pytest.approx(baseline.expected)
    only_stacked = replace(model, blend={90: {"ordered": 1.0, "orders": 1.0}})
    assert only_stacked.probability(shopper, 90) == pytest.approx(stacked_p)
    assert only_stacked.expected(shopper, 90) == pytest.approx(stacked_e)
    half = replace(model, blend={90: {"ordered": 0.5, "orders": 0.5, "shift": 0.3, "scale": 2.0}})
    middle = (logit(baseline.probability) + logit(stacked_p) + 0.3) / 2
    assert half.probability(shopper, 90) == pytest.approx(1 / (1 + math.exp(-middle)))
    assert half.expected(shopper, 90) == pytest.approx((baseline.expected + 2.0 * stacked_e) / 2)


def test_an_artefact_from_before_the_horizon_models_still_scores() -> None:
    artefact = ModelArtefact.model_validate_json(MODEL.read_text())
    models = artefact.horizon_models
    legacy = artefact.model_copy(
        update={
            "horizon_models": {},
            "propensity": models["30"]["ordered"],
            "horizon_order": models["90"]["ordered"],
            "expected_orders": models["90"]["orders"],
        }
    ).loaded()
    assert sorted(legacy.ordered) == [30, 90] and sorted(legacy.orders) == [90]
    assert legacy.blend == {}


# -- the evaluation: time-based, and the scorer at least as good as BG/NBD --------------------------


def test_the_evaluation_splits_by_time() -> None:
    full = store()
    known = known_at(full, CUT)
    assert max(e.timestamp for events in known.events_by_user.values() for e in events) <= CUT
    later = full.orders_between(CUT, CUT + timedelta(days=30))
    assert later and min(e.timestamp for events in later.values() for e in events) > CUT
    assert sum(len(v) for v in known.events_by_user.values()) < full.events


def test_training_reads_nothing_after_its_as_of_date() -> None:
    """The same model from the whole history as from the events up to the cut: the holdout cannot
    leak into the calibration."""
    full = store()
    options = TrainingOptions(longer_horizons=())
    everything = train(full, CUT, options).model_dump(exclude={"version", "trained_at"})
    calibration = train(known_at(full, CUT), CUT, options).model_dump(exclude={"version", "trained_at"})
    assert everything == calibration


def test_the_scorer_is_at_least_as_good_as_bgnbd_on_the_synthetic_store() -> None:
    rows = horizon_rows("synthetic", store(), [CUT], START + timedelta(days=STORE_DAYS), horizons=(30, 60))
    by: dict[tuple[int, str], HorizonRow] = {(r.horizon, r.model): r for r in rows}
    assert sorted({r.horizon for r in rows}) == [30, 60]
    for days in (30, 60):
        scorer, baseline = by[(days, SCORER)], by[(days, BGNBD)]
        assert scorer.buyers == baseline.buyers > 100
        # seed 7: AUC 0.779 against 0.766 at 30 days, 0.846 against 0.827 at 60; the counts validate
        # no better than BG/NBD's, so they are BG/NBD's (RMSE 0.879, 1.289)
        assert scorer.auc > baseline.auc + 0.01
        assert scorer.rmse <= baseline.rmse and scorer.mae <= baseline.mae
