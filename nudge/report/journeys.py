"""A journey's decisions by send step (``nudge report``): what delivery decided for each step, read from
the send keys the journey engine writes (``journey#instance#step#seq#user``, shared/journeys/engine.py)."""

from __future__ import annotations

from collections import Counter

from nudge.report.reading import Dated
from shared.campaigns.journey import SendStep
from shared.campaigns.loader import Catalog
from shared.journeys.engine import send_step_of


def journey_steps(decisions: Dated, catalog: Catalog | None) -> dict[str, dict[str, dict[str, int]]]:
    """Per journey, per send step in the journey's order: the count of each decision status."""
    if catalog is None:
        return {}
    journeys = {c.id: c for c in catalog if c.is_journey}
    counted: dict[str, dict[str, Counter[str]]] = {}
    for _, item in decisions:
        journey = journeys.get(str(item.get("campaign_id")))
        step = send_step_of(str(item.get("send_key", "")))
        if journey is None or step is None:
            continue
        counted.setdefault(journey.id, {}).setdefault(step, Counter())[str(item.get("status"))] += 1
    ordered: dict[str, dict[str, dict[str, int]]] = {}
    for journey_id, steps in sorted(counted.items()):
        order = [s.id for s in journeys[journey_id].flow.steps if isinstance(s, SendStep)]
        ranked = sorted(steps, key=lambda s: (order.index(s) if s in order else len(order), s))
        ordered[journey_id] = {step: dict(sorted(steps[step].items())) for step in ranked}
    return ordered
