"""A journey's funnel (``nudge report``, the demo's summary, the HTML report): how many shoppers entered,
reached each step, were sent each send step's message, ended on the goal; the journey's uplift against its
holdout, and per branch and split path.

Read from the journeys table (each shopper's last instance of a journey and its path,
shared/journeys/instance.py) and the send log. The table keeps a shopper's last instance only, so a shopper
who entered twice counts once, on their last path. A split path against the journey's holdout is a causal
comparison (the split is random); a branch path is not (a rule chose its shoppers): read it as the
conversion of the shoppers that path treated, beside the holdout's.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nudge.report.reading import Dated
from nudge.report.uplift import Holdouts, Uplift, uplift
from shared.campaigns.journey import SendStep
from shared.campaigns.loader import Catalog
from shared.core.vocabulary import DecisionStatus
from shared.journeys.engine import send_step_of
from shared.journeys.instance import InstanceStatus, JourneyInstance, PathKind

_PATHS = (PathKind.BRANCH, PathKind.SPLIT)


@dataclass
class StepCount:
    step: str
    type: str
    reached: int = 0  # shoppers whose path came to the step
    sent: int | None = None  # send steps: messages delivery sent for it


@dataclass
class JourneyFunnel:
    entered: int = 0  # shoppers with an instance (withheld ones included)
    withheld: int = 0  # the journey's holdout: entered, nothing sent
    statuses: Counter[str] = field(default_factory=Counter)  # active, completed, converted, exited, withheld
    steps: list[StepCount] = field(default_factory=list)
    paths: dict[str, dict[str, int]] = field(default_factory=dict)  # step -> "then -> x" -> shoppers
    uplift: Uplift | None = None  # the journey's treated against its holdout
    path_uplift: dict[str, dict[str, Uplift]] = field(default_factory=dict)  # step -> path -> uplift

    @property
    def exited_by_goal(self) -> int:
        return self.statuses[InstanceStatus.CONVERTED]

    def summary(self) -> dict[str, Any]:
        """The demo summary's line: entered, reached (and sent) per step, ended on the goal, converted, and
        the uplift against the holdout (None without one)."""
        up = self.uplift
        return {
            "entered": self.entered,
            "withheld": self.withheld,
            "steps": {
                s.step: {"reached": s.reached, **({"sent": s.sent} if s.sent is not None else {})}
                for s in self.steps
            },
            "exited_by_goal": self.exited_by_goal,
            "converted": up.treated_converted if up else 0,
            "uplift": round(up.difference, 5) if up and up.withheld else None,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "entered": self.entered,
            "withheld": self.withheld,
            "exited_by_goal": self.exited_by_goal,
            "converted": self.uplift.treated_converted if self.uplift else 0,
            "statuses": dict(sorted(self.statuses.items())),
            "steps": [
                {
                    "step": s.step,
                    "type": s.type,
                    "reached": s.reached,
                    **({"sent": s.sent} if s.sent is not None else {}),
                }
                for s in self.steps
            ],
            "paths": {
                step: {
                    path: {
                        "shoppers": n,
                        **(
                            {"uplift": u.to_dict()} if (u := self.path_uplift.get(step, {}).get(path)) else {}
                        ),
                    }
                    for path, n in paths.items()
                }
                for step, paths in self.paths.items()
            },
            "uplift": self.uplift.to_dict() if self.uplift else None,
        }


def journey_funnels(
    instances: Iterable[Mapping[str, Any]],
    decisions: Dated,
    holdouts: Holdouts,
    catalog: Catalog | None,
    since: datetime | None = None,
) -> dict[str, JourneyFunnel]:
    """Per journey of the catalog with an instance or a decision: its funnel (in step order); only the
    instances entered from ``since`` on."""
    if catalog is None:
        return {}
    journeys = {c.id: c for c in catalog if c.is_journey}
    sent: dict[str, Counter[str]] = defaultdict(Counter)
    for _, item in decisions:
        sent_step = send_step_of(str(item.get("send_key", "")))
        sent_by_journey = item.get("campaign_id") in journeys and item.get("status") == DecisionStatus.SENT
        if sent_by_journey and sent_step is not None:
            sent[str(item["campaign_id"])][sent_step] += 1
    reached: dict[str, Counter[str]] = defaultdict(Counter)
    on_path: dict[str, dict[tuple[str, str], set[str]]] = defaultdict(lambda: defaultdict(set))
    funnels: dict[str, JourneyFunnel] = {}
    for item in instances:
        instance = JourneyInstance.model_validate_json(item["state"])
        if instance.journey_id not in journeys or (since is not None and instance.entered_at < since):
            continue
        funnel = funnels.setdefault(instance.journey_id, JourneyFunnel())
        funnel.entered += 1
        funnel.withheld += instance.status == InstanceStatus.WITHHELD
        funnel.statuses[instance.status] += 1
        reached[instance.journey_id].update({p.step for p in instance.path if p.step is not None})
        for entry in instance.path:
            if entry.kind in _PATHS and entry.step is not None:
                on_path[instance.journey_id][(entry.step, entry.detail.split(":")[0])].add(instance.user_id)
    for journey_id in sorted({*funnels, *sent}):
        funnel = funnels.setdefault(journey_id, JourneyFunnel())
        for step in journeys[journey_id].flow.steps:
            count = StepCount(step.id, step.type, reached[journey_id][step.id])
            if isinstance(step, SendStep):
                count.sent = sent[journey_id][step.id]
            funnel.steps.append(count)
        funnel.uplift = holdouts.of_campaign(journey_id)
        for (step_id, path), users in sorted(on_path[journey_id].items()):
            funnel.paths.setdefault(step_id, {})[path] = len(users)
            funnel.path_uplift.setdefault(step_id, {})[path] = _path_uplift(holdouts, journey_id, users)
    return dict(sorted(funnels.items()))


def _path_uplift(holdouts: Holdouts, journey_id: str, users: set[str]) -> Uplift:
    """The shoppers one path treated against the journey's whole holdout."""
    converted = holdouts.outcomes.get((journey_id, "treated"), {})
    withheld = holdouts.members.get((journey_id, "withheld"), set())
    withheld_converted = holdouts.outcomes.get((journey_id, "withheld"), {})
    treated_revenue = [r for u, r in converted.items() if u in users]
    return uplift(
        len(users),
        len(treated_revenue),
        len(withheld),
        len(withheld_converted),
        treated_revenue,
        list(withheld_converted.values()),
    )
