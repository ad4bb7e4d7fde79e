"""What moto recorded, read back for the integration tests (payloads: tests/payloads.py; the test shop's
campaigns and shoppers: tests/fakes.py)."""

from __future__ import annotations

from email import message_from_string
from email.message import EmailMessage
from email.policy import default

import boto3


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
