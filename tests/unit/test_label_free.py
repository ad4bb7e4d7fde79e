"""The label-free fallback: BG/NBD fitted in pure Python, the buyer sample, the choice of model, scores."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from nudge.predictions.fit import fit_bgnbd
from shared.predictions import bgnbd
from shared.predictions.bgnbd_fit import BuyerRow, fit, grouped, negative_log_likelihood
from shared.predictions.features import BuyerSummary
from shared.predictions.label_free import (
    MIN_FIT_BUYERS,
    BuyerSample,
    LabelFreeArtefact,
    fit_label_free,
    sample_hash,
)
from shared.predictions.model import ModelArtefact
from shared.predictions.rfm import RfmEdges
from shared.predictions.runs import ScoreTask, choose_model
from shared.predictions.scoring import Population, PopulationSketch, score_profile, scores_changed
from shared.profiles.profile import Profile

AS_OF = datetime(2026, 6, 1, 2, tzinfo=UTC)
MODEL = Path(__file__).resolve().parents[2] / "models" / "scoring-model.json"


def _simulate(
    n: int, truth: bgnbd.BgNbdParams, ages: list[float], seed: int
) -> list[tuple[int, float, float]]:
    """n buyers drawn from BG/NBD: rate ~ Gamma(r, alpha), dropout after each purchase ~ Beta(a, b)."""
    rng = np.random.default_rng(seed)
    rows = []
    rates, dropouts = rng.gamma(truth.r, 1 / truth.alpha, n), rng.beta(truth.a, truth.b, n)
    for i, (rate, p) in enumerate(zip(rates, dropouts, strict=True)):
        big_t = ages[i % len(ages)]
        t, x, last = 0.0, 0, 0.0
        while True:
            t += rng.exponential(1 / rate)
            if t > big_t:
                break
            x, last = x + 1, t
            if rng.random() < p:
                break
        rows.append((x, last, big_t))
    return rows


@pytest.mark.parametrize(
    ("truth", "ages"),
    [
        (bgnbd.BgNbdParams(r=0.8, alpha=20.0, a=1.5, b=4.0), [200.0]),
        # CDNOW-like (the paper's estimates, in days), buyers joining over 12 weeks as in a young shop
        (bgnbd.BgNbdParams(r=0.25, alpha=30.0, a=0.8, b=2.4), [40.0 + 7 * k for k in range(12)]),
    ],
)
def test_the_lambda_fit_recovers_the_parameters_it_simulated_from(
    truth: bgnbd.BgNbdParams, ages: list[float]
) -> None:
    summaries = _simulate(2000, truth, ages, seed=11)
    rows = grouped(summaries)
    result = fit(rows)
    fitted = result.params
    assert result.buyers == 2000
    assert fitted.r == pytest.approx(truth.r, rel=0.2)
    assert fitted.alpha == pytest.approx(truth.alpha, rel=0.3)
    assert fitted.a / (fitted.a + fitted.b) == pytest.approx(truth.a / (truth.a + truth.b), rel=0.3)
    # the maximum: no worse than the truth, and where scipy's offline fit finds it
    at_truth = -negative_log_likelihood([np.log(v) for v in truth.to_dict().values()], rows)
    assert result.log_likelihood >= at_truth
    xs, t_xs, big_ts = (list(column) for column in zip(*summaries, strict=True))
    _, scipy_log_likelihood = fit_bgnbd(xs, [round(v, 2) for v in t_xs], big_ts)
    assert result.log_likelihood == pytest.approx(scipy_log_likelihood, abs=0.05)
    assert result.log_likelihood == pytest.approx(
        sum(bgnbd.log_likelihood(fitted, r.x, r.t_x, r.big_t) * r.weight for r in rows), rel=1e-9
    )


def test_the_likelihood_is_the_papers_summed_over_buyers() -> None:
    rows = [BuyerRow(0, 0.0, 30.0, 3), BuyerRow(2, 12.5, 40.0, 1), BuyerRow(5, 33.0, 35.0, 2)]
    params = bgnbd.BgNbdParams(0.3, 12.0, 0.9, 2.2)
    expected = sum(bgnbd.log_likelihood(params, r.x, r.t_x, r.big_t) * r.weight for r in rows)
    log_params = [np.log(v) for v in params.to_dict().values()]
    assert -negative_log_likelihood(log_params, rows) == pytest.approx(expected, rel=1e-12)


# -- the buyer sample ------------------------------------------------------------------------------


def _summary(i: int) -> BuyerSummary:
    return BuyerSummary(repeat_orders=i % 4, t_x=float(i % 30), age=40.0 + i % 50)


def test_the_sample_is_the_same_whatever_the_segments_and_their_order() -> None:
    users = [f"u-{i}" for i in range(5000)]
    whole = BuyerSample(size=300)
    for i, user in enumerate(users):
        whole.add(user, _summary(i))
    parts = [BuyerSample(size=300) for _ in range(7)]
    for i, user in enumerate(users):
        parts[sample_hash(user) % 7].add(user, _summary(i))
    random.Random(3).shuffle(parts)
    merged = BuyerSample(size=300)
    for part in parts:
        merged.merge(BuyerSample.from_dict(json.loads(json.dumps(part.to_dict()))))
    assert merged.buyers == whole.buyers == 5000
    assert len(merged.entries) == 300
    assert merged.entries == whole.entries
    smallest = sorted(sample_hash(u) for u in users)[:300]
    assert sorted(merged.entries) == smallest


def test_the_sample_is_bounded_and_representative() -> None:
    sample = BuyerSample(size=400)
    for i in range(20_000):
        sample.add(f"shopper-{i}", _summary(i))
    assert len(sample.entries) == 400 and sample.buyers == 20_000
    assert len(json.dumps(sample.to_dict())) < 20_000  # ~35 bytes a buyer in the census item
    share_repeat = sum(1 for x, _, _ in sample.entries.values() if x > 0) / 400
    assert share_repeat == pytest.approx(0.75, abs=0.06)  # three in four of the population repeat


# -- which model scores the run --------------------------------------------------------------------


def test_the_trained_model_scores_only_a_history_as_long_as_it_needs() -> None:
    trained = ModelArtefact.model_validate_json(MODEL.read_text()).loaded()
    needed = trained.artefact.horizon_days + 14
    assert trained.artefact.history_days_needed == needed
    assert choose_model(None, 400) == "no trained model published"
    assert choose_model(trained, needed) is None
    assert choose_model(trained, None) is None  # an empty base: nothing contradicts the model
    reason = choose_model(trained, needed - 1)
    assert reason == (
        f"the shop's history ({needed - 1} days) is shorter than the {needed} days "
        f"trained model {trained.version} needs"
    )


# -- scores and their provenance -------------------------------------------------------------------


def _buyer(user_id: str, orders: int, first_days_ago: int, last_days_ago: int) -> Profile:
    first, last = AS_OF - timedelta(days=first_days_ago), AS_OF - timedelta(days=last_days_ago)
    return Profile(
        user_id=user_id,
        first_seen=first,
        last_seen=last,
        orders=orders,
        revenue=Decimal(40 * orders),
        first_order_at=first,
        last_order_at=last,
        counts={"Order Completed": {last.date().isoformat(): 1}},
    )


def _label_free(profiles: list[Profile]) -> tuple[LabelFreeArtefact, Population]:
    sketch = PopulationSketch()
    for profile in profiles:
        sketch.add(profile, AS_OF, 365)
    population = Population.from_sketch(sketch, None)
    artefact = fit_label_free(
        sketch.buyers,
        population.rfm_edges,
        population.local_hours,
        AS_OF,
        "no trained model published",
        profiles=sketch.profiles,
        history_days=sketch.history_days(AS_OF),
    )
    return artefact, population


def _shop() -> list[Profile]:
    rng = random.Random(5)
    shop = [Profile(user_id=f"visitor-{i}", first_seen=AS_OF - timedelta(days=3)) for i in range(5)]
    for i in range(60):
        first = rng.randint(10, 50)
        shop.append(_buyer(f"b-{i}", rng.randint(1, 6), first, rng.randint(0, first)))
    return shop


def test_a_label_free_fit_scores_buyers_and_says_so() -> None:
    shop = _shop()
    artefact, population = _label_free(shop)
    assert artefact.version.startswith("label-free-20260601T020000-")
    assert artefact.bgnbd is not None and artefact.fit["buyers_sampled"] == 60
    assert artefact.fit["history_days"] == 50
    model = LabelFreeArtefact.model_validate_json(artefact.to_json()).loaded()

    regular = score_profile(_buyer("regular", 6, 50, 1), model, population, AS_OF)
    lapsed = score_profile(_buyer("lapsed", 6, 50, 45), model, population, AS_OF)
    assert regular["model_kind"] == "label-free" and regular["model_version"] == artefact.version
    assert regular["provenance"] == {
        "rfm": "quintiles",
        "purchase_propensity": "bgnbd",
        "expected_orders": "bgnbd",
        "probability_alive": "bgnbd",
        "churn_risk": "bgnbd",
    }
    assert regular["purchase_propensity"] > lapsed["purchase_propensity"]
    assert regular["churn_risk"] < lapsed["churn_risk"]
    assert regular["probability_alive"] > lapsed["probability_alive"]
    params = bgnbd.BgNbdParams(**artefact.bgnbd)
    assert regular["expected_orders"] == round(bgnbd.expected_orders(params, 5, 49.0, 50.0, t=90), 4)

    browser = score_profile(shop[0], model, population, AS_OF)
    assert browser["provenance"] == {} and browser["model_kind"] == "label-free"
    assert not {"purchase_propensity", "churn_risk", "expected_orders", "rfm"} & set(browser)


def test_too_few_buyers_give_rfm_but_no_bgnbd_scores() -> None:
    shop = [_buyer(f"b-{i}", 1 + i % 3, 20, i) for i in range(MIN_FIT_BUYERS - 1)]
    artefact, population = _label_free(shop)
    assert artefact.bgnbd is None and "fewer than" in artefact.fit["bgnbd"]
    scores = score_profile(shop[0], artefact.loaded(), population, AS_OF)
    assert scores["provenance"] == {"rfm": "quintiles"} and "purchase_propensity" not in scores


def test_a_trained_model_names_the_model_behind_each_score() -> None:
    trained = ModelArtefact.model_validate_json(MODEL.read_text()).loaded()
    population = Population(RfmEdges.from_dict(trained.artefact.rfm_edges), [1.0] * 24)
    scores = score_profile(_buyer("b", 3, 200, 10), trained, population, AS_OF)
    names = {"bgnbd": "bgnbd", "discriminative": None}
    for score, choice, own in (
        ("purchase_propensity", "purchase_propensity", "logistic"),
        ("churn_risk", "churn_risk", "logistic"),
        ("expected_orders", "expected_orders", "poisson"),
    ):
        assert scores["provenance"][score] == (
            names[trained.artefact.choices.get(choice, "discriminative")] or own
        )
    assert scores["model_kind"] == "trained" and scores["provenance"]["probability_alive"] == "bgnbd"
    browser = score_profile(Profile(user_id="v", first_seen=AS_OF), trained, population, AS_OF)
    assert browser["provenance"] == {"purchase_propensity": "logistic", "expected_orders": "poisson"}


def test_a_new_label_free_fit_alone_does_not_rewrite_scores_but_a_new_trained_model_does() -> None:
    old = {
        "model_version": "label-free-20260531T020000-aaaa",
        "model_kind": "label-free",
        "scored_at": (AS_OF - timedelta(days=1)).isoformat(),
        "purchase_propensity": 0.41,
        "provenance": {"purchase_propensity": "bgnbd"},
    }
    refit = {**old, "model_version": "label-free-20260601T020000-bbbb", "purchase_propensity": 0.412}
    assert not scores_changed(old, refit, AS_OF)
    assert scores_changed(old, {**refit, "purchase_propensity": 0.43}, AS_OF)
    trained = {**refit, "model_version": "20260601T000000-cccc", "model_kind": "trained"}
    assert scores_changed(old, trained, AS_OF)
    assert scores_changed(trained, {**trained, "model_version": "20260602T000000-dddd"}, AS_OF)


def test_a_census_sketch_with_a_full_sample_fits_a_queue_message_and_a_table_item() -> None:
    """The continuation task carries the sketch through SQS (256 KB); the census item holds it (400 KB)."""
    sketch = PopulationSketch()
    rng = random.Random(9)
    for i in range(6000):
        first = rng.randint(1, 3000)
        profile = _buyer(f"shopper-{i:07d}", rng.randint(1, 400), first, rng.randint(0, first))
        profile.revenue = Decimal(rng.randint(1, 10**6)) / 7
        sketch.add(profile, AS_OF, 365)
    assert len(sketch.buyers.entries) == 2000
    task = ScoreTask(
        run_id="2026-06-01T02:00:00Z",
        phase="census",
        segment=3,
        total_segments=16,
        model_version="",
        start_key={"user_id": {"S": "x" * 200}},
        sketch=sketch.to_dict(),
    )
    assert len(task.model_dump_json().encode()) < 100_000
    restored = PopulationSketch.from_dict(json.loads(json.dumps(sketch.to_dict())))
    assert restored.buyers.entries.keys() == sketch.buyers.entries.keys()
    assert restored.first_activity == sketch.first_activity and restored.profiles == 6000
