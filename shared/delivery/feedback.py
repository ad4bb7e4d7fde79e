"""SES feedback: bounces and complaints suppress email; deliveries, opens and clicks are measured.

SES publishes sending events to EventBridge through the configuration set; every email Nudge sends
carries the shopper and its send-log entry as tags (``shared.delivery.ses_tags``: encoded, so they map back to
exactly one id; a tag that does not is refused, never read as someone else's id). SES repeats them in
the event, so the shopper is found without a lookup by address. Transient bounces (mailbox full,
greylisting) suppress nothing. Mail sent before these tags carried a cleaned ``user_id`` tag: it is
believed only where the send log confirms that exact id sent that SES message.

Every event is also folded into the sent message's entry in the send log (the tagged entry, checked
against SES's message id, which delivery logged as the provider id): ``delivered_at``, ``opened_at``,
``clicked_at``, ``bounced_at``, ``complained_at`` keep their first time, so a repeated event changes
nothing. One conditional update per event; a bounce or complaint adds the ledger's.

SES's account-level suppression list: SES accepts a send to an address on it, does not attempt it,
and publishes a bounce (``OnAccountSuppressionList``), or a complaint with that sub-type. The
message's entry then reads ``suppressed`` (it was never sent) and the shopper's email is suppressed
with the reason :data:`ON_SES_SUPPRESSION_LIST`, so ``nudge why`` shows it and later sends stop here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.core.errors import EventRejected
from shared.core.vocabulary import Channel, DecisionStatus
from shared.delivery import ses_tags
from shared.measurement import attribution
from shared.measurement.ports import Engagement
from shared.privacy.erasure import ERASED, Erasures, suppress_unless_erased
from shared.profiles.ledger import Suppression
from shared.profiles.ports import LedgerStore

# SES event type → the engagement it records on the message.
ENGAGEMENT = {
    "Delivery": "delivered",
    "Open": "opened",
    "Click": "clicked",
    "Bounce": "bounced",
    "Complaint": "complained",
}
ON_SES_SUPPRESSION_LIST = "on_ses_suppression_list"
SES_LIST_SUBTYPE = "OnAccountSuppressionList"
ADDRESS_SUPPRESSED = "suppressed"  # FeedbackOutcome.status when the event suppressed the address


@dataclass(frozen=True)
class FeedbackOutcome:
    status: str  # ADDRESS_SUPPRESSED | "ignored"
    reason: str
    user_id: str | None = None
    engagement: str | None = None  # "delivered", "opened", ... when folded into the send log


@dataclass(frozen=True)
class SesEvent:
    """The parts of an SES event that feedback reads, checked once."""

    kind: Any  # the eventType, as SES sent it
    detail: Mapping[str, Any]
    mail: Mapping[str, Any]
    user_id: str
    time: str
    send_key: str | None = None  # the send-log entry, when the mail was tagged with it
    confirm: bool = False  # the id is a legacy cleaned tag: believed only if the send log agrees


def _shopper(tags: Mapping[str, Any], kind: Any) -> tuple[str, str | None, bool]:
    try:
        user_id = ses_tags.read_tag(tags, ses_tags.SHOPPER)
        send_key = ses_tags.read_tag(tags, ses_tags.SEND_KEY) if user_id is not None else None
    except ses_tags.UnreadableTag as error:
        raise EventRejected(f"SES {kind} event: {error}: does not map back to a shopper") from None
    if user_id is not None:
        return user_id, send_key, False
    legacy = ses_tags.event_tag(tags, ses_tags.LEGACY_USER_ID)
    if legacy is None:
        raise EventRejected(f"SES {kind} event for a message without a shopper tag (not sent by Nudge?)")
    return legacy, None, True


def read_ses_event(event: Mapping[str, Any]) -> SesEvent:
    """The event's detail, mail and tagged shopper; :class:`EventRejected` naming what is missing."""
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise EventRejected("SES event without a detail object")
    kind = detail.get("eventType")
    mail = detail.get("mail")
    if not isinstance(mail, Mapping):
        raise EventRejected(f"SES {kind} event without its mail object")
    tags = mail.get("tags")
    user_id, send_key, confirm = _shopper(tags if isinstance(tags, Mapping) else {}, kind)
    return SesEvent(kind, detail, mail, user_id, str(event.get("time") or ""), send_key, confirm)


def suppression_for(ses: SesEvent) -> Suppression | None:
    """The suppression a bounce or complaint event asks for; None for events that suppress nothing."""
    at = ses.time or str(ses.mail.get("timestamp") or "")
    campaign = ses_tags.event_tag(ses.mail.get("tags") or {}, ses_tags.CAMPAIGN)
    source = f"ses:{campaign or 'unknown'}"
    if ses.kind == "Bounce":
        bounce = ses.detail.get("bounce") or {}
        if bounce.get("bounceType") != "Permanent":
            return None
        subtype = str(bounce.get("bounceSubType", ""))
        reason = ON_SES_SUPPRESSION_LIST if subtype == SES_LIST_SUBTYPE else "bounced"
        return Suppression(reason, at, f"{source}:{subtype}")
    if ses.kind == "Complaint":
        complaint = ses.detail.get("complaint") or {}
        if complaint.get("complaintSubType") == SES_LIST_SUBTYPE:
            return Suppression(ON_SES_SUPPRESSION_LIST, at, f"{source}:{SES_LIST_SUBTYPE}")
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


def _reconcile(
    ses: SesEvent,
    engagement: Engagement,
    ledgers: LedgerStore,
    message_id: str,
    what: str,
    at: datetime,
    dropped: tuple[str, str] | None,
) -> bool:
    """The event proves SES took the message: record the send where the log has no outcome for it
    (the attempt crashed, or its outcome write failed). The ledger's claim gives the entry's fields."""
    if ses.send_key is None:
        return False  # mail tagged before send keys were: nothing to reconcile it with
    ledger = ledgers.get(ses.user_id)
    record = ledger.send(ses.send_key) if ledger is not None else None
    claim = None
    if record is not None:
        claim = {
            "campaign_id": record.campaign_id,
            "level": record.level,
            "channel": record.channel,
            "at": record.at.isoformat(),
            "group": attribution.TREATED,  # only the treated group is sent anything
        }
    source = f"SES {ses.kind}"
    return engagement.reconcile(ses.user_id, ses.send_key, message_id, what, at, source, claim, dropped)


def apply_feedback(
    event: Mapping[str, Any],
    ledgers: LedgerStore,
    engagement: Engagement | None = None,
    erasures: Erasures | None = None,
) -> FeedbackOutcome:
    ses = read_ses_event(event)
    measured = engagement_of(ses)
    suppression = suppression_for(ses)
    folded = None
    if measured is not None and engagement is not None:
        message_id, what, at = measured
        dropped = None
        if suppression is not None and suppression.reason == ON_SES_SUPPRESSION_LIST:
            dropped = (
                DecisionStatus.SUPPRESSED,
                f"{Channel.EMAIL}:{ON_SES_SUPPRESSION_LIST}",
            )  # SES never attempted it
        recorded = engagement.engagement(ses.user_id, message_id, what, at, ses.send_key, dropped)
        if recorded or _reconcile(ses, engagement, ledgers, message_id, what, at, dropped):
            folded = what
    if ses.confirm and folded is None:
        raise EventRejected(
            f"SES {ses.kind} event: tag {ses_tags.LEGACY_USER_ID} (mail tagged before exact tags) does "
            "not map back to a shopper: the send log has no such message for that id"
        )
    if suppression is None:
        reason = "measured" if folded else "not a permanent bounce or a complaint"
        return FeedbackOutcome("ignored", reason, ses.user_id if measured else None, folded)
    # A message sent before its shopper was erased writes no ledger row again (shared/privacy/erasure.py).
    destination = ses.mail.get("destination")
    addresses = [a for a in destination if isinstance(a, str)] if isinstance(destination, list) else []
    sent_at = str(ses.mail.get("timestamp") or "") or None
    if suppress_unless_erased(ledgers, erasures, ses.user_id, Channel.EMAIL, suppression, sent_at, addresses):
        return FeedbackOutcome(
            ADDRESS_SUPPRESSED, f"{suppression.reason}: kept hashed ({ERASED})", None, folded
        )
    return FeedbackOutcome(ADDRESS_SUPPRESSED, suppression.reason, ses.user_id, folded)
