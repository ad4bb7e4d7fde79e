"""The report's figures: counts per campaign, level and channel (``Row``), the whole ``Report``, its JSON.

``build.build_report`` fills them; the terminal tables (``nudge/cli/tables``) and the HTML page
(``html.py``) only read them.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from nudge.report.experiments import VariantRow
from nudge.report.funnels import JourneyFunnel
from nudge.report.uplift import Uplift
from shared.core.vocabulary import DecisionStatus


@dataclass
class Row:
    """Counts for one campaign, level or channel."""

    sent: int = 0
    withheld: int = 0
    delivered: int = 0
    opened: int = 0
    clicked: int = 0
    conversions: int = 0  # goal events credited to it by last touch
    revenue: float = 0.0  # their revenue
    uplift: Uplift | None = None

    @property
    def conversion_rate(self) -> float:
        return self.conversions / self.sent if self.sent else 0.0

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            DecisionStatus.SENT: self.sent,
            "withheld": self.withheld,
            "delivered": self.delivered,
            "opened": self.opened,
            "clicked": self.clicked,
            "conversions": self.conversions,
            "revenue": round(self.revenue, 2),
            "conversion_rate": round(self.conversion_rate, 5),
        }
        if self.uplift is not None:
            data["uplift"] = self.uplift.to_dict()
        return data


@dataclass(frozen=True)
class Verdict:
    kind: str  # Striving | Steady | Stellar
    why: str
    recommendations: list[str]


@dataclass
class Report:
    since: datetime | None
    start: datetime | None
    end: datetime | None
    campaigns: dict[str, Row]
    campaign_names: dict[str, str]
    campaign_levels: dict[str, str]
    levels: dict[str, Row]
    channels: dict[str, Row]
    total: Row
    recipients: int
    per_user_week: list[float]  # one value per recipient
    level_mix: dict[str, float]
    daily_sends: dict[str, dict[str, int]]  # day -> level -> sends
    daily_conversions: dict[str, dict[str, int]]  # day -> level -> attributed conversions
    verdict: Verdict
    decisions: Counter[str] = field(default_factory=Counter)
    variants: dict[str, dict[str, VariantRow]] = field(default_factory=dict)  # campaign -> variant -> row
    program: Uplift | None = None  # the shoppers reached against the global control group
    journey_steps: dict[str, dict[str, dict[str, int]]] = field(
        default_factory=dict
    )  # journey -> step -> status
    # experiment (campaign:step) -> state, counts and decision history (nudge/report/experiments.py)
    experiment_decisions: dict[str, dict[str, Any]] = field(default_factory=dict)
    journeys: dict[str, JourneyFunnel] = field(default_factory=dict)  # journey -> its funnel

    @property
    def messages_per_user_week(self) -> float:
        return sum(self.per_user_week) / len(self.per_user_week) if self.per_user_week else 0.0

    @property
    def messages_per_user_week_p95(self) -> float:
        return percentile(self.per_user_week, 0.95)

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "period": [
                self.start.isoformat() if self.start else None,
                self.end.isoformat() if self.end else None,
            ],
            "total": self.total.to_dict(),
            "recipients": self.recipients,
            "messages_per_user_week": {
                "mean": round(self.messages_per_user_week, 2),
                "p95": round(self.messages_per_user_week_p95, 2),
            },
            "level_mix": {k: round(v, 4) for k, v in self.level_mix.items()},
            "campaigns": {
                k: {"level": self.campaign_levels[k], **v.to_dict()} for k, v in self.campaigns.items()
            },
            "levels": {k: v.to_dict() for k, v in self.levels.items()},
            "channels": {k: v.to_dict() for k, v in self.channels.items()},
            "decisions": dict(self.decisions.most_common()),
            "variants": {c: {v: r.to_dict() for v, r in rows.items()} for c, rows in self.variants.items()},
            "program_uplift": self.program.to_dict() if self.program else None,
            "journey_steps": self.journey_steps,
            "experiment_decisions": self.experiment_decisions,
            "journeys": {k: v.to_dict() for k, v in self.journeys.items()},
            "verdict": {
                "kind": self.verdict.kind,
                "why": self.verdict.why,
                "recommendations": self.verdict.recommendations,
            },
        }


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def day_range(report: Report) -> list[date]:
    if report.start is None or report.end is None:
        return []
    first, last = report.start.date(), report.end.date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]
