"""Item-to-item co-occurrence, counted segment by segment in the scoring run's census.

Each shopper's recent products (:mod:`shared.profiles.products`) say what they viewed, carted and
bought. For every product ``b`` a shopper bought, each other product ``a`` of theirs counts towards
the pair ``a → b`` with the weight of what they did with ``a`` (viewed 1, carted 2, bought 3): views
and carts lead to purchases, and a purchase to the next one (cross-sell). A pair's similarity is its
count over ``sqrt(weight of a * buyers of b)`` (a cosine), so a product everybody buys is not
everybody's neighbour.

A segment's :class:`ItemSketch` is stored with its census (a DynamoDB item of at most 400 KB), so it
is bounded by bytes: the products with the most weight are kept, each with its heaviest pairs.
Merging bounded sketches approximates the exact counts for the products at the tail; the heavy ones
(those worth recommending) are exact as long as every segment kept them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.profiles.products import BOUGHT, CARTED

MAX_SKETCH_BYTES = 120_000
SKETCH_PAIRS_PER_ITEM = 12
NEIGHBOURS = 10
POPULAR = 50
MODEL_ITEMS = 1_000
BOUGHT_WEIGHT, CARTED_WEIGHT, VIEWED_WEIGHT = 3.0, 2.0, 1.0


def action_weight(actions: int) -> float:
    """The strongest thing a shopper did with a product: bought 3, carted 2, viewed 1."""
    if actions & BOUGHT:
        return BOUGHT_WEIGHT
    if actions & CARTED:
        return CARTED_WEIGHT
    return VIEWED_WEIGHT


@dataclass
class ItemSketch:
    """One segment's counts: product weight (over its shoppers), buyers per product, pair weights
    ``a → b`` (``b`` bought), each product's category."""

    weight: dict[str, float] = field(default_factory=dict)
    buyers: dict[str, int] = field(default_factory=dict)
    pairs: dict[str, dict[str, float]] = field(default_factory=dict)
    category: dict[str, str] = field(default_factory=dict)

    def add(self, recent: Mapping[str, Any]) -> None:
        """One shopper's recent products (product id → [day, actions, category])."""
        weights = {str(p): action_weight(int(entry[1])) for p, entry in recent.items()}
        for product, entry in recent.items():
            product = str(product)
            self.weight[product] = self.weight.get(product, 0.0) + weights[product]
            if entry[2] and product not in self.category:
                self.category[product] = str(entry[2])
        for b, entry in recent.items():
            if not int(entry[1]) & BOUGHT:
                continue
            b = str(b)
            self.buyers[b] = self.buyers.get(b, 0) + 1
            for a, w in weights.items():
                if a != b:
                    row = self.pairs.setdefault(a, {})
                    row[b] = row.get(b, 0.0) + w

    def merge(self, other: ItemSketch) -> None:
        for product, w in other.weight.items():
            self.weight[product] = self.weight.get(product, 0.0) + w
        for product, n in other.buyers.items():
            self.buyers[product] = self.buyers.get(product, 0) + n
        for a, row in other.pairs.items():
            mine = self.pairs.setdefault(a, {})
            for b, w in row.items():
                mine[b] = mine.get(b, 0.0) + w
        for product, category in other.category.items():
            self.category.setdefault(product, category)

    def compacted(self, max_bytes: int = MAX_SKETCH_BYTES) -> ItemSketch:
        """The heaviest products (their heaviest pairs each) that fit in ``max_bytes`` of JSON."""
        kept = ItemSketch()
        used = 0
        for product in sorted(self.weight, key=lambda p: (-self.weight[p], p)):
            row = self.pairs.get(product, {})
            top = sorted(row, key=lambda b: (-row[b], b))[:SKETCH_PAIRS_PER_ITEM]
            category = self.category.get(product, "")
            # product id and numbers in three maps, its category, each pair's id and weight (JSON)
            cost = 3 * (len(product) + 12) + len(category) + 6 + sum(len(b) + 10 for b in top)
            if used + cost > max_bytes:
                break
            used += cost
            kept.weight[product] = self.weight[product]
            if product in self.buyers:
                kept.buyers[product] = self.buyers[product]
            if top:
                kept.pairs[product] = {b: row[b] for b in top}
            if category:
                kept.category[product] = category
        return kept

    def to_dict(self) -> dict[str, Any]:
        kept = self.compacted()
        return {"w": kept.weight, "b": kept.buyers, "p": kept.pairs, "c": kept.category}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ItemSketch:
        return cls(
            {str(k): float(v) for k, v in (data.get("w") or {}).items()},
            {str(k): int(v) for k, v in (data.get("b") or {}).items()},
            {str(a): {str(b): float(w) for b, w in row.items()} for a, row in (data.get("p") or {}).items()},
            {str(k): str(v) for k, v in (data.get("c") or {}).items()},
        )


@dataclass(frozen=True)
class ItemModel:
    """Each product's nearest products (best first, with their similarity), the most bought products
    (most first), and each product's category: what ranking needs, bounded to ``MODEL_ITEMS``."""

    neighbours: dict[str, list[tuple[str, float]]]
    popular: list[str]
    category: dict[str, str]

    @classmethod
    def from_sketch(cls, sketch: ItemSketch) -> ItemModel:
        neighbours: dict[str, list[tuple[str, float]]] = {}
        for a in sorted(sketch.pairs, key=lambda p: (-sketch.weight.get(p, 0.0), p))[:MODEL_ITEMS]:
            row = sketch.pairs[a]
            scored = [
                (b, round(w / math.sqrt(sketch.weight.get(a, w) * max(sketch.buyers.get(b, 1), 1)), 4))
                for b, w in row.items()
            ]
            scored.sort(key=lambda pair: (-pair[1], pair[0]))
            neighbours[a] = scored[:NEIGHBOURS]
        popular = sorted(sketch.buyers, key=lambda p: (-sketch.buyers[p], p))[:POPULAR]
        named = {b for row in neighbours.values() for b, _ in row} | set(neighbours) | set(popular)
        return cls(neighbours, popular, {p: c for p, c in sketch.category.items() if p in named})

    @classmethod
    def from_sketches(cls, sketches: Iterable[ItemSketch]) -> ItemModel:
        merged = ItemSketch()
        for sketch in sketches:
            merged.merge(sketch)
        return cls.from_sketch(merged)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": {a: [[b, s] for b, s in row] for a, row in self.neighbours.items()},
            "top": self.popular,
            "c": self.category,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ItemModel:
        return cls(
            {str(a): [(str(b), float(s)) for b, s in row] for a, row in (data.get("n") or {}).items()},
            [str(p) for p in data.get("top") or []],
            {str(k): str(v) for k, v in (data.get("c") or {}).items()},
        )
