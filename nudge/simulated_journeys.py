"""Journeys in ``nudge simulate``: the journey engine itself (``shared.journeys.engine``), on an in-memory
instance store, the replayed profiles and a wake-up queue that fires each wait's schedule at its time.

No second implementation: entry, re-entry, the holdout at entry, waits, branches, splits, the goal and
exit events and the send keys are the engine's; the jobs it makes are decided by the simulation's
delivery like any other campaign's (with the step's content and caps)."""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from shared.campaigns.jobs import DeliveryJob
from shared.campaigns.loader import Catalog
from shared.campaigns.model import Campaign
from shared.core.clock import SimulatedClock
from shared.deployment.invocations import journey_event_pattern
from shared.events.contract import SegmentEvent
from shared.events.patterns import matches
from shared.journeys.engine import JourneyEngine
from shared.journeys.instance import JourneyInstance, WakeUp
from shared.journeys.segments import SegmentEntries
from shared.journeys.transitions import WAKE_FIELD
from shared.profiles.ports import ProfileStore
from shared.profiles.profile import Profile
from shared.triggers.triggers import meets_journey_conditions


class _Instances:
    """The journeys table in memory, with its conditional put on the sequence number."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], JourneyInstance] = {}

    def get(self, user_id: str, journey_id: str) -> JourneyInstance | None:
        return self.items.get((user_id, journey_id))

    def put(self, instance: JourneyInstance, expected_seq: int | None) -> bool:
        current = self.items.get((instance.user_id, instance.journey_id))
        if (current.seq if current else None) != expected_seq:
            return False
        self.items[instance.user_id, instance.journey_id] = instance
        return True


@dataclass
class _Profiles:
    read: Callable[[str], Profile | None]

    def get(self, user_id: str) -> Profile | None:
        return self.read(user_id)


@dataclass
class _Outbox:
    """The delivery queue and the one-time schedules, as the engine writes to them."""

    jobs: list[DeliveryJob] = field(default_factory=list)
    wakes: list[tuple[datetime, int, WakeUp]] = field(default_factory=list)
    named: set[str] = field(default_factory=set)

    def send_many(self, bodies: Sequence[str]) -> None:
        self.jobs.extend(DeliveryJob.model_validate_json(b) for b in bodies)

    def defer(self, user_id: str, job_key: str, body: str, at: datetime, *, flexible: bool = True) -> bool:
        if job_key in self.named:
            return False  # a schedule is made once per name
        self.named.add(job_key)
        heapq.heappush(self.wakes, (at, len(self.named), WakeUp.model_validate(json.loads(body)[WAKE_FIELD])))
        return True


class SimulatedJourneys:
    """Enters, wakes and ends journey instances while the simulation replays the store."""

    def __init__(
        self, catalog: Catalog, profile_of: Callable[[str], Profile | None], start: datetime
    ) -> None:
        self.catalog = catalog
        self.clock = SimulatedClock(start)
        self.instances = _Instances()
        self.outbox = _Outbox()
        self.engine = JourneyEngine(
            catalog,
            self.instances,
            cast(ProfileStore, _Profiles(profile_of)),
            self.outbox,
            self.clock,
            self.outbox,
        )
        self.routed = [
            (c, pattern) for c in catalog if c.enabled and (pattern := journey_event_pattern(c)) is not None
        ]
        self.segments = SegmentEntries(self.engine)

    def _at(self, moment: datetime) -> None:
        if moment > self.clock.now():
            self.clock.advance_to(moment)

    def taken(self) -> list[tuple[DeliveryJob, Campaign]]:
        """The jobs made since the last call, each with the campaign delivery decides it as."""
        jobs, self.outbox.jobs = self.outbox.jobs, []
        out = []
        for job in jobs:
            campaign = self.catalog.get(job.campaign_id)
            if campaign is not None and job.step is not None:
                out.append((job, campaign.step_campaign(job.step)))
        return out

    def enter(self, campaign: Campaign, job: DeliveryJob, at: datetime) -> None:
        """What the trigger function does with a journey's entry event (``trigger_job`` made ``job``)."""
        assert job.trigger is not None
        self._at(at)
        self.engine.enter(
            campaign, job.user_id, job.trigger.message_id, entry=job.trigger, occurrence=job.occurrence
        )

    def segments_matched(self, profile: Profile | None, at: datetime) -> frozenset[str]:
        """The segment journeys ``profile`` matches (ingest asks before it folds a batch)."""
        return self.segments.matching(profile, at)

    def enter_segments(self, before: frozenset[str], after: Profile, change: str, at: datetime) -> None:
        """What ingest does after folding: enter the shopper into each segment journey they start matching
        (``shared.journeys.segments``; ``change`` names the instance, as the newest folded event does)."""
        self._at(at)
        self.segments.enter_started(before, after, change, at)

    def route(self, event: SegmentEvent, envelope: Mapping[str, Any], user_id: str) -> None:
        """A store event that a journey's rule would route: its goal, exit_if or awaited event."""
        name = event.event or event.type
        for campaign, pattern in self.routed:
            if matches(pattern, envelope) and meets_journey_conditions(campaign, name, envelope):
                self._at(event.timestamp)
                self.engine.on_event(campaign, user_id, name, event.message_id, event.timestamp)

    def next_wake(self) -> datetime | None:
        return self.outbox.wakes[0][0] if self.outbox.wakes else None

    def wake_next(self) -> datetime:
        at, _, wake = heapq.heappop(self.outbox.wakes)
        self.outbox.named.discard(wake.key)
        self._at(at)
        self.engine.wake(wake)
        return at
