"""``build_report``: the report from the send log and the conversions, composed from the package's steps.

Read the decisions and conversions from ``since`` on (``reading``), count them per campaign, level,
channel and day (``tally``) and follow each campaign's treated and withheld groups (``uplift``),
then the period, the frequency and the verdict (``verdict``); experiments' variants and the program
against the global control (``experiments``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from nudge.report.experiments import Experiments, decision_histories
from nudge.report.funnels import journey_funnels
from nudge.report.journeys import journey_steps
from nudge.report.model import Report, Verdict
from nudge.report.reading import Dated, read_conversions, read_decisions
from nudge.report.tally import Tally
from nudge.report.uplift import Holdouts
from nudge.report.verdict import classify
from shared.campaigns.loader import Catalog
from shared.experiments.store import StoredExperiment


def build_report(
    messages: Iterable[Mapping[str, Any]],
    conversions: Iterable[Mapping[str, Any]],
    catalog: Catalog | None = None,
    since: datetime | None = None,
    experiments_stored: Iterable[StoredExperiment] = (),
    journeys: Iterable[Mapping[str, Any]] = (),
) -> Report:
    """``experiments_stored``: the experiments' items (state and decision history), as the daily review
    wrote them; ``journeys``: the journeys table's items (each shopper's last instance), for the journeys'
    funnels."""
    decisions = read_decisions(messages, since)
    names, levels_of = _names_and_levels(decisions, catalog)
    tally, holdouts, experiments = Tally(), Holdouts(), Experiments()
    for at, item in decisions:
        tally.count_decision(at, item)
        holdouts.enrol(item)
        experiments.enrol(item)
    for at, item in read_conversions(conversions, since):
        holdouts.follow(item)
        experiments.follow(item)
        tally.count_conversion(at, item)
    _attach_uplifts(tally, holdouts, levels_of)
    moments = [at for at, _ in decisions]
    start = since or (min(moments) if moments else None)
    end = max(moments) if moments else None
    mix = tally.level_mix()
    report = Report(
        since=since,
        start=start,
        end=end,
        campaigns=dict(sorted(tally.campaigns.items(), key=lambda kv: (levels_of.get(kv[0], ""), kv[0]))),
        campaign_names=names,
        campaign_levels={c: levels_of.get(c, "") for c in tally.campaigns},
        levels=tally.levels,
        channels=tally.channels,
        total=tally.total,
        recipients=len(tally.sent_per_user),
        per_user_week=_per_user_week(tally.sent_per_user, start, end),
        level_mix=mix,
        daily_sends=dict(sorted(tally.daily_sends.items())),
        daily_conversions=dict(sorted(tally.daily_conversions.items())),
        verdict=Verdict("Steady", "", []),
        decisions=tally.statuses,
        variants=experiments.variant_tables(),
        program=experiments.program(),
        journey_steps=journey_steps(decisions, catalog),
        experiment_decisions=decision_histories(experiments_stored),
        journeys=journey_funnels(journeys, decisions, holdouts, catalog, since),
    )
    report.verdict = classify(mix, report.messages_per_user_week, report, catalog)
    return report


def _names_and_levels(decisions: Dated, catalog: Catalog | None) -> tuple[dict[str, str], dict[str, str]]:
    """Each campaign's name and level: from the catalog, else as the send log has them."""
    names = {c.id: c.name for c in catalog} if catalog is not None else {}
    levels_of: dict[str, str] = {c.id: c.level for c in catalog} if catalog is not None else {}
    for _, item in decisions:
        levels_of.setdefault(str(item["campaign_id"]), str(item.get("level", "")))
        names.setdefault(str(item["campaign_id"]), str(item["campaign_id"]))
    return names, levels_of


def _attach_uplifts(tally: Tally, holdouts: Holdouts, levels_of: Mapping[str, str]) -> None:
    """Each campaign's own uplift; each level's and the total's pooled over their campaigns."""
    for campaign, row in tally.campaigns.items():
        row.uplift = holdouts.of_campaign(campaign)
    for level, row in tally.levels.items():
        row.uplift = holdouts.pooled([c for c in tally.campaigns if levels_of.get(c) == level])
    tally.total.uplift = holdouts.pooled(list(tally.campaigns))


def _per_user_week(sent_per_user: Counter[str], start: datetime | None, end: datetime | None) -> list[float]:
    """Each recipient's messages per week over the period (at least a day long)."""
    weeks = max((end - start).total_seconds() / 86400, 1.0) / 7 if start and end else 1 / 7
    return [n / weeks for n in sent_per_user.values()]
