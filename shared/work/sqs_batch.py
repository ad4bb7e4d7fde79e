"""SQS event-source batches with partial failures (Lambda's ``ReportBatchItemFailures`` response).

The loop Powertools' ``BatchProcessor`` ran for us (SQS, ``raise_on_entire_batch_failure=False``),
without importing its batch utilities and every event source's data class at cold start
(tests/unit/test_sqs_batch.py runs the same batches through both).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, TypedDict

from shared.core.queues import DeadLetters
from shared.deployment.topology import QueueSpec
from shared.work.failures import run_or_park


class PartialItemFailure(TypedDict):
    itemIdentifier: str


class PartialItemFailureResponse(TypedDict):
    batchItemFailures: list[PartialItemFailure]


def process_queue_batch(
    event: dict[str, Any],
    context: Any,
    *,
    work: Callable[[str], None],
    queue: QueueSpec,
    dead_letters: DeadLetters,
) -> PartialItemFailureResponse:
    """Run ``work`` on each record's body; report the records to retry as partial batch failures.
    A record fails when anything in it raises (a record missing a field too); a batch without
    records is not an SQS batch (ValueError)."""
    records = event.get("Records")
    if not records or not isinstance(records, list):
        raise ValueError("not an SQS batch: the event has no Records")
    failures: list[PartialItemFailure] = []
    for record in records:
        try:
            body = record["body"]
            run_or_park(
                partial(work, body),
                body=body,
                receive_count=int(record["attributes"]["ApproximateReceiveCount"]),
                max_receives=queue.max_receive_count,
                dead_letters=dead_letters,
                source=queue.consumer,
            )
        except Exception:
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def park_after_batch(
    event: dict[str, Any],
    response: PartialItemFailureResponse,
    reasons: Mapping[str, str],
    *,
    key_of: Callable[[str], str | None],
    dead_letters: DeadLetters,
    source: str,
) -> PartialItemFailureResponse:
    """Park each record whose key (``key_of(body)``) has a reason: work done whose record could not be
    written, which a retry could not finish either. Once per key; a record not parked is retried."""
    failures: list[PartialItemFailure] = list(response["batchItemFailures"])
    failed = {f["itemIdentifier"] for f in failures}
    parked: set[str] = set()
    for record in event.get("Records", []):
        key = key_of(record["body"])
        if key is None or key not in reasons or key in parked or record["messageId"] in failed:
            continue
        try:
            dead_letters.park(record["body"], reasons[key], source)
        except Exception:
            failures.append({"itemIdentifier": record["messageId"]})
        else:
            parked.add(key)
    return {"batchItemFailures": failures}
