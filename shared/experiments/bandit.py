"""Thompson sampling on Beta posteriors, with a floor so no variant starves (Braze's Intelligent
Selection pattern), and the probability of each variant being the best.

Each variant's conversion rate has the posterior Beta(1 + converted, 1 + sent - converted) (a uniform
prior). The probability of being best is estimated by drawing from every posterior ``draws`` times with a
seeded generator (the same counts give the same figures, in the report and in the decision log); the
bandit's next weights are those probabilities, squeezed so every variant keeps at least ``floor``."""

from __future__ import annotations

import random
from collections.abc import Mapping

from shared.experiments.sequential import Arm

DRAWS = 10_000


def probability_best(arms: Mapping[str, Arm], draws: int = DRAWS, seed: int = 0) -> dict[str, float]:
    """The share of joint posterior draws in which each variant has the highest rate."""
    if not arms:
        return {}
    rng = random.Random(seed)
    names = sorted(arms)
    wins = dict.fromkeys(names, 0)
    shapes = [(1 + arms[v].converted, 1 + max(arms[v].sent - arms[v].converted, 0)) for v in names]
    for _ in range(draws):
        best_name, best = names[0], -1.0
        for name, (alpha, beta) in zip(names, shapes, strict=True):
            value = rng.betavariate(alpha, beta)
            if value > best:
                best_name, best = name, value
        wins[best_name] += 1
    return {name: wins[name] / draws for name in names}


def thompson_weights(
    arms: Mapping[str, Arm], floor: float, draws: int = DRAWS, seed: int = 0
) -> dict[str, float]:
    """The bandit's next traffic shares: the probability of being best, each at least ``floor``.

    ``floor`` is a share (0.1 is 10%); ``floor * len(arms)`` must stay at most 1."""
    if floor * len(arms) > 1 + 1e-9:
        raise ValueError(f"a floor of {floor:g} for {len(arms)} variants leaves no share to re-weight")
    best = probability_best(arms, draws, seed)
    rest = 1 - floor * len(arms)
    return {name: floor + rest * share for name, share in best.items()}
