"""The experiments' statistics against published values and scipy (used here only, never at runtime):
Wilson and Newcombe intervals, the mSPRT's likelihood ratio, the probability of being best, Thompson
weights with a floor, and the hashes that assign variants and the global control group."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from scipy import integrate, stats

from shared.experiments.assignment import assign_variant, bucket, in_global_control
from shared.experiments.bandit import probability_best, thompson_weights
from shared.experiments.intervals import newcombe, wilson
from shared.experiments.sequential import Arm, SequentialTest, always_valid_p, likelihood_ratio


def test_wilson_interval_matches_published_values() -> None:
    # Newcombe (1998), "Two-sided confidence intervals for the single proportion", Table I: 81/263
    assert wilson(81, 263) == pytest.approx((0.2553, 0.3662), abs=5e-5)
    assert wilson(0, 0) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ((56, 70, 48, 80), (0.2, 0.0524, 0.3339)),  # Newcombe (1998) Statistics in Medicine 17, Table II (a)
        ((9, 10, 3, 10), (0.6, 0.1705, 0.8090)),  # Table II (c)
    ],
)
def test_newcombe_interval_matches_the_papers_method_10(
    counts: tuple[int, int, int, int], expected: tuple[float, float, float]
) -> None:
    assert newcombe(*counts) == pytest.approx(expected, abs=5e-5)


def test_likelihood_ratio_is_the_normal_mixture_integral() -> None:
    a, b, effect = Arm(1000, 50), Arm(1000, 80), 0.02
    pooled = 130 / 2000
    sd = math.sqrt(pooled * (1 - pooled) * (2 / 1000))
    difference = 0.03
    mixture = integrate.quad(
        lambda theta: stats.norm.pdf(difference, theta, sd) * stats.norm.pdf(theta, 0, effect),
        -1,
        1,
        points=[0, difference],
        epsabs=1e-14,
    )[0]
    reference = mixture / stats.norm.pdf(difference, 0, sd)
    assert likelihood_ratio(a, b, effect) == pytest.approx(reference, rel=1e-9)
    assert likelihood_ratio(a, b, effect) == pytest.approx(8.25755, abs=1e-5)


def test_likelihood_ratio_is_one_without_evidence() -> None:
    assert likelihood_ratio(Arm(0, 0), Arm(100, 5), 0.02) == 1.0
    assert likelihood_ratio(Arm(100, 0), Arm(100, 0), 0.02) == 1.0


def test_always_valid_p_never_rises_between_looks() -> None:
    strong = always_valid_p(Arm(1000, 50), Arm(1000, 80), 0.02)
    assert strong == pytest.approx(1 / 8.25755, abs=1e-6)
    # the next look's difference is smaller, the p-value stays where it was
    assert always_valid_p(Arm(2000, 100), Arm(2000, 110), 0.02, strong) == strong


def test_a_winner_needs_the_minimum_sample_and_a_p_value_below_alpha() -> None:
    test = SequentialTest(alpha=0.05, effect=0.02, min_sample=200)
    arms = {"a": Arm(1000, 50), "b": Arm(1000, 80)}
    p = test.p_values(arms)
    assert p == {("a", "b"): pytest.approx(0.121101, abs=1e-6)}
    assert test.winner(arms, p) is None  # 0.12 > 0.05
    more = {"a": Arm(2000, 100), "b": Arm(2000, 160)}
    p_more = test.p_values(more, p)
    assert p_more[("a", "b")] < 0.05
    assert test.winner(more, p_more) == "b"
    assert test.winner({"a": Arm(150, 0), "b": Arm(150, 60)}, {("a", "b"): 0.0}) is None  # too early
    assert test.winner({"a": Arm(300, 30), "b": Arm(300, 30)}, {("a", "b"): 0.0}) is None  # a tie: no winner


def test_with_three_variants_the_winner_beats_each_other_at_a_bonferroni_level() -> None:
    test = SequentialTest(alpha=0.05, effect=0.02, min_sample=10)
    arms = {"a": Arm(100, 5), "b": Arm(100, 20), "c": Arm(100, 6)}
    assert test.winner(arms, {("a", "b"): 0.02, ("b", "c"): 0.02, ("a", "c"): 1.0}) == "b"
    assert test.winner(arms, {("a", "b"): 0.02, ("b", "c"): 0.03, ("a", "c"): 1.0}) is None  # 0.03 > 0.025


def _exact_probability_b_beats_a(a: Arm, b: Arm) -> float:
    shape_a = (1 + a.converted, 1 + a.sent - a.converted)
    shape_b = (1 + b.converted, 1 + b.sent - b.converted)
    return integrate.quad(
        lambda x: stats.beta.pdf(x, *shape_b) * stats.beta.cdf(x, *shape_a), 0, 1, limit=200, epsabs=1e-12
    )[0]


def test_probability_of_being_best_agrees_with_the_beta_integral() -> None:
    a, b = Arm(200, 20), Arm(200, 30)
    exact = _exact_probability_b_beats_a(a, b)
    assert exact == pytest.approx(0.933305, abs=1e-6)
    estimate = probability_best({"a": a, "b": b}, draws=10_000, seed=0)
    assert estimate == {"a": 0.0662, "b": 0.9338}  # seeded: the same every run
    standard_error = math.sqrt(exact * (1 - exact) / 10_000)
    assert abs(estimate["b"] - exact) < 3 * standard_error


def test_thompson_weights_keep_the_floor_and_add_up_to_one() -> None:
    weights = thompson_weights({"a": Arm(200, 20), "b": Arm(200, 30)}, floor=0.1, draws=10_000, seed=0)
    assert weights == {"a": pytest.approx(0.1 + 0.8 * 0.0662), "b": pytest.approx(0.1 + 0.8 * 0.9338)}
    starving = thompson_weights({"a": Arm(5000, 10), "b": Arm(5000, 500)}, floor=0.1, draws=1000)
    assert starving["a"] == pytest.approx(0.1)
    assert sum(starving.values()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="leaves no share"):
        thompson_weights({"a": Arm(1, 0), "b": Arm(1, 0), "c": Arm(1, 0)}, floor=0.4)


def test_variant_assignment_is_stable_and_follows_the_weights() -> None:
    assert bucket("x", "user-1") == pytest.approx(0.3147713691326, abs=1e-12)
    assert assign_variant("welcome:send", "user-1", {"a": 50, "b": 50}) == "b"
    assert assign_variant("welcome:send", "user-1", {"a": 50, "b": 50}) == "b"
    counts = Counter(assign_variant("welcome:send", f"u{i}", {"a": 1, "b": 3}) for i in range(20_000))
    assert counts == {"a": 5003, "b": 14997}
    assert {assign_variant("e", f"u{i}", {"a": 0.0, "b": 1.0}) for i in range(200)} == {"b"}


def test_global_control_is_the_stated_share_of_shoppers() -> None:
    members = sum(in_global_control(f"u{i}", 5) for i in range(20_000))
    assert members == 1001
    assert not any(in_global_control(f"u{i}", 0) for i in range(1000))
    # independent of any variant draw: the control's members split like everyone else
    control = [f"u{i}" for i in range(20_000) if in_global_control(f"u{i}", 5)]
    split = Counter(assign_variant("welcome:send", user, {"a": 1, "b": 1}) for user in control)
    assert abs(split["a"] - split["b"]) < 0.1 * len(control)
