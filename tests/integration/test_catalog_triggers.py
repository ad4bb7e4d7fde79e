"""Catalog triggers on moto (docs/catalog.md, triggers): ingest keeps the interest index, a price drop
or a restock the catalog sees is announced on the bus, the campaign's rule fans it out to the shoppers
interested in the product, and delivery sends each of them one message, once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from fakes import catalog_without, identify_shopper
from moto import mock_aws
from payloads import track
from typer.testing import CliRunner

from nudge.cli import app
from nudge.local.routing import route_internal
from nudge.local.runtime import LocalRuntime
from shared.adapters.dynamo.catalog import DynamoInterestIndex, DynamoProductCatalog
from shared.adapters.sqs import SqsQueue
from shared.campaigns.loader import Catalog
from shared.catalog.announcements import CatalogChangeKind, CatalogEvent
from shared.catalog.interest import Interest
from shared.catalog.product import Product
from shared.core.clock import SimulatedClock
from shared.core.keys import HmacKey
from shared.core.vocabulary import DecisionStatus
from shared.delivery.guards import in_holdout
from shared.triggers import catalog_triggers
from shared.triggers.catalog_triggers import CatalogFanOut

T0 = datetime(2026, 11, 2, 8, tzinfo=UTC)  # 15:00 in Jakarta: outside quiet hours
PRICE_DROP, BACK_IN_STOCK = "price-drop", "back-in-stock"


@pytest.fixture
def catalog() -> Catalog:
    """The bundled campaigns but the ones a view, a cart or an identify start on their own (their messages
    would use the shoppers' caps in tests about the catalog's)."""
    return catalog_without("welcome", "abandoned-cart", "browse-abandonment", "browse-abandon")


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def product_event(
    user_id: str, message_id: str, at: datetime, name: str = "Product Viewed", **properties: Any
) -> dict[str, Any]:
    event = track(user_id, name, message_id, iso(at))
    event["properties"] = {"product_id": "p-17", "name": "Aero Runner", **properties}
    return event


def send(runtime: LocalRuntime, clock: SimulatedClock, at: datetime, *events: dict[str, Any]) -> None:
    clock.advance_to(at)
    runtime.publish(list(events))
    runtime.drain()


def free_of(campaign: str, count: int, prefix: str = "u") -> list[str]:
    return [u for u in (f"{prefix}{i}" for i in range(200)) if not in_holdout(campaign, u, 10)][:count]


def shoppers(runtime: LocalRuntime, *user_ids: str) -> None:
    for user_id in user_ids:
        identify_shopper(
            runtime, user_id, at=iso(T0 - timedelta(hours=1)), consent={"email": True, "push": False}
        )


def decisions(runtime: LocalRuntime, campaign: str, *user_ids: str) -> dict[str, list[str]]:
    """Each shopper's send-log statuses for ``campaign``, but the duplicates' (the adversarial runtime
    delivers events and invocations more than once; the test of duplicates counts them)."""
    found: dict[str, list[str]] = {}
    for user_id in user_ids:
        for entry in runtime.send_log.entries_for(user_id):
            if entry["campaign_id"] == campaign and entry["status"] != DecisionStatus.DUPLICATE:
                found.setdefault(user_id, []).append(entry["status"])
    return found


def interest_items(runtime: LocalRuntime) -> dict[tuple[str, str], int]:
    items = runtime.client("dynamodb").scan(TableName=runtime.table_names["interest"])["Items"]
    return {(i["user_id"]["S"], i["product_id"]["S"]): int(i["interested_at"]["N"]) for i in items}


def millis(at: datetime) -> int:
    return int(at.timestamp() * 1000)


@pytest.mark.gentle("counts the index's writes per batch")
def test_ingest_indexes_the_latest_view_or_cart_per_shopper_and_product_and_no_visitor(
    runtime: LocalRuntime, clock: SimulatedClock
) -> None:
    visitor = product_event("x", "anon-view", T0)
    del visitor["userId"]
    visitor["anonymousId"] = "device-9"
    send(
        runtime,
        clock,
        T0 + timedelta(minutes=5),
        product_event("u1", "v1", T0),
        product_event("u1", "v2", T0 + timedelta(minutes=2)),
        product_event("u1", "a1", T0 + timedelta(minutes=1), name="Product Added", product_id="p-3"),
        product_event("u2", "o1", T0, name="Order Completed", products=[{"product_id": "p-17"}]),
        visitor,
    )

    assert interest_items(runtime) == {
        ("u1", "p-17"): millis(T0 + timedelta(minutes=2)),
        ("u1", "p-3"): millis(T0 + timedelta(minutes=1)),
    }


@pytest.mark.gentle("compares the index's items after each batch")
def test_a_duplicate_a_view_again_that_day_or_a_late_event_does_not_move_a_shoppers_interest(
    runtime: LocalRuntime, clock: SimulatedClock, aws_calls: Any
) -> None:
    day2 = T0 + timedelta(days=1)
    send(runtime, clock, day2, product_event("u1", "v2", day2))
    aws_calls.counts.clear()

    send(runtime, clock, day2 + timedelta(minutes=1), product_event("u1", "v2", day2))  # the same event
    assert aws_calls.counts["dynamodb.BatchWriteItem"] == 0
    later = day2 + timedelta(hours=3)
    send(runtime, clock, later, product_event("u1", "v3", later))  # again that day: indexed already
    send(runtime, clock, later + timedelta(minutes=2), product_event("u1", "v1", T0))  # a day late
    # a purchase is no index write, but a day-late view after it is still late
    order = product_event("u2", "o2", later, name="Order Completed", products=[{"product_id": "p-17"}])
    send(runtime, clock, later + timedelta(minutes=3), order)
    send(runtime, clock, later + timedelta(minutes=4), product_event("u2", "v4", T0))

    assert interest_items(runtime) == {("u1", "p-17"): millis(day2)}


def test_a_price_drop_of_at_least_10_percent_messages_the_shoppers_who_viewed_or_carted_it(
    runtime: LocalRuntime, clock: SimulatedClock
) -> None:
    viewer, carter, other, buyer, seller = free_of(PRICE_DROP, 5)
    shoppers(runtime, viewer, carter, other)
    send(
        runtime,
        clock,
        T0 + timedelta(minutes=10),
        product_event(
            viewer, "v1", T0, price=100, currency="USD", image_url="https://cdn.example.com/17.jpg"
        ),
        product_event(carter, "a1", T0 + timedelta(minutes=1), name="Product Added", price=100),
        product_event(other, "v2", T0 + timedelta(minutes=2), product_id="p-3", price=100),
    )

    send(
        runtime, clock, T0 + timedelta(hours=2), product_event(buyer, "v3", T0 + timedelta(hours=2), price=95)
    )
    send(
        runtime,
        clock,
        T0 + timedelta(hours=3),
        product_event(seller, "v4", T0 + timedelta(hours=3), price=80),
    )

    # one message each, for the 20% drop: the 5% one made none (a second would show as throttled); the
    # shopper who saw 95 is told too (no address: skipped), the one whose view made the drop is not
    assert decisions(runtime, PRICE_DROP, viewer, carter, other, buyer, seller) == {
        viewer: [DecisionStatus.SENT],
        carter: [DecisionStatus.SENT],
        buyer: [DecisionStatus.SKIPPED],
    }
    email = next(m for m in runtime.sent if m.user_id == viewer and m.campaign_id == PRICE_DROP)
    assert email.send_key == f"{PRICE_DROP}#price_drop:p-17@{(T0 + timedelta(hours=3)).isoformat()}#{viewer}"


def test_a_restock_messages_the_shoppers_who_wanted_the_product(
    runtime: LocalRuntime, clock: SimulatedClock
) -> None:
    waiting, buyer = free_of(BACK_IN_STOCK, 2)
    shoppers(runtime, waiting)
    send(runtime, clock, T0 + timedelta(minutes=5), product_event(waiting, "v1", T0, stock=0))
    send(
        runtime, clock, T0 + timedelta(hours=1), product_event(buyer, "v2", T0 + timedelta(hours=1), stock=4)
    )
    send(
        runtime, clock, T0 + timedelta(hours=2), product_event(buyer, "v3", T0 + timedelta(hours=2), stock=9)
    )

    assert decisions(runtime, BACK_IN_STOCK, waiting, buyer) == {
        waiting: [DecisionStatus.SENT]
    }  # once: 4 → 9 is no restock


def test_a_duplicated_announcement_or_a_redelivered_fan_out_sends_each_shopper_once(
    runtime: LocalRuntime, clock: SimulatedClock
) -> None:
    first, second = free_of(PRICE_DROP, 2)
    shoppers(runtime, first, second)
    send(
        runtime,
        clock,
        T0 + timedelta(minutes=5),
        product_event(first, "v1", T0),
        product_event(second, "v2", T0),
    )
    change = CatalogEvent(
        CatalogChangeKind.PRICE_DROP,
        "p-17",
        T0 + timedelta(hours=1),
        old_price=100,
        new_price=50,
        drop_percent=50,
    )
    clock.advance_to(T0 + timedelta(hours=1))

    for _ in range(2):  # the catalog announced it twice (a write that failed after the announcement)
        assert (
            route_internal(runtime, [(change.kind.detail_type, change.sealed_detail(runtime.catalog_key))])
            == 1
        )
    rule = next(r for r in runtime.rules if r.campaign_id == PRICE_DROP)
    payload = rule.target_input(
        {
            "source": "nudge.internal",
            "detail-type": change.kind.detail_type,
            "detail": change.sealed_detail(runtime.catalog_key),
        }
    )
    runtime.invoke("trigger", payload)  # EventBridge delivered one invocation again
    runtime.drain()

    assert decisions(runtime, PRICE_DROP, first, second) == {
        first: [DecisionStatus.SENT],
        second: [DecisionStatus.SENT],
    }
    duplicates = [
        e["status"]
        for u in (first, second)
        for e in runtime.send_log.entries_for(u)
        if e["campaign_id"] == PRICE_DROP
    ]
    assert duplicates.count(DecisionStatus.DUPLICATE) >= 2  # the second announcement's and the redelivery's
    assert sorted(m.user_id for m in runtime.sent if m.campaign_id == PRICE_DROP) == sorted([first, second])


def test_an_erased_shopper_leaves_no_interest_and_is_not_messaged(
    runtime: LocalRuntime, clock: SimulatedClock
) -> None:
    erased, kept = free_of(PRICE_DROP, 2)
    shoppers(runtime, erased, kept)
    send(runtime, clock, T0 + timedelta(minutes=5), product_event(erased, "v1", T0, price=100))
    send(
        runtime,
        clock,
        T0 + timedelta(minutes=6),
        product_event(kept, "v2", T0 + timedelta(minutes=6), price=100),
    )
    assert {u for u, _ in interest_items(runtime)} == {erased, kept}

    assert runtime.http("DELETE", "/me", user_id=erased)["statusCode"] == 200
    assert {u for u, _ in interest_items(runtime)} == {kept}
    late = product_event(erased, "v0", T0 + timedelta(minutes=1))  # a copy from before the erasure
    send(runtime, clock, T0 + timedelta(minutes=30), late)
    assert {u for u, _ in interest_items(runtime)} == {kept}
    send(
        runtime, clock, T0 + timedelta(hours=1), product_event(kept, "v3", T0 + timedelta(hours=1), price=70)
    )

    assert decisions(runtime, PRICE_DROP, erased, kept) == {kept: [DecisionStatus.SENT]}
    assert [m.user_id for m in runtime.sent if m.campaign_id == PRICE_DROP] == [kept]


def fan_out(runtime: LocalRuntime, clock: SimulatedClock) -> CatalogFanOut:
    index = DynamoInterestIndex(runtime.client("dynamodb"), runtime.table_names["interest"])
    queue = SqsQueue(runtime.client("sqs"), runtime.queue_urls["delivery"])
    return CatalogFanOut(runtime.catalog, index, queue, clock, runtime.catalog_key)


def test_the_fan_out_takes_the_window_before_the_change_and_the_newest_interest_beyond_its_bound(
    runtime: LocalRuntime, clock: SimulatedClock, monkeypatch: pytest.MonkeyPatch, aws_calls: Any
) -> None:
    changed_at = T0 + timedelta(days=40)
    interests = [
        Interest("old", "p-17", changed_at - timedelta(days=30, seconds=1)),  # outside the 30 days
        Interest("edge", "p-17", changed_at - timedelta(days=30)),
        *(Interest(f"u{i}", "p-17", changed_at - timedelta(days=i)) for i in range(1, 4)),
        Interest("after", "p-17", changed_at),  # saw the new price: not before the change
        Interest("elsewhere", "p-3", changed_at - timedelta(days=1)),
    ]
    catalog = DynamoProductCatalog(
        runtime.client("dynamodb"), runtime.table_names["catalog"], runtime.table_names["interest"]
    )
    catalog.put_many([], interests)
    clock.advance_to(changed_at)
    change = CatalogEvent(
        CatalogChangeKind.PRICE_DROP, "p-17", changed_at, Decimal(100), Decimal(50), drop_percent=Decimal(50)
    )
    detail = change.sealed_detail(runtime.catalog_key)
    envelope = {"source": "nudge.internal", "detail-type": change.kind.detail_type, "detail": detail}
    aws_calls.counts.clear()

    assert fan_out(runtime, clock).handle(PRICE_DROP, envelope).jobs == 4
    assert (aws_calls.counts["dynamodb.Query"], aws_calls.counts["sqs.SendMessageBatch"]) == (1, 1)
    monkeypatch.setattr(catalog_triggers, "MAX_INTERESTED", 2)
    jobs = [
        j.user_id
        for j in catalog_triggers.interested_jobs(
            runtime.catalog.get(PRICE_DROP), change, fan_out(runtime, clock).interest
        )
    ]
    assert jobs == ["u1", "u2"]  # the newest interest wins


@pytest.fixture
def feed_runtime(catalog: Catalog, clock: SimulatedClock) -> Iterator[LocalRuntime]:
    """The runtime with a catalog feed object (docs/catalog.md, the scheduled feed)."""
    with mock_aws():
        yield LocalRuntime(catalog, clock, log_level="CRITICAL", catalog_feed_key="products.jsonl")


def test_a_feed_that_makes_a_product_cheaper_or_brings_it_back_messages_the_interested_shoppers(
    feed_runtime: LocalRuntime, clock: SimulatedClock
) -> None:
    runtime = feed_runtime
    viewer = free_of(PRICE_DROP, 1)[0]
    waiting = next(u for u in free_of(BACK_IN_STOCK, 20) if u != viewer)
    shoppers(runtime, viewer, waiting)
    send(
        runtime,
        clock,
        T0 + timedelta(minutes=5),
        product_event(viewer, "v1", T0, price=100),
        product_event(waiting, "v2", T0, product_id="p-9", stock=0),
    )
    fed_at = (T0 + timedelta(hours=1)).isoformat()
    rows = [
        {"product_id": "p-17", "price": "75", "updated_at": fed_at},
        {"product_id": "p-9", "stock": 3, "updated_at": fed_at},
    ]
    clock.advance_to(T0 + timedelta(hours=1))

    assert runtime.put_catalog_feed("\n".join(json.dumps(r) for r in rows).encode()) == 1
    runtime.drain()

    assert decisions(runtime, PRICE_DROP, viewer, waiting) == {viewer: [DecisionStatus.SENT]}
    assert decisions(runtime, BACK_IN_STOCK, viewer, waiting) == {waiting: [DecisionStatus.SENT]}


def test_the_load_command_puts_the_feeds_drops_and_restocks_on_the_stacks_bus(
    runtime: LocalRuntime, stack: str, tmp_path: Path
) -> None:
    catalog = DynamoProductCatalog(runtime.client("dynamodb"), runtime.table_names["catalog"])
    catalog.put_many(
        [
            Product(product_id="p-17", price=Decimal("100"), updated_at=T0),
            Product(product_id="p-9", stock=0, updated_at=T0),
            Product(product_id="p-3", price=Decimal("10"), updated_at=T0),
        ]
    )
    feed = tmp_path / "products.jsonl"
    rows = [
        {"product_id": "p-17", "price": "99.5", "updated_at": iso(T0 + timedelta(hours=1))},
        {"product_id": "p-9", "stock": 3, "updated_at": iso(T0 + timedelta(hours=1))},
        {"product_id": "p-3", "price": "12", "updated_at": iso(T0 + timedelta(hours=1))},
    ]
    feed.write_text("\n".join(json.dumps(r) for r in rows))
    put: list[dict[str, Any]] = []
    assert boto3.DEFAULT_SESSION is not None
    boto3.DEFAULT_SESSION.events.register(
        "provide-client-params.events.PutEvents", lambda params, **_: put.extend(params["Entries"])
    )

    result = CliRunner().invoke(app, ["catalog", "load", str(feed), "--stack", stack], env={"COLUMNS": "250"})

    assert result.exit_code == 0, result.output
    # every drop (the rules take what their campaigns want: 0.5% is none's) and the restock, on the bus
    assert sorted((e["DetailType"], e["Source"], e["EventBusName"]) for e in put) == [
        ("Catalog Back In Stock", "nudge.internal", runtime.names.bus),
        ("Catalog Price Dropped", "nudge.internal", runtime.names.bus),
    ]
    dropped = next(json.loads(e["Detail"]) for e in put if e["DetailType"] == "Catalog Price Dropped")
    assert (dropped["product_id"], dropped["old_price"], dropped["new_price"], dropped["drop_percent"]) == (
        "p-17",
        "100",
        "99.5",
        0.5,
    )


def test_an_announcement_put_on_the_bus_without_the_catalog_key_messages_nobody_and_is_parked(
    runtime: LocalRuntime, clock: SimulatedClock
) -> None:
    """Whoever may put ``nudge.internal`` on the bus, but does not hold the catalog key, cannot make a
    price-drop message go out (docs/security.md); the stack's own announcement, from ingest, still does."""
    first, second = free_of(PRICE_DROP, 2)
    shoppers(runtime, first, second)
    send(runtime, clock, T0 + timedelta(minutes=5), product_event(first, "v1", T0, price=100))
    send(runtime, clock, T0 + timedelta(minutes=6), product_event(second, "v2", T0, price=100))
    changed_at = T0 + timedelta(hours=1)
    clock.advance_to(changed_at)
    change = CatalogEvent(
        CatalogChangeKind.PRICE_DROP, "p-17", changed_at, Decimal(100), Decimal(1), "USD", Decimal("99.00")
    )
    stranger = HmacKey(b"a key that is not the stack's, 32 bytes")
    forged = [
        change.detail(),
        change.sealed_detail(stranger),
        {**change.sealed_detail(runtime.catalog_key), "new_price": "0.5"},
    ]

    assert route_internal(runtime, [(change.kind.detail_type, d) for d in forged]) == 3
    runtime.drain()

    assert decisions(runtime, PRICE_DROP, first, second) == {}
    assert [m for m in runtime.sent if m.campaign_id == PRICE_DROP] == []
    parked = [p for p in runtime.parked() if p.queue == "trigger-dlq"]
    assert len(parked) == 3
    assert {p.reason for p in parked} == {
        "detail.signature: not sealed with this stack's catalog key (forged, altered, or another stack's), "
        "so no shopper is messaged"
    }

    send(runtime, clock, changed_at + timedelta(minutes=1), product_event(first, "v3", changed_at, price=70))
    assert decisions(runtime, PRICE_DROP, first, second) == {
        first: [DecisionStatus.SENT],
        second: [DecisionStatus.SENT],
    }


@pytest.mark.parametrize(
    "catalog",
    [
        catalog_without(
            "welcome", "abandoned-cart", "browse-abandonment", "browse-abandon", PRICE_DROP, BACK_IN_STOCK
        )
    ],
)
def test_without_a_catalog_campaign_ingest_keeps_the_catalog_but_no_interest_index(
    runtime: LocalRuntime, clock: SimulatedClock
) -> None:
    """The index has one reader, the catalog campaigns: a deployment without one pays no write for it."""
    shoppers(runtime, "u1")
    send(runtime, clock, T0 + timedelta(minutes=5), product_event("u1", "v1", T0, price=100))

    assert interest_items(runtime) == {}
    stored = runtime.client("dynamodb").scan(TableName=runtime.table_names["catalog"])["Items"]
    assert [(i["product_id"]["S"], i["price"]["N"]) for i in stored] == [("p-17", "100.00")]
    [profile] = [p for p in runtime.all_profiles() if p.user_id == "u1"]
    assert profile.activity.indexed == {}
