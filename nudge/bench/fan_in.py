"""Journeys: the fan-in of wake-ups (issue 20). 100,000 shoppers wait at the same step of a journey and all
their waits end at once; every wake-up, 1% of them twice, goes through the deliver handler on moto (the
journey engine's read, the profile read for the goal, the conditional put). Measured: the wall time, the
wake-ups per second, the requests, and that each instance moved exactly once.

The instances are written straight into the journeys table (batched puts: the set-up, not measured), each
as an entry's walk leaves it: waiting at ``wait-1h`` with sequence number 1. The wake-ups are handed to the
handler as the delivery queue's event source would, 10 to a batch (the queue's own receive and delete are
the same per message whatever the sender, and are left out). `make bench` runs it (`nudge bench`); the
wall time is in docs/journeys.md.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

from shared.campaigns.loader import Catalog
from shared.campaigns.model import Campaign
from shared.core.vocabulary import Channel, Level
from shared.deployment import topology
from shared.journeys.instance import InstanceStatus, JourneyInstance, PathEntry, PathKind, WakeUp
from shared.journeys.transitions import WAKE_FIELD

FAN_IN_SHOPPERS = 100_000
DUPLICATE_EVERY = 100  # 1% of the wake-ups delivered twice
JOURNEY = {
    "id": "fan-in",
    "name": "Fan-in of wake-ups",
    "level": Level.L4,
    "trigger": {"event": "Product Added"},
    "goal": {"event": "Order Completed"},  # each wake-up reads the profile for it
    "steps": [
        {"id": "wait-1h", "type": "wait", "duration": "1h"},
        {"id": "done", "type": "exit"},
    ],
    "channels": {Channel.IN_APP: {"title": "-", "body": "-"}},
}


def fan_in_catalog(shipped: Catalog) -> Catalog:
    return Catalog([Campaign.model_validate(JOURNEY)], shipped.policy, shipped.custom)


def measure_wake_up_fan_in(runtime: Any, shoppers: int = FAN_IN_SHOPPERS) -> dict[str, Any]:
    """Seed ``shoppers`` waiting instances, fire all their wake-ups (and 1% again), check and time it."""
    journey = runtime.catalog.get(JOURNEY["id"])
    now = runtime.clock.now()
    entered = now - timedelta(hours=1)
    dynamodb, table = runtime.client("dynamodb"), runtime.table_names[topology.JOURNEYS.key]
    wakes = []
    for start in range(0, shoppers, 25):
        items = []
        for i in range(start, min(start + 25, shoppers)):
            instance = _waiting(journey, f"f-{i:06d}", entered)
            wakes.append(
                WakeUp(
                    user_id=instance.user_id,
                    journey_id=journey.id,
                    instance=instance.instance,
                    step="wait-1h",
                    seq=1,
                )
            )
            items.append({"PutRequest": {"Item": _item(instance)}})
        dynamodb.batch_write_item(RequestItems={table: items})
    bodies = [json.dumps({WAKE_FIELD: w.model_dump(mode="json")}) for w in wakes]
    bodies += bodies[::DUPLICATE_EVERY]
    before = runtime.requests_made()
    started = time.perf_counter()
    for start in range(0, len(bodies), 10):
        runtime.invoke("deliver", runtime.sqs_event(topology.DELIVERY_QUEUE.key, bodies[start : start + 10]))
    wall = time.perf_counter() - started
    requests = runtime.requests_made() - before
    moved = _moved_once(dynamodb, table)
    return {
        "fan_in_wake_ups": shoppers,
        "fan_in_duplicate_wake_ups": len(bodies) - shoppers,
        "fan_in_wall_seconds": round(wall, 1),
        "fan_in_wake_ups_per_second": round(len(bodies) / wall, 1),
        "fan_in_requests_per_wake_up": round(requests / len(bodies), 2),
        "fan_in_instances_moved_exactly_once": moved == shoppers,
    }


def _waiting(journey: Campaign, user_id: str, entered: Any) -> JourneyInstance:
    return JourneyInstance(
        user_id=user_id,
        journey_id=journey.id,
        instance=f"e-{user_id}",
        version=journey.version,
        seq=1,
        step="wait-1h",
        entered_at=entered,
        transition=f"entry#e-{user_id}",
        path=[PathEntry(seq=1, at=entered, kind=PathKind.WAITING, step="wait-1h")],
    )


def _item(instance: JourneyInstance) -> dict[str, Any]:
    return {
        topology.JOURNEYS.partition_key: {"S": instance.user_id},
        str(topology.JOURNEYS.sort_key): {"S": instance.journey_id},
        "seq": {"N": str(instance.seq)},
        "status": {"S": instance.status.value},
        "state": {"S": instance.model_dump_json()},
    }


def _moved_once(dynamodb: Any, table: str) -> int:
    """Instances ended at ``done`` with sequence number 2: woken once, whatever the duplicates."""
    moved, start = 0, None
    while True:
        page = dynamodb.scan(TableName=table, **({"ExclusiveStartKey": start} if start else {}))
        moved += sum(
            1
            for item in page["Items"]
            if item["seq"]["N"] == "2" and item["status"]["S"] == InstanceStatus.COMPLETED.value
        )
        start = page.get("LastEvaluatedKey")
        if start is None:
            return moved
