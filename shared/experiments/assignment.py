"""Who gets which variant, and who is in the global control group: a hash of the experiment (or the
program) and the shopper, so a shopper draws the same every time, on every function, in every run."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from shared.measurement.attribution import GLOBAL_CONTROL

__all__ = ["GLOBAL_CONTROL", "assign_variant", "bucket", "in_global_control", "in_sample"]


def bucket(salt: str, user_id: str) -> float:
    """A shopper's place in [0, 1) for ``salt``: stable, and independent between salts."""
    digest = hashlib.sha256(f"{salt}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_variant(experiment_id: str, user_id: str, weights: Mapping[str, float]) -> str:
    """The variant of ``weights`` (id → weight, any positive scale, in file order) the shopper draws."""
    if not weights:
        raise ValueError(f"experiment {experiment_id!r} has no variant to assign")
    total = sum(weights.values())
    place = bucket(f"variant:{experiment_id}", user_id) * total
    edge = 0.0
    for variant, weight in weights.items():
        edge += weight
        if place < edge:
            return variant
    return next(reversed(list(weights)))


def in_global_control(user_id: str, percent: float) -> bool:
    """Whether the shopper is in the program's control group (no marketing message at all)."""
    return percent > 0 and bucket(GLOBAL_CONTROL, user_id) * 100 < percent


def in_sample(experiment_id: str, user_id: str, percent: float) -> bool:
    """Whether a batch send's shopper is in the experiment's tested sample (the rest wait for the winner)."""
    return bucket(f"sample:{experiment_id}", user_id) * 100 < percent
