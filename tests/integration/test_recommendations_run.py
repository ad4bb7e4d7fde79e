"""Recommendations in the daily scoring run on moto: the census learns the item model, each shopper's
top-N is written with their scores, and a purchase takes the product out at the next run."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from payloads import identify, track

from nudge.local.runtime import LocalRuntime
from shared.adapters.dynamo.models import DynamoModelRegistry

START = datetime(2026, 11, 2, 8, tzinfo=UTC)  # the runtime fixture's clock
RUN = "2026-11-03T02:00:00Z"
NEXT_RUN = "2026-11-04T02:00:00Z"


def _viewed(user: str, product: str, n: int, days_before: int) -> dict[str, Any]:
    at = START - timedelta(days=days_before)
    return track(user, "Product Viewed", f"{user}-view-{n}", at, product_id=product, category="shoes")


def _bought(user: str, products: list[str], n: int, days_before: float) -> dict[str, Any]:
    lines = [{"product_id": p, "category": "shoes", "price": 50, "quantity": 1} for p in products]
    at = START - timedelta(days=days_before)
    return track(
        user, "Order Completed", f"{user}-order-{n}", at, order_id=f"{user}-o{n}", revenue=50, products=lines
    )


@pytest.fixture
def shop(runtime: LocalRuntime) -> LocalRuntime:
    """Eight shoppers viewed boots and bought socks (two of them laces too); a ninth only viewed boots."""
    events: list[dict[str, Any]] = []
    for i in range(8):
        user = f"u-{i}"
        events.append(identify(user, f"{user}-id", START - timedelta(days=30), email=f"{user}@example.com"))
        events.append(_viewed(user, "boots", 0, days_before=10))
        events.append(_bought(user, ["socks", "laces"] if i < 2 else ["socks"], 0, days_before=9))
    events.append(identify("u-new", "u-new-id", START - timedelta(days=3), email="new@example.com"))
    events.append(_viewed("u-new", "boots", 0, days_before=2))
    runtime.publish(events)
    runtime.drain()
    return runtime


def test_the_run_writes_each_shoppers_recommendations_with_their_scores(shop: LocalRuntime) -> None:
    shop.invoke("score_planner", {"run": RUN})
    shop.drain()
    profiles = {p.user_id: p for p in shop.all_profiles()}
    assert profiles["u-new"].scores["recommendations"] == ["socks", "laces"]
    assert profiles["u-5"].scores["recommendations"] == ["laces"]  # socks bought: only laces is left
    assert "recommendations" not in profiles["u-0"].scores  # bought both, and nothing else is known
    registry: DynamoModelRegistry = shop.models
    body = registry.recommendations(RUN)
    assert body is not None
    model = json.loads(body)
    assert model["top"] == ["socks", "laces"]
    assert [b for b, _ in model["n"]["boots"]] == ["socks", "laces"]
    assert not shop.parked()


def test_a_purchase_takes_the_product_out_at_the_next_run(shop: LocalRuntime) -> None:
    shop.invoke("score_planner", {"run": RUN})
    shop.drain()
    assert shop.profiles.get("u-new").scores["recommendations"] == ["socks", "laces"]  # type: ignore[union-attr]
    shop.publish([_bought("u-new", ["socks"], 1, days_before=-0.5)])
    shop.drain()
    shop.invoke("score_planner", {"run": NEXT_RUN})
    shop.drain()
    fresh = shop.profiles.get("u-new")
    assert fresh is not None and fresh.scores["recommendations"] == ["laces"]
    assert fresh.scores["scored_at"].startswith("2026-11-04")


def test_a_recommended_product_bought_since_is_rewritten_even_when_nothing_else_moved(
    runtime: LocalRuntime,
) -> None:
    """GIVEN stored recommendations that show, fourth, a product the shopper has bought since, and
    whose first three are still the run's, WHEN a run finds every other score unmoved, THEN it still
    writes the shopper's recommendations (without the bought product)."""
    events: list[dict[str, Any]] = []
    for i, product in enumerate(["socks", "laces", "insoles", "polish", "brush"]):
        for n in range(5 - i):  # socks the most bought with boots, brush the least
            user = f"u-{i}-{n}"
            events += [_viewed(user, "boots", 0, days_before=10), _bought(user, [product], 0, days_before=9)]
    events += [_viewed("u-new", "boots", 0, days_before=2)]
    runtime.publish(events)
    runtime.drain()
    runtime.invoke("score_planner", {"run": RUN})
    runtime.drain()
    shopper = runtime.profiles.get("u-new")
    assert shopper is not None
    assert shopper.scores["recommendations"] == ["socks", "laces", "insoles", "polish", "brush"]
    runtime.publish([_bought("u-new", ["polish"], 1, days_before=-0.5)])
    runtime.drain()
    runtime.invoke("score_planner", {"run": NEXT_RUN})
    runtime.drain()
    shopper = runtime.profiles.get("u-new")
    assert shopper is not None and shopper.scores["recommendations"] == ["socks", "laces", "insoles", "brush"]
    stale = {**shopper.scores, "recommendations": ["socks", "laces", "insoles", "polish", "brush"]}
    assert runtime.profiles.write_scores("u-new", stale, shopper.version)
    written = runtime.profiles.get("u-new")
    assert written is not None
    runtime.invoke("score_planner", {"run": NEXT_RUN.replace("02:00", "03:00")})
    runtime.drain()
    fresh = runtime.profiles.get("u-new")
    assert fresh is not None and fresh.version == written.version + 1
    assert fresh.scores["recommendations"] == ["socks", "laces", "insoles", "brush"]
    others = [p for p in runtime.all_profiles() if p.user_id != "u-new"]
    assert not any(p.scores.get("scored_at", "").startswith("2026-11-04T03") for p in others)  # unmoved
