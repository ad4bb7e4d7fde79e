"""The SQS event source mappings, played by the local runtime: work queues drained into their consumers.

A queue is received in its mapping's batch size and handed to its consumer as the SQS event Lambda
builds; what succeeded is deleted and partial batch failures are made visible again (SQS redrives
them to the dead-letter queue after ``maxReceiveCount``). Queues are drained upstream first, so one
pass empties the system; the adversarial runtime drains them in its own order instead
(:func:`nudge.local.adversary.hostile_drain`, through :func:`receive`, :func:`receive_again` and
:func:`process_batch`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from nudge.local import machinery
from nudge.local.account import REGION
from nudge.local.adversary import hostile_drain
from nudge.local.faults import FunctionTimedOut
from shared.deployment import topology

MAX_DRAIN_ROUNDS = 100_000
RECEIVE_LIMIT = 10


def drain_order() -> list[topology.QueueSpec]:
    """Work queues ordered so that every queue comes before the queues its consumer sends to."""
    ordered: list[topology.QueueSpec] = []
    pending = list(topology.QUEUES)
    while pending:
        ready = [
            q
            for q in pending
            if not any(
                q.key in topology.FUNCTIONS_BY_KEY[other.consumer].sends_to and other.key != q.key
                for other in pending
            )
        ]
        if not ready:
            raise RuntimeError("work queues feed each other in a cycle; one drain pass cannot empty them")
        ordered += ready
        pending = [q for q in pending if q not in ready]
    return ordered


def drain(runtime: Any, queues: list[topology.QueueSpec]) -> int:
    """Feed each of ``queues`` (in drain order) to its consumer until empty; returns records processed."""
    if runtime.adversary is not None:
        return hostile_drain(runtime.adversary, runtime, queues)
    return sum(drain_queue(runtime, spec) for spec in queues)


def drain_queue(runtime: Any, spec: topology.QueueSpec) -> int:
    feeds_itself = spec.key in topology.FUNCTIONS_BY_KEY[spec.consumer].sends_to
    processed = 0
    for _ in range(MAX_DRAIN_ROUNDS):
        # Up to the event source mapping's batch size; ``exhausted`` when a receive came back short.
        batch, exhausted = receive(runtime, spec, spec.batch_size)
        if not batch:
            return processed
        failed = process_batch(runtime, spec, batch)
        processed += len(batch)
        if exhausted and not failed and not feeds_itself:
            return processed
    raise RuntimeError(f"queue {spec.key} did not drain")


def receive(runtime: Any, spec: topology.QueueSpec, most: int) -> tuple[list[dict[str, Any]], bool]:
    """Up to ``most`` messages of a work queue, and whether a receive came back short (no more visible)."""
    url = runtime.queue_urls[spec.key]
    messages: list[dict[str, Any]] = []
    while len(messages) < most:
        if not machinery.has_visible_message(url):
            return messages, True  # the poller's receive would come back empty: not made
        wanted = min(RECEIVE_LIMIT, most - len(messages))
        runtime.machinery_call("sqs.ReceiveMessage")
        received = machinery.receive(url, wanted)
        messages.extend(received)
        if len(received) < wanted:
            return messages, True
    return messages, False


def receive_again(runtime: Any, spec: topology.QueueSpec, message: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``message`` visible again (its visibility timeout ran out) and received again, by another
    poller, with whatever is received before it."""
    url = runtime.queue_urls[spec.key]
    runtime.machinery_call("sqs.ChangeMessageVisibility")
    machinery.make_visible(url, [message["ReceiptHandle"]])
    found: list[dict[str, Any]] = []
    while True:
        received = receive(runtime, spec, RECEIVE_LIMIT)[0]
        found += received
        if not received or any(m["MessageId"] == message["MessageId"] for m in received):
            return found


def sqs_record(
    queue_arn: str, message_id: str, body: str, receipt_handle: str, attributes: Mapping[str, str]
) -> dict[str, Any]:
    """One record of the event Lambda's SQS event source mapping passes to a consumer."""
    return {
        "messageId": message_id,
        "receiptHandle": receipt_handle,
        "body": body,
        "attributes": dict(attributes),
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


def sqs_event(queue_arn: str, bodies: Iterable[str], receive_count: int = 1) -> dict[str, Any]:
    """An SQS event for ``bodies`` as if received from the queue ``queue_arn`` (for driving a handler
    directly)."""
    attributes = {"ApproximateReceiveCount": str(receive_count)}
    return {
        "Records": [
            sqs_record(queue_arn, f"r-{i}", body, f"h-{i}", attributes) for i, body in enumerate(bodies)
        ]
    }


def process_batch(runtime: Any, spec: topology.QueueSpec, messages: list[dict[str, Any]]) -> int:
    """Invoke the consumer; delete what succeeded, make failures visible again. Returns failures."""
    url = runtime.queue_urls[spec.key]
    queue_arn = runtime.queue_arn(spec.key)
    records = [
        sqs_record(queue_arn, m["MessageId"], m["Body"], m["ReceiptHandle"], m.get("Attributes", {}))
        for m in messages
    ]
    runtime.received[spec.key] += len(records)
    runtime.redelivered[spec.key] += sum(
        int(r["attributes"].get("ApproximateReceiveCount", 1)) > 1 for r in records
    )
    try:
        response = runtime.invoke(spec.consumer, {"Records": records})
        failed = {f["itemIdentifier"] for f in (response or {}).get("batchItemFailures", [])}
    except (Exception, FunctionTimedOut):  # the invocation failed: SQS retries the whole batch
        failed = {r["messageId"] for r in records}
    done = [m for m in messages if m["MessageId"] not in failed]
    retry = [m for m in messages if m["MessageId"] in failed]
    for batch in (done[i : i + 10] for i in range(0, len(done), 10)):
        runtime.machinery_call("sqs.DeleteMessageBatch")
        machinery.delete(url, [m["ReceiptHandle"] for m in batch])
    for batch in (retry[i : i + 10] for i in range(0, len(retry), 10)):
        runtime.machinery_call("sqs.ChangeMessageVisibilityBatch")
        machinery.make_visible(url, [m["ReceiptHandle"] for m in batch])
    return len(retry)
