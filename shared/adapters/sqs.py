"""SQS adapters: work queues (delivery jobs, audience segments) and dead-letter parking."""

from __future__ import annotations

from collections.abc import Sequence
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
