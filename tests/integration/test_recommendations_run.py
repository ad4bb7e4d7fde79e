"""Recommendations in the daily scoring run on moto: the census learns the item model, each shopper's
top-N is written with their scores, a purchase takes the product out at the next run, and a message's
``recommendations(n)`` shows them from the catalog in one read."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from fakes import START
from payloads import identify, track

from nudge.local.runtime import LocalRuntime
from shared.adapters.dynamo.catalog import DynamoProductCatalog
from shared.adapters.dynamo.models import DynamoModelRegistry
from shared.campaigns.jobs import DeliveryJob
from shared.campaigns.render import render_message
from shared.delivery.message_context import products_for, template_context

RUN = "2026-11-03T02:00:00Z"
NEXT_RUN = "2026-11-04T02:00:00Z"


def _viewed(user: str, product: str, n: int, days_before: int) -> dict[str, Any]:
    at = START - timedelta(days=days_before)
    return track(user, "Product Viewed", f"{user}-view-{n}", at, product_id=product, category="shoes")


def _bought(user: str, products: list[str], n: int, days_before: float) -> dict[str, Any]:
    lines = [
        {
            "product_id": p,
            "name": p.title(),
            "url": f"https://shop.example.com/{p}",
            "category": "shoes",
            "price": 50,
            "quantity": 1,
            "currency": "USD",
        }
        for p in products
    ]
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


def test_the_win_back_email_shows_three_recommended_products_from_one_catalog_read(
    shop: LocalRuntime,
) -> None:
    """GIVEN the run recommended socks then laces to u-new, and the catalog (kept by ingest from the
    orders) has both, WHEN the shipped L3 win-back email is rendered for u-new, THEN it lists them with
    their current price, read in one BatchGetItem; a product out of stock is left out."""
    shop.invoke("score_planner", {"run": RUN})
    shop.drain()
    shopper = shop.profiles.get("u-new")
    assert shopper is not None and shopper.scores["recommendations"] == ["socks", "laces"]
    catalog = DynamoProductCatalog(shop.client("dynamodb"), shop.table_names["catalog"])
    campaign = shop.catalog.get("l3-win-back-at-risk")
    assert campaign is not None
    job = DeliveryJob.for_occurrence(campaign.id, RUN, "u-new")
    calls: list[str] = []
    client = shop.client("dynamodb")
    client.meta.events.register("before-call", lambda model, **_: calls.append(model.name))
    shown = products_for(campaign, shopper, job, catalog)
    assert calls == ["BatchGetItem"] and sorted(shown) == ["laces", "socks"]
    message = render_message(
        campaign, "email", job.send_key, template_context(campaign, shopper, job, START, "", shown)
    )
    html = " ".join((message.body_html or "").split())
    assert "Picked for you:" in html
    socks = '<li><a href="https://shop.example.com/socks">Socks</a> — 50.00 USD</li>'
    assert html.index(socks) < html.index(
        '<li><a href="https://shop.example.com/laces">Laces</a> — 50.00 USD</li>'
    )
    gone = {**shown, "socks": shown["socks"].model_copy(update={"in_stock": False})}
    message = render_message(
        campaign, "email", job.send_key, template_context(campaign, shopper, job, START, "", gone)
    )
    assert ">Socks</a>" not in (message.body_html or "") and ">Laces</a>" in (message.body_html or "")


def test_without_recommendations_the_email_shows_no_product_list(shop: LocalRuntime) -> None:
    shopper = shop.profiles.get("u-new")  # no scoring run yet: nothing recommended
    assert shopper is not None and "recommendations" not in shopper.scores
    campaign = shop.catalog.get("l3-win-back-at-risk")
    assert campaign is not None
    job = DeliveryJob.for_occurrence(campaign.id, RUN, "u-new")
    catalog = DynamoProductCatalog(shop.client("dynamodb"), shop.table_names["catalog"])
    shown = products_for(campaign, shopper, job, catalog)
    assert shown == {}
    message = render_message(
        campaign, "email", job.send_key, template_context(campaign, shopper, job, START, "", shown)
    )
    assert "Picked for you" not in (message.body_html or "") and "WELCOMEBACK15" in (message.body_html or "")
