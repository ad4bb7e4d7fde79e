"""Offline evaluation of the recommendations on a time split: hit rate@10 and NDCG@10.

The item model is learnt, as the scoring run learns it, from the profiles at the cut (each shopper's
recent products, :mod:`shared.profiles.products`); every identified shopper with a profile at the cut
who then buys a product they had not bought before, within ``HOLDOUT_DAYS``, is one case. Their top 10
at the cut is compared with those products: a hit if any is in it; NDCG with binary relevance.
Against the popularity baseline (the most bought products, less the shopper's own purchases).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from nudge.predictions.history import EventHistory
from shared.core.identity import is_anonymous
from shared.profiles.products import bought
from shared.profiles.profile import Profile
from shared.recommendations.cooccurrence import ItemModel, ItemSketch
from shared.recommendations.ranking import recommend

K = 10
HOLDOUT_DAYS = 30
DOC_START = "<!-- recommendations:start -->"
DOC_END = "<!-- recommendations:end -->"
Recommender = Callable[[Profile], list[str]]


def hit_at_k(ranked: Sequence[str], relevant: set[str], k: int = K) -> float:
    """1 when any of the first ``k`` is relevant."""
    return 1.0 if any(p in relevant for p in ranked[:k]) else 0.0


def ndcg_at_k(ranked: Sequence[str], relevant: set[str], k: int = K) -> float:
    """Normalised discounted cumulative gain, binary relevance: a hit at rank i (from 1) gains
    1 / log2(i + 1), over the best possible gain for ``len(relevant)`` hits."""
    if not relevant:
        return 0.0
    gain = sum(1.0 / math.log2(i + 2) for i, p in enumerate(ranked[:k]) if p in relevant)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return gain / ideal


@dataclass(frozen=True)
class RecommendationRow:
    dataset: str
    model: str
    shoppers: int
    hit_rate: float
    ndcg: float


def bought_after(history: EventHistory, cut: datetime, days: int) -> dict[str, set[str]]:
    """Each shopper's products bought in (cut, cut + days]."""
    found: dict[str, set[str]] = {}
    for user_id, orders in history.orders_between(cut, cut + timedelta(days=days)).items():
        for order in orders:
            for line in order.properties.get("products") or []:
                if isinstance(line, Mapping) and (line.get("product_id") or line.get("sku")):
                    found.setdefault(user_id, set()).add(str(line.get("product_id") or line.get("sku")))
    return found


def recommenders(model: ItemModel) -> dict[str, Recommender]:
    def popularity(profile: Profile) -> list[str]:
        owned = bought(profile.activity.products)
        return [p for p in model.popular if p not in owned][:K]

    def cooccurrence(profile: Profile) -> list[str]:
        products, affinity = profile.activity.products, profile.category_affinity
        return recommend(products, affinity, model, K, categories_first=False)

    def shipped(profile: Profile) -> list[str]:
        return recommend(profile.activity.products, profile.category_affinity, model, K)

    return {
        "popularity (baseline)": popularity,
        "co-occurrence": cooccurrence,
        "co-occurrence, favourite categories first (shipped)": shipped,
    }


def evaluate_recommendations(
    key: str, payloads: Iterable[dict[str, Any]], cut: datetime, days: int = HOLDOUT_DAYS
) -> list[RecommendationRow]:
    full = EventHistory.from_payloads(payloads)
    known = EventHistory(
        {u: kept for u, ev in full.events_by_user.items() if (kept := [e for e in ev if e.timestamp <= cut])}
    )
    (profiles,) = known.profiles_at([cut])
    sketch = ItemSketch()
    for profile in profiles.values():
        sketch.add(profile.activity.products)
    model = ItemModel.from_sketch(ItemSketch.from_dict(sketch.to_dict()))  # bounded, as a census stores it
    later = bought_after(full, cut, days)
    cases = {
        user_id: new
        for user_id, profile in profiles.items()
        if not is_anonymous(user_id)
        and (new := later.get(user_id, set()) - bought(profile.activity.products))
    }
    rows = []
    for name, recommender in recommenders(model).items():
        hits = ndcgs = 0.0
        for user_id, relevant in cases.items():
            ranked = recommender(profiles[user_id])
            hits += hit_at_k(ranked, relevant)
            ndcgs += ndcg_at_k(ranked, relevant)
        n = max(len(cases), 1)
        rows.append(RecommendationRow(key, name, len(cases), round(hits / n, 4), round(ndcgs / n, 4)))
    return rows


def markdown(rows: Sequence[RecommendationRow]) -> str:
    lines = [
        f"| dataset | model | shoppers | hit rate@{K} | NDCG@{K} |",
        "| --- | --- | ---: | ---: | ---: |",
        *(f"| {r.dataset} | {r.model} | {r.shoppers} | {r.hit_rate:.3f} | {r.ndcg:.3f} |" for r in rows),
    ]
    return "\n".join(lines) + "\n"


def write_into_doc(doc: Path, block: str) -> None:
    """Replace what lies between the recommendations markers of ``doc`` with ``block``."""
    text = doc.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(DOC_START) + ".*?" + re.escape(DOC_END), re.S)
    if not pattern.search(text):
        raise ValueError(f"{doc} has no {DOC_START} … {DOC_END} block")
    doc.write_text(pattern.sub(lambda _m: f"{DOC_START}\n{block}{DOC_END}", text), encoding="utf-8")
