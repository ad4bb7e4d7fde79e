"""The catalog on moto: kept current by ingest from the products events carry, last writer wins by
event time (duplicates and late events change nothing), read once by a message that shows products."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from payloads import track

from nudge.local.runtime import LocalRuntime
from shared.adapters.dynamo.catalog import DynamoProductCatalog
from shared.catalog.product import Product

T0 = datetime(2026, 11, 2, 7, tzinfo=UTC)


def batch_for(runtime: LocalRuntime, details: list[dict[str, Any]], start: int = 0) -> dict[str, Any]:
    return runtime.sqs_event(
        "ingest", (json.dumps({"id": f"e-{start + i}", "detail": d}) for i, d in enumerate(details))
    )


def catalog_of(runtime: LocalRuntime) -> DynamoProductCatalog:
    return DynamoProductCatalog(runtime.client("dynamodb"), runtime.table_names["catalog"])


def viewed(message_id: str, at: str, price: Any, **more: Any) -> dict[str, Any]:
    detail = track("u1", "Product Viewed", message_id, at, product_id="p-17", price=price)
    detail["properties"].update(more)  # ``name`` too, which track() takes as the event's
    return detail


def test_a_viewed_product_and_an_orders_lines_are_in_the_catalog(runtime: LocalRuntime) -> None:
    view = viewed(
        "v1",
        "2026-11-02T07:00:00Z",
        59.99,
        sku="SKU-17",
        name="Aero Runner",
        category="shoes",
        image_url="https://cdn.example.com/p-17.jpg",
        url="https://shop.example.com/p-17",
    )
    order = track(
        "u2",
        "Order Completed",
        "o1",
        "2026-11-02T07:10:00Z",
        order_id="o1",
        currency="eur",
        products=[{"product_id": "p-3", "price": "12.50", "name": "Sock", "quantity": 2}, {"name": "no id"}],
    )

    assert runtime.invoke("ingest", batch_for(runtime, [view, order])) == {"batchItemFailures": []}

    found = catalog_of(runtime).get_many(["p-17", "p-3", "p-404"])
    assert found == {
        "p-17": Product(
            product_id="p-17",
            sku="SKU-17",
            name="Aero Runner",
            price=Decimal("59.99"),
            category="shoes",
            image_url="https://cdn.example.com/p-17.jpg",
            url="https://shop.example.com/p-17",
            updated_at=datetime(2026, 11, 2, 7, tzinfo=UTC),
        ),
        "p-3": Product(
            product_id="p-3",
            name="Sock",
            price=Decimal("12.50"),
            currency="EUR",
            updated_at=datetime(2026, 11, 2, 7, 10, tzinfo=UTC),
        ),
    }


def test_a_late_event_does_not_undo_a_newer_price_and_a_duplicate_writes_nothing(
    runtime: LocalRuntime, aws_calls: Any
) -> None:
    newer = viewed("v2", "2026-11-02T08:00:00Z", 40)
    runtime.invoke("ingest", batch_for(runtime, [newer]))
    late = viewed("v1", "2026-11-02T07:00:00Z", 50, name="Aero Runner")
    runtime.invoke("ingest", batch_for(runtime, [late], start=1))
    aws_calls.counts.clear()

    runtime.invoke("ingest", batch_for(runtime, [newer], start=2))

    assert aws_calls.counts["dynamodb.BatchWriteItem"] == 0
    assert aws_calls.counts["dynamodb.BatchGetItem"] == 2  # the profile, the product
    stored = catalog_of(runtime).get_many(["p-17"])["p-17"]
    assert (stored.price, stored.name, stored.updated_at) == (
        Decimal("40"),
        None,  # the late event's name is not taken either: the product is as its newest event says
        datetime(2026, 11, 2, 8, tzinfo=UTC),
    )


def test_a_batchs_events_of_one_product_are_applied_in_event_time_whatever_their_order(
    runtime: LocalRuntime,
) -> None:
    events = [
        viewed("v3", "2026-11-02T07:00:00Z", 30),
        viewed("v1", "2026-11-02T05:00:00Z", 50, stock=0),
        viewed("v2", "2026-11-02T06:00:00Z", 40, name="Aero Runner"),
    ]

    runtime.invoke("ingest", batch_for(runtime, events))

    stored = catalog_of(runtime).get_many(["p-17"])["p-17"]
    assert (stored.price, stored.name, stored.stock, stored.in_stock) == (
        Decimal("30"),
        "Aero Runner",
        0,
        False,
    )
    assert stored.updated_at == datetime(2026, 11, 2, 7, tzinfo=UTC)


def test_an_event_keeps_what_it_does_not_carry(runtime: LocalRuntime) -> None:
    catalog = catalog_of(runtime)
    catalog.put_many(
        [
            Product(
                product_id="p-17",
                price=Decimal(60),
                stock=5,
                image_url="https://cdn.example.com/a.jpg",
                updated_at=T0,
            )
        ]
    )

    runtime.invoke("ingest", batch_for(runtime, [viewed("v1", "2026-11-02T07:30:00Z", 45)]))

    stored = catalog.get_many(["p-17"])["p-17"]
    assert (stored.price, stored.stock, stored.in_stock, stored.image_url) == (
        Decimal(45),
        5,
        True,
        "https://cdn.example.com/a.jpg",
    )


def test_when_the_catalog_fails_only_the_records_that_carried_products_are_retried(
    runtime: LocalRuntime,
) -> None:
    runtime.client("dynamodb").delete_table(TableName=runtime.table_names["catalog"])
    events = [viewed("v1", "2026-11-02T07:00:00Z", 10), track("u2", "Signed In", "s1")]

    response = runtime.invoke("ingest", batch_for(runtime, events))

    assert response == {"batchItemFailures": [{"itemIdentifier": "r-0"}]}
    assert runtime.profiles.get("u2") is not None
