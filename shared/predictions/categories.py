"""Favourite and next category from the profile's recency-decayed category affinity.

Ingest keeps, per category, a browse weight (view 1, add to cart 2) and a purchase weight (units
bought), both halving every ``AFFINITY_HALF_LIFE_DAYS``. The favourite weighs what was bought three
times what was browsed; the next category is where the shopper's browsing is heading: the
strongest recent browse signal, purchases left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

PURCHASE_WEIGHT = 3.0


def favourite_category(affinity: Mapping[str, Sequence[float]]) -> str | None:
    scored = {c: v[0] + PURCHASE_WEIGHT * v[1] for c, v in affinity.items() if len(v) == 2}
    best = max(sorted(scored), key=scored.__getitem__, default=None)
    return best if best is not None and scored[best] > 0 else None


def next_category(affinity: Mapping[str, Sequence[float]]) -> str | None:
    browsing = {c: v[0] for c, v in affinity.items() if len(v) == 2 and v[0] > 0}
    return max(sorted(browsing), key=browsing.__getitem__, default=None)
