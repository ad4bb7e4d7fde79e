"""Real-time (L4) triggers: a behavioural event on the bus becomes a delivery job at once.

EventBridge already matched the campaign's pattern before invoking us; here the event is parsed,
the campaign's audience (if any) is checked against the current profile, and one job is enqueued
whose send key is derived from the triggering event's ``messageId`` — the same event delivered
twice yields the same key, so delivery sends once. Budget: at most a profile read and one enqueue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.campaigns import Catalog
from shared.clock import Clock
from shared.errors import PermanentDeliveryError
from shared.events import parse_detail
from shared.jobs import DeliveryJob, TriggerContext
from shared.patterns import matches
from shared.ports import ProfileStore, WorkQueue


@dataclass(frozen=True)
class TriggerOutcome:
    status: str  # "enqueued" | "not_in_audience" | "inactive" | "not_matching"
    job: DeliveryJob | None = None


@dataclass
class TriggerEvaluator:
    catalog: Catalog
    profiles: ProfileStore
    delivery_queue: WorkQueue
    clock: Clock

    def handle(self, campaign_id: str, envelope: Mapping[str, Any]) -> TriggerOutcome:
        campaign = self.catalog.get(campaign_id)
        if campaign is None or campaign.trigger is None:
            raise PermanentDeliveryError(f"unknown L4 campaign {campaign_id!r}")
        if not matches(campaign.trigger.event_pattern(), envelope):
            return TriggerOutcome("not_matching")
        event = parse_detail(envelope.get("detail"))
        now = self.clock.now()
        if not campaign.is_active(now):
            return TriggerOutcome("inactive")
        if campaign.parsed_audience.rules:
            profile = self.profiles.get(event.profile_id)
            if profile is None or not campaign.parsed_audience.includes(profile, now):
                return TriggerOutcome("not_in_audience")
        job = DeliveryJob.for_trigger(
            campaign.id,
            event.profile_id,
            TriggerContext(
                event=event.event or event.type,
                message_id=event.message_id,
                timestamp=event.timestamp,
                properties=event.properties,
            ),
        )
        self.delivery_queue.send_many([job.model_dump_json()])
        return TriggerOutcome("enqueued", job)
