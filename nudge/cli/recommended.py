"""What ``nudge preview`` shows of a shopper's recommended products: those the last scoring run wrote in
their ``scores``, else the ones the run would write, computed from the previewed store's profiles as its
census and scoring tasks do (a local store has had no scoring run)."""

from __future__ import annotations

from collections.abc import Iterable

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
