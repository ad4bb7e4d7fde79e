"""SES sending events as the configuration set's EventBridge destination puts them on the default bus.

moto's SES never emits these, so the demo's simulated shoppers and the tests build them here, in
the one shape the feedback rule and function see on AWS.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
DETAIL_TYPES = {
    "Send": "Email Sent",
    "Delivery": "Email Delivered",
    "Open": "Email Opened",
    "Click": "Email Clicked",
    "Bounce": "Email Bounced",
    "Complaint": "Email Complaint Received",
}


def ses_event(
    kind: str,
    mail: Mapping[str, Any],
    *,
    time: str = "2026-11-02T09:00:00Z",
    event_id: str | None = None,
    **detail: Any,
) -> dict[str, Any]:
    """An SES ``kind`` event (``Delivery``, ``Open``, ``Bounce``, ...) about the message ``mail``;
    ``detail`` adds the event's own section, e.g. ``bounce={"bounceType": "Permanent"}``."""
    return {
        "version": "0",
        "id": event_id or f"ses-{kind}-{mail.get('messageId', '')}-{time}",
        "detail-type": DETAIL_TYPES[kind],
        "source": "aws.ses",
        "account": ACCOUNT,
        "time": time,
        "region": REGION,
        "resources": [],
        "detail": {"eventType": kind, "mail": dict(mail), **detail},
    }


def tagged_mail(user_id: str, campaign: str, message_id: str | None = None, **fields: Any) -> dict[str, Any]:
    """The ``mail`` object of a message Nudge sent: its SES message id and the tags delivery set."""
    mail: dict[str, Any] = {"tags": {"user_id": [user_id], "campaign": [campaign]}, **fields}
    if message_id is not None:
        mail["messageId"] = message_id
    return mail
