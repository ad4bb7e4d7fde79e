"""Real-time (L4) triggers: a behavioural event on the bus becomes a delivery job, now or later.

EventBridge already matched the campaign's pattern (event name and property conditions) before
invoking us; here the event is parsed, the campaign's audience (if any) is checked against the
current profile, and one job is made whose send key is derived from the triggering event's
``messageId`` — the same event delivered twice yields the same key, so delivery sends once.

- No delay: the job is enqueued at once.
- A delay: a one-time EventBridge Scheduler schedule, named from the send key (so a duplicate event
  makes no second schedule), puts the job on the delivery queue when the delay is over and deletes
  itself. Delivery then re-checks what may have changed (:func:`cancel_reason`): a ``cancel_if``
  event since the trigger, the ``repeat`` condition, the audience on the current profile.

Budget: at most a profile read and one enqueue or schedule (two requests); a logged-out event of a
device linked to a shopper reads their profile too (docs/events.md, identity)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.campaigns.jobs import DeliveryJob, TriggerContext
from shared.campaigns.loader import Catalog
from shared.campaigns.model import Campaign
from shared.campaigns.trigger import Repeat
from shared.core.clock import Clock
from shared.core.durations import parse_duration
from shared.core.errors import PermanentDeliveryError
from shared.core.identity import anonymous_profile_id, is_anonymous
from shared.core.queues import WorkQueue
from shared.delivery.ports import Deferrals
from shared.events.contract import SegmentEvent, as_received, parse_detail
from shared.events.patterns import matches
from shared.journeys.transitions import Transition
from shared.profiles.ports import ProfileStore
from shared.profiles.profile import Profile, product_of

if TYPE_CHECKING:  # built by the wiring, for a catalog with journeys
    from shared.journeys.engine import JourneyEngine


@dataclass(frozen=True)
class TriggerOutcome:
    # "enqueued" | "scheduled" | "already_scheduled" | "not_in_audience" | "not_repeated" | "inactive"
    # | "not_matching"
    status: str
    job: DeliveryJob | None = None


def _may_repeat(repeat: Repeat, profile: Profile | None, event: SegmentEvent) -> bool:
    """Whether this view can be the ``count``-th of its product: the views before its minute (ingest
    may or may not have folded this one yet) plus this one. Delivery counts again when the delay is over."""
    product_id = product_of(event.properties)
    if product_id is None:
        return False
    within = parse_duration(repeat.within)
    before = event.timestamp - timedelta(minutes=1)
    prior = profile.activity.views_of(str(product_id), event.timestamp - within, before) if profile else 0
    return prior + 1 >= repeat.count


def trigger_job(
    campaign: Campaign, event: SegmentEvent, profile_of: Callable[[], Profile | None], now: datetime
) -> TriggerOutcome:
    """The delivery job a matching event makes for an L4 campaign at ``now``, or why none (inactive,
    not in the audience, not the ``repeat``-th view). ``profile_of`` is called only if the campaign
    has audience rules or a ``repeat``. Pure; the trigger function and ``nudge simulate`` both ask."""
    trigger = campaign.trigger
    assert trigger is not None
    if not campaign.is_active(now):
        return TriggerOutcome("inactive")
    if campaign.parsed_audience.rules or trigger.repeat is not None:
        profile = profile_of()
        if campaign.parsed_audience.rules and (
            profile is None or not campaign.parsed_audience.includes(profile, now)
        ):
            return TriggerOutcome("not_in_audience")
        if trigger.repeat is not None and not _may_repeat(trigger.repeat, profile, event):
            # Most views are not the Nth: no schedule is made for them (one read, no write).
            return TriggerOutcome("not_repeated")
    job = DeliveryJob.for_trigger(
        campaign.id,
        event.profile_id,
        TriggerContext(
            event=event.event or event.type,
            message_id=event.message_id,
            timestamp=event.timestamp,
            properties=event.properties,
        ),
        once_per_user=trigger.once_per_user,
    )
    return TriggerOutcome("enqueued", job)


@dataclass
class TriggerEvaluator:
    catalog: Catalog
    profiles: ProfileStore
    delivery_queue: WorkQueue
    clock: Clock
    deferrals: Deferrals | None = None
    journeys: JourneyEngine | None = None

    def _profile(self, profile_id: str) -> Profile | None:
        """The profile the event's rules are checked on: an anonymous visitor who logged in has their
        shopper's (shared/profiles/merge.py; one more read, for a linked device's logged-out events only)."""
        profile = self.profiles.get(profile_id)
        if profile is not None and profile.linked_to is not None:
            return self.profiles.get(profile.linked_to)
        return profile

    def handle(self, campaign_id: str, envelope: Mapping[str, Any]) -> TriggerOutcome:
        campaign = self.catalog.get(campaign_id)
        if campaign is None or campaign.trigger is None:
            raise PermanentDeliveryError(f"unknown L4 campaign {campaign_id!r}")
        if not matches(campaign.trigger.event_pattern(), envelope):
            return TriggerOutcome("not_matching")
        now = self.clock.now()
        event = as_received(parse_detail(envelope.get("detail"), bus_time=envelope.get("time")), now)
        outcome = trigger_job(campaign, event, lambda: self._profile(event.profile_id), now)
        if outcome.job is None:
            return outcome
        job, trigger = outcome.job, campaign.trigger
        if campaign.is_journey:
            return self._enter(campaign, job)
        delay = trigger.delay_time
        due = event.timestamp + delay if delay else None
        if due is None or due <= now:
            self.delivery_queue.send_many([job.model_dump_json()])
            return TriggerOutcome("enqueued", job)
        if self.deferrals is None:
            raise RuntimeError("a delayed trigger needs the deferrals port")
        delayed = job.model_copy(update={"not_before": due})
        created = self.deferrals.defer(job.user_id, job.send_key, delayed.model_dump_json(), due)
        return TriggerOutcome("scheduled" if created else "already_scheduled", delayed)

    def _engine(self) -> JourneyEngine:
        if self.journeys is None:
            raise RuntimeError("a journey needs the journey engine")
        return self.journeys

    def _enter(self, campaign: Campaign, job: DeliveryJob) -> TriggerOutcome:
        """A journey's entry event: the shopper enters (the instance is the event's messageId, so a
        duplicate of the event enters once)."""
        assert job.trigger is not None
        entered = self._engine().enter(
            campaign, job.user_id, job.trigger.message_id, entry=job.trigger, occurrence=job.occurrence
        )
        return TriggerOutcome(f"journey_{entered.transition}")

    def journey_event(self, campaign_id: str, envelope: Mapping[str, Any]) -> TriggerOutcome:
        """An event a journey's rule routed here (its goal, an exit_if event, an awaited event)."""
        campaign = self.catalog.get(campaign_id)
        if campaign is None or not campaign.is_journey:
            raise PermanentDeliveryError(f"unknown journey {campaign_id!r}")
        now = self.clock.now()
        event = as_received(parse_detail(envelope.get("detail"), bus_time=envelope.get("time")), now)
        name = event.event or event.type
        if not meets_journey_conditions(campaign, name, envelope):
            return TriggerOutcome("not_matching")
        profile = self.profiles.get(event.profile_id) if is_anonymous(event.profile_id) else None
        user_id = profile.linked_to if profile is not None and profile.linked_to else event.profile_id
        engine = self._engine()
        moved = engine.on_event(campaign, user_id, name, event.message_id, event.timestamp)
        entered_by_visitors = campaign.trigger is not None  # a segment or batch journey enters shoppers
        if (
            moved.transition == Transition.NO_INSTANCE
            and entered_by_visitors
            and event.user_id
            and event.anonymous_id
        ):
            # A visitor who entered before logging in has the instance under the device's anon: id (one
            # more read, for a routed event of a shopper with no instance that names its device).
            visitor = anonymous_profile_id(event.anonymous_id)
            moved = engine.on_event(campaign, visitor, name, event.message_id, event.timestamp)
        return TriggerOutcome(f"journey_{moved.transition}")


def meets_journey_conditions(campaign: Campaign, name: str, envelope: Mapping[str, Any]) -> bool:
    """The ``where`` conditions of the goal or the awaited event (exit_if events have none)."""
    from shared.campaigns.journey import WaitStep
    from shared.campaigns.trigger import Trigger

    wheres: list[list[str]] = []
    if campaign.goal is not None and campaign.goal.event == name:
        wheres.append(campaign.goal.where)
    if name in campaign.exit_if:
        wheres.append([])
    for step in campaign.flow.steps:
        if isinstance(step, WaitStep) and step.until is not None and step.until.event == name:
            wheres.append(step.until.where)
    return any(
        matches(Trigger.model_construct(event=name, where=where, properties={}).event_pattern(), envelope)
        for where in wheres
    )
