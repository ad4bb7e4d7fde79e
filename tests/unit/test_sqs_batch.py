"""SQS batches (shared/work/sqs_batch.py) report the same partial failures, and park the same records,
as Powertools' BatchProcessor did: the same batches through both."""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from shared.core.errors import TemplateProblem
from shared.deployment.topology import DELIVERY_QUEUE
from shared.work.failures import run_or_park
from shared.work.sqs_batch import process_queue_batch


class Parked:
    def __init__(self) -> None:
        self.parked: list[tuple[str, str, str]] = []

    def park(self, body: str, reason: str, source: str) -> None:
        self.parked.append((body, reason, source))


def work(body: str) -> None:
    """``ok`` succeeds; ``retry`` fails for now; ``bad`` fails for good; ``crash`` is no Exception."""
    if body.startswith("retry"):
        raise RuntimeError(f"{body}: throttled")
    if body.startswith("bad"):
        raise TemplateProblem(f"{body}: template line 3")
    if body.startswith("crash"):
        raise KeyboardInterrupt


def powertools(event: dict[str, Any], dead_letters: Parked) -> Any:
    """What process_queue_batch was: Powertools' processor around the same run_or_park."""
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

    def record_handler(record: SQSRecord) -> None:
        run_or_park(
            lambda: work(record.body),
            body=record.body,
            receive_count=int(record.attributes.approximate_receive_count),
            max_receives=DELIVERY_QUEUE.max_receive_count,
            dead_letters=dead_letters,
            source=DELIVERY_QUEUE.consumer,
        )

    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=None
    )


def ours(event: dict[str, Any], dead_letters: Parked) -> Any:
    return process_queue_batch(event, None, work=work, queue=DELIVERY_QUEUE, dead_letters=dead_letters)


def record(message_id: str, body: str | None, receives: int | None = 1) -> dict[str, Any]:
    found: dict[str, Any] = {
        "messageId": message_id,
        "receiptHandle": f"h-{message_id}",
        "eventSource": "aws:sqs",
    }
    if body is not None:
        found["body"] = body
    if receives is not None:
        found["attributes"] = {"ApproximateReceiveCount": str(receives)}
    return found


LAST = DELIVERY_QUEUE.max_receive_count
BATCHES = {
    "all-succeed": [record("m1", "ok-1"), record("m2", "ok-2")],
    "one-to-retry": [record("m1", "ok-1"), record("m2", "retry-2"), record("m3", "ok-3")],
    "all-to-retry": [record("m1", "retry-1"), record("m2", "retry-2")],
    "permanent-is-parked-not-retried": [record("m1", "bad-1"), record("m2", "ok-2")],
    "last-attempt-is-parked": [
        record("m1", "retry-1", receives=LAST),
        record("m2", "retry-2", receives=LAST - 1),
    ],
    "record-without-body": [record("m1", None), record("m2", "ok-2")],
    "record-without-attributes": [record("m1", "ok-1", receives=None), record("m2", "ok-2")],
    "receive-count-not-a-number": [{**record("m1", "ok-1"), "attributes": {"ApproximateReceiveCount": "x"}}],
}


@pytest.mark.parametrize("name", sorted(BATCHES))
def test_a_batch_reports_and_parks_as_powertools_did(name: str) -> None:
    theirs_parked, ours_parked = Parked(), Parked()
    expected = powertools({"Records": BATCHES[name]}, theirs_parked)
    assert ours({"Records": BATCHES[name]}, ours_parked) == expected
    assert ours_parked.parked == theirs_parked.parked


def test_the_failures_are_the_records_to_retry_in_order() -> None:
    batch = [record("m1", "retry-1"), record("m2", "ok-2"), record("m3", "retry-3"), record("m4", "bad-4")]
    dead_letters = Parked()
    assert ours({"Records": batch}, dead_letters) == {
        "batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m3"}]
    }
    assert dead_letters.parked == [("bad-4", "TemplateProblem: bad-4: template line 3", "deliver")]


def test_what_is_not_an_exception_stops_the_batch_in_both() -> None:
    batch = [record("m1", "crash-1"), record("m2", "ok-2")]
    with pytest.raises(KeyboardInterrupt):
        powertools({"Records": batch}, Parked())
    with pytest.raises(KeyboardInterrupt):
        ours({"Records": batch}, Parked())


@pytest.mark.parametrize("event", [{}, {"Records": []}, {"Records": None}, {"Records": {"m1": "ok"}}])
def test_an_event_without_records_is_refused_by_both(event: dict[str, Any]) -> None:
    with pytest.raises(Exception, match="Unexpected batch event type"):
        powertools(event, Parked())
    with pytest.raises(ValueError, match="not an SQS batch"):
        ours(event, Parked())
