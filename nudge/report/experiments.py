"""The report's experiments: each campaign's variant table, and the whole program against the global
control group (docs/experiments.md).

- **Variants.** A variant's shoppers are those its campaign *sent* it to (the send log's ``variant``);
  a shopper converted if any conversion of that campaign names them (attributed to the message or
  not: the experiment compares what each variant's recipients went on to do). The rate's interval is
  Wilson's; the probability of being best is the bandit's own Monte Carlo (seed 0), so the report and
  the experiment's decisions read the same figure from the same counts.
- **Program.** The shoppers any marketing decision put in the global control group against every other
  shopper a campaign decided about (treated or withheld by its holdout: the program reached them);
  converted if any of their goal events counted for any campaign. Revenue per shopper counts each goal
  event once.
- **Decisions.** Each stored experiment (the models table's item, written by the daily review): where it
  stands (weights, winner, closed), its counts, and every decision that changed something plus the
  latest look, each with its evidence (counts, rates with intervals, P(best), p-values)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from nudge.report.uplift import Uplift, uplift
from shared.core.vocabulary import Channel, DecisionStatus
from shared.experiments.bandit import probability_best
from shared.experiments.intervals import wilson
from shared.experiments.sequential import Arm
from shared.experiments.store import StoredExperiment
from shared.measurement.attribution import GLOBAL_CONTROL, TREATED, WITHHELD

# The two counts a reader sees, labelled where they are shown (docs/experiments.md, "The report"): the
# variant table's every shopper who went on to buy, the decisions' conversions credited to the send.
BOUGHT_NOTE = (
    "bought: shoppers sent the variant who then converted for the campaign, credited to its send or not"
)
CREDITED_NOTE = (
    "decisions are taken on conversions credited to each variant's send (the experiment's stored counts), "
    "not on the variant table's bought"
)
DECISION_EVIDENCE = "shoppers, conversions credited to its send, rate [95% CI], P(best)"


@dataclass
class VariantRow:
    sent: int = 0
    delivered: int = 0
    opened: int = 0
    clicked: int = 0
    conversions: int = 0  # shoppers sent the variant who converted for the campaign
    revenue: float = 0.0
    probability_best: float = 0.0

    @property
    def rate(self) -> float:
        return self.conversions / self.sent if self.sent else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.conversions, self.sent)

    def to_dict(self) -> dict[str, Any]:
        low, high = self.interval
        return {
            DecisionStatus.SENT: self.sent,
            "delivered": self.delivered,
            "opened": self.opened,
            "clicked": self.clicked,
            "conversions": self.conversions,
            "revenue": round(self.revenue, 2),
            "conversion_rate": round(self.rate, 5),
            "conversion_rate_ci95": [round(low, 5), round(high, 5)],
            "probability_best": round(self.probability_best, 4),
        }


@dataclass
class Experiments:
    """Follows the variants' recipients and the program's groups through the decisions and conversions."""

    recipients: dict[tuple[str, str], str] = field(default_factory=dict)  # (campaign, user) -> variant
    rows: dict[str, dict[str, VariantRow]] = field(default_factory=lambda: defaultdict(dict))
    converted: set[tuple[str, str]] = field(default_factory=set)  # (campaign, user) counted
    control: set[str] = field(default_factory=set)
    reached: set[str] = field(default_factory=set)
    goal_events: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))

    def enrol(self, decision: Mapping[str, Any]) -> None:
        campaign, user = str(decision["campaign_id"]), str(decision["user_id"])
        group = decision.get("group")
        if group == GLOBAL_CONTROL:
            self.control.add(user)
        elif group in (TREATED, WITHHELD):
            self.reached.add(user)
        variant = decision.get("variant")
        if not variant or decision.get("status") != DecisionStatus.SENT:
            return
        row = self.rows[campaign].setdefault(str(variant), VariantRow())
        self.recipients[(campaign, user)] = str(variant)
        clicked = bool(decision.get("clicked_at"))
        row.sent += 1
        row.delivered += bool(decision.get("delivered_at")) or decision.get("channel") in (
            Channel.PUSH,
            Channel.IN_APP,
        )
        row.opened += bool(decision.get("opened_at")) or clicked
        row.clicked += clicked

    def follow(self, conversion: Mapping[str, Any]) -> None:
        campaign, user = str(conversion["campaign_id"]), str(conversion["user_id"])
        revenue = float(conversion.get("revenue") or 0)
        self.goal_events[user][str(conversion.get("goal_event_id", ""))] = revenue
        variant = self.recipients.get((campaign, user))
        if variant is None:
            return
        row = self.rows[campaign][variant]
        if (campaign, user) not in self.converted:
            self.converted.add((campaign, user))
            row.conversions += 1
        if conversion.get("attributed"):
            row.revenue += revenue

    def variant_tables(self) -> dict[str, dict[str, VariantRow]]:
        """Per campaign with variants: each variant's row, with its probability of being best."""
        tables: dict[str, dict[str, VariantRow]] = {}
        for campaign, rows in sorted(self.rows.items()):
            best = probability_best({v: Arm(r.sent, r.conversions) for v, r in rows.items()})
            for variant, row in rows.items():
                row.probability_best = best.get(variant, 0.0)
            tables[campaign] = dict(sorted(rows.items()))
        return tables

    def program(self) -> Uplift | None:
        """Every shopper the program reached against the global control (None without a control)."""
        if not self.control:
            return None
        reached = self.reached - self.control  # a transactional message also reaches the control

        def revenues(users: set[str]) -> list[float]:
            return [sum(self.goal_events[u].values()) for u in users if self.goal_events.get(u)]

        treated, withheld = revenues(reached), revenues(self.control)
        return uplift(len(reached), len(treated), len(self.control), len(withheld), treated, withheld)


def decision_histories(stored: Iterable[StoredExperiment]) -> dict[str, dict[str, Any]]:
    """Per reviewed experiment (``campaign:step``): its state, counts and decision history, as JSON."""
    histories: dict[str, dict[str, Any]] = {}
    for experiment in sorted(stored, key=lambda e: e.experiment_id):
        state = experiment.state
        if state is None:
            continue  # counted, never reviewed
        as_stored = state.to_dict()
        histories[experiment.experiment_id] = {
            "started": as_stored["started"],
            "weights": as_stored["weights"],
            "winner": state.winner,
            "closed": state.closed,
            "counted": {v: {"sent": a.sent, "converted": a.converted} for v, a in experiment.arms().items()},
            "history": as_stored["history"],
        }
    return histories


def weights_line(weights: Mapping[str, float]) -> str:
    """``a 10% · b 90%``: the traffic shares after a decision."""
    total = sum(weights.values()) or 1.0
    return " · ".join(f"{v} {w / total:.0%}" for v, w in weights.items())


def evidence_line(evidence: Mapping[str, Any]) -> str:
    """Per variant: ``a 400, 20, 5.0% [3.3%, 7.6%], P(best) 0%``, separated by ``; ``."""
    parts = []
    for variant, e in dict(evidence.get("variants") or {}).items():
        low, high = e["ci95"]
        parts.append(
            f"{variant} {e['shoppers']:,}, {e['converted']:,}, {e['rate']:.1%} [{low:.1%}, {high:.1%}], "
            f"P(best) {e['p_best']:.0%}"
        )
    return "; ".join(parts)


def standing(record: Mapping[str, Any]) -> str:
    """Where a reviewed experiment stands: ``winner <v>``, ``closed, no winner`` or ``running``."""
    if record["winner"]:
        return f"winner {record['winner']}"
    return "closed, no winner" if record["closed"] else "running"
