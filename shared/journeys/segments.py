"""Segment entry: a shopper enters a journey written with ``entry: {segment: [rules]}`` the moment a write
of their profile makes them start matching it: the rules (and the journey's ``audience``) did not all
hold on the profile as read, and all hold on the profile about to be written.

It is decided where the profile changes, on the two profiles the writer already has in memory (ingest's
fold of a batch, the scorer's new scores): no table scan and no request per event. Only a shopper who
starts matching costs requests, those of any entry (the instance read, its conditional put, the first
wait's schedule or the first send's enqueue). The instance's id names the change (the newest event of
the fold, the scoring run), so a retried write enters once; a duplicate event changes no profile and
enters nobody. Entries are made before the profile is written, so a write that fails is retried with
its entry (replayed, idempotently). Rules that come to hold by time passing alone (``older_than``) are
no profile change: a scheduled journey finds those shoppers. Anonymous visitors enter no segment journey.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from shared.campaigns.audience.rules import ShopperFacts
from shared.campaigns.model import Campaign
from shared.core.identity import is_anonymous
from shared.journeys.engine import JourneyEngine, JourneyOutcome
from shared.profiles.profile import Profile


def segment_journeys(catalog: Iterable[Campaign]) -> tuple[Campaign, ...]:
    """The journeys a shopper enters by starting to match a segment."""
    return tuple(c for c in catalog if c.is_journey and c.entry is not None)


@dataclass
class SegmentEntries:
    """Enters the shoppers whose profile change makes them start matching a segment journey."""

    engine: JourneyEngine
    journeys: tuple[Campaign, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.journeys:
            self.journeys = segment_journeys(self.engine.catalog)

    def matching(self, profile: Profile | None, now: datetime) -> frozenset[str]:
        """The live segment journeys whose segment and audience ``profile`` matches (none for no profile)."""
        if profile is None or is_anonymous(profile.user_id):
            return frozenset()
        facts = ShopperFacts(profile, now)  # one view of the profile for every journey's rules
        return frozenset(c.id for c in self.journeys if c.is_active(now) and _matches(c, facts))

    def enter_started(
        self, before: frozenset[str], after: Profile, change: str, now: datetime
    ) -> list[JourneyOutcome]:
        """Enter ``after``'s shopper into each journey they match now and did not match ``before``;
        ``change`` (the write's id) is the instance. The walk reads ``after``, not the stored profile."""
        started = self.matching(after, now) - before
        return [
            self.engine.enter(campaign, after.user_id, change, occurrence=change, profile=after)
            for campaign in self.journeys
            if campaign.id in started
        ]


def _matches(campaign: Campaign, facts: ShopperFacts) -> bool:
    """The journey's segment and audience hold (what ``Audience.includes`` decides, on shared facts)."""
    assert campaign.entry is not None
    rules = (*campaign.entry.audience.rules, *campaign.parsed_audience.rules)
    return all(rule.holds_for(facts) for rule in rules)
