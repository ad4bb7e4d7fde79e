"""Delivery: AWS requests and our CPU per delivered message, and the send-log item's size."""

from __future__ import annotations

import statistics
import time
from collections import Counter
from datetime import timedelta
from typing import Any

from nudge.bench.measuring import START, dynamodb_item_bytes, metered
from shared.core.vocabulary import EMAIL_TRAIT, Channel, DecisionStatus
from shared.deployment import topology

DELIVERY_USERS = 300
DELIVER_BATCH = topology.DELIVERY_QUEUE.batch_size


class ItemCounter:
    """DynamoDB items read and written, by table key ("read.ledger", "written.messages"): what
    on-demand capacity bills (a batch request is one request, but one unit per item)."""

    OPERATIONS = ("GetItem", "BatchGetItem", "PutItem", "UpdateItem", "BatchWriteItem")

    def __init__(self, table_names: dict[str, str]) -> None:
        self.counts: Counter[str] = Counter()
        self._keys = {name: key for key, name in table_names.items()}

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        def key(table: str) -> str:
            return self._keys.get(table, table)

        if model.name == "BatchGetItem":
            for table, wanted in params["RequestItems"].items():
                self.counts[f"read.{key(table)}"] += len(wanted["Keys"])
        elif model.name == "BatchWriteItem":
            for table, requests in params["RequestItems"].items():
                self.counts[f"written.{key(table)}"] += len(requests)
        else:
            kind = "read" if model.name == "GetItem" else "written"
            self.counts[f"{kind}.{key(params['TableName'])}"] += 1


# A scheduled email campaign with a 10% holdout and no experiment: the floor's design. (browse-abandon, the
# same shape, was measured before it ran a bandit; an experiment adds a count of sends per variant per batch
# and a read of its weights per container: 2.47 requests per message there, docs/experiments.md.)
DELIVERY_CAMPAIGN = "weekend-sale-sea"


def measure_delivery(runtime: Any) -> dict[str, Any]:
    from shared.campaigns.jobs import DeliveryJob

    runtime.publish(
        [
            {
                "type": "identify",
                "userId": f"d-{i:04d}",
                "messageId": f"di-{i}",
                "timestamp": START.isoformat(),
                "traits": {
                    EMAIL_TRAIT: f"d{i}@example.com",
                    "firstName": "Ayu",
                    "age": 25,
                    "address": {"country": "ID", "city": "Jakarta"},
                    "consent": {Channel.EMAIL: True},
                },
            }
            for i in range(DELIVERY_USERS)
        ]
    )
    runtime.drain()
    # The identifies sent welcome emails: deliver the next day, so today's email cap is not in the way.
    runtime.clock.advance(timedelta(days=1))
    campaign = runtime.catalog.get(DELIVERY_CAMPAIGN)
    assert campaign is not None and campaign.schedule is not None and not campaign.variants
    jobs = [
        DeliveryJob.for_occurrence(campaign.id, "2026-11-07T03:00:00Z", f"d-{i:04d}").model_dump_json()
        for i in range(DELIVERY_USERS)
    ]
    items = ItemCounter(runtime.table_names)
    dynamodb = runtime.client("dynamodb")
    for operation in ItemCounter.OPERATIONS:
        dynamodb.meta.events.register(f"provide-client-params.dynamodb.{operation}", items)
    with metered(runtime) as meter:
        started = time.process_time()
        for i in range(0, len(jobs), DELIVER_BATCH):
            runtime.invoke("deliver", runtime.sqs_event("delivery", jobs[i : i + DELIVER_BATCH]))
        cpu_s = time.process_time() - started - meter.botocore_cpu_s
    for operation in ItemCounter.OPERATIONS:
        dynamodb.meta.events.unregister(f"provide-client-params.dynamodb.{operation}", items)
    decisions = Counter(m["status"] for m in runtime.scan("messages") if m["campaign_id"] == campaign.id)
    sent = max(decisions[DecisionStatus.SENT], 1)
    log_items = dynamodb.scan(TableName=runtime.table_names["messages"], Limit=50)["Items"]
    ledger_items = dynamodb.scan(TableName=runtime.table_names["ledger"], Limit=50)["Items"]
    return {
        "aws_requests_per_delivered_message": meter.total() / sent,
        "deliver_cpu_ms_per_message": cpu_s * 1000 / sent,
        "delivery_requests_per_message": dict(sorted((k, v / sent) for k, v in meter.counts.items())),
        "delivery_items_per_message": {k: v / sent for k, v in sorted(items.counts.items())},
        "send_log_item_bytes_mean": statistics.mean(dynamodb_item_bytes(i) for i in log_items),
        "ledger_item_bytes_mean": statistics.mean(dynamodb_item_bytes(i) for i in ledger_items),
        "messages_measured": decisions[DecisionStatus.SENT],
        "delivery_decisions": dict(decisions),
        "delivery_jobs": len(jobs),
    }
