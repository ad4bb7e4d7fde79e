"""SQS adapters: work queues (delivery jobs, audience segments), dead-letter parking and redrive."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.adapters import chunks

SEND_BATCH_LIMIT = 10
MAX_ENTRY_ROUNDS = 4
REASON_ATTRIBUTE = "nudge_reason"
SOURCE_ATTRIBUTE = "nudge_source"
MAX_REASON_LENGTH = 1000


class PartialSendError(RuntimeError):
    """Some entries of a SendMessageBatch were refused even after resending them."""


class SqsQueue:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self.url = queue_url

    def send_many(self, bodies: Sequence[str]) -> None:
        """SendMessageBatch in tens; entries refused inside a 200 response are sent again."""
        for batch in chunks(bodies, SEND_BATCH_LIMIT):
            entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(batch)]
            for _ in range(MAX_ENTRY_ROUNDS):
                response = self._client.send_message_batch(QueueUrl=self.url, Entries=entries)
                failed_ids = {f["Id"] for f in response.get("Failed", []) if not f.get("SenderFault")}
                sender_faults = [f for f in response.get("Failed", []) if f.get("SenderFault")]
                if sender_faults:
                    raise PartialSendError(f"SQS refused entries: {sender_faults[0].get('Message')}")
                entries = [e for e in entries if e["Id"] in failed_ids]
                if not entries:
                    break
            else:
                raise PartialSendError(
                    f"{len(entries)} entries still refused by SQS after {MAX_ENTRY_ROUNDS} tries"
                )


class SqsDeadLetters:
    """Parks a message with the reason it could not be processed, as message attributes."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self.url = queue_url

    def park(self, body: str, reason: str, source: str) -> None:
        self._client.send_message(
            QueueUrl=self.url,
            MessageBody=body,
            MessageAttributes={
                REASON_ATTRIBUTE: {
                    "DataType": "String",
                    "StringValue": reason[:MAX_REASON_LENGTH] or "unknown",
                },
                SOURCE_ATTRIBUTE: {"DataType": "String", "StringValue": source},
            },
        )


@dataclass(frozen=True)
class DeadLetter:
    """A message in a dead-letter queue: its body, why and by whom it was parked, and since when."""

    body: str
    reason: str
    source: str
    first_seen: datetime | None
    receipt_handle: str = ""


# A message SQS itself moved after maxReceiveCount carries none of our attributes.
REDRIVEN_BY_SQS = "(moved by SQS after its last allowed receive: no reason recorded)"
PEEK_VISIBILITY_S = 60


class SqsDeadLetterQueue:
    """An operator's view of a dead-letter queue: read what is parked (leaving it there) and redrive."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self.url = queue_url

    def _receive(self, wanted: int) -> list[DeadLetter]:
        response = self._client.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=max(1, min(SEND_BATCH_LIMIT, wanted)),
            VisibilityTimeout=PEEK_VISIBILITY_S,
            AttributeNames=["SentTimestamp"],
            MessageAttributeNames=[REASON_ATTRIBUTE, SOURCE_ATTRIBUTE],
        )
        letters = []
        for m in response.get("Messages", []):
            attributes = m.get("MessageAttributes", {})
            sent = m.get("Attributes", {}).get("SentTimestamp")
            letters.append(
                DeadLetter(
                    body=m["Body"],
                    reason=attributes.get(REASON_ATTRIBUTE, {}).get("StringValue", REDRIVEN_BY_SQS),
                    source=attributes.get(SOURCE_ATTRIBUTE, {}).get("StringValue", "sqs"),
                    first_seen=datetime.fromtimestamp(int(sent) / 1000, UTC) if sent else None,
                    receipt_handle=m["ReceiptHandle"],
                )
            )
        return letters

    def peek(self, limit: int | None = None) -> list[DeadLetter]:
        """Up to ``limit`` parked messages (all by default); they stay in the queue, visible again."""
        found: list[DeadLetter] = []
        while limit is None or len(found) < limit:
            received = self._receive(SEND_BATCH_LIMIT if limit is None else limit - len(found))
            if not received:
                break
            found += received
        for batch in chunks([f.receipt_handle for f in found], SEND_BATCH_LIMIT):
            self._client.change_message_visibility_batch(
                QueueUrl=self.url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                    for i, handle in enumerate(batch)
                ],
            )
        return found

    def count(self) -> int:
        attributes = self._client.get_queue_attributes(
            QueueUrl=self.url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes.get("ApproximateNumberOfMessages", 0)) + int(
            attributes.get("ApproximateNumberOfMessagesNotVisible", 0)
        )

    def redrive(self, target: SqsQueue, limit: int | None = None) -> int:
        """Move up to ``limit`` messages (all by default) back to ``target``, bodies only: each is
        deleted here once the target has it, so a failure midway duplicates at most, never loses."""
        moved = 0
        while limit is None or moved < limit:
            received = self._receive(SEND_BATCH_LIMIT if limit is None else limit - moved)
            if not received:
                break
            target.send_many([r.body for r in received])
            self._client.delete_message_batch(
                QueueUrl=self.url,
                Entries=[{"Id": str(i), "ReceiptHandle": r.receipt_handle} for i, r in enumerate(received)],
            )
            moved += len(received)
        return moved
