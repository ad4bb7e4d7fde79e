"""L3 prediction models on small data with known answers."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from scipy import integrate, special

from nudge.predictions import accuracy
from nudge.predictions.fit import bgnbd_negative_log_likelihood, fit_bgnbd, fit_glm
from shared.events.contract import parse_detail
from shared.predictions import bgnbd
from shared.predictions.categories import favourite_category, next_category
from shared.predictions.features import buyer_summary, rfm_values
from shared.predictions.rfm import SEGMENTS, RfmSketch, edges_of, quantile_edges, segment_of
from shared.predictions.send_hour import best_hour, local_histogram, utc_offset_hours
from shared.profiles.fold import fold_events
from shared.profiles.profile import Profile, audience_view

# Fader, Hardie & Lee (2005) CDNOW estimates, in weeks, and their worked example.
CDNOW = bgnbd.BgNbdParams(r=0.2426, alpha=4.4136, a=0.7929, b=2.4259)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


# -- RFM ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rfm", "segment"),
    [
        ((5, 5, 5), "champions"),
        ((5, 4, 5), "champions"),
        ((5, 1, 1), "new"),
        ((5, 2, 3), "potential_loyalist"),
        ((4, 1, 1), "promising"),
        ((4, 4, 4), "loyal"),
        ((3, 5, 4), "loyal"),
        ((3, 3, 3), "need_attention"),
        ((3, 1, 2), "about_to_sleep"),
        ((2, 3, 4), "at_risk"),
        ((1, 5, 5), "cant_lose"),
        ((2, 1, 2), "hibernating"),
        ((1, 1, 1), "lost"),
        ((1, 2, 1), "hibernating"),
    ],
)
def test_rfm_segment_mapping(rfm: tuple[int, int, int], segment: str) -> None:
    assert segment_of(*rfm) == segment


def test_every_score_has_a_segment_and_every_segment_is_reachable() -> None:
    found = {segment_of(r, f, m) for r, f, m in itertools.product(range(1, 6), repeat=3)}
    assert found == set(SEGMENTS)


def test_scores_outside_one_to_five_are_refused() -> None:
    with pytest.raises(ValueError):
        segment_of(0, 3, 3)


def test_quintile_edges_and_scores_keep_ties_together() -> None:
    edges = quantile_edges(list(range(1, 11)))
    assert edges == (2, 4, 6, 8)
    rfm = edges_of([(d, f, 10.0) for d, f in zip(range(1, 11), [1, 1, 1, 1, 1, 1, 2, 2, 3, 9], strict=True)])
    assert rfm.recency == (2, 4, 6, 8)
    assert rfm.frequency == (1, 1, 1, 2)
    assert rfm.scores(1, 1, 10.0)[:2] == (5, 1)  # most recent; the six one-order buyers share F = 1
    assert rfm.scores(10, 3, 10.0)[:2] == (1, 5)
    assert rfm.scores(10, 2, 10.0)[1] == 4


def test_the_sketch_merges_segments_into_the_base_quantiles() -> None:
    rng = np.random.default_rng(3)
    rows = [
        (int(d), int(f), float(m))
        for d, f, m in zip(
            rng.integers(0, 365, 999), rng.integers(1, 9, 999), rng.lognormal(3, 1, 999), strict=True
        )
    ]
    parts = [RfmSketch(), RfmSketch(), RfmSketch()]
    for i, row in enumerate(rows):
        parts[i % 3].add(*row)
    merged = RfmSketch()
    for part in parts:
        merged.merge(RfmSketch.from_dict(part.to_dict()))
    edges = merged.edges()
    assert edges.recency == quantile_edges([r[0] for r in rows])
    assert edges.frequency == quantile_edges([r[1] for r in rows])
    for got, exact in zip(edges.monetary, quantile_edges([r[2] for r in rows]), strict=True):
        assert abs(got / exact - 1) < 0.02


# -- BG/NBD -----------------------------------------------------------------------------------------


def test_expected_orders_match_the_papers_worked_example() -> None:
    """E[Y(39) | x=2, t_x=30.43, T=38.86] = 1.226 (Fader, Hardie & Lee 2005, section 5)."""
    assert bgnbd.expected_orders(CDNOW, 2, 30.43, 38.86, 39) == pytest.approx(1.226, abs=5e-4)


def test_time_unit_does_not_change_the_answer() -> None:
    in_days = bgnbd.BgNbdParams(CDNOW.r, CDNOW.alpha * 7, CDNOW.a, CDNOW.b)
    assert bgnbd.expected_orders(in_days, 2, 30.43 * 7, 38.86 * 7, 39 * 7) == pytest.approx(
        bgnbd.expected_orders(CDNOW, 2, 30.43, 38.86, 39)
    )


def test_hyp2f1_matches_scipy() -> None:
    for a, b, c, z in [
        (0.5, 2.4, 3.2, 0.3),
        (2.2, 4.4, 3.2, 0.5),
        (1.0, 1.0, 2.0, 0.9),
        (3.0, 900.0, 900.5, 0.7),
    ]:
        assert bgnbd.hyp2f1(a, b, c, z) == pytest.approx(float(special.hyp2f1(a, b, c, z)), rel=1e-9)


def _integrated_likelihood(params: bgnbd.BgNbdParams, x: int, t_x: float, big_t: float) -> float:
    """The individual likelihood integrated over lambda ~ Gamma(r, alpha) and p ~ Beta(a, b) numerically."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    gamma_norm = alpha**r / math.gamma(r)
    beta_norm = 1 / special.beta(a, b)

    def integrand(lam: float, p: float) -> float:
        alive = (1 - p) ** x * lam**x * math.exp(-lam * big_t)
        died = p * (1 - p) ** (x - 1) * lam**x * math.exp(-lam * t_x) if x > 0 else 0.0
        density = (
            gamma_norm
            * lam ** (r - 1)
            * math.exp(-alpha * lam)
            * beta_norm
            * p ** (a - 1)
            * (1 - p) ** (b - 1)
        )
        return (alive + died) * density

    value, _ = integrate.dblquad(integrand, 0, 1, 0, np.inf, epsabs=1e-11)
    return float(value)


@pytest.mark.parametrize(("x", "t_x", "big_t"), [(0, 0.0, 30.0), (1, 5.0, 20.0), (3, 18.0, 25.0)])
def test_log_likelihood_equals_the_integrated_model(x: int, t_x: float, big_t: float) -> None:
    params = bgnbd.BgNbdParams(r=1.3, alpha=6.0, a=1.8, b=3.5)
    expected = math.log(_integrated_likelihood(params, x, t_x, big_t))
    assert bgnbd.log_likelihood(params, x, t_x, big_t) == pytest.approx(expected, rel=1e-5)
    vectorised = -bgnbd_negative_log_likelihood(
        np.log([1.3, 6.0, 1.8, 3.5]), np.array([x]), np.array([t_x]), np.array([big_t])
    )
    assert vectorised == pytest.approx(expected, rel=1e-5)


def test_probabilities_are_consistent() -> None:
    assert bgnbd.probability_alive(CDNOW, 0, 0.0, 30.0) == 1.0
    recent = bgnbd.probability_alive(CDNOW, 4, 38.0, 38.86)
    stale = bgnbd.probability_alive(CDNOW, 4, 5.0, 38.86)
    assert 0 < stale < recent < 1
    p = bgnbd.probability_of_order(CDNOW, 4, 38.0, 38.86, 4)
    assert 0 < p < bgnbd.expected_orders(CDNOW, 4, 38.0, 38.86, 4)


def _simulate_bgnbd(
    n: int, params: bgnbd.BgNbdParams, big_t: float, seed: int
) -> tuple[list[int], list[float]]:
    rng = np.random.default_rng(seed)
    xs, txs = [], []
    for lam, p in zip(rng.gamma(params.r, 1 / params.alpha, n), rng.beta(params.a, params.b, n), strict=True):
        t, x, last = 0.0, 0, 0.0
        while True:
            t += rng.exponential(1 / lam)
            if t > big_t:
                break
            x, last = x + 1, t
            if rng.random() < p:
                break
        xs.append(x)
        txs.append(last)
    return xs, txs


def test_fit_recovers_the_parameters_it_simulated_from() -> None:
    truth = bgnbd.BgNbdParams(r=0.8, alpha=20.0, a=1.5, b=4.0)
    xs, txs = _simulate_bgnbd(4000, truth, 200.0, seed=11)
    fitted, log_likelihood = fit_bgnbd(xs, txs, [200.0] * len(xs))
    assert fitted.r == pytest.approx(truth.r, rel=0.15)
    assert fitted.alpha == pytest.approx(truth.alpha, rel=0.2)
    assert fitted.a / (fitted.a + fitted.b) == pytest.approx(truth.a / (truth.a + truth.b), rel=0.25)
    assert log_likelihood == pytest.approx(
        sum(bgnbd.log_likelihood(fitted, x, t, 200.0) for x, t in zip(xs, txs, strict=True)), rel=1e-9
    )


# -- discriminative models ------------------------------------------------------------------------


def test_logistic_regression_recovers_known_weights() -> None:
    rng = np.random.default_rng(5)
    features = rng.normal(size=(20000, 2))
    truth = 1 / (1 + np.exp(-(-1.0 + 2.0 * features[:, 0] - 0.5 * features[:, 1])))
    target = (rng.random(20000) < truth).astype(float)
    model = fit_glm(("a", "b"), features, target, "logit", ridge=0.0)
    slopes = [w / s for w, s in zip(model.weights, model.scales, strict=True)]
    assert slopes == pytest.approx([2.0, -0.5], abs=0.08)
    assert model.predict({"a": 0.0, "b": 0.0}) == pytest.approx(1 / (1 + math.exp(1.0)), abs=0.02)


def test_logistic_regression_stays_finite_on_separable_data() -> None:
    features = np.array([[0.0], [1.0], [2.0], [3.0]])
    model = fit_glm(("a",), features, np.array([0.0, 0.0, 1.0, 1.0]), "logit")
    assert all(math.isfinite(w) for w in model.weights)
    assert model.predict({"a": 0.0}) < 0.5 < model.predict({"a": 3.0})


def test_poisson_regression_recovers_known_rates() -> None:
    rng = np.random.default_rng(8)
    features = rng.normal(size=(20000, 1))
    counts = rng.poisson(np.exp(0.3 + 0.7 * features[:, 0])).astype(float)
    model = fit_glm(("a",), features, counts, "log", ridge=0.0)
    assert model.predict({"a": 0.0}) == pytest.approx(math.exp(0.3), rel=0.05)
    assert model.weights[0] / model.scales[0] == pytest.approx(0.7, abs=0.04)


# -- metrics --------------------------------------------------------------------------------------


def test_auc_counts_ordered_pairs_and_half_ties() -> None:
    assert accuracy.auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    assert accuracy.auc([0, 1], [0.5, 0.5]) == 0.5
    assert accuracy.auc([1, 0], [0.9, 0.1]) == 1.0
    assert math.isnan(accuracy.auc([1, 1], [0.2, 0.3]))


def test_brier_calibration_and_mae() -> None:
    assert accuracy.brier([0, 1], [0.5, 0.5]) == 0.25
    assert accuracy.mae([1, 3], [2, 2]) == 1
    table = accuracy.reliability([0, 0, 1, 1], [0.1, 0.2, 0.7, 0.9], bins=2)
    assert table == [(pytest.approx(0.15), 0.0, 2), (pytest.approx(0.8), 1.0, 2)]
    assert accuracy.expected_calibration_error([0, 0, 1, 1], [0.1, 0.2, 0.7, 0.9], bins=2) == pytest.approx(
        0.175
    )


# -- best send hour and categories ------------------------------------------------------------------


def test_best_hour_is_local_and_falls_back_to_the_population() -> None:
    utc = [0.0] * 24
    utc[12] = 10  # 12:00 UTC is 19:00 in Jakarta
    offset = utc_offset_hours("Asia/Jakarta", T0)
    assert offset == 7
    population = [1.0] * 24
    population[20] = 5.0
    assert best_hour(local_histogram(utc, offset), population) == 19
    assert best_hour([0.0] * 24, population) == 20
    assert best_hour([0.0] * 24, None) is None
    assert utc_offset_hours("Not/AZone", T0) == 0


def test_favourite_weighs_purchases_and_next_follows_browsing() -> None:
    affinity = {"shoes": [1.0, 2.0], "bags": [5.0, 0.0], "hats": [0.5, 0.0]}
    assert favourite_category(affinity) == "shoes"
    assert next_category(affinity) == "bags"
    assert favourite_category({}) is None


# -- profile inputs and scores ------------------------------------------------------------------------


def _event(n: int, name: str, at: datetime, **properties: object) -> object:
    return parse_detail(
        {
            "type": "track",
            "event": name,
            "userId": "u-1",
            "messageId": f"m-{n}",
            "timestamp": at.isoformat(),
            "properties": properties,
        }
    )


def _history() -> list[object]:
    return [
        _event(1, "Product Viewed", T0, category="shoes"),
        _event(
            2,
            "Order Completed",
            T0 + timedelta(days=1, hours=3),
            revenue=40,
            products=[{"product_id": "p", "category": "shoes", "quantity": 1}],
        ),
        _event(3, "Product Viewed", T0 + timedelta(days=40), category="bags"),
        _event(
            4,
            "Order Completed",
            T0 + timedelta(days=50),
            revenue=60,
            products=[{"product_id": "q", "category": "bags", "quantity": 2}],
        ),
    ]


def test_fold_keeps_what_the_models_need_whatever_the_batch_order() -> None:
    events = _history()
    at_once = fold_events(Profile(user_id="u-1"), events).profile
    one_by_one = Profile(user_id="u-1")
    for event in reversed(events):
        one_by_one = fold_events(one_by_one, [event]).profile
    assert at_once.first_order_at == T0 + timedelta(days=1, hours=3)
    assert sum(at_once.engagement_hours) == 4 and at_once.engagement_hours[3] == 1
    assert one_by_one.category_affinity == at_once.category_affinity
    assert at_once.affinity_at == one_by_one.affinity_at == T0 + timedelta(days=50)
    assert favourite_category(at_once.category_affinity) == "bags"


def test_buyer_summary_and_rfm_values() -> None:
    profile = fold_events(Profile(user_id="u-1"), _history()).profile
    as_of = T0 + timedelta(days=60)
    summary = buyer_summary(profile, as_of)
    assert summary is not None and summary.repeat_orders == 1
    assert summary.t_x == pytest.approx(50 - 1 - 3 / 24)
    values = rfm_values(profile, as_of, 365)
    assert values is not None and (values.recency_days, values.frequency, values.monetary) == (10, 2, 50.0)
    assert rfm_values(profile, as_of, 5) is None  # no order in the last five days
    assert buyer_summary(Profile(user_id="u-2"), as_of) is None


def test_scores_reach_audience_rules() -> None:
    profile = Profile(
        user_id="u-1",
        traits={"timezone": "Asia/Jakarta"},
        scores={
            "rfm": {"segment": "champions", "r": 5, "f": 4, "m": 5},
            "purchase_propensity": 0.7,
            "best_send_hour": 19,
            "favourite_category": "shoes",
        },
    )
    view = audience_view(profile, datetime(2026, 1, 1, 12, 30, tzinfo=UTC))
    assert view["rfm.segment"] == "champions" and view["rfm.f"] == 4
    assert view["purchase_propensity"] == 0.7 and view["favourite_category"] == "shoes"
    assert view["at_best_send_hour"] is True
    assert audience_view(profile, datetime(2026, 1, 1, 13, 30, tzinfo=UTC))["at_best_send_hour"] is False


def test_an_artefact_needing_unknown_features_is_refused() -> None:
    from pathlib import Path

    from shared.predictions.model import IncompatibleModel, ModelArtefact

    text = (Path(__file__).resolve().parents[2] / "models" / "scoring-model.json").read_text()
    artefact = ModelArtefact.model_validate_json(text)
    assert artefact.loaded().artefact.version == artefact.version
    ordered = artefact.horizon_models["30"]["ordered"]
    unknown = dict(ordered, features=[*ordered["features"][:-1], "log_shoe_size"])
    models = {**artefact.horizon_models, "30": {**artefact.horizon_models["30"], "ordered": unknown}}
    with pytest.raises(IncompatibleModel, match=r"ordered, 30 days.*log_shoe_size"):
        artefact.model_copy(update={"horizon_models": models}).loaded()


def test_scores_are_rewritten_only_when_they_move() -> None:
    from shared.predictions.scoring import scores_changed

    day = datetime(2026, 1, 10, 2, tzinfo=UTC)
    old = {
        "scored_at": "2026-01-09T02:00:00+00:00",
        "model_version": "v1",
        "purchase_propensity": 0.2,
        "rfm": {"segment": "loyal", "r": 4, "f": 4, "m": 3, "recency_days": 5},
        "best_send_hour": 20,
    }
    drift = {**old, "purchase_propensity": 0.205, "rfm": {**old["rfm"], "recency_days": 6}}
    assert not scores_changed(old, drift, day)
    assert scores_changed(old, {**drift, "purchase_propensity": 0.22}, day)
    assert scores_changed(old, {**drift, "rfm": {**drift["rfm"], "segment": "at_risk"}}, day)
    assert scores_changed(old, {**drift, "model_version": "v2"}, day)
    assert scores_changed(old, {**drift, "churn_risk": 0.5}, day)
    assert scores_changed(old, drift, day + timedelta(days=7))
    assert scores_changed({}, drift, day)
