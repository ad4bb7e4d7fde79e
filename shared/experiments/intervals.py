"""Intervals for conversion rates: Wilson's score interval for one proportion, Newcombe's hybrid score
interval (method 10) for the difference of two. The report's uplift and the experiments' variant
table both use these (one implementation)."""

from __future__ import annotations

import math

Z95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion (``(0, 1)`` when nothing was observed)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe(
    successes_1: int, n_1: int, successes_2: int, n_2: int, z: float = Z95
) -> tuple[float, float, float]:
    """The difference of rates ``p1 - p2`` with Newcombe's interval: (difference, low, high)."""
    p1 = successes_1 / n_1 if n_1 else 0.0
    p2 = successes_2 / n_2 if n_2 else 0.0
    l1, u1 = wilson(successes_1, n_1, z)
    l2, u2 = wilson(successes_2, n_2, z)
    difference = p1 - p2
    low = difference - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = difference + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return difference, low, high
