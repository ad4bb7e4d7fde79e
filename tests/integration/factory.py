"""Builders for Segment payloads used across the integration tests."""

from __future__ import annotations

from email import message_from_string
from email.message import EmailMessage
from email.policy import default
from typing import Any

import boto3


def identify(
    user_id: str, message_id: str, at: str = "2026-11-02T07:00:00Z", **traits: Any
) -> dict[str, Any]:
    return {"type": "identify", "userId": user_id, "messageId": message_id, "timestamp": at, "traits": traits}


def track(
    user_id: str, name: str, message_id: str, at: str = "2026-11-02T07:30:00Z", **props: Any
) -> dict[str, Any]:
    return {
        "type": "track",
        "event": name,
        "userId": user_id,
        "messageId": message_id,
        "timestamp": at,
        "properties": props,
    }


def ses_sent_count() -> int:
    return int(boto3.client("ses", region_name="us-east-1").get_send_quota()["SentLast24Hours"])


def sent_emails() -> list[EmailMessage]:
    """The emails SES accepted (moto keeps the raw MIME we built), parsed."""
    from moto.ses.models import ses_backends

    backend = ses_backends["123456789012"]["us-east-1"]
    return [
        message_from_string(m.raw_data, policy=default)  # type: ignore[misc]
        for m in backend.sent_messages
        if hasattr(m, "raw_data")
    ]


def email_text(message: EmailMessage, subtype: str = "html") -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None
    return str(part.get_content())
