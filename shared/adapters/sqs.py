"""SQS adapters: work queues (delivery jobs, audience segments), dead-letter parking and redrive."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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
# Erasure hides what it reads for as long as a scan can take in the privacy function (its timeout),
# so a message is not read twice; what it keeps is made visible again as soon as the scan ends.
PURGE_VISIBILITY_S = 30
# Dead-letter queues alarm on their first message and are normally near empty; a scan stops here
# (within the HTTP API's 30 s) and says so, rather than time out midway.
PURGE_SCAN_LIMIT = 2000


@dataclass(frozen=True)
class PurgeOutcome:
    deleted: int
    scanned: int
    complete: bool  # False: the queue held more than the scan limit; erase again to go on


class SqsDeadLetterQueue:
    """An operator's view of a dead-letter queue: read what is parked (leaving it there) and redrive."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self.url = queue_url

    def _receive_raw(self, wanted: int, visibility_s: int) -> list[dict[str, Any]]:
        response = self._client.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=max(1, min(SEND_BATCH_LIMIT, wanted)),
            VisibilityTimeout=visibility_s,
            AttributeNames=["SentTimestamp"],
            MessageAttributeNames=[REASON_ATTRIBUTE, SOURCE_ATTRIBUTE],
        )
        return list(response.get("Messages", []))

    def _receive(self, wanted: int) -> list[DeadLetter]:
        return [self._letter(m) for m in self._receive_raw(wanted, PEEK_VISIBILITY_S)]

    @staticmethod
    def _letter(m: Mapping[str, Any]) -> DeadLetter:
        attributes = m.get("MessageAttributes", {})
        sent = m.get("Attributes", {}).get("SentTimestamp")
        return DeadLetter(
            body=m["Body"],
            reason=attributes.get(REASON_ATTRIBUTE, {}).get("StringValue", REDRIVEN_BY_SQS),
            source=attributes.get(SOURCE_ATTRIBUTE, {}).get("StringValue", "sqs"),
            first_seen=datetime.fromtimestamp(int(sent) / 1000, UTC) if sent else None,
            receipt_handle=m["ReceiptHandle"],
        )

    def peek(self, limit: int | None = None) -> list[DeadLetter]:
        """Up to ``limit`` parked messages (all by default); they stay in the queue, visible again."""
        found: list[DeadLetter] = []
        while limit is None or len(found) < limit:
            received = self._receive(SEND_BATCH_LIMIT if limit is None else limit - len(found))
            if not received:
                break
            found += received
        self._release([f.receipt_handle for f in found])
        return found

    def purge(self, matches: Callable[[str], bool], limit: int = PURGE_SCAN_LIMIT) -> PurgeOutcome:
        """Delete the messages whose body ``matches`` (an erased shopper's), leave the rest as they were.

        SQS cannot edit or search a message: each is received (hidden for ``PURGE_VISIBILITY_S``),
        the matching ones deleted, and the others made visible again at once; they keep their reason,
        source and first-seen time, which a re-send would lose. Messages another reader holds at the
        time (a redrive in progress) are not seen: ingest and delivery drop those by the erasure marker.
        """
        deleted = seen = 0
        kept: dict[str, str] = {}  # message id → receipt handle, made visible again at the end
        while seen < limit:
            received = self._receive_raw(SEND_BATCH_LIMIT, PURGE_VISIBILITY_S)
            fresh = [m for m in received if m["MessageId"] not in kept]
            kept.update((m["MessageId"], m["ReceiptHandle"]) for m in received if m["MessageId"] in kept)
            if not fresh:
                break
            seen += len(fresh)
            doomed = []
            for message in fresh:
                if matches(message["Body"]):
                    doomed.append(message["ReceiptHandle"])
                else:
                    kept[message["MessageId"]] = message["ReceiptHandle"]
            if doomed:
                self._client.delete_message_batch(
                    QueueUrl=self.url,
                    Entries=[{"Id": str(i), "ReceiptHandle": handle} for i, handle in enumerate(doomed)],
                )
                deleted += len(doomed)
        self._release(list(kept.values()))
        return PurgeOutcome(deleted=deleted, scanned=seen, complete=seen < limit)

    def _release(self, receipt_handles: Sequence[str]) -> None:
        for batch in chunks(list(receipt_handles), SEND_BATCH_LIMIT):
            self._client.change_message_visibility_batch(
                QueueUrl=self.url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                    for i, handle in enumerate(batch)
                ],
            )

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
