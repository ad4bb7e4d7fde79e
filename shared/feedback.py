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


@dataclass(frozen=True)
class SesEvent:
    """The parts of an SES event that feedback reads, checked once."""

    kind: Any  # the eventType, as SES sent it
    detail: Mapping[str, Any]
    mail: Mapping[str, Any]
    user_id: str
    time: str


def read_ses_event(event: Mapping[str, Any]) -> SesEvent:
    """The event's detail, mail and tagged shopper; :class:`EventRejected` naming what is missing."""
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
    return SesEvent(kind, detail, mail, user_id, str(event.get("time") or ""))


def suppression_for(ses: SesEvent) -> Suppression | None:
    """The suppression a bounce or complaint event asks for; None for events that suppress nothing."""
    at = ses.time or str(ses.mail.get("timestamp") or "")
    source = f"ses:{_tag(ses.mail, 'campaign') or 'unknown'}"
    if ses.kind == "Bounce":
        bounce = ses.detail.get("bounce") or {}
        if bounce.get("bounceType") != "Permanent":
            return None
        return Suppression("bounced", at, f"{source}:{bounce.get('bounceSubType', '')}")
    if ses.kind == "Complaint":
        return Suppression("complained", at, source)
    return None


def engagement_of(ses: SesEvent) -> tuple[str, str, datetime] | None:
    """(SES message id, engagement, when) for an SES event Nudge measures; None otherwise."""
    kind = str(ses.kind or "")
    engagement = ENGAGEMENT.get(kind)
    message_id = ses.mail.get("messageId")
    if engagement is None or not isinstance(message_id, str) or not message_id:
        return None  # nothing to fold it into (a suppression still applies)
    section = ses.detail.get(kind[0].lower() + kind[1:])
    stamp = (section.get("timestamp") if isinstance(section, Mapping) else None) or ses.time or None
    try:
        at = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        raise EventRejected(f"SES {kind} event with an unreadable timestamp {stamp!r}") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return message_id, engagement, at


def apply_feedback(
    event: Mapping[str, Any], ledgers: LedgerStore, engagement: Engagement | None = None
) -> FeedbackOutcome:
    ses = read_ses_event(event)
    measured = engagement_of(ses)
    folded = None
    if measured is not None and engagement is not None:
        message_id, what, at = measured
        if engagement.engagement(ses.user_id, message_id, what, at):
            folded = what
    suppression = suppression_for(ses)
    if suppression is None:
        reason = "measured" if folded else "not a permanent bounce or a complaint"
        return FeedbackOutcome("ignored", reason, ses.user_id if measured else None, folded)
    ledgers.suppress(ses.user_id, "email", suppression)
    return FeedbackOutcome("suppressed", suppression.reason, ses.user_id, folded)
