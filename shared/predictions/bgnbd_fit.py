"""BG/NBD maximum likelihood in pure Python, for the scorer Lambda (which ships no numpy or scipy).

The label-free fallback fits BG/NBD on the shop's own buyers during the scoring run, on a bounded
sample (see :mod:`shared.predictions.label_free`), so the fit has to run where the scorer runs.
Buyers who share (x, t_x, T) share a likelihood term and are fitted once, weighted; the terms that
depend on x alone are computed once per distinct x. Nelder-Mead on log-parameters, restarted from
its own optimum until it stops improving, with the same bounds as the offline fit
(``nudge.predictions.fit``), which the unit tests hold it against.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from shared.predictions.bgnbd import BgNbdParams

# When nobody seems to drop out, b runs off to infinity (BG/NBD tends to the NBD) and the closed-form
# expectation loses its digits; the likelihood is flat out there, so bounding costs nothing.
LOG_PARAM_BOUNDS = (
    (-10.0, math.log(1e3)),
    (-10.0, math.log(1e6)),
    (-10.0, math.log(1e3)),
    (-10.0, math.log(1e3)),
)
MAX_EVALUATIONS = 6000
RESTARTS = 3
DAY_DIGITS = 2  # t_x and T are grouped at 1/100 day: ~15 minutes, far below what the model resolves


@dataclass(frozen=True)
class BuyerRow:
    """A distinct buyer summary (repeat orders x, t_x and T in days) and how many buyers share it."""

    x: int
    t_x: float
    big_t: float
    weight: int = 1


@dataclass(frozen=True)
class BgNbdFit:
    params: BgNbdParams
    log_likelihood: float
    buyers: int
    evaluations: int


def grouped(summaries: Iterable[tuple[int, float, float]]) -> list[BuyerRow]:
    counts = Counter(
        (int(x), round(t_x, DAY_DIGITS), round(big_t, DAY_DIGITS)) for x, t_x, big_t in summaries
    )
    return [BuyerRow(x, t_x, big_t, n) for (x, t_x, big_t), n in sorted(counts.items())]


def negative_log_likelihood(log_params: Sequence[float], rows: Sequence[BuyerRow]) -> float:
    r, alpha, a, b = (math.exp(v) for v in _clamped(log_params))
    log, exp = math.log, math.exp
    log_beta_ab = _log_beta(a, b)
    by_x: dict[int, tuple[float, float, float]] = {}
    total = 0.0
    for row in rows:
        x = row.x
        terms = by_x.get(x)
        if terms is None:
            head = math.lgamma(r + x) - math.lgamma(r) + r * log(alpha)
            survive = _log_beta(a, b + x) - log_beta_ab
            die = _log_beta(a + 1, b + x - 1) - log_beta_ab if x > 0 else -math.inf
            terms = by_x[x] = (head, survive, die)
        head, survive, die = terms
        survived = survive - (r + x) * log(alpha + row.big_t)
        if x == 0:
            total += row.weight * (head + survived)
            continue
        died = die - (r + x) * log(alpha + row.t_x)
        if survived > died:
            total += row.weight * (head + survived + log(1.0 + exp(died - survived)))
        else:
            total += row.weight * (head + died + log(1.0 + exp(survived - died)))
    return -total


def fit(rows: Sequence[BuyerRow]) -> BgNbdFit:
    """Maximum-likelihood BG/NBD parameters (days) for the buyers ``rows`` describe."""
    buyers = sum(row.weight for row in rows)
    if buyers == 0:
        raise ValueError("BG/NBD needs at least one buyer")
    mean_age = sum(row.big_t * row.weight for row in rows) / buyers
    start = [math.log(0.5), math.log(max(mean_age, 1.0) / 4), 0.0, math.log(2.0)]
    best, value, evaluations = start, math.inf, 0
    for _ in range(RESTARTS):
        point, found, used = _nelder_mead(lambda p: negative_log_likelihood(p, rows), best)
        evaluations += used
        improved = value - found > 1e-9 * max(1.0, abs(found))
        if found <= value:
            best, value = point, found
        if not improved:
            break
    r, alpha, a, b = (math.exp(v) for v in _clamped(best))
    return BgNbdFit(BgNbdParams(r, alpha, a, b), -value, buyers, evaluations)


def _clamped(log_params: Sequence[float]) -> list[float]:
    return [min(high, max(low, v)) for v, (low, high) in zip(log_params, LOG_PARAM_BOUNDS, strict=True)]


def _log_beta(p: float, q: float) -> float:
    return math.lgamma(p) + math.lgamma(q) - math.lgamma(p + q)


def _nelder_mead(
    objective: Callable[[Sequence[float]], float], start: Sequence[float]
) -> tuple[list[float], float, int]:
    """Standard Nelder-Mead (reflect 1, expand 2, contract ½, shrink ½) inside the bounds."""
    n = len(start)
    simplex = [_clamped(start)]
    for i in range(n):
        point = list(simplex[0])
        point[i] += 0.5
        simplex.append(_clamped(point))
    values = [objective(p) for p in simplex]
    evaluations = n + 1
    while evaluations < MAX_EVALUATIONS:
        order = sorted(range(n + 1), key=values.__getitem__)
        simplex, values = [simplex[i] for i in order], [values[i] for i in order]
        spread = max(abs(v - values[0]) for v in values)
        size = max(abs(p[i] - simplex[0][i]) for p in simplex[1:] for i in range(n))
        if spread <= 1e-10 * max(1.0, abs(values[0])) and size <= 1e-7:
            break
        centroid = [sum(p[i] for p in simplex[:-1]) / n for i in range(n)]

        worst = simplex[-1]

        def towards(
            coefficient: float, centre: list[float] = centroid, far: list[float] = worst
        ) -> list[float]:
            return _clamped([c + coefficient * (w - c) for c, w in zip(centre, far, strict=True)])

        reflected = towards(-1.0)
        f_reflected = objective(reflected)
        evaluations += 1
        if f_reflected < values[0]:
            expanded = towards(-2.0)
            f_expanded = objective(expanded)
            evaluations += 1
            simplex[-1], values[-1] = (
                (expanded, f_expanded) if f_expanded < f_reflected else (reflected, f_reflected)
            )
            continue
        if f_reflected < values[-2]:
            simplex[-1], values[-1] = reflected, f_reflected
            continue
        outside = f_reflected < values[-1]
        contracted = towards(-0.5 if outside else 0.5)
        f_contracted = objective(contracted)
        evaluations += 1
        if f_contracted < (f_reflected if outside else values[-1]):
            simplex[-1], values[-1] = contracted, f_contracted
            continue
        best = simplex[0]
        simplex = [best] + [
            _clamped([b + 0.5 * (v - b) for b, v in zip(best, p, strict=True)]) for p in simplex[1:]
        ]
        values = [values[0]] + [objective(p) for p in simplex[1:]]
        evaluations += n
    index = min(range(n + 1), key=values.__getitem__)
    return simplex[index], values[index], evaluations
