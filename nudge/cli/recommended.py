"""What ``nudge preview`` shows of a shopper's recommended products: those the last scoring run wrote in
their ``scores``, else the ones the run would write, computed from the previewed store's profiles as its
census and scoring tasks do (a local store has had no scoring run), each named as the store's catalog
names it (nudge/cli/shown_products.py)."""

from __future__ import annotations

from collections.abc import Iterable

from shared.catalog.product import Product
from shared.profiles.profile import Profile
from shared.recommendations.cooccurrence import ItemModel, ItemSketch
from shared.recommendations.ranking import recommend


def recommended_for(profile: Profile, profiles: Iterable[Profile]) -> tuple[list[str], str]:
    """The shopper's recommended product ids, best first, and where they come from."""
    stored = profile.scores.get("recommendations")
    if isinstance(stored, list) and stored:
        return [str(p) for p in stored], "the last scoring run's"
    sketch = ItemSketch()
    for shopper in profiles:
        sketch.add(shopper.activity.products)
    model = ItemModel.from_sketch(sketch)
    return recommend(
        profile.activity.products, profile.category_affinity, model
    ), "as a scoring run would write"


def with_recommendations(profile: Profile, ids: list[str]) -> Profile:
    """``profile`` with ``ids`` as its recommendations (what the templates' ``recommendations(n)`` reads)."""
    if not ids or profile.scores.get("recommendations") == ids:
        return profile
    return profile.model_copy(update={"scores": {**profile.scores, "recommendations": ids}})


def recommended_names(ids: list[str], products: dict[str, Product]) -> str:
    """``p-1 Aero Runner, p-7, …``: each id with its name when known."""
    named = [f"{p} {products[p].name}" if p in products and products[p].name else p for p in ids]
    return ", ".join(named) or "none"
