"""What the local runtime does in moto's state directly, where AWS's own machinery (not our code)
acts: an event source mapping's poller receiving, deleting and releasing a work queue's messages,
EventBridge putting an event on a rule's target queue, Scheduler checking, firing and deleting a
one-time schedule, S3 stamping a put object with the (simulated) time.

In AWS these cost our functions nothing and are not requests our code makes; played through boto3
they were half of the demo's requests, each paying botocore's serialisation and moto's HTTP
dispatch. The calls here are the moto backend methods those requests end in, with the same
arguments the API layer would pass (a receive's visibility timeout is the queue's, it does not wait,
redrive to the dead-letter queue happens inside it, as before), so the queues behave exactly as
through boto3. The runtime still counts each as a request of its own (``RUNTIME_ITSELF``) and still
lets a concurrent invocation take its turn at each (:meth:`LocalRuntime.machinery_call`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from nudge.local.account import ACCOUNT, REGION


def _sqs() -> Any:
    from moto.sqs.models import sqs_backends

    return sqs_backends[ACCOUNT][REGION]


def _queue_name(queue_url: str) -> str:
    return queue_url.rsplit("/", 1)[-1]


def _queue(queue_url: str) -> Any:
    return _sqs().queues.get(_queue_name(queue_url))


def send(queue_url: str, bodies: Sequence[str]) -> None:
    """EventBridge (a rule's queue target) or Scheduler putting messages on a queue: one
    ``SendMessage`` each, as those services do."""
    backend, name = _sqs(), _queue_name(queue_url)
    for body in bodies:
        backend.send_message(name, body)


def receive(queue_url: str, most: int) -> list[dict[str, Any]]:
    """An event source mapping's ``ReceiveMessage`` (all attributes, the queue's visibility timeout,
    no wait): the messages as the API returns them."""
    backend, name = _sqs(), _queue_name(queue_url)
    queue = backend.get_queue(name)
    received = backend.receive_message(name, most, 0, queue.visibility_timeout, ["All"])
    return [_as_received(m) for m in received]


def _as_received(message: Any) -> dict[str, Any]:
    """A received message in the shape ``ReceiveMessage`` answers with (``AttributeNames=All``)."""
    found: dict[str, Any] = {
        "MessageId": message.id,
        "ReceiptHandle": message.receipt_handle,
        "MD5OfBody": message.body_md5,
        "Body": message.body,
        "Attributes": {
            "SenderId": message.sender_id,
            "SentTimestamp": str(message.sent_timestamp),
            "ApproximateReceiveCount": str(message.approximate_receive_count),
            "ApproximateFirstReceiveTimestamp": str(message.approximate_first_receive_timestamp),
        },
    }
    if len(message.message_attributes):
        found["MessageAttributes"] = message.message_attributes
        found["MD5OfMessageAttributes"] = message.attribute_md5
    return found


def delete(queue_url: str, receipt_handles: Sequence[str]) -> None:
    """The poller's ``DeleteMessageBatch`` after a batch succeeded (a stale handle fails its entry
    alone, as in the API, and is ignored as the poller ignores it)."""
    from moto.sqs.exceptions import ReceiptHandleIsInvalid

    backend, name = _sqs(), _queue_name(queue_url)
    for handle in receipt_handles:
        try:
            backend.delete_message(name, handle)
        except ReceiptHandleIsInvalid:
            continue


def make_visible(queue_url: str, receipt_handles: Sequence[str]) -> None:
    """The poller's ``ChangeMessageVisibility(Batch)`` to 0: failed records are received again."""
    from moto.sqs.exceptions import ReceiptHandleIsInvalid

    backend, name = _sqs(), _queue_name(queue_url)
    for handle in receipt_handles:
        try:
            backend.change_message_visibility(name, handle, 0)
        except ReceiptHandleIsInvalid:
            continue


def has_visible_message(queue_url: str) -> bool:
    """Whether a receive on the queue could return a message now (visible and not delayed)."""
    queue = _queue(queue_url)
    if queue is None:
        return True  # not moto's, or not created yet: let the receive itself answer
    return any(message.visible and not message.delayed for message in list(queue._messages))


def _schedules(group: str) -> dict[str, Any]:
    from moto.scheduler.models import scheduler_backends

    groups = scheduler_backends[ACCOUNT][REGION].schedule_groups
    return groups[group].schedules if group in groups else {}


def schedule_exists(group: str, name: str) -> bool:
    """Whether the one-time schedule is still there when it fires (erasure may have deleted it)."""
    return name in _schedules(group)


def delete_schedule(group: str, name: str) -> None:
    """Scheduler deleting a one-time schedule after completion (``ActionAfterCompletion=DELETE``)."""
    _schedules(group).pop(name, None)


def push_deliveries() -> int:
    """What SNS delivered to push endpoints (moto keeps each endpoint's messages)."""
    from moto.sns.models import sns_backends

    return sum(len(e.messages) for e in list(sns_backends[ACCOUNT][REGION].platform_endpoints.values()))


def messages_handed_over(inbox_table: str) -> int:
    """Messages the providers have taken so far: SES's sent count, SNS's deliveries to push endpoints,
    the in-app inbox's items (for the live progress line; the summary reads them the same way)."""
    from moto.dynamodb.models import dynamodb_backends
    from moto.ses.models import ses_backends

    ses = ses_backends[ACCOUNT][REGION].sent_message_count
    sns = push_deliveries()
    table = dynamodb_backends[ACCOUNT][REGION].tables.get(inbox_table)
    inbox = sum(len(p) if isinstance(p, dict) else 1 for p in list(table.items.values())) if table else 0
    return int(ses + sns + inbox)


def stamp_put_time(bucket: str, key: str, at: datetime) -> None:
    """S3 stamps an object's LastModified with the time of its put: the simulated clock's, where moto
    takes the machine's (a feed put in a simulated November would otherwise be newer than every event)."""
    from moto.s3.models import s3_backends

    found = s3_backends[ACCOUNT]["aws"].get_object(bucket, key)
    if found is None:
        raise LookupError(f"s3://{bucket}/{key}: no object to stamp (it is stamped after its put)")
    found.last_modified = at.astimezone(UTC).replace(tzinfo=None)
