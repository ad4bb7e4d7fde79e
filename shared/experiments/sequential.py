"""A sequential test for two conversion rates that stays valid under repeated looks.

The mixture sequential probability ratio test (mSPRT; Johari, Pekelis, Walsh, "Always valid inference",
2017): the likelihood ratio of "the rates differ by θ" against "they are equal", averaged over a normal
mixture θ ~ N(0, τ²), on the normal approximation of the observed difference with its pooled variance V:

    Λ = sqrt(V / (V + τ²)) · exp(τ² d² / (2 V (V + τ²)))

Under equal rates Λ is a martingale, so ``P(Λ ever ≥ 1/alpha) ≤ alpha`` (Ville's inequality): the always-valid
p-value ``min over looks of 1/Λ`` may be looked at after every batch of conversions, and the chance of a
false winner stays at most alpha. ``τ`` is the size of difference the test is tuned to find (``effect``).

With more than two variants a winner must beat every other variant, each comparison at alpha / (k - 1)
(Bonferroni), so the chance of any false winner stays at most alpha."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Arm:
    """What one variant did: shoppers assigned (and sent) and those who converted."""

    sent: int
    converted: int

    @property
    def rate(self) -> float:
        return self.converted / self.sent if self.sent else 0.0


def likelihood_ratio(a: Arm, b: Arm, effect: float) -> float:
    """The mSPRT's Λ for "b's rate differs from a's" (1.0 while either arm is empty or nothing varies)."""
    if a.sent == 0 or b.sent == 0:
        return 1.0
    pooled = (a.converted + b.converted) / (a.sent + b.sent)
    variance = pooled * (1 - pooled) * (1 / a.sent + 1 / b.sent)
    if variance <= 0:
        return 1.0
    tau2 = effect * effect
    difference = b.rate - a.rate
    exponent = tau2 * difference * difference / (2 * variance * (variance + tau2))
    return math.sqrt(variance / (variance + tau2)) * math.exp(min(exponent, 700.0))


def always_valid_p(a: Arm, b: Arm, effect: float, previous: float = 1.0) -> float:
    """The always-valid p-value after this look: the smallest ``1/Λ`` seen so far (``previous``)."""
    return min(previous, 1.0 / likelihood_ratio(a, b, effect))


@dataclass(frozen=True)
class SequentialTest:
    """The stopping rule: no decision before every variant has ``min_sample`` shoppers; a winner once
    its always-valid p-value against every other variant is at most
    alpha / (k - 1). The maximum duration (no winner by then: none) is the caller's, in time."""

    alpha: float = 0.05
    effect: float = 0.02
    min_sample: int = 200

    def p_values(
        self, arms: Mapping[str, Arm], previous: Mapping[tuple[str, str], float] | None = None
    ) -> dict[tuple[str, str], float]:
        """Always-valid p-values of every ordered pair (leader, other), carried over from ``previous``."""
        previous = previous or {}
        found: dict[tuple[str, str], float] = {}
        for first in arms:
            for second in arms:
                if first < second:
                    pair = (first, second)
                    found[pair] = always_valid_p(
                        arms[first], arms[second], self.effect, previous.get(pair, 1.0)
                    )
        return found

    def winner(self, arms: Mapping[str, Arm], p_values: Mapping[tuple[str, str], float]) -> str | None:
        """The variant significantly better than every other one, or None (too early, or no winner)."""
        if len(arms) < 2 or min(arm.sent for arm in arms.values()) < self.min_sample:
            return None
        level = self.alpha / (len(arms) - 1)
        leader = max(arms, key=lambda v: (arms[v].rate, v))
        for other in arms:
            if other == leader:
                continue
            pair = (leader, other) if leader < other else (other, leader)
            if arms[other].rate >= arms[leader].rate or p_values.get(pair, 1.0) > level:
                return None
        return leader
