"""The recommendation step of the daily scoring run: CPU per 100k shoppers, the item model's size and
what it adds to a profile's ``scores`` (docs/predictions.md, "Recommendations").

Shoppers are made in memory (no AWS: the step itself makes no request per shopper; a run adds one
PutItem of the item model and one GetItem per scoring task). Each has 4-20 recent products drawn from
a 5,000-product catalogue with a long tail (a product's chance falls as 1 / rank), a third of them
bought, categories by product; the census counts them into one segment's sketch, the scoring task
ranks each shopper's top 10.
"""

from __future__ import annotations

import json
import random
import time
from itertools import accumulate
from typing import Any

from shared.profiles.products import BOUGHT, CARTED, VIEWED
from shared.recommendations.cooccurrence import ItemModel, ItemSketch
from shared.recommendations.ranking import recommend

SHOPPERS = 10_000
PRODUCTS = 5_000
CATEGORIES = 12
PER_100K = 100_000 / SHOPPERS


def _shoppers(seed: int = 22) -> list[tuple[dict[str, tuple[int, int, str]], dict[str, list[float]]]]:
    rng = random.Random(seed)
    weights = list(accumulate(1.0 / (rank + 1) for rank in range(PRODUCTS)))
    made = []
    for _ in range(SHOPPERS):
        chosen = rng.choices(range(PRODUCTS), cum_weights=weights, k=rng.randint(4, 20))
        recent = {
            f"p-{p}": (
                20_000,
                rng.choice((VIEWED, VIEWED, CARTED | VIEWED, BOUGHT | VIEWED)),
                f"c-{p % CATEGORIES}",
            )
            for p in chosen
        }
        affinity = {f"c-{p % CATEGORIES}": [1.0, 0.0] for p in chosen[:3]}
        made.append((recent, affinity))
    return made


def measure_recommendations() -> dict[str, Any]:
    shoppers = _shoppers()
    started = time.process_time()
    sketch = ItemSketch()
    for recent, _ in shoppers:
        sketch.add(recent)
    stored = json.dumps(sketch.to_dict(), separators=(",", ":"))
    census_s = time.process_time() - started
    model = ItemModel.from_sketch(ItemSketch.from_dict(json.loads(stored)))
    body = json.dumps(model.to_dict(), separators=(",", ":"))
    started = time.process_time()
    lists = [recommend(recent, affinity, model) for recent, affinity in shoppers]
    ranking_s = time.process_time() - started
    listed = [ids for ids in lists if ids]
    return {
        "recommendations_census_cpu_s_per_100k_shoppers": census_s * PER_100K,
        "recommendations_ranking_cpu_s_per_100k_shoppers": ranking_s * PER_100K,
        "recommendations_cpu_s_per_100k_shoppers": (census_s + ranking_s) * PER_100K,
        "recommendations_census_sketch_bytes": len(stored),
        "recommendations_item_model_bytes": len(body),
        "recommendations_scores_bytes_per_shopper": sum(len(json.dumps(ids)) for ids in listed) / len(listed),
    }
