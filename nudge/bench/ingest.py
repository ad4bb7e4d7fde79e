"""Ingest: AWS requests and our CPU per event and the profile item's size, over batches of shopper events."""

from __future__ import annotations

import json
import statistics
import time
from datetime import timedelta
from typing import Any

from nudge.bench.measuring import START, dynamodb_item_bytes, metered
from shared.core.vocabulary import EMAIL_TRAIT, Channel
from shared.deployment.topology import INTEREST

INGEST_USERS = 20
INGEST_BATCH = 100
INGEST_BATCHES = 30


def _shopper_events(batch: int, user: int, per_user: int) -> list[dict[str, Any]]:
    at = START + timedelta(hours=batch, minutes=user)
    uid = f"b-{user:03d}"
    events: list[dict[str, Any]] = []
    if batch == 0:
        events.append(
            {
                "type": "identify",
                "userId": uid,
                "messageId": f"i-{uid}",
                "timestamp": at.isoformat(),
                "traits": {
                    EMAIL_TRAIT: f"{uid}@example.com",
                    "firstName": "Sam",
                    "age": 30,
                    "address": {"country": "ID", "city": "Jakarta"},
                    "consent": {Channel.EMAIL: True, Channel.PUSH: False},
                },
            }
        )
    kinds = [
        "Product Viewed",
        "Product Viewed",
        "Product Added",
        "Product Viewed",
        "Checkout Started",
        "Order Completed",
    ]
    while len(events) < per_user:
        n = len(events)
        product = {
            "product_id": f"p-{(batch * 7 + n) % 40}",
            "name": "Trail runner",
            "category": "shoes",
            "price": 59.9,
            "quantity": 1,
            "image_url": "https://cdn.example.com/p.jpg",
        }
        props: dict[str, Any] = dict(product)
        if kinds[n % len(kinds)] == "Order Completed":
            props = {
                "order_id": f"o-{batch}-{user}",
                "revenue": 59.9,
                "currency": "USD",
                "products": [product],
            }
        events.append(
            {
                "type": "track",
                "event": kinds[n % len(kinds)],
                "userId": uid,
                "messageId": f"e-{batch}-{user}-{n}",
                "timestamp": (at + timedelta(seconds=n)).isoformat(),
                "properties": props,
                "context": {"timezone": "Asia/Jakarta"},
            }
        )
    return events


def measure_ingest(runtime: Any) -> dict[str, Any]:
    per_user = INGEST_BATCH // INGEST_USERS

    def batch(k: int) -> dict[str, Any]:
        details = [e for u in range(INGEST_USERS) for e in _shopper_events(k, u, per_user)]
        return runtime.sqs_event("ingest", [json.dumps({"id": d["messageId"], "detail": d}) for d in details])

    runtime.clock.advance_to(START + timedelta(hours=INGEST_BATCHES + 1))
    # The catalog's items read and written: DynamoDB bills a unit per item, whatever the requests. An
    # interest item written again for a (shopper, product) pair (the next day's) moves its time, the
    # index's sort key: the index deletes the old entry and puts the new one, two units, not one.
    catalog_table, interest_table = runtime.table_names["catalog"], runtime.table_names["interest"]
    catalog_items = {"read": 0, "written": 0, "interest": 0, "renewed": 0}
    pairs: set[tuple[str, str]] = set()
    counting = False

    def count_catalog_items(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "BatchGetItem" and counting:
            catalog_items["read"] += len(params["RequestItems"].get(catalog_table, {}).get("Keys", []))
        elif model.name == "BatchWriteItem":
            written = [w["PutRequest"]["Item"] for w in params["RequestItems"].get(interest_table, [])]
            keys = [(i[INTEREST.partition_key]["S"], i[str(INTEREST.sort_key)]["S"]) for i in written]
            if counting:
                catalog_items["written"] += len(params["RequestItems"].get(catalog_table, []))
                catalog_items["interest"] += len(keys)
                catalog_items["renewed"] += sum(1 for k in keys if k in pairs)
            pairs.update(keys)

    dynamodb = runtime.client("dynamodb")
    dynamodb.meta.events.register("provide-client-params.dynamodb", count_catalog_items)
    runtime.invoke("ingest", batch(0))
    counting = True
    with metered(runtime) as meter:
        started = time.process_time()
        for k in range(1, INGEST_BATCHES + 1):
            runtime.invoke("ingest", batch(k))
        # AWS time excluded, and the full collections that started in ingest's code (they scan the whole
        # process, moto's tables included): reported on their own
        cpu_s = time.process_time() - started - meter.botocore_cpu_s - meter.full_gc_cpu_s
    dynamodb.meta.events.unregister("provide-client-params.dynamodb", count_catalog_items)
    events = INGEST_BATCHES * INGEST_BATCH
    items = runtime.client("dynamodb").scan(TableName=runtime.table_names["profiles"])["Items"]
    sizes = [dynamodb_item_bytes(i) for i in items]
    return {
        "ddb_requests_per_ingested_event": meter.total("dynamodb") / events,
        "ingest_cpu_ms_per_event": cpu_s * 1000 / events,
        "ingest_full_gc_ms_per_event": meter.full_gc_cpu_s * 1000 / events,  # left out of the figure above
        "ingest_requests_per_batch": dict(sorted((k, v / INGEST_BATCHES) for k, v in meter.counts.items())),
        "profile_item_bytes_mean": statistics.mean(sizes),
        "profile_item_bytes_max": max(sizes),
        "catalog_items_read_per_batch": catalog_items["read"] / INGEST_BATCHES,
        "catalog_items_written_per_batch": catalog_items["written"] / INGEST_BATCHES,
        # the interest index's items, in the catalog's BatchWriteItem requests (shared/catalog/interest.py)
        "interest_items_written_per_batch": catalog_items["interest"] / INGEST_BATCHES,
        # ... of which a pair's again (its time moved: two index units, nudge/bench/cost.py)
        "interest_items_renewed_per_batch": catalog_items["renewed"] / INGEST_BATCHES,
    }
