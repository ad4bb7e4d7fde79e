"""SES sending events as the configuration set's EventBridge destination puts them on the default bus.

moto's SES never emits these, so the demo's simulated shoppers and the tests build them here, in
the one shape the feedback rule and function see on AWS: the message's tags exactly as delivery
hands them to SES (``shared.delivery.ses_tags.email_tags``), and refused where SES would refuse them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.delivery.ses_tags import SES_TAG, as_event_tags, email_tags
from shared.deployment.invocations import SES_CONFIGURATION_SET_TAG
from shared.deployment.naming import DEFAULT_STACK_NAME, ResourceNames

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


class SesTagRefused(ValueError):
    """A tag SES's SendEmail would have refused, so no SES event could carry it."""


def _check_tags(mail: Mapping[str, Any]) -> None:
    for name, values in (mail.get("tags") or {}).items():
        for value in values:
            if not (SES_TAG.fullmatch(name) and SES_TAG.fullmatch(value)):
                raise SesTagRefused(f"SES refuses the message tag {name}={value!r}: [A-Za-z0-9_-]{{1,256}}")


def ses_event(
    kind: str,
    mail: Mapping[str, Any],
    *,
    time: str = "2026-11-02T09:00:00Z",
    event_id: str | None = None,
    configuration_set: str = ResourceNames(DEFAULT_STACK_NAME).configuration_set,
    **detail: Any,
) -> dict[str, Any]:
    """An SES ``kind`` event (``Delivery``, ``Open``, ``Bounce``, ...) about the message ``mail``;
    ``detail`` adds the event's own section, e.g. ``bounce={"bounceType": "Permanent"}``.

    SES publishes an event only through a configuration set, and tags its ``mail`` with the set's
    name (``ses:configuration-set``); by default the local runtime's, another to play a different
    application's mail on the same account."""
    _check_tags(mail)  # the tags delivery set; SES adds its own (with a colon) after SendEmail
    tags = {**mail.get("tags", {}), SES_CONFIGURATION_SET_TAG: [configuration_set]}
    return {
        "version": "0",
        "id": event_id or f"ses-{kind}-{mail.get('messageId', '')}-{time}",
        "detail-type": DETAIL_TYPES[kind],
        "source": "aws.ses",
        "account": ACCOUNT,
        "time": time,
        "region": REGION,
        "resources": [],
        "detail": {"eventType": kind, "mail": {**mail, "tags": tags}, **detail},
    }


def tagged_mail(
    user_id: str, campaign: str, message_id: str | None = None, send_key: str | None = None, **fields: Any
) -> dict[str, Any]:
    """The ``mail`` object of a message Nudge sent: its SES message id and the tags delivery set."""
    mail: dict[str, Any] = {"tags": as_event_tags(email_tags(campaign, user_id, send_key)), **fields}
    if message_id is not None:
        mail["messageId"] = message_id
    return mail
