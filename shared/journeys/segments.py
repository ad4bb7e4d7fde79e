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

Journeys whose rules read only scores (``rfm.segment``, ``churn_risk``, ...: :attr:`SegmentEntries.
reads_only_scores`) can only be entered where scores are written, the scorer's run: ingest's folds and
merges never change a stored profile's scores, so ingest evaluates them only for a new shopper.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from shared.campaigns.audience.rules import AllOf, AnyOf, Attribute, Comparison, Expression, Not, ShopperFacts
from shared.campaigns.audience.selection import AudienceRule
from shared.campaigns.model import Campaign
from shared.core.identity import is_anonymous
from shared.events.traits import RFM_ATTRIBUTES, SCORE_ATTRIBUTES
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
    reads_only_scores: bool = field(init=False, default=False)  # every journey's rules read scores only

    def __post_init__(self) -> None:
        if not self.journeys:
            self.journeys = segment_journeys(self.engine.catalog)
        self.reads_only_scores = all(_reads_only_scores(c) for c in self.journeys)

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


# What the audience view takes from the profile's scores alone (never from a trait: these are reserved).
SCORE_VIEW = frozenset({*RFM_ATTRIBUTES, *SCORE_ATTRIBUTES})


def _reads_only_scores(campaign: Campaign) -> bool:
    """Every rule of the journey's segment and audience reads scores only."""
    return all(_only_scores(rule.expression) for rule in _rules(campaign))


def _only_scores(expression: Expression) -> bool:
    if isinstance(expression, Comparison):
        return isinstance(expression.operand, Attribute) and expression.operand.name in SCORE_VIEW
    if isinstance(expression, AllOf | AnyOf):
        return all(_only_scores(part) for part in expression.parts)
    if isinstance(expression, Not):
        return _only_scores(expression.part)
    return False  # a node this does not know: it may read anything


def _matches(campaign: Campaign, facts: ShopperFacts) -> bool:
    """The journey's segment and audience hold (what ``Audience.includes`` decides, on shared facts)."""
    return all(rule.holds_for(facts) for rule in _rules(campaign))


def _rules(campaign: Campaign) -> tuple[AudienceRule, ...]:
    """The journey's segment, then its audience: all must hold."""
    assert campaign.entry is not None
    return (*campaign.entry.audience.rules, *campaign.parsed_audience.rules)
