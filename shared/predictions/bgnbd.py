"""BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way"), scoring side.

A buyer makes purchases at rate lambda ~ Gamma(r, alpha) while alive and, after each purchase, drops
out with probability p ~ Beta(a, b). From a buyer's summary — x repeat purchases, the last one
t_x days after the first, T days since the first — these closed forms give the probability the
buyer is still alive, the chance of at least one order in the next t days and the expected
number of orders. Time is in days. Fitting (maximum likelihood) is in ``nudge.predictions.fit``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

HYP2F1_MAX_TERMS = 100_000


@dataclass(frozen=True)
class BgNbdParams:
    r: float
    alpha: float
    a: float
    b: float

    def to_dict(self) -> dict[str, float]:
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}


def hyp2f1(a: float, b: float, c: float, z: float) -> float:
    """Gauss's hypergeometric series for 0 <= z < 1 (all BG/NBD needs: z = t / (alpha + T + t))."""
    if not 0 <= z < 1:
        raise ValueError(f"hyp2f1 series needs 0 <= z < 1, got {z}")
    term = total = 1.0
    for k in range(HYP2F1_MAX_TERMS):
        term *= (a + k) * (b + k) / ((c + k) * (k + 1)) * z
        total += term
        if abs(term) <= 1e-15 * abs(total):
            return total
    raise ArithmeticError(f"hyp2f1({a}, {b}; {c}; {z}) did not converge")


def log_likelihood(params: BgNbdParams, x: int, t_x: float, big_t: float) -> float:
    """One buyer's log-likelihood (equation 6 of the paper)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    head = math.lgamma(r + x) - math.lgamma(r) + r * math.log(alpha)
    survived = _log_beta(a, b + x) - _log_beta(a, b) - (r + x) * math.log(alpha + big_t)
    if x == 0:
        return head + survived
    died = _log_beta(a + 1, b + x - 1) - _log_beta(a, b) - (r + x) * math.log(alpha + t_x)
    top = max(survived, died)
    return head + top + math.log(math.exp(survived - top) + math.exp(died - top))


def _log_beta(p: float, q: float) -> float:
    return math.lgamma(p) + math.lgamma(q) - math.lgamma(p + q)


def probability_alive(params: BgNbdParams, x: int, t_x: float, big_t: float) -> float:
    if x == 0:
        return 1.0
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    log_ratio = math.log(a / (b + x - 1)) + (r + x) * math.log((alpha + big_t) / (alpha + t_x))
    return 1.0 / (1.0 + math.exp(min(log_ratio, 700.0)))


def probability_of_order(params: BgNbdParams, x: int, t_x: float, big_t: float, t: float) -> float:
    """P(at least one order in the next ``t`` days). An alive buyer's posterior rate is
    Gamma(r + x, alpha + T), and dropping out only happens right after a purchase, so an alive
    buyer orders nothing in t days with probability ((alpha + T) / (alpha + T + t))^(r + x)."""
    alive = probability_alive(params, x, t_x, big_t)
    quiet = ((params.alpha + big_t) / (params.alpha + big_t + t)) ** (params.r + x)
    return alive * (1.0 - quiet)


def expected_orders(params: BgNbdParams, x: int, t_x: float, big_t: float, t: float) -> float:
    """E[orders in the next ``t`` days | x, t_x, T] (equation 10 of the paper)."""
    r, alpha, b = params.r, params.alpha, params.b
    # The closed form holds for every a > 0 except a = 1, a removable singularity: step around it.
    a = params.a if abs(params.a - 1.0) > 1e-7 else 1.0 + 1e-7
    z = t / (alpha + big_t + t)
    head = (a + b + x - 1) / (a - 1)
    body = 1.0 - ((alpha + big_t) / (alpha + big_t + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z)
    denominator = 1.0
    if x > 0:
        denominator += a / (b + x - 1) * ((alpha + big_t) / (alpha + t_x)) ** (r + x)
    return head * body / denominator
