"""SES feedback: bounces and complaints suppress email; deliveries, opens and clicks are measured.

SES publishes sending events to EventBridge through the configuration set; every email Nudge sends
carries a ``user_id`` tag, which SES repeats in the event, so the shopper is found without a
lookup by address. Transient bounces (mailbox full, greylisting) suppress nothing.

Every event is also folded into the sent message's entry in the send log (found by SES's message
id, which delivery logged as the provider id): ``delivered_at``, ``opened_at``, ``clicked_at``,
``bounced_at``, ``complained_at`` keep their first time, so a repeated event changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.events import EventRejected
from shared.guards import Suppression
from shared.ports import Engagement, LedgerStore

# SES event type → the engagement it records on the message.
ENGAGEMENT = {
    "Delivery": "delivered",
    "Open": "opened",
    "Click": "clicked",
    "Bounce": "bounced",
    "Complaint": "complained",
}


@dataclass(frozen=True)
class FeedbackOutcome:
    status: str  # "suppressed" | "ignored"
    reason: str
    user_id: str | None = None
    engagement: str | None = None  # "delivered", "opened", ... when folded into the send log


def _tag(mail: Mapping[str, Any], name: str) -> str | None:
    values = (mail.get("tags") or {}).get(name)
    if isinstance(values, list) and values and isinstance(values[0], str):
        return values[0]
    return None


def suppression_for(event: Mapping[str, Any]) -> tuple[str, Suppression] | None:
    """(user id, suppression) for a bounce or complaint event; None for events that suppress nothing."""
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise EventRejected("SES event without a detail object")
    kind = detail.get("eventType")
    mail = detail.get("mail")
    if not isinstance(mail, Mapping):
        raise EventRejected(f"SES {kind} event without its mail object")
    user_id = _tag(mail, "user_id")
    if user_id is None:
        raise EventRejected(f"SES {kind} event for a message without a user_id tag (not sent by Nudge?)")
    at = str(event.get("time") or mail.get("timestamp") or "")
    source = f"ses:{_tag(mail, 'campaign') or 'unknown'}"
    if kind == "Bounce":
        bounce = detail.get("bounce") or {}
        if bounce.get("bounceType") != "Permanent":
            return None
        return user_id, Suppression("bounced", at, f"{source}:{bounce.get('bounceSubType', '')}")
    if kind == "Complaint":
        return user_id, Suppression("complained", at, source)
    return None


def engagement_of(event: Mapping[str, Any]) -> tuple[str, str, str, datetime] | None:
    """(user id, SES message id, engagement, when) for an SES event Nudge measures; None otherwise."""
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise EventRejected("SES event without a detail object")
    kind = str(detail.get("eventType", ""))
    engagement = ENGAGEMENT.get(kind)
    mail = detail.get("mail")
    if engagement is None or not isinstance(mail, Mapping):
        return None
    user_id, message_id = _tag(mail, "user_id"), mail.get("messageId")
    if user_id is None:
        raise EventRejected(f"SES {kind} event for a message without a user_id tag (not sent by Nudge?)")
    if not isinstance(message_id, str) or not message_id:
        return None  # nothing to fold it into (a suppression still applies)
    section = detail.get(kind[0].lower() + kind[1:])
    stamp = (section.get("timestamp") if isinstance(section, Mapping) else None) or event.get("time")
    try:
        at = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        raise EventRejected(f"SES {kind} event with an unreadable timestamp {stamp!r}") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return user_id, message_id, engagement, at


def apply_feedback(
    event: Mapping[str, Any], ledgers: LedgerStore, engagement: Engagement | None = None
) -> FeedbackOutcome:
    measured = engagement_of(event)
    folded = None
    if measured is not None and engagement is not None:
        user_id, message_id, what, at = measured
        if engagement.engagement(user_id, message_id, what, at):
            folded = what
    found = suppression_for(event)
    if found is None:
        reason = "measured" if folded else "not a permanent bounce or a complaint"
        return FeedbackOutcome("ignored", reason, measured[0] if measured else None, folded)
    user_id, suppression = found
    ledgers.suppress(user_id, "email", suppression)
    return FeedbackOutcome("suppressed", suppression.reason, user_id, folded)
