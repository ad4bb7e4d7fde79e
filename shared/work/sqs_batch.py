"""SQS event-source batches with partial failures, through Powertools' BatchProcessor."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from shared.core.queues import DeadLetters
from shared.deployment.topology import QueueSpec
from shared.work.failures import run_or_park


def process_queue_batch(
    event: dict[str, Any],
    context: Any,
    *,
    work: Callable[[str], None],
    queue: QueueSpec,
    dead_letters: DeadLetters,
) -> PartialItemFailureResponse:
    """Run ``work`` on each record's body; report the records to retry as partial batch failures."""
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

    def record_handler(record: SQSRecord) -> None:
        run_or_park(
            lambda: work(record.body),
            body=record.body,
            receive_count=int(record.attributes.approximate_receive_count),
            max_receives=queue.max_receive_count,
            dead_letters=dead_letters,
            source=queue.consumer,
        )

    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )


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
    failures = list(response["batchItemFailures"])
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
