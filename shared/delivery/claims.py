"""The claim of a send key: what makes a send exactly-once, and what a redelivered job finds.

A send is claimed by writing its record into the shopper's contact ledger — the one conditional
write (on the ledger's version) that also decides the caps — before the provider is called; its
outcome goes to the send log after the call, with the batch's others. So a send key's state is read
from two places: the ledger's record (the claim, ``at`` its time) and the send log's entry.

==========================  ====================================  =====================================
ledger record               send-log entry                        state
==========================  ====================================  =====================================
any                         ``sent``                              decided: a duplicate
any                         ``outcome_unknown``                   unknown: parked again, never sent
none                        none, or ``failed``                   free: claim it
none                        ``claimed`` (a legacy claim)          open, since the entry's time
none                        any other decision                    decided (its record was pruned, or
                                                                  the decision sent nothing)
claim c                     ``failed`` under claim c              failed: that attempt sent nothing,
                                                                  claim again
claim c                     none, or anything else (another       open: in flight within the lease,
                            claim's failure, another copy's       crashed after it
                            decision: not this claim's outcome)
==========================  ====================================  =====================================

An open claim within :data:`CLAIM_LEASE` is in flight (the job is retried later); after it, the
attempt crashed, perhaps after the provider took the message: ``outcome_unknown``, parked, never
sent again (at most once). Each claim carries a token of its own (``SentRecord.claim``), and a
failed attempt logs the token of the claim it failed under: a failure is read as the claim's only
if the tokens match, so neither an older claim's failure nor that of an attempt whose own claim
write never landed (two attempts can claim in the same instant) lets a key be claimed again while
its claim may have sent. A decision another copy of the job logged is no outcome of a claim either.

Records are kept for :data:`CLAIM_HORIZON`, longer than a job can wait to be delivered again:
a job redelivered after a crash always finds its claim.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum, auto
from typing import Any
from zoneinfo import ZoneInfo

from shared.campaigns.jobs import DeliveryJob
from shared.campaigns.model import Campaign, ChannelName
from shared.campaigns.policy import DeliveryPolicy
from shared.core.vocabulary import DecisionStatus
from shared.delivery.decision import Blocker, open_slot
from shared.delivery.ports import SendLogEntry
from shared.deployment.topology import DELIVERY_QUEUE, DLQ_RETENTION_DAYS
from shared.profiles.ledger import WEEK, Ledger, SentRecord, prune
from shared.profiles.ports import LedgerStore

# Longer than the deliver function's timeout: a claim older than this with no outcome belongs to an
# attempt that crashed. Longer than the delivery queue's visibility timeout too, so the first
# redelivery of a crashed attempt's job still finds the lease running and retries once more.
CLAIM_LEASE = timedelta(minutes=5)
# The longest a job can wait between a claim and its next delivery: the rest of its time in the
# delivery queue, then parked in the dead-letter queue until it is redriven. A ledger keeps each
# record this long (and at least the caps' week), so a redelivered job still finds its claim.
CLAIM_HORIZON = timedelta(days=DELIVERY_QUEUE.retention_days + DLQ_RETENTION_DAYS)
LEDGER_RETENTION = max(WEEK, CLAIM_HORIZON)
# Each lost race on a ledger means another send for that shopper was recorded, so a delivery can lose
# at most as many times as the caps allow sends; past this, the job is retried by the queue.
MAX_LEDGER_ATTEMPTS = 12


class LedgerContention(RuntimeError):
    """Too many concurrent sends for one shopper; the queue retries the job."""


class ClaimState(Enum):
    FREE = auto()
    DECIDED = auto()
    UNKNOWN = auto()
    FAILED = auto()
    IN_FLIGHT = auto()
    CRASHED = auto()


@dataclass(frozen=True)
class Claim:
    """A send key's state; ``at``: the open claim's time (in flight or crashed)."""

    state: ClaimState
    at: datetime | None = None


def _instant(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _open(at: datetime | None, now: datetime) -> Claim:
    if at is None:  # an unreadable time: never declared a crash early
        return Claim(ClaimState.IN_FLIGHT, at)
    return Claim(ClaimState.IN_FLIGHT if at >= now - CLAIM_LEASE else ClaimState.CRASHED, at)


def claim_state(record: SentRecord | None, logged: SendLogEntry | None, now: datetime) -> Claim:
    """The send key's state from its ledger record (the claim) and its send-log entry (see above)."""
    status = logged.status if logged is not None else None
    if status == DecisionStatus.SENT:
        return Claim(ClaimState.DECIDED)
    if status == DecisionStatus.OUTCOME_UNKNOWN:
        return Claim(ClaimState.UNKNOWN)
    if record is None:
        if status == DecisionStatus.CLAIMED:
            return _open(_instant(logged.at), now)  # type: ignore[union-attr]
        if status is None or status == DecisionStatus.FAILED:
            return Claim(ClaimState.FREE)
        return Claim(ClaimState.DECIDED)
    if status == DecisionStatus.FAILED and _failed_under(record, logged):  # type: ignore[arg-type]
        return Claim(ClaimState.FAILED)
    return _open(record.at, now)


def _failed_under(record: SentRecord, failed: SendLogEntry) -> bool:
    """Whether the failed attempt ``failed`` logged is the one that made the claim ``record``."""
    if record.claim or failed.claim:
        return record.claim == failed.claim
    return _instant(failed.at) == record.at  # both logged before claims had tokens


def outcome_logged(record: SentRecord, item: Mapping[str, Any] | None) -> bool:
    """Whether the send log's item for ``record``'s key (as stored) holds an outcome of that claim:
    False for a claim in flight, or one whose attempt crashed before logging what it sent."""
    logged = None
    if item is not None:
        logged = SendLogEntry(
            str(item.get("user_id", "")),
            record.send_key,
            "",
            "",
            None,
            str(item["status"]),
            at=str(item.get("at", "")),
            claim=item.get("claim"),
        )
    # at the claim's own time an open claim reads "in flight", whatever its age
    return claim_state(record, logged, record.at).state != ClaimState.IN_FLIGHT


def new_claim() -> str:
    """A token for a new claim: unique among a send key's attempts."""
    return uuid.uuid4().hex[:16]


@dataclass(frozen=True)
class Claimed:
    """The send key is this attempt's now: ``record`` (its slot's channel, the claim's time and
    token); ``ledger``: the ledger as written."""

    record: SentRecord
    ledger: Ledger


@dataclass(frozen=True)
class Blocked:
    """The caps (or a suppression) leave no slot: nothing was claimed."""

    blocker: Blocker
    channel: ChannelName


@dataclass(frozen=True)
class Held:
    """The send key is not free: decided, unknown, or claimed by an attempt in flight or crashed."""

    claim: Claim
    record: SentRecord | None
    logged: SendLogEntry | None


@dataclass(frozen=True)
class ClaimRequest:
    """What a claim needs: the job, its campaign, the channels to try (the chosen one, then its
    fallbacks), the policy, the shopper's zone and the time."""

    job: DeliveryJob
    campaign: Campaign
    channels: Sequence[ChannelName]
    policy: DeliveryPolicy
    zone: ZoneInfo
    now: datetime


def claim_send(
    request: ClaimRequest,
    ledgers: LedgerStore,
    ledger: Ledger,
    logged: SendLogEntry | None,
    reread: Callable[[], Ledger],
    read_logged: Callable[[], SendLogEntry | None],
    write_failed: Callable[[SentRecord, Exception], None],
    release: Callable[[], None],
) -> Claimed | Blocked | Held:
    """Claim the send key and its cap slot with one conditional write of the ledger: decide the caps
    on it (:func:`open_slot`: the chosen channel, else a fallback) and write the send's record, if
    the ledger is still at the version read. A lost race reads the ledger again (``reread``; and the
    log, ``read_logged``, if the key was claimed meanwhile) and decides again. A write that fails
    calls ``write_failed`` (nothing was sent: a retry may claim the key) and raises; a failed claim
    the caps now block is given back (``release``)."""
    job, now = request.job, request.now
    for attempt in range(MAX_LEDGER_ATTEMPTS):
        record = ledger.send(job.send_key)
        claim = claim_state(record, logged, now)
        if claim.state not in (ClaimState.FREE, ClaimState.FAILED):
            return Held(claim, record, logged)
        # A failed claim sent nothing: decide as if it had never been made.
        view = ledger.without(job.send_key)
        slot = open_slot(view, request.campaign, job, request.channels, request.policy, now, request.zone)
        if slot.blocker is not None:
            if record is not None:
                release()  # the failed claim's slot goes back
            return Blocked(slot.blocker, slot.channel)
        token = new_claim()
        sent = SentRecord(now, slot.channel, request.campaign.id, request.campaign.level, job.send_key, token)
        keep = prune(view.sends, now, LEDGER_RETENTION)
        try:
            written = ledgers.record_send(ledger, sent, keep)
        except Exception as error:
            write_failed(sent, error)  # written or not, nothing was sent
            raise
        if written:
            return Claimed(sent, Ledger(ledger.user_id, (*keep, sent), ledger.suppressed, ledger.version + 1))
        if attempt:
            time.sleep(random.uniform(0, 0.005 * attempt))
        ledger = reread()
        if ledger.has_send(job.send_key):  # claimed meanwhile: what does the log say now?
            logged = read_logged()
    raise LedgerContention(f"ledger of one shopper kept changing over {MAX_LEDGER_ATTEMPTS} attempts")
