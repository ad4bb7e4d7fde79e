"""The one decision: whether a delivery job's message goes out, on which channel, or why not.

:func:`decide` is pure: it reads the job, the campaign, the shopper's profile, the contact ledger,
the delivery policy and the time, and nothing else. The deliverer (:mod:`shared.delivery.deliverer`)
calls it and does the I/O around it (reading, claiming the send key and its slot with one
conditional write of the ledger, sending, logging); ``nudge simulate`` calls it on a simulated
ledger. The order of the checks lives here only:

1. ``skipped``: unknown shopper (``unknown_user``) or inactive campaign (``campaign_inactive``);
2. ``cancelled``: a real-time (L4) trigger whose reason went away (:func:`cancel_reason`);
3. ``withheld_global_control``: the shopper is in the program's control group (the policy's
   ``global_control_percent``), which no marketing message reaches (a ``transactional`` one does);
   ``withheld_holdout``: the shopper is in the campaign's control group; every later decision is
   the treated group's (both groups are picked the same way: intent to treat). The treated group
   then draws its variant of the send step's experiment, if it has one (its content and channel order);
   ``deferred_send_time``: the variant has its own send time, not come yet (the job comes back then,
   keeping its variant, and every later check is made again at that time);
4. ``no_consent`` / ``suppressed`` / ``skipped``: no channel of the campaign reaches the shopper
   (:func:`choose_channel`; anonymous visitors are decided here, after the holdout);
5. ``deferred_quiet_hours``: the first reachable channel is inside the shopper's quiet hours;
6. ``capped`` or ``sent``: the caps on the ledger (:func:`open_slot`); a channel's own cap hands the
   message to the campaign's next reachable channel not in quiet hours.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from shared.campaigns.cancellation import cancel_reason
from shared.campaigns.jobs import DeliveryJob
from shared.campaigns.model import Campaign, ChannelName
from shared.campaigns.policy import DeliveryPolicy
from shared.core.errors import PermanentDeliveryError
from shared.core.identity import is_anonymous
from shared.core.vocabulary import EMAIL_TRAIT, Channel, DecisionStatus
from shared.delivery.guards import Candidate, cap_reason, in_holdout, quiet_until, shopper_zone
from shared.experiments.assignment import GLOBAL_CONTROL, assign_variant, in_global_control
from shared.experiments.send_time import PlannedSend, planned_send, step_moment
from shared.measurement import attribution
from shared.profiles.ledger import Ledger
from shared.profiles.profile import Profile, consent_of

# The decisions, as logged in the send log's ``status`` (all but ``erased``: a job for a shopper erased
# after it was made is dropped without a trace, see shared/privacy/erasure.py).
SENT = DecisionStatus.SENT
SKIPPED = DecisionStatus.SKIPPED
WITHHELD = DecisionStatus.WITHHELD_HOLDOUT
WITHHELD_GLOBAL = DecisionStatus.WITHHELD_GLOBAL_CONTROL
NO_CONSENT = DecisionStatus.NO_CONSENT
SUPPRESSED = DecisionStatus.SUPPRESSED
DEFERRED = DecisionStatus.DEFERRED_QUIET_HOURS
DEFERRED_SEND_TIME = DecisionStatus.DEFERRED_SEND_TIME
DUPLICATE = DecisionStatus.DUPLICATE
CAPPED = DecisionStatus.CAPPED
FAILED = DecisionStatus.FAILED
CANCELLED = DecisionStatus.CANCELLED
CLAIMED = DecisionStatus.CLAIMED  # not a decision: a claim with no outcome (in flight, or crashed)
OUTCOME_UNKNOWN = DecisionStatus.OUTCOME_UNKNOWN
ERASED = DecisionStatus.ERASED
DECISIONS = (
    SENT,
    SKIPPED,
    WITHHELD,
    WITHHELD_GLOBAL,
    NO_CONSENT,
    SUPPRESSED,
    DEFERRED,
    DEFERRED_SEND_TIME,
    DUPLICATE,
    CAPPED,
    FAILED,
    CANCELLED,
    OUTCOME_UNKNOWN,
    ERASED,
)

Blocker = tuple[str, str]  # (decision, reason)


class Drawn(NamedTuple):
    """The variant the shopper drew, the experiment (``campaign:step``) it was drawn for and, if the
    variant has its own send time, when it goes out."""

    variant: str | None
    experiment: str | None
    send_at: datetime | None = None


@dataclass(frozen=True)
class Decision:
    """What :func:`decide` found.

    ``channel``: the channel the message goes out on (``sent``, perhaps a fallback), waits for
    (``deferred_quiet_hours``) or was first chosen for (``capped``); None when none reaches the
    shopper. ``channels``: the channels tried for a slot, in order (the first chosen, then its
    fallbacks); empty unless the decision reached the caps, which delivery decides again under its
    claim of the send key. ``group``: the holdout's group (or the global control), once drawn.
    ``variant``: the variant of the send step's experiment the shopper drew (treated group only);
    the message is rendered from :meth:`Campaign.variant_campaign`.
    """

    status: str
    reason: str | None = None
    channel: ChannelName | None = None
    group: str | None = None
    defer_until: datetime | None = None
    channels: tuple[ChannelName, ...] = ()
    variant: str | None = None
    experiment: str | None = None  # the experiment the variant was drawn for (``campaign:step``)
    send_at: datetime | None = None  # the variant's own planned send time, if it has one

    @property
    def reaches_caps(self) -> bool:
        return bool(self.channels)


def _blocker(channel: ChannelName, profile: Profile, ledger: Ledger | None) -> Blocker | None:
    """Why ``channel`` cannot reach the shopper (decision, reason), or None if it can."""
    traits = profile.traits
    consent = consent_of(traits)
    if is_anonymous(profile.user_id):
        return SKIPPED, "anonymous"  # no address, and no signed-in app session to show an inbox to
    if channel == Channel.EMAIL:
        if not traits.get(EMAIL_TRAIT):
            return SKIPPED, "no_email_address"
        if consent.get(Channel.EMAIL) is not True:
            return NO_CONSENT, Channel.EMAIL
    elif channel == Channel.PUSH:
        if not traits.get("push_endpoint"):
            return SKIPPED, "no_push_endpoint"
        if consent.get(Channel.PUSH) is not True:
            return NO_CONSENT, Channel.PUSH
    elif consent.get(Channel.IN_APP, True) is False:
        return NO_CONSENT, Channel.IN_APP
    suppression = ledger.suppression(channel) if ledger else None
    if suppression is not None:
        return SUPPRESSED, f"{channel}:{suppression.reason}"
    return None


# When no channel can be used, the decision logged is the most telling of the channels' blockers.
_BLOCKER_RANK: dict[str, int] = {SUPPRESSED: 0, NO_CONSENT: 1, SKIPPED: 2}


def reachable_channels(
    campaign: Campaign, profile: Profile, ledger: Ledger | None = None
) -> list[ChannelName]:
    """The campaign's channels that reach the shopper, in the campaign's order."""
    return [c for c in campaign.channel_order() if _blocker(c, profile, ledger) is None]


def choose_channel(
    campaign: Campaign, profile: Profile, ledger: Ledger | None = None
) -> tuple[ChannelName | None, Blocker]:
    """The first channel in the campaign's order that reaches the shopper, else why none does."""
    blockers: list[Blocker] = []
    for channel in campaign.channel_order():
        blocker = _blocker(channel, profile, ledger)
        if blocker is None:
            return channel, (SENT, "")
        blockers.append(blocker)
    return None, min(blockers, key=lambda b: _BLOCKER_RANK[b[0]], default=(SKIPPED, "no_channel"))


def candidate(campaign: Campaign, job: DeliveryJob, channel: ChannelName) -> Candidate:
    """The message as the caps see it, on ``channel``."""
    throttle = campaign.trigger.throttle_time if campaign.trigger else None
    return Candidate(
        channel, campaign.id, campaign.level, campaign.priority, job.send_key, campaign.caps, throttle
    )


@dataclass(frozen=True)
class Slot:
    """Where the caps let the message go: ``blocker`` None means ``channel`` has a slot."""

    blocker: Blocker | None
    channel: ChannelName


def open_slot(
    ledger: Ledger,
    campaign: Campaign,
    job: DeliveryJob,
    channels: Sequence[ChannelName],
    policy: DeliveryPolicy,
    now: datetime,
    zone: ZoneInfo,
) -> Slot:
    """The first of ``channels`` (the chosen one, then its fallbacks) the ledger has room for.

    Only a channel's own cap (``channel.<name>...``) passes the message to the next channel; any
    other blocker (suppression, the all-channel or campaign caps, the throttle) is the decision, on
    the first channel.
    """
    blocker: Blocker | None = None
    for channel in channels:
        if ledger.has_send(job.send_key):
            return Slot(None, channel)  # claimed already: the claim decides (shared.delivery.claims)
        suppression = ledger.suppression(channel)
        if suppression is not None:
            blocker = SUPPRESSED, f"{channel}:{suppression.reason}"
        else:
            reason = cap_reason(ledger.sends, candidate(campaign, job, channel), policy, now, zone)
            if reason is None:
                return Slot(None, channel)
            blocker = CAPPED, reason
        if not blocker[1].startswith("channel."):
            break
    return Slot(blocker, channels[0])


def decide(
    job: DeliveryJob,
    campaign: Campaign,
    profile: Profile | None,
    ledger: Ledger | Callable[[], Ledger],
    policy: DeliveryPolicy,
    now: datetime,
    weights: Mapping[str, float] | None = None,
) -> Decision:
    """The decision for ``job`` at ``now``, in delivery's order (see the module's docstring).

    ``ledger`` may be given as a function: it is then called only if the decision needs the ledger
    (the treated group's), so delivery reads no ledger for a withheld shopper. ``weights``: the
    experiment's current traffic shares (a winner's or the bandit's), else the file's.
    """
    if profile is None:
        return Decision(SKIPPED, "unknown_user")
    if not campaign.is_active(now):
        return Decision(SKIPPED, "campaign_inactive")
    cancelled = cancel_reason(campaign, profile, job, now)
    if cancelled is not None:
        return Decision(CANCELLED, cancelled)
    control = policy.global_control_percent
    if not campaign.transactional and in_global_control(job.user_id, control):
        return Decision(WITHHELD_GLOBAL, f"global control {control:g}%", group=GLOBAL_CONTROL)
    if in_holdout(campaign.id, job.user_id, campaign.holdout_percent):
        return Decision(WITHHELD, f"holdout {campaign.holdout_percent:g}%", group=attribution.WITHHELD)
    # Every later decision (sent, capped, no consent, ...) is the treated group's: both groups are
    # picked the same way, so comparing them measures running the campaign (intent to treat).
    treated = attribution.TREATED
    variant = draw_variant(campaign, job, weights)
    drawn = Drawn(variant, None)
    if variant is not None:
        planned = variant_send_time(campaign, variant, job, profile, policy, now)
        drawn = Drawn(variant, campaign.experiment_id(job.step), planned.at if planned else None)
        campaign = campaign.variant_campaign(variant)
        if planned is not None and planned.at > now:
            reason = f"variant {variant}: {planned.how}, until {planned.at.isoformat()}"
            due = planned.at
            return Decision(DEFERRED_SEND_TIME, reason, group=treated, defer_until=due, **drawn._asdict())
    contacts = ledger() if callable(ledger) else ledger
    channel, (blocked, why) = choose_channel(campaign, profile, contacts)
    if channel is None:
        return Decision(blocked, why, group=treated, **drawn._asdict())
    zone = shopper_zone(profile.traits, policy)
    until = quiet_until(now, zone, channel, policy)
    if until is not None:
        return Decision(
            DEFERRED, f"until {until.isoformat()}", channel, treated, defer_until=until, **drawn._asdict()
        )
    fallbacks = [
        c
        for c in reachable_channels(campaign, profile, contacts)[1:]
        if quiet_until(now, zone, c, policy) is None
    ]
    channels = (channel, *fallbacks)
    slot = open_slot(contacts, campaign, job, channels, policy, now, zone)
    if slot.blocker is not None:
        return Decision(*slot.blocker, slot.channel, treated, channels=channels, **drawn._asdict())
    return Decision(SENT, None, slot.channel, treated, channels=channels, **drawn._asdict())


def draw_variant(campaign: Campaign, job: DeliveryJob, weights: Mapping[str, float] | None) -> str | None:
    """The variant of the send step's experiment the shopper draws (None: the step has no variants).

    A hash of the experiment and the shopper, so every copy of a job, and the simulator, draw the same;
    ``weights`` (a winner's, the bandit's) replace the file's for the variants they name. A job deferred
    after its draw (to the variant's send time) keeps the variant it drew, if the step still has it."""
    if not campaign.variants:
        return None
    if job.variant is not None and any(v.id == job.variant for v in campaign.variants):
        return job.variant
    shares = {v.id: (weights or {}).get(v.id, v.weight) for v in campaign.variants}
    if sum(shares.values()) <= 0:
        shares = {v.id: v.weight for v in campaign.variants}
    return assign_variant(campaign.experiment_id(job.step), job.user_id, shares)


def variant_send_time(
    campaign: Campaign,
    variant_id: str,
    job: DeliveryJob,
    profile: Profile,
    policy: DeliveryPolicy,
    now: datetime,
) -> PlannedSend | None:
    """When the drawn variant's message goes out, if it has its own send time (None: at once). Decided
    once: a job that comes back from a deferral after the draw carries the time it was given."""
    variant = next(v for v in campaign.variants or [] if v.id == variant_id)
    if variant.send_time is None:
        return None
    if job.variant == variant_id and job.send_at is not None:
        return PlannedSend(job.send_at, "planned")
    zone = shopper_zone(profile.traits, policy)
    return planned_send(variant.send_time, step_moment(job, now), zone, profile.scores.get("best_send_hour"))


def deferred_job(job: DeliveryJob, decision: Decision) -> DeliveryJob:
    """The job as it comes back after ``decision`` deferred it: due then, and keeping the variant drawn if
    that has its own send time (so neither the draw nor the time is made again)."""
    assert decision.defer_until is not None
    update: dict[str, object] = {"not_before": decision.defer_until}
    if decision.send_at is not None:
        update |= {"variant": decision.variant, "send_at": decision.send_at}
    return job.model_copy(update=update)


def journey_step(campaign: Campaign, step_id: str) -> Campaign:
    """The campaign a journey's send step is decided as (its content and caps); a job for a step the
    deployed version no longer has is parked with the reason."""
    try:
        return campaign.step_campaign(step_id)
    except (KeyError, ValueError):
        raise PermanentDeliveryError(f"{campaign.id} has no send step {step_id!r}") from None
