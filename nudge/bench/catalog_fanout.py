"""Catalog triggers: what one price drop costs from its announcement to the delivery jobs of the shoppers
interested in the product (docs/catalog.md, triggers); each job's delivery then costs what any
message's does (``delivery_requests_per_message``)."""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal
from typing import Any

from benchmarks.prices import LATENCY_MS, PRICES_USD
from nudge.bench.measuring import metered
from shared.adapters.dynamo.catalog import DynamoProductCatalog
from shared.catalog.announcements import CatalogChangeKind, CatalogEvent
from shared.catalog.interest import Interest
from shared.deployment import topology
from shared.events.sources import INTERNAL_EVENT_SOURCE

FANOUT_SHOPPERS = 100
FANOUT_PRODUCT = "p-fanout"
INDEX_ITEM_BYTES = 60  # a keys-only index item: shopper, product, time, key overhead
EVENTUAL_READ_UNIT_BYTES = 8192  # an index Query reads eventually consistent: half a unit per 4 KB


def fanout_cost_usd(requests: dict[str, int], shoppers: int) -> float:
    """List price of one change's fan-out: the announced event, the trigger's invocation and time, the
    index's read units, the SendMessageBatch requests."""
    read_units = math.ceil(max(1, shoppers * INDEX_ITEM_BYTES) / EVENTUAL_READ_UNIT_BYTES)
    waited_ms = sum(n * LATENCY_MS[name.split(".")[0]] for name, n in requests.items())
    memory_gb = topology.FUNCTIONS_BY_KEY["trigger"].memory_mb / 1024
    return (
        PRICES_USD["eventbridge_event"]
        + PRICES_USD["lambda_request"]
        + PRICES_USD["lambda_gb_second_arm64"] * memory_gb * waited_ms / 1000
        + PRICES_USD["dynamodb_rru"] * read_units
        + PRICES_USD["sqs_request"] * requests.get("sqs.SendMessageBatch", 0)
    )


def measure_catalog_fanout(runtime: Any, shoppers: int = FANOUT_SHOPPERS) -> dict[str, Any]:
    """The trigger function's requests for a price drop of a product ``shoppers`` looked at."""
    campaign = next(
        (
            c
            for c in runtime.catalog
            if c.enabled and c.trigger is not None and c.trigger.catalog == CatalogChangeKind.PRICE_DROP
        ),
        None,
    )
    if campaign is None:
        return {}
    now = runtime.clock.now()
    interests = [
        Interest(f"f-{i:05d}", FANOUT_PRODUCT, now - timedelta(hours=i + 1)) for i in range(shoppers)
    ]
    DynamoProductCatalog(
        runtime.client("dynamodb"), runtime.table_names["catalog"], runtime.table_names["interest"]
    ).put_many([], interests)
    change = CatalogEvent(
        CatalogChangeKind.PRICE_DROP, FANOUT_PRODUCT, now, Decimal("100"), Decimal("80"), "USD", Decimal("20")
    )
    envelope = {
        "source": INTERNAL_EVENT_SOURCE,
        "detail-type": change.kind.detail_type,
        "detail": change.sealed_detail(runtime.catalog_key),
    }
    rule = next(r for r in runtime.rules if r.campaign_id == campaign.id)
    with metered(runtime) as meter:
        reply = runtime.invoke("trigger", rule.target_input(envelope))
    sqs = runtime.client("sqs")
    sqs.purge_queue(
        QueueUrl=runtime.queue_urls[topology.DELIVERY_QUEUE.key]
    )  # the jobs are not measured here
    requests = dict(meter.counts)
    return {
        "catalog_fanout_shoppers": shoppers,
        "catalog_fanout_jobs": reply["jobs"],
        "catalog_fanout_requests": requests,
        "aws_requests_per_price_drop": sum(requests.values()),
        "usd_per_price_drop_fanout": fanout_cost_usd(requests, shoppers),
    }
