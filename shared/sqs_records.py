"""What to do with an SQS record that fails: retry it, or park it with the reason.

A permanent failure (a job that can never succeed) is parked at once; a transient one is left
to SQS to redeliver, and parked with its last error on the final allowed receive, so nothing
reaches the dead-letter queue without a reason and nothing is dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import ValidationError

from shared.delivery import PermanentDeliveryError
from shared.ports import DeadLetters
from shared.render import TemplateProblem
from shared.topology import QueueSpec

T = TypeVar("T")
PERMANENT_ERRORS: tuple[type[Exception], ...] = (PermanentDeliveryError, ValidationError, TemplateProblem)


def reason_of(error: Exception) -> str:
    if isinstance(error, ValidationError):
        first = error.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"invalid message: {where}: {first['msg']}"
    return f"{type(error).__name__}: {error}"


def run_or_park(
    work: Callable[[], T],
    *,
    body: str,
    receive_count: int,
    max_receives: int,
    dead_letters: DeadLetters,
    source: str,
) -> T | None:
    """Run ``work``; park and swallow permanent errors and last-attempt failures, re-raise the rest."""
    try:
        return work()
    except PERMANENT_ERRORS as error:
        dead_letters.park(body, reason_of(error), source)
        return None
    except Exception as error:
        if receive_count >= max_receives:
            dead_letters.park(body, f"gave up after {receive_count} attempts: {reason_of(error)}", source)
            return None
        raise


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
