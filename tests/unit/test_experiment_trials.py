"""Experiments proved on a known truth, through the decisions delivery and the report use
(:func:`shared.experiments.review.review`): simulated shoppers arrive in looks, draw a variant with the
experiment's current weights and convert with a known probability per variant.

- A/A: 200 experiments with equal variants, looked at every 12 hours for 14 days: the share that
  declares a winner stays at most alpha (the test stays valid under repeated looks);
- A/B: over 10 seeds, ``winner`` picks the truly better variant in at least 9;
- bandit: Thompson sampling sends more of the better variant than 50/50, with less regret."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from shared.campaigns.variants import Experiment, ExperimentMode, Variant
from shared.experiments.review import Action, ExperimentState, review
from shared.experiments.sequential import Arm

T0 = datetime(2026, 11, 2, 8, tzinfo=UTC)
VARIANTS = [Variant(id="a", weight=1), Variant(id="b", weight=1)]


def run(
    experiment: Experiment,
    truth: dict[str, float],
    seed: int,
    per_look: int,
    look_every: timedelta,
    draws: int = 200,
) -> tuple[ExperimentState, dict[str, int], dict[str, int]]:
    """One simulated experiment until a winner, or the maximum duration; the draws of the probability of
    being best are few here (the winner test does not use it; the bandit's floor bounds its noise)."""
    rng = random.Random(seed)
    state = ExperimentState.start(f"trial-{seed}", VARIANTS, T0)
    sent = dict.fromkeys(truth, 0)
    converted = dict.fromkeys(truth, 0)
    now = T0
    while state.winner is None and not state.closed:
        now += look_every
        names, weights = list(state.weights), list(state.weights.values())
        for variant in rng.choices(names, weights, k=per_look):
            sent[variant] += 1
            converted[variant] += rng.random() < truth[variant]
        arms = {v: Arm(sent[v], converted[v]) for v in truth}
        state = review(state, experiment, arms, now, draws=draws)
        if experiment.mode != ExperimentMode.WINNER and now - T0 >= experiment.max_duration_time:
            break
    return state, sent, converted


WINNER = Experiment(mode=ExperimentMode.WINNER, alpha=0.05, effect=0.02, min_sample=200, max_duration="14d")


def test_a_a_experiments_declare_a_false_winner_at_most_alpha_of_the_time() -> None:
    truth = {"a": 0.05, "b": 0.05}
    runs = [run(WINNER, truth, seed, 200, timedelta(hours=12), draws=10)[0] for seed in range(200)]
    false_winners = sum(state.winner is not None for state in runs)
    assert false_winners <= 0.05 * 200
    assert false_winners == 3  # 1.5%: the mSPRT is conservative over a finite horizon
    assert all(s.closed and s.history[-1].action == Action.NO_WINNER for s in runs if s.winner is None)


def test_winner_picks_the_truly_better_variant_in_at_least_9_of_10_seeds() -> None:
    picks = [run(WINNER, {"a": 0.05, "b": 0.08}, seed, 200, timedelta(hours=12))[0] for seed in range(10)]
    assert [state.winner for state in picks].count("b") >= 9
    assert [state.winner for state in picks] == ["b", "b", "b", None, "b", "b", "b", "b", "b", "b"]
    assert picks[3].closed  # 14 days, 2,800 shoppers per variant, and no significant difference yet
    won = picks[0].history[-1]
    assert won.action == Action.WINNER and won.weights == {"a": 0.0, "b": 1.0}
    assert won.evidence["p_values"]["a|b"] <= 0.05
    assert set(won.evidence["variants"]["b"]) == {"shoppers", "converted", "rate", "ci95", "p_best"}


def test_bandit_sends_more_of_the_better_variant_with_less_regret_than_fifty_fifty() -> None:
    bandit = Experiment(mode=ExperimentMode.BANDIT, floor_percent=10, reweight_every="1d", max_duration="14d")
    truth = {"a": 0.05, "b": 0.08}
    shares, regrets = [], []
    for seed in range(10):
        state, sent, _ = run(bandit, truth, seed, 400, timedelta(days=1))
        total = sum(sent.values())
        shares.append(sent["b"] / total)
        regrets.append(sent["a"] * (truth["b"] - truth["a"]))
        assert min(state.weights.values()) >= 0.1 - 1e-9
        assert [d.action for d in state.history].count(Action.REWEIGHTED) == 14
    fifty_fifty_regret = 14 * 400 / 2 * (truth["b"] - truth["a"])  # 84 conversions
    assert min(shares) > 0.5
    assert sum(regrets) / len(regrets) < fifty_fifty_regret
    assert round(sum(shares) / len(shares), 3) == 0.815  # of 5,600 shoppers per experiment
    assert round(sum(regrets) / len(regrets), 1) == 31.1  # conversions lost, against 84 for 50/50
