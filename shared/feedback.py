"""SES feedback: permanent bounces and complaints suppress email for the shopper they were sent to.

SES publishes sending events to EventBridge through the configuration set; every email Nudge sends
carries a ``user_id`` tag, which SES repeats in the event, so the shopper is found without a
lookup by address. Transient bounces (mailbox full, greylisting) suppress nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.events import EventRejected
from shared.guards import Suppression
from shared.ports import LedgerStore


@dataclass(frozen=True)
class FeedbackOutcome:
    status: str  # "suppressed" | "ignored"
    reason: str
    user_id: str | None = None


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


def apply_feedback(event: Mapping[str, Any], ledgers: LedgerStore) -> FeedbackOutcome:
    found = suppression_for(event)
    if found is None:
        return FeedbackOutcome("ignored", "not a permanent bounce or a complaint")
    user_id, suppression = found
    ledgers.suppress(user_id, "email", suppression)
    return FeedbackOutcome("suppressed", suppression.reason, user_id)
