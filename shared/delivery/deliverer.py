"""Delivery: the one place that decides whether a message goes out, renders it and sends it.

Every job ends in exactly one logged decision per send key, with its reason (``nudge why`` reads
them back). The decision itself is :func:`shared.delivery.decision.decide`, a pure function ``nudge
simulate`` calls too; the deliverer reads what it needs, calls it and does what it says:

1. ``erased``: a job for a shopper erased since it was made is dropped, nothing written. An L4 job
   for a shopper whose profile ingest has not written yet waits for it (:mod:`shared.delivery.profile_wait`),
   and is parked with the reason if it never comes.
2. ``skipped`` (unknown shopper, inactive campaign), ``cancelled`` (a delayed L4 trigger whose reason
   went away), ``withheld_global_control``, ``withheld_holdout``, ``no_consent`` / ``suppressed`` /
   ``skipped`` (no channel reaches the shopper): logged as :func:`decide` found them, with the
   variant the shopper drew when the send step has an experiment.
3. ``deferred_send_time``: a variant with its own send time waits for it, through a one-time
   schedule named from the send key (a duplicate job makes no second), keeping its variant;
   ``deferred_quiet_hours``: email and push inside the shopper's quiet hours wait, through a
   one-time schedule, until the hours end (either deferral is logged beside the send key).
4. ``duplicate``: a send is claimed before anything is sent, and the claim is the ledger write of
   step 5: the send's record, written into the shopper's contact ledger with one conditional write,
   holds its deterministic send key. A job SQS delivers twice finds the key held (or its outcome
   logged) and sends nothing; a claim whose outcome was never logged is in flight (within its lease:
   the job is retried later) or belongs to an attempt that crashed, perhaps after the provider took
   the message: ``outcome_unknown``, parked, never sent again (at most once). The states, and why
   they are exact: :mod:`shared.delivery.claims` and docs/reliability.md.
5. ``capped``: the caps are decided again on the shopper's contact ledger
   (:func:`shared.delivery.decision.open_slot`, with the fallback to the next channel) and the send is
   recorded in it with that one conditional write: two deliveries racing for the last slot cannot
   both win, and the loser decides again on the ledger as the winner left it.
6. ``sent`` or ``failed``: permanent provider errors are parked at once, transient ones retried by
   the queue (the failed claim is claimed again) and parked with the reason on the last attempt.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache

from shared.campaigns.jobs import DeliveryJob
from shared.campaigns.loader import Catalog
from shared.campaigns.model import ChannelName
from shared.campaigns.render import render_message
from shared.catalog.ports import ProductCatalog
from shared.core.clock import Clock
from shared.core.errors import OutcomeUnknown, PermanentDeliveryError, SendInFlight
from shared.core.identity import is_anonymous
from shared.core.vocabulary import Channel
from shared.delivery.batch import BatchOutcomes, BatchReads, kept_keys, read_batch, record_outcomes
from shared.delivery.claims import (
    Blocked,
    Claim,
    ClaimRequest,
    ClaimState,
    Held,
    claim_send,
    claim_state,
)
from shared.delivery.decision import (
    CANCELLED,
    CAPPED,
    DECISIONS,
    DEFERRED,
    DEFERRED_SEND_TIME,
    DUPLICATE,
    ERASED,
    FAILED,
    NO_CONSENT,
    OUTCOME_UNKNOWN,
    SENT,
    SKIPPED,
    SUPPRESSED,
    WITHHELD,
    WITHHELD_GLOBAL,
    Decision,
    choose_channel,
    decide,
    deferred_job,
    journey_step,
    reachable_channels,
)
from shared.delivery.guards import shopper_zone
from shared.delivery.message_context import Unsubscribe, products_for, template_context
from shared.delivery.ports import Deferrals, DeliveryLedgers, MessageChannel, SendLog, SendLogEntry
from shared.delivery.profile_wait import WAITING_FOR_PROFILE, look_again
from shared.experiments.store import LiveWeights
from shared.privacy.erasure import ERASED as ERASED_REASON
from shared.privacy.erasure import Erasures
from shared.profiles.kept import KeptRecord
from shared.profiles.ledger import Ledger, SentRecord
from shared.profiles.ports import ProfileStore
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


@dataclass(frozen=True)
class SendDecision:
    status: str
    reason: str | None = None
    channel: ChannelName | None = None
    provider_message_id: str | None = None


@dataclass
class Deliverer:
    """Delivers jobs one by one; inside :meth:`batch`, with one profile read, one read of the ledgers
    and send-log entries, and one outcome write per batch."""

    catalog: Catalog
    profiles: ProfileStore
    send_log: SendLog
    channels: Mapping[str, MessageChannel]
    clock: Clock
    ledgers: DeliveryLedgers
    deferrals: Deferrals
    unsubscribe: Unsubscribe | None = None
    erasures: Erasures | None = None
    experiments: LiveWeights | None = None  # the reviewed weights (winner, bandit), else the file's
    products: ProductCatalog | None = None  # the catalog its messages show products from
    _reads: BatchReads | None = field(default=None, init=False, repr=False)
    _completed: list[SendLogEntry] | None = field(default=None, init=False, repr=False)

    @contextmanager
    def batch(self, jobs: Sequence[tuple[str, str]]) -> Iterator[BatchOutcomes]:
        """Read the batch's profiles, ledgers and send-log entries up front (``jobs``: (user id, send
        key) pairs); record its outcomes in one request at the end.

        Each send is still claimed with its own conditional write (the ledger's) before the provider
        is called. If the batch read fails, each job reads its own (and fails alone). If the outcome
        record fails, the yielded :class:`BatchOutcomes` lists those outcomes for the caller to park:
        their claims would hold a retry off, which could not record them either.
        """
        outcomes = BatchOutcomes()
        try:
            self._reads = read_batch(jobs, self.profiles, self.ledgers, self.erasures)
        except Exception:
            self._reads = None
        self._completed = []
        try:
            yield outcomes
        finally:
            completed, self._completed, self._reads = self._completed, None, None
            if completed:
                outcomes.unrecorded = record_outcomes(self.send_log, completed, outcomes, self.experiments)

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

    def _logged(self, job: DeliveryJob) -> SendLogEntry | None:
        """The send-log entry of the job's send key: as the batch read it (and wrote it since), else read."""
        reads = self._read(job.user_id)
        if reads is not None and (job.user_id, job.send_key) in reads.send_keys:
            return reads.entries.get((job.user_id, job.send_key))
        return self.send_log.get(job.user_id, job.send_key)

    def _note(self, entry: SendLogEntry) -> None:
        """Keep the batch's view of the send log up to date with what it wrote (a second copy of a job
        in the same batch reads it)."""
        if self._reads is not None:
            self._reads.entries[(entry.user_id, entry.send_key)] = entry

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

    def _with_kept(self, ledger: Ledger, profile: Profile | None, kept: dict[str, KeptRecord]) -> Ledger:
        if self.erasures is not None and profile is not None:
            # an opt-out outlives the erasure of the shopper who gave it
            return self.erasures.with_kept_suppressions(ledger, profile.traits, kept)
        return ledger

    def _erased_since(self, job: DeliveryJob, kept: dict[str, KeptRecord]) -> bool:
        marker = self.erasures.marker(job.user_id, kept) if self.erasures is not None else None
        return marker is not None and marker.erased_since(job.origin)

    def _release(self, job: DeliveryJob) -> None:
        """Give back the slot (the claim) of a send that was not made."""
        self.ledgers.release(job.user_id, job.send_key)
        reads = self._read(job.user_id)
        if reads is not None and job.user_id in reads.ledgers:
            # Its version is stale now: the next claim in this batch reads the ledger again.
            reads.ledgers[job.user_id] = reads.ledgers[job.user_id].without(job.send_key)

    def _complete(self, entry: SendLogEntry) -> None:
        self._note(entry)
        if self._completed is not None:
            self._completed.append(entry)
        else:
            self.send_log.complete(entry)

    def _record(self, entry: SendLogEntry) -> SendLogEntry | None:
        """Log ``entry`` unless the key has an outcome already; the entry that holds it if so."""
        holder = self.send_log.record(entry)
        self._note(entry if holder is None else holder)
        return holder

    def deliver(self, job: DeliveryJob) -> SendDecision:
        job = self._after_login(job)
        campaign = self.catalog.get(job.campaign_id)
        if campaign is None:
            raise PermanentDeliveryError(f"unknown campaign {job.campaign_id!r}")
        if job.step is not None:
            campaign = journey_step(campaign, job.step)
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
            at = look_again(self.deferrals, job, now)  # ingest may not have folded the event yet
            return SendDecision(WAITING_FOR_PROFILE, f"until {at.isoformat()}")

        @cache
        def contacts() -> Ledger:
            return self._with_kept(self._ledger(job.user_id), profile, kept)

        policy = self.catalog.policy
        weights = self.experiments.for_send(campaign, job, now) if self.experiments else None
        decision = decide(job, campaign, profile, contacts, policy, now, weights)
        send_at = decision.send_at.isoformat() if decision.send_at else None
        entry = replace(
            entry,
            group=decision.group,
            variant=decision.variant,
            experiment=decision.experiment,
            send_at=send_at,
        )
        if decision.variant is not None:
            campaign = campaign.variant_campaign(decision.variant)
        if decision.status in (DEFERRED, DEFERRED_SEND_TIME):
            return self._defer(job, replace(entry, channel=decision.channel), decision)
        if not decision.reaches_caps:
            return self._decide(job, entry, decision.status, decision.reason or "", now)
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
        shown = products_for(campaign, profile, job, self.products)
        message = render_message(
            campaign,
            channel,
            job.send_key,
            template_context(campaign, profile, job, now, unsubscribe_url, shown),
        )

        def reread() -> Ledger:
            return self._with_kept(self.ledgers.get(job.user_id) or Ledger(job.user_id), profile, kept)

        def write_failed(attempted: SentRecord, error: Exception) -> None:
            failed = replace(entry, channel=attempted.channel, status=FAILED, claim=attempted.claim)
            self._record(replace(failed, reason=f"claiming: {reason_of(error)}"[:500]))

        request = ClaimRequest(
            job, campaign, decision.channels, policy, shopper_zone(profile.traits, policy), now
        )
        claim = claim_send(
            request,
            self.ledgers,
            contacts(),
            self._logged(job),
            reread,
            lambda: self.send_log.get(job.user_id, job.send_key),
            write_failed,
            lambda: self._release(job),
        )
        if isinstance(claim, Held):
            return self._held(job, entry, claim.claim, claim.record, claim.logged)
        if isinstance(claim, Blocked):
            status, reason = claim.blocker
            if self._record(replace(entry, channel=claim.channel, status=status, reason=reason)):
                return self._duplicate(job, entry)  # another copy logged its decision meanwhile
            return SendDecision(status, reason, claim.channel)
        if self._reads is not None:
            self._reads.ledgers[job.user_id] = claim.ledger
        slot = Channel(claim.record.channel)
        claimed = replace(entry, channel=slot)
        try:
            if slot != channel:
                channel, unsubscribe_url = slot, unsubscribe_for(slot)
                context = template_context(campaign, profile, job, now, unsubscribe_url, shown)
                message = render_message(campaign, channel, job.send_key, context)
        except Exception as error:
            # Nothing was sent: the failed claim is claimed again by the queue's retry.
            self._fail(claimed, claim.record, f"before sending: {reason_of(error)}")
            raise
        recipient = {
            **profile.traits,
            "user_id": profile.user_id,
            "now": now,
            "unsubscribe_url": unsubscribe_url,
        }
        try:
            provider_id = self.channels[channel].send(message, recipient)
        except Exception as error:
            self._fail(claimed, claim.record, reason_of(error))
            if isinstance(error, PermanentDeliveryError):
                self._release(job)
            raise
        self._complete(
            replace(
                claimed,
                status=SENT,
                reason=None,
                provider_message_id=provider_id,
                products=tuple(shown) or None,
            )
        )
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

    def _fail(self, claimed: SendLogEntry, claim: SentRecord, reason: str) -> None:
        """Log the claim's attempt as failed, under its token: a retry may claim the key again."""
        failed = replace(claimed, status=FAILED, reason=reason[:500], claim=claim.claim)
        self._note(failed)
        self.send_log.complete(failed)

    def _held(
        self,
        job: DeliveryJob,
        entry: SendLogEntry,
        claim: Claim,
        record: SentRecord | None,
        logged: SendLogEntry | None,
    ) -> SendDecision:
        """The send key is decided (a duplicate job), its outcome unknown, or claimed by an attempt that
        is in flight or crashed."""
        if claim.state == ClaimState.DECIDED:
            return self._duplicate(job, entry)
        if claim.state == ClaimState.UNKNOWN:
            raise OutcomeUnknown((logged.reason if logged else None) or "outcome unknown after crash")
        at = claim.at.isoformat() if claim.at else "an unreadable time"
        if claim.state == ClaimState.IN_FLIGHT:
            raise SendInFlight(
                f"claimed at {at} with no outcome recorded: in flight, or a possible send if that attempt "
                "crashed"
            )
        reason = f"outcome unknown after crash: possible send at {at}"
        channel = record.channel if record is not None else (logged.channel if logged else entry.channel)
        unknown = replace(entry, status=OUTCOME_UNKNOWN, reason=reason, channel=channel, at=at)
        holder = self._record(unknown)
        if holder is not None and holder.status == SENT:
            return self._duplicate(job, entry)  # the send was logged meanwhile (reconciled, late)
        raise OutcomeUnknown(reason)

    def _duplicate(self, job: DeliveryJob, entry: SendLogEntry) -> SendDecision:
        # Logged beside the send key: the original decision stays as it was.
        self.send_log.complete(replace(entry, send_key=f"{job.send_key}#duplicate", status=DUPLICATE))
        return SendDecision(DUPLICATE, "already_sent_or_in_flight", entry.channel)  # type: ignore[arg-type]

    def _defer(self, job: DeliveryJob, entry: SendLogEntry, decision: Decision) -> SendDecision:
        """Put the job back on the queue when ``decision`` says (quiet hours' end, the variant's send
        time), logged beside the send key. A send time's schedule is named from the send key alone, so
        a duplicate job makes no second; it is exact (the time is the variant's treatment)."""
        until = decision.defer_until
        assert until is not None
        body = deferred_job(job, decision).model_dump_json()
        if decision.status == DEFERRED_SEND_TIME:
            self.deferrals.defer(job.user_id, f"{job.send_key}#send-time", body, until, flexible=False)
        else:
            self.deferrals.defer(job.user_id, f"{job.send_key}@{until.isoformat()}", body, until)
        reason = decision.reason or f"until {until.isoformat()}"
        self.send_log.complete(
            replace(entry, send_key=f"{job.send_key}#deferred", status=decision.status, reason=reason)
        )
        return SendDecision(decision.status, reason, entry.channel)  # type: ignore[arg-type]

    def _decide(
        self, job: DeliveryJob, entry: SendLogEntry, status: str, reason: str, now: datetime
    ) -> SendDecision:
        """Log a decision not to send, once per send key; a key some attempt claimed is that claim's."""
        record = self._ledger(job.user_id).send(job.send_key)
        logged = self._logged(job)
        claim = claim_state(record, logged, now)
        if claim.state in (ClaimState.IN_FLIGHT, ClaimState.CRASHED):
            return self._held(job, entry, claim, record, logged)
        decided = replace(entry, status=status, reason=reason)
        withheld = status in (WITHHELD, WITHHELD_GLOBAL)
        if withheld and logged is None and record is None and self._completed is not None:
            # Every copy of the job draws the same group, so no copy sends: batched with the outcomes.
            self._complete(decided)
        elif claim.state in (ClaimState.FREE, ClaimState.FAILED):
            if claim.state == ClaimState.FAILED:
                self._release(job)  # the slot of an attempt that sent nothing
            self._record(decided)
        return SendDecision(status, reason, entry.channel)  # type: ignore[arg-type]
