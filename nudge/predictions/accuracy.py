"""How good a model's scores are (AUC, Brier, log loss, MAE, calibration), in plain Python: small, exact,
unit-tested against hand-worked answers. (Not `shared/platform/metrics.py`, which is CloudWatch.)"""

from __future__ import annotations

import math
from collections.abc import Sequence

EPSILON = 1e-12


def auc(truth: Sequence[float], scores: Sequence[float]) -> float:
    """Area under the ROC curve = P(score of a random positive > a random negative), ties count half
    (the Mann-Whitney statistic, via average ranks)."""
    pairs = sorted(zip(scores, truth, strict=True))
    positives = sum(1 for t in truth if t)
    negatives = len(truth) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    rank_sum = 0.0
    i = 0
    while i < len(pairs):
        j = i
        while j + 1 < len(pairs) and pairs[j + 1][0] == pairs[i][0]:
            j += 1
        average_rank = (i + j) / 2 + 1
        rank_sum += average_rank * sum(1 for k in range(i, j + 1) if pairs[k][1])
        i = j + 1
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def brier(truth: Sequence[float], probabilities: Sequence[float]) -> float:
    return sum((p - t) ** 2 for t, p in zip(truth, probabilities, strict=True)) / len(truth)


def log_loss(truth: Sequence[float], probabilities: Sequence[float]) -> float:
    total = 0.0
    for t, p in zip(truth, probabilities, strict=True):
        p = min(max(p, EPSILON), 1 - EPSILON)
        total -= t * math.log(p) + (1 - t) * math.log(1 - p)
    return total / len(truth)


def mae(actual: Sequence[float], predicted: Sequence[float]) -> float:
    return sum(abs(a - p) for a, p in zip(actual, predicted, strict=True)) / len(actual)


def reliability(
    truth: Sequence[float], probabilities: Sequence[float], bins: int = 10
) -> list[tuple[float, float, int]]:
    """(mean predicted, observed rate, count) per equal-count bin of the predictions, lowest first."""
    ordered = sorted(zip(probabilities, truth, strict=True))
    n = len(ordered)
    table = []
    for b in range(bins):
        chunk = ordered[b * n // bins : (b + 1) * n // bins]
        if chunk:
            table.append(
                (sum(p for p, _ in chunk) / len(chunk), sum(t for _, t in chunk) / len(chunk), len(chunk))
            )
    return table


def expected_calibration_error(
    truth: Sequence[float], probabilities: Sequence[float], bins: int = 10
) -> float:
    """Count-weighted mean |predicted - observed| over the reliability bins."""
    table = reliability(truth, probabilities, bins)
    total = sum(n for *_, n in table)
    return sum(n * abs(p - o) for p, o, n in table) / total if total else float("nan")
