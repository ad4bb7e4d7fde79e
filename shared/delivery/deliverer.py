"""Delivery: the one place that decides whether a message goes out, renders it and sends it.

Every job ends in exactly one logged decision per send key, with its reason (``nudge why`` reads
them back). The decision itself is :func:`shared.delivery.decision.decide`, a pure function ``nudge
simulate`` calls too; the deliverer reads what it needs, calls it and does what it says:

1. ``erased``: a job for a shopper erased since it was made is dropped, nothing written. An L4 job
   for a shopper whose profile ingest has not written yet waits for it (:mod:`shared.delivery.profile_wait`),
   and is parked with the reason if it never comes.
2. ``skipped`` (unknown shopper, inactive campaign), ``cancelled`` (a delayed L4 trigger whose reason
   went away), ``withheld_holdout``, ``no_consent`` / ``suppressed`` / ``skipped`` (no channel reaches
   the shopper): logged as :func:`decide` found them.
3. ``deferred_quiet_hours``: email and push inside the shopper's quiet hours wait, through a
   one-time schedule, until the hours end (the deferral is logged beside the send key).
4. ``duplicate``: the deterministic send key is claimed with a conditional write before anything is
   sent, so a job SQS delivers twice sends once. A claim whose outcome was never recorded is either
   in flight (within its lease: the job is retried later) or belongs to an attempt that crashed,
   perhaps after the provider took the message: ``outcome_unknown``, parked, never sent again
   (at most once; see docs/reliability.md).
5. ``capped``: under the claim, the caps are decided again on the shopper's contact ledger
   (:func:`shared.delivery.decision.open_slot`, with the fallback to the next channel) and the send is
   recorded in it with one conditional write; two deliveries racing for the last slot cannot both win.
6. ``sent`` or ``failed``: permanent provider errors are parked at once, transient ones retried by
   the queue and parked with the reason on the last attempt.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from shared.campaigns.jobs import DeliveryJob
from shared.campaigns.loader import Catalog
from shared.campaigns.model import Campaign, ChannelName
from shared.campaigns.render import render_message
from shared.core.clock import Clock
from shared.core.errors import OutcomeUnknown, PermanentDeliveryError, SendInFlight
from shared.core.identity import is_anonymous
from shared.core.vocabulary import Channel
from shared.delivery.batch import BatchOutcomes, BatchReads, kept_keys, read_batch, record_outcomes
from shared.delivery.decision import (
    CANCELLED,
    CAPPED,
    CLAIMED,
    DECISIONS,
    DEFERRED,
    DUPLICATE,
    ERASED,
    FAILED,
    NO_CONSENT,
    OUTCOME_UNKNOWN,
    SENT,
    SKIPPED,
    SUPPRESSED,
    WITHHELD,
    Blocker,
    choose_channel,
    decide,
    open_slot,
    reachable_channels,
)
from shared.delivery.guards import shopper_zone
from shared.delivery.message_context import Unsubscribe, template_context
from shared.delivery.ports import Deferrals, MessageChannel, SendLog, SendLogEntry
from shared.delivery.profile_wait import WAITING_FOR_PROFILE, never_arrived, next_look
from shared.privacy.erasure import ERASED as ERASED_REASON
from shared.privacy.erasure import Erasures
from shared.profiles.kept import KeptRecord
from shared.profiles.ledger import Ledger, SentRecord, prune
from shared.profiles.ports import LedgerStore, ProfileStore
from shared.profiles.profile import Profile
from shared.work.failures import reason_of

# The decisions and the channel choice live in shared.delivery.decision; named here too for the
# callers that ask delivery about them.
__all__ = [
    "CANCELLED",
    "CAPPED",
    "DECISIONS",
    "NO_CONSENT",
    "SUPPRESSED",
    "WITHHELD",
    "Deliverer",
    "SendDecision",
    "choose_channel",
    "reachable_channels",
]

# Longer than the deliver function's timeout: a claim older than this with no outcome belongs to an
# attempt that crashed. Longer than the delivery queue's visibility timeout too, so the first
# redelivery of a crashed attempt's job still finds the lease running and retries once more.
CLAIM_LEASE = timedelta(minutes=5)
# Each lost race on a ledger means another send for that shopper was recorded, so a delivery can lose
# at most as many times as the caps allow sends; past this, the job is retried by the queue.
MAX_LEDGER_ATTEMPTS = 12


class LedgerContention(RuntimeError):
    """Too many concurrent sends for one shopper; the queue retries the job."""


@dataclass(frozen=True)
class SendDecision:
    status: str
    reason: str | None = None
    channel: ChannelName | None = None
    provider_message_id: str | None = None


@dataclass
class Deliverer:
    """Delivers jobs one by one; inside :meth:`batch`, with one profile read, one ledger read and one
    outcome write per batch."""

    catalog: Catalog
    profiles: ProfileStore
    send_log: SendLog
    channels: Mapping[str, MessageChannel]
    clock: Clock
    ledgers: LedgerStore
    deferrals: Deferrals
    unsubscribe: Unsubscribe | None = None
    erasures: Erasures | None = None
    _reads: BatchReads | None = field(default=None, init=False, repr=False)
    _completed: list[SendLogEntry] | None = field(default=None, init=False, repr=False)

    @contextmanager
    def batch(self, user_ids: Sequence[str]) -> Iterator[BatchOutcomes]:
        """Read the batch's profiles and ledgers up front; record its outcomes in one request at the end.

        Each send is still claimed with its own conditional write before the provider is called. If
        the batch read fails, each job reads its own (and fails alone). If the outcome record fails,
        the yielded :class:`BatchOutcomes` lists those outcomes for the caller to park: their claims
        would refuse a retry, which could not record them either.
        """
        unique = list(dict.fromkeys(user_ids))
        outcomes = BatchOutcomes()
        try:
            self._reads = read_batch(unique, self.profiles, self.ledgers, self.erasures)
        except Exception:
            self._reads = None
        self._completed = []
        try:
            yield outcomes
        finally:
            completed, self._completed, self._reads = self._completed, None, None
            if completed:
                outcomes.unrecorded = record_outcomes(self.send_log, completed)

    def _read(self, user_id: str) -> BatchReads | None:
        """The batch's reads, if they cover this shopper (else each job reads its own)."""
        reads = self._reads
        return reads if reads is not None and user_id in reads.user_ids else None

    def _profile(self, user_id: str) -> Profile | None:
        reads = self._read(user_id)
        return reads.profiles.get(user_id) if reads is not None else self.profiles.get(user_id)

    def _ledger(self, user_id: str) -> Ledger:
        reads = self._read(user_id)
        ledger = reads.ledgers.get(user_id) if reads is not None else self.ledgers.get(user_id)
        return ledger or Ledger(user_id)

    def _kept_records(self, user_id: str, profile: Profile | None) -> dict[str, KeptRecord]:
        """What erasure kept about the shopper: read with the batch's ledgers, else key by key (the
        fallback when the batch read failed)."""
        if self.erasures is None:
            return {}
        reads = self._read(user_id)
        if reads is not None:
            return reads.kept
        found = {k: self.erasures.records.get(k) for k in kept_keys(self.erasures, user_id, profile)}
        return {k: r for k, r in found.items() if r is not None}

    def _erased_since(self, job: DeliveryJob, kept: dict[str, KeptRecord]) -> bool:
        marker = self.erasures.marker(job.user_id, kept) if self.erasures is not None else None
        return marker is not None and marker.erased_since(job.origin)

    def _complete(self, entry: SendLogEntry) -> None:
        if self._completed is not None:
            self._completed.append(entry)
        else:
            self.send_log.complete(entry)

    def deliver(self, job: DeliveryJob) -> SendDecision:
        job = self._after_login(job)
        campaign = self.catalog.get(job.campaign_id)
        if campaign is None:
            raise PermanentDeliveryError(f"unknown campaign {job.campaign_id!r}")
        now = self.clock.now()
        entry = SendLogEntry(
            user_id=job.user_id,
            send_key=job.send_key,
            campaign_id=campaign.id,
            level=campaign.level,
            channel=None,
            status=SKIPPED,
            at=now.isoformat(),
            occurrence=job.occurrence,
        )
        profile = self._profile(job.user_id)
        kept = self._kept_records(job.user_id, profile)
        if self._erased_since(job, kept):
            return SendDecision(ERASED, ERASED_REASON)  # nothing is written: the shopper is erased
        if profile is None and job.trigger is not None:
            return self._await_profile(job, now)

        @cache
        def contacts() -> Ledger:
            ledger = self._ledger(job.user_id)
            if self.erasures is not None and profile is not None:
                # an opt-out outlives the erasure of the shopper who gave it
                ledger = self.erasures.with_kept_suppressions(ledger, profile.traits, kept)
            return ledger

        policy = self.catalog.policy
        decision = decide(job, campaign, profile, contacts, policy, now)
        entry = replace(entry, group=decision.group)
        if decision.status == DEFERRED:
            assert decision.defer_until is not None
            return self._defer(job, replace(entry, channel=decision.channel), decision.defer_until)
        if not decision.reaches_caps:
            return self._decide(entry, decision.status, decision.reason or "")
        assert profile is not None
        channel = decision.channels[0]
        entry = replace(entry, channel=channel)

        def unsubscribe_for(on: ChannelName) -> str | None:
            return (
                self.unsubscribe.url(job.user_id, on, campaign.id)
                if self.unsubscribe and on == Channel.EMAIL
                else None
            )

        unsubscribe_url = unsubscribe_for(channel)
        message = render_message(
            campaign, channel, job.send_key, template_context(campaign, profile, job, now, unsubscribe_url)
        )
        claimed = replace(entry, status=CLAIMED)
        holder = self.send_log.claim(claimed)
        if holder is not None:
            return self._held(job, entry, holder, now)
        try:
            zone = shopper_zone(profile.traits, policy)
            blocked_by, reserved = self._reserve(contacts(), campaign, job, decision.channels, zone, now)
            if reserved != channel:
                channel, unsubscribe_url = reserved, unsubscribe_for(reserved)
                context = template_context(campaign, profile, job, now, unsubscribe_url)
                message = render_message(campaign, channel, job.send_key, context)
        except Exception as error:
            # Nothing was sent: free the claim so the queue's retry can send (a failure to free it
            # leaves the claim to expire into ``outcome_unknown``, never into a second send).
            reason = f"before sending: {reason_of(error)}"
            self.send_log.complete(replace(claimed, status=FAILED, reason=reason[:500]))
            raise
        claimed = replace(claimed, channel=channel)
        if blocked_by is not None:
            status, reason = blocked_by
            self._complete(replace(claimed, status=status, reason=reason))
            return SendDecision(status, reason, channel)
        recipient = {
            **profile.traits,
            "user_id": profile.user_id,
            "now": now,
            "unsubscribe_url": unsubscribe_url,
        }
        try:
            provider_id = self.channels[channel].send(message, recipient)
        except Exception as error:
            self.send_log.complete(replace(claimed, status=FAILED, reason=reason_of(error)[:500]))
            if isinstance(error, PermanentDeliveryError):
                self.ledgers.release(job.user_id, job.send_key)
            raise
        self._complete(replace(claimed, status=SENT, reason=None, provider_message_id=provider_id))
        return SendDecision(SENT, None, channel, provider_id)

    def _after_login(self, job: DeliveryJob) -> DeliveryJob:
        """A real-time job made for an anonymous visitor (a trigger before they logged in) is decided for
        the shopper they logged in as since (shared/profiles/merge.py), on the profile their history
        joined."""
        if job.trigger is None or not is_anonymous(job.user_id):  # a batch job is for the profile it chose
            return job
        visitor = self._profile(job.user_id)
        if visitor is None or visitor.linked_to is None:
            return job
        return job.model_copy(update={"user_id": visitor.linked_to})

    def _held(
        self, job: DeliveryJob, entry: SendLogEntry, holder: SendLogEntry, now: datetime
    ) -> SendDecision:
        """The send key is someone else's: a decision (a duplicate job), a send in flight, or a crash."""
        in_this_batch = self._completed is not None and any(
            e.send_key == job.send_key for e in self._completed
        )
        if holder.status in (CLAIMED, OUTCOME_UNKNOWN) and not in_this_batch:
            if holder.status == CLAIMED and holder.at >= (now - CLAIM_LEASE).isoformat():
                raise SendInFlight(
                    f"claimed at {holder.at} with no outcome recorded: in flight, or a possible send "
                    "if that attempt crashed"
                )
            reason = f"outcome unknown after crash: possible send at {holder.at}"
            if holder.status == CLAIMED:
                self.send_log.complete(replace(holder, status=OUTCOME_UNKNOWN, reason=reason))
            raise OutcomeUnknown(reason)
        # Logged beside the send key: the original decision stays as it was.
        self.send_log.complete(replace(entry, send_key=f"{job.send_key}#duplicate", status=DUPLICATE))
        return SendDecision(DUPLICATE, "already_sent_or_in_flight", entry.channel)  # type: ignore[arg-type]

    def _reserve(
        self,
        ledger: Ledger,
        campaign: Campaign,
        job: DeliveryJob,
        channels: Sequence[ChannelName],
        zone: ZoneInfo,
        now: datetime,
    ) -> tuple[Blocker | None, ChannelName]:
        """Decide the caps on the ledger (:func:`open_slot`: the chosen channel, else a fallback) and
        record the send in it, atomically: a lost race re-reads the ledger and decides again.
        Returns the blocker (None if reserved) and the channel."""
        for attempt in range(MAX_LEDGER_ATTEMPTS):
            slot = open_slot(ledger, campaign, job, channels, self.catalog.policy, now, zone)
            if slot.blocker is not None or slot.recorded:
                return slot.blocker, slot.channel
            record = SentRecord(now, slot.channel, campaign.id, campaign.level, job.send_key)
            kept = prune(ledger.sends, now)
            if self.ledgers.record_send(ledger, record, kept):
                if self._reads is not None:
                    self._reads.ledgers[ledger.user_id] = Ledger(
                        ledger.user_id, (*kept, record), ledger.suppressed, ledger.version + 1
                    )
                return None, slot.channel
            if attempt:
                time.sleep(random.uniform(0, 0.005 * attempt))
            ledger = self.ledgers.get(ledger.user_id) or Ledger(ledger.user_id)
        raise LedgerContention(f"ledger of one shopper kept changing over {MAX_LEDGER_ATTEMPTS} attempts")

    def _await_profile(self, job: DeliveryJob, now: datetime) -> SendDecision:
        """Look for the profile again later (ingest may not have folded the event yet), or give up."""
        since = job.profile_wait_since or now
        at = next_look(since, now)
        if at is None:
            raise never_arrived(since, now)
        body = job.model_copy(update={"profile_wait_since": since}).model_dump_json()
        self.deferrals.defer(
            job.user_id, f"{job.send_key}#profile@{at.isoformat()}", body, at, flexible=False
        )
        return SendDecision(WAITING_FOR_PROFILE, f"until {at.isoformat()}")

    def _defer(self, job: DeliveryJob, entry: SendLogEntry, until: datetime) -> SendDecision:
        body = job.model_copy(update={"not_before": until}).model_dump_json()
        self.deferrals.defer(job.user_id, f"{job.send_key}@{until.isoformat()}", body, until)
        self.send_log.complete(
            replace(
                entry,
                send_key=f"{job.send_key}#deferred",
                status=DEFERRED,
                reason=f"until {until.isoformat()}",
            )
        )
        return SendDecision(DEFERRED, f"until {until.isoformat()}", entry.channel)  # type: ignore[arg-type]

    def _decide(self, entry: SendLogEntry, status: str, reason: str) -> SendDecision:
        self.send_log.record(replace(entry, status=status, reason=reason))
        return SendDecision(status, reason, entry.channel)  # type: ignore[arg-type]
