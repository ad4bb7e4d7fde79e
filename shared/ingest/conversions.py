"""Ingest's goal events: the conversions an order makes for the campaigns that decided about the shopper
before it (``shared.measurement.attribution``), refunds and cancellations taken back, and a conversion
credited to an experiment's variant counted for its review."""

from __future__ import annotations

from collections.abc import Sequence

from shared.campaigns.loader import Catalog
from shared.core.identity import is_anonymous
from shared.events.contract import SegmentEvent
from shared.experiments.store import CONVERTED, ExperimentStore, add_counts
from shared.measurement.attribution import (
    Conversion,
    attribute,
    decisions_of,
    goal_events,
    longest_window,
    refunds_in,
)
from shared.measurement.ports import ConversionStore, DecisionHistory


class Attributor:
    """Counts goal events (orders) for the campaigns that messaged the shopper before them."""

    def __init__(
        self,
        catalog: Catalog,
        history: DecisionHistory,
        store: ConversionStore,
        experiments: ExperimentStore | None = None,
    ) -> None:
        self.catalog = catalog
        self.history = history
        self.store = store
        self.experiments = experiments  # a new conversion credited to a variant's send is counted there
        self.goals = goal_events(catalog)
        self.window = longest_window(catalog)

    def run(self, user_id: str, events: Sequence[SegmentEvent]) -> list[Conversion]:
        """Record the conversions ``events`` make, then take their refunds and cancellations back from
        the conversions of the orders they name; only new conversions are returned (exactly once per
        event)."""
        if is_anonymous(user_id):
            return []
        recorded = self._convert(user_id, events)
        for refund in refunds_in(events):
            self.store.refund(user_id, refund)
        return recorded

    def _convert(self, user_id: str, events: Sequence[SegmentEvent]) -> list[Conversion]:
        goals = [e for e in events if e.behaviour_name in self.goals]
        if not goals:
            return []
        since = min(e.timestamp for e in goals) - self.window
        decisions = decisions_of(self.history.entries_since(user_id, since))
        if not decisions:
            return []
        recorded = []
        for event in goals:
            conversions = attribute(event, user_id, decisions, self.catalog)
            if conversions:
                recorded.extend(self.store.record(conversions))
        if self.experiments is not None:
            add_counts(self.experiments, CONVERTED, ((c.experiment, c.variant) for c in recorded))
        return recorded
