"""Generalised linear models, scoring side: logistic (P(order)) and Poisson (expected orders).

Features are standardised with the training means and scales stored beside the weights, so the
artefact is self-contained and scoring is one dot product. Standardised values are clipped to
±``CLIP`` in training and scoring alike: a shopper older or busier than anyone in the training
window (customer age grows every day) must not be extrapolated exponentially by the Poisson model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Link = Literal["logit", "log"]
CLIP = 4.0


@dataclass(frozen=True)
class LinearModel:
    link: Link
    features: tuple[str, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    weights: tuple[float, ...]
    intercept: float

    def linear_predictor(self, values: Mapping[str, float]) -> float:
        total = self.intercept
        for name, mean, scale, weight in zip(
            self.features, self.means, self.scales, self.weights, strict=True
        ):
            total += weight * max(-CLIP, min(CLIP, (values[name] - mean) / scale))
        return total

    def predict(self, values: Mapping[str, float]) -> float:
        eta = self.linear_predictor(values)
        if self.link == "logit":
            return sigmoid(eta)
        return math.exp(min(eta, 50.0))

    def to_dict(self) -> dict[str, Any]:
        return {
            "link": self.link,
            "features": list(self.features),
            "means": list(self.means),
            "scales": list(self.scales),
            "weights": list(self.weights),
            "intercept": self.intercept,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LinearModel:
        def floats(name: str) -> tuple[float, ...]:
            values: Sequence[Any] = data[name]
            return tuple(float(v) for v in values)

        link = data["link"]
        if link not in ("logit", "log"):
            raise ValueError(f"unknown link {link!r}")
        return cls(
            link,
            tuple(str(f) for f in data["features"]),
            floats("means"),
            floats("scales"),
            floats("weights"),
            float(data["intercept"]),
        )


def sigmoid(eta: float) -> float:
    if eta >= 0:
        return 1.0 / (1.0 + math.exp(-eta))
    e = math.exp(eta)
    return e / (1.0 + e)
