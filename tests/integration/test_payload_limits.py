"""Payload limits on moto: events near EventBridge's 256 KB and shoppers whose history would outgrow
DynamoDB's 400 KB item are bounded or refused with a reason, never crashed on."""

from __future__ import annotations

import json
import random
from typing import Any

from fakes import START
from payloads import identify, track

from nudge.local.runtime import LocalRuntime
from shared.adapters.dynamo.codec import MAX_ITEM_BYTES, item_size
from shared.adapters.eventbus import MAX_ENTRY_BYTES, entry_size
from shared.deployment.topology import PROFILES
from shared.events.contract import MAX_EVENT_BYTES
from shared.profiles.profile import (
    MAX_BEHAVIOURS,
    MAX_CART_ITEMS,
    MAX_TRAITS,
    MAX_TRAITS_BYTES,
    PROFILE_ITEM_BOUND,
)


def ingest(runtime: LocalRuntime, details: list[dict[str, Any]]) -> dict[str, Any]:
    bodies = [json.dumps({"id": f"e-{i}", "detail": d}) for i, d in enumerate(details)]
    result: dict[str, Any] = runtime.invoke("ingest", runtime.sqs_event("ingest", bodies))
    return result


def stored_size(runtime: LocalRuntime, user_id: str) -> int:
    item = runtime.client("dynamodb").get_item(
        TableName=runtime.table_names["profiles"], Key={PROFILES.partition_key: {"S": user_id}}
    )["Item"]
    return item_size(item)


def padded(detail: dict[str, Any], size: int) -> dict[str, Any]:
    """``detail`` with a ``description`` property that brings its JSON to ``size`` bytes."""
    detail["properties"]["description"] = ""
    detail["properties"]["description"] = "x" * (size - len(json.dumps(detail)))
    return detail


def test_an_event_just_under_256_kb_is_published_ingested_and_bounded(runtime: LocalRuntime) -> None:
    products = [{"product_id": f"p{i}", "category": f"c{i}", "quantity": 1} for i in range(2000)]
    order = padded(
        track("u1", "Order Completed", "big-1", products=products, revenue=10), MAX_EVENT_BYTES - 200
    )

    report = runtime.publish([order])
    runtime.drain()

    assert report.failed == [] and report.published == 1
    assert runtime.parked() == []
    profile = runtime.profiles.get("u1")
    assert profile is not None and profile.orders == 1
    assert len(profile.category_purchases) == 100  # the first MAX_PRODUCTS_PER_EVENT products only
    assert stored_size(runtime, "u1") < 20_000


def test_an_event_over_256_kb_is_refused_by_the_publisher_and_by_ingest_with_a_reason(
    runtime: LocalRuntime,
) -> None:
    huge = padded(track("u9", "Product Viewed", "huge-1"), MAX_EVENT_BYTES + 10_000)
    report = runtime.publish([huge, track("u1", "Product Viewed", "ok-1")])
    assert [reason for _, reason in report.failed] == ["entry larger than 256 KB"]
    assert report.published == 1

    # Sent to the ingest queue some other way, it is parked with the reason; its batch-mates are stored.
    response = ingest(
        runtime, [track("u2", "Product Viewed", "v-1"), huge, track("u3", "Product Viewed", "v-2")]
    )

    assert response == {"batchItemFailures": []}
    [parked] = runtime.parked()
    assert (
        parked.reason.startswith("detail: ") and "more than an EventBridge event can carry" in parked.reason
    )
    assert runtime.profiles.get("u2") and runtime.profiles.get("u3") and runtime.profiles.get("u9") is None


def test_put_events_calls_stay_under_256_kb_in_all(runtime: LocalRuntime) -> None:
    sizes: list[int] = []

    def measure(params: dict[str, Any], **_: Any) -> None:
        sizes.append(sum(entry_size(e) for e in params["Entries"]))

    runtime.client("events").meta.events.register("provide-client-params.events.PutEvents", measure)
    details = [padded(track(f"u{i}", "Product Viewed", f"m-{i}"), 100_000) for i in range(7)]

    report = runtime.publish(details)

    assert report.published == 7 and report.failed == []
    assert len(sizes) == 4 and max(sizes) <= MAX_ENTRY_BYTES  # two 100 KB entries a call, not seven


def hostile_text(rng: random.Random, n: int) -> str:
    """Text that does not compress: random CJK and emoji (3 and 4 bytes each in UTF-8)."""
    return "".join(
        chr(rng.choice([rng.randrange(0x4E00, 0x9FFF), rng.randrange(0x1F300, 0x1F5FF)])) for _ in range(n)
    )


def test_a_shopper_with_a_huge_history_stays_far_below_dynamodbs_item_limit(runtime: LocalRuntime) -> None:
    """Every list and map of the profile filled to its bound with text that does not compress."""
    rng = random.Random(7)
    day = START.strftime("%Y-%m-%d")

    def at(i: int) -> str:
        return f"{day}T07:{i // 60 % 60:02d}:{i % 60:02d}Z"

    events: list[dict[str, Any]] = []
    for i in range(12):  # traits: more and longer than kept, nested, over several identifies (each < 256 KB)
        traits = {hostile_text(rng, 40): hostile_text(rng, 1500) for _ in range(MAX_TRAITS // 10)}
        traits["address"] = {"street": hostile_text(rng, 3000), "nested": [[[[["deep"]]]]]}
        events.append(identify("u1", f"id-{i}", at=at(i), email="u1@example.com", **traits))
    for i in range(MAX_BEHAVIOURS + 50):  # distinct long event names
        events.append(track("u1", hostile_text(rng, 200), f"n-{i}", at=at(i)))
    for i in range(MAX_CART_ITEMS + 20):  # a cart full of products with long fields
        added = track("u1", "Product Added", f"a-{i}", at=at(i), product_id=hostile_text(rng, 300))
        for name in ("name", "category", "brand", "url", "image_url", "sku"):
            added["properties"][name] = hostile_text(rng, 3000)
        events.append(added)
    for i in range(150):  # category windows and viewed products
        events.append(
            track(
                "u1",
                "Product Viewed",
                f"v-{i}",
                at=at(i),
                product_id=hostile_text(rng, 300),
                category=hostile_text(rng, 300),
            )
        )
    for i in range(20):  # orders with many products in many categories
        products = [{"category": hostile_text(rng, 300), "quantity": 2} for _ in range(150)]
        events.append(track("u1", "Order Completed", f"o-{i}", at=at(i), products=products, revenue=10**40))

    failures = []
    for start in range(0, len(events), 10):
        failures += ingest(runtime, events[start : start + 10])["batchItemFailures"]

    assert failures == [] and runtime.parked() == []
    profile = runtime.profiles.get("u1")
    assert profile is not None
    assert (
        len(profile.counts) <= MAX_BEHAVIOURS and profile.cart and len(profile.cart.items) == MAX_CART_ITEMS
    )
    assert len(json.dumps(profile.traits, ensure_ascii=False).encode()) <= MAX_TRAITS_BYTES + 1024
    assert profile.orders == 20 and profile.revenue == 0  # amounts beyond a trillion are not money
    size = stored_size(runtime, "u1")
    print(
        f"\nlargest profile item: {size:,} bytes (bound {PROFILE_ITEM_BOUND:,}, DynamoDB {MAX_ITEM_BYTES:,})"
    )
    assert size <= PROFILE_ITEM_BOUND
