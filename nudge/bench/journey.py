"""Journeys: the AWS requests of an entry and of one step transition (a wait's wake-up that sends), and
what a million shoppers through the shipped cart-recovery journey cost in AWS requests (issue 20)."""

from __future__ import annotations

import math
from typing import Any

from benchmarks.prices import LATENCY_MS, PRICES_USD
from nudge.bench.measuring import dynamodb_item_bytes, metered
from shared.deployment import topology

WAKE_UPS_PER_SHOPPER = 3  # the cart journey's three waits, each followed by a step (two sends, a branch)
DELIVER_MEMORY_GB = 0.5


def measure_journey(runtime: Any) -> dict[str, Any]:
    """Enter one shopper into the first triggered journey, then fire its first wait's wake-up alone."""
    journey = next((c for c in runtime.catalog if c.is_journey and c.trigger is not None), None)
    if journey is None:
        return {}
    user = "b-journey-000"
    detail = {
        "type": "track",
        "event": journey.trigger.event,
        "userId": user,
        "messageId": "journey-bench-1",
        "timestamp": runtime.clock.now().isoformat(),
        "properties": {"product_id": "p-1", "name": "Trail Runner", "price": 89.5},
    }
    envelope = {"id": "bench", "source": "shop", "detail-type": "Segment Event", "detail": detail}
    with metered(runtime) as entry:
        runtime.invoke("trigger", {"campaign_id": journey.id, "event": envelope})
    wake = next(
        t["Input"]
        for _, _, t in runtime.one_time_schedules()
        if '"journey_wake"' in t["Input"] and user in t["Input"]
    )
    runtime.send(topology.DELIVERY_QUEUE.key, [wake])
    batch = runtime.receive(topology.DELIVERY_QUEUE, 1)
    with metered(runtime) as transition:
        runtime.process(topology.DELIVERY_QUEUE, batch)
    item = next(
        i for i in runtime.client("dynamodb").scan(TableName=runtime.table_names["journeys"])["Items"]
    )
    results: dict[str, Any] = {
        "journey_measured": journey.id,
        "journey_entry_requests": dict(entry.counts),
        "journey_transition_requests": dict(transition.counts),
        "aws_requests_per_journey_entry": entry.total(),
        "aws_requests_per_journey_transition": transition.total(),
        "journey_item_bytes": dynamodb_item_bytes(item),
    }
    results["cost_usd_per_million_journey_shoppers"] = round(journey_cost(results) * 1e6, 2)
    runtime.drain()
    return results


def journey_cost(m: dict[str, Any]) -> float:
    """The journey machinery per shopper (entry and its wake-ups; the messages are priced per message):
    DynamoDB units at the measured item size, Scheduler invocations, SQS requests (the schedule's put,
    the receive and delete shared by a batch of 10, the step's enqueue), Lambda requests and duration
    at the model's latencies."""
    wru = max(1, math.ceil(m["journey_item_bytes"] / 1024))

    def cost(counts: dict[str, int], invocations: float) -> float:
        dynamo = counts.get("dynamodb.GetItem", 0) * PRICES_USD["dynamodb_rru"]
        dynamo += counts.get("dynamodb.PutItem", 0) * wru * PRICES_USD["dynamodb_wru"]
        sqs = counts.get("sqs.SendMessageBatch", 0) * PRICES_USD["sqs_request"]
        busy_ms = sum(LATENCY_MS.get(op.split(".")[0], 10.0) * n for op, n in counts.items())
        lam = invocations * PRICES_USD["lambda_request"]
        lam += busy_ms / 1000 * DELIVER_MEMORY_GB * PRICES_USD["lambda_gb_second_arm64"]
        return dynamo + sqs + lam

    entry = cost(m["journey_entry_requests"], 1)
    wake = cost(m["journey_transition_requests"], 0.1)
    wake += PRICES_USD["scheduler_invocation"] + (1 + 0.2) * PRICES_USD["sqs_request"]
    return entry + WAKE_UPS_PER_SHOPPER * wake
