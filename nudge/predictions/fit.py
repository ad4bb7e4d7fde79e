"""Maximum-likelihood fitting with numpy and scipy: BG/NBD, L2-penalised logistic and Poisson GLMs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import optimize, special

from shared.predictions.bgnbd import BgNbdParams
from shared.predictions.linear import CLIP, LinearModel, Link

RIDGE = 1.0
# When nobody seems to drop out, b runs off to infinity (BG/NBD tends to the NBD) and the closed-form
# expectation loses its digits; the likelihood is flat out there, so bounding costs nothing.
LOG_PARAM_BOUNDS = [
    (-10.0, float(np.log(1e3))),
    (-10.0, float(np.log(1e6))),
    (-10.0, float(np.log(1e3))),
    (-10.0, float(np.log(1e3))),
]
NEWTON_ITERATIONS = 50


def bgnbd_negative_log_likelihood(
    log_params: np.ndarray,
    x: np.ndarray,
    t_x: np.ndarray,
    big_t: np.ndarray,
    weights: np.ndarray | None = None,
) -> float:
    r, alpha, a, b = np.exp(log_params)
    head = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    survived = special.betaln(a, b + x) - special.betaln(a, b) - (r + x) * np.log(alpha + big_t)
    died = np.where(
        x > 0,
        special.betaln(a + 1, np.maximum(b + x - 1, 1e-12))
        - special.betaln(a, b)
        - (r + x) * np.log(alpha + t_x),
        -np.inf,
    )
    per_buyer = head + np.logaddexp(survived, died)
    return float(-np.sum(per_buyer if weights is None else weights * per_buyer))


def fit_bgnbd(x: Sequence[int], t_x: Sequence[float], big_t: Sequence[float]) -> tuple[BgNbdParams, float]:
    """Maximum-likelihood BG/NBD parameters and the log-likelihood at the optimum."""
    rows = np.column_stack([np.asarray(v, dtype=float) for v in (x, t_x, big_t)])
    # Buyers who share (x, t_x, T) share a likelihood term: fit on the distinct rows, weighted.
    distinct, counts = np.unique(rows, axis=0, return_counts=True)
    xs, txs, ts = distinct[:, 0], distinct[:, 1], distinct[:, 2]
    weights = counts.astype(float)
    start = np.log([0.5, max(float(np.mean(ts)), 1.0) / 4, 1.0, 2.0])
    best = None
    for method in ("Nelder-Mead", "L-BFGS-B"):
        result = optimize.minimize(
            bgnbd_negative_log_likelihood,
            start if best is None else best.x,
            args=(xs, txs, ts, weights),
            method=method,
            bounds=LOG_PARAM_BOUNDS,
            options={"maxiter": 5000, "xatol": 1e-8, "fatol": 1e-8} if method == "Nelder-Mead" else {},
        )
        if best is None or result.fun <= best.fun:
            best = result
    assert best is not None
    r, alpha, a, b = (float(v) for v in np.exp(best.x))
    return BgNbdParams(r, alpha, a, b), -float(best.fun)


def _standardise(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    means = matrix.mean(axis=0)
    scales = matrix.std(axis=0)
    scales[scales < 1e-9] = 1.0
    return (matrix - means) / scales, means, scales


def fit_glm(
    names: Sequence[str], matrix: np.ndarray, target: np.ndarray, link: Link, ridge: float = RIDGE
) -> LinearModel:
    """Newton-Raphson (IRLS) on the penalised log-likelihood; the intercept is not penalised.

    ``link="logit"``: logistic regression on a 0/1 target. ``link="log"``: Poisson regression on counts.
    """
    z, means, scales = _standardise(np.asarray(matrix, dtype=float))
    z = np.clip(z, -CLIP, CLIP)
    design = np.hstack([np.ones((z.shape[0], 1)), z])
    y = np.asarray(target, dtype=float)
    beta = np.zeros(design.shape[1])
    beta[0] = _initial_intercept(y, link)
    penalty = np.full(design.shape[1], ridge)
    penalty[0] = 0.0
    for _ in range(NEWTON_ITERATIONS):
        eta = np.clip(design @ beta, -30, 30)
        if link == "logit":
            mu = special.expit(eta)
            weight = mu * (1 - mu)
        else:
            mu = np.exp(eta)
            weight = mu
        gradient = design.T @ (y - mu) - penalty * beta
        hessian = design.T @ (design * weight[:, None]) + np.diag(penalty)
        step = np.linalg.solve(hessian + 1e-9 * np.eye(len(beta)), gradient)
        beta += step
        if np.max(np.abs(step)) < 1e-6:
            break
    return LinearModel(
        link,
        tuple(names),
        tuple(float(v) for v in means),
        tuple(float(v) for v in scales),
        tuple(float(v) for v in beta[1:]),
        float(beta[0]),
    )


def _initial_intercept(y: np.ndarray, link: Link) -> float:
    mean = float(np.clip(np.mean(y), 1e-6, 1 - 1e-6)) if link == "logit" else max(float(np.mean(y)), 1e-6)
    return float(np.log(mean / (1 - mean))) if link == "logit" else float(np.log(mean))
