"""A shopper's top-N products: the neighbours of their recent products, less what they bought, in their
favourite categories first; the most bought products fill what neighbours leave (a new shopper, or one
whose products nobody else touched).

A candidate's score sums, over the shopper's recent products, what they did with each (bought 3,
carted 2, viewed 1) times its similarity to the candidate. The favourite categories are the shopper's
``FAVOURITE_CATEGORIES`` strongest by category affinity (bought weighing three times browsed, as
:func:`shared.predictions.categories.favourite_category` weighs them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shared.profiles.products import bought
from shared.recommendations.cooccurrence import ItemModel, action_weight

TOP_N = 10
FAVOURITE_CATEGORIES = 2
PURCHASE_WEIGHT = 3.0


def favourite_categories(affinity: Mapping[str, Sequence[float]], n: int = FAVOURITE_CATEGORIES) -> list[str]:
    scored = {c: v[0] + PURCHASE_WEIGHT * v[1] for c, v in affinity.items() if len(v) == 2}
    return [c for c in sorted(scored, key=lambda c: (-scored[c], c)) if scored[c] > 0][:n]


def neighbour_scores(recent: Mapping[str, Sequence[Any]], model: ItemModel) -> dict[str, float]:
    """Each candidate's summed similarity to the shopper's recent products (bought ones left out)."""
    owned = bought(recent)
    scores: dict[str, float] = {}
    for product, entry in recent.items():
        weight = action_weight(int(entry[1]))
        for candidate, similarity in model.neighbours.get(product, []):
            if candidate not in owned:
                scores[candidate] = scores.get(candidate, 0.0) + weight * similarity
    return scores


def recommend(
    recent: Mapping[str, Sequence[Any]],
    affinity: Mapping[str, Sequence[float]],
    model: ItemModel,
    n: int = TOP_N,
    *,
    categories_first: bool = True,
) -> list[str]:
    """The shopper's top ``n`` product ids, best first."""
    favourites = set(favourite_categories(affinity)) if categories_first else set()

    def outside(product: str) -> bool:
        return model.category.get(product) not in favourites

    scores = neighbour_scores(recent, model)
    ranked = sorted(scores, key=lambda p: (outside(p), -scores[p], p))
    owned = bought(recent)
    chosen = set(ranked)
    popular = [p for p in model.popular if p not in owned and p not in chosen]
    ranked += sorted(popular, key=outside)  # stable: most bought first within each group
    return ranked[:n]


def shows_bought(recommended: Any, recent: Mapping[str, Sequence[Any]]) -> bool:
    """Whether stored recommendations show a product the shopper has bought since they were written."""
    return isinstance(recommended, list) and not bought(recent).isdisjoint(map(str, recommended))
