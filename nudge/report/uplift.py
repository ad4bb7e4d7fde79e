"""Per-campaign uplift: the treated and withheld groups, what each shopper then bought, the intervals.

A campaign's groups are intent-to-treat (``nudge.report`` explains why); a level's or the total's
uplift pools the campaigns that have a holdout. The interval for a difference of two proportions
is Newcombe's hybrid score interval (method 10); the revenue per recipient difference uses a
normal (Welch) interval.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.experiments.intervals import Z95, newcombe

__all__ = ["Holdouts", "Uplift", "uplift"]

MIN_GROUP = 30  # fewer shoppers than this in either group: "too few to tell"
GROUPS = ("treated", "withheld")


@dataclass(frozen=True)
class Uplift:
    treated: int
    treated_converted: int
    withheld: int
    withheld_converted: int
    difference: float  # conversion rate treated - withheld
    low: float
    high: float
    revenue_per_recipient: float  # treated - withheld, in order currency
    revenue_low: float
    revenue_high: float

    @property
    def treated_rate(self) -> float:
        return self.treated_converted / self.treated if self.treated else 0.0

    @property
    def withheld_rate(self) -> float:
        return self.withheld_converted / self.withheld if self.withheld else 0.0

    @property
    def verdict(self) -> str:
        if self.withheld == 0:
            return "no holdout"
        if min(self.treated, self.withheld) < MIN_GROUP:
            return "too few to tell"
        if self.low > 0:
            return "significant gain"
        if self.high < 0:
            return "significant loss"
        return "not significant yet"

    def to_dict(self) -> dict[str, Any]:
        return {
            "treated": self.treated,
            "treated_converted": self.treated_converted,
            "treated_rate": round(self.treated_rate, 5),
            "withheld": self.withheld,
            "withheld_converted": self.withheld_converted,
            "withheld_rate": round(self.withheld_rate, 5),
            "uplift": round(self.difference, 5),
            "uplift_ci95": [round(self.low, 5), round(self.high, 5)],
            "revenue_per_recipient_uplift": round(self.revenue_per_recipient, 2),
            "revenue_per_recipient_ci95": [round(self.revenue_low, 2), round(self.revenue_high, 2)],
            "verdict": self.verdict,
        }


def _mean_var(values_sum: float, squares_sum: float, n: int) -> tuple[float, float]:
    if n == 0:
        return 0.0, 0.0
    mean = values_sum / n
    variance = (squares_sum - n * mean * mean) / (n - 1) if n > 1 else 0.0
    return mean, max(0.0, variance)


def uplift(
    treated: int,
    treated_converted: int,
    withheld: int,
    withheld_converted: int,
    treated_revenue: Sequence[float] = (),
    withheld_revenue: Sequence[float] = (),
) -> Uplift:
    """Conversion-rate difference with Newcombe's 95% interval, and revenue per recipient difference.

    ``*_revenue`` hold the revenue of each converted shopper of the group (the others had none).
    """
    difference, low, high = newcombe(treated_converted, treated, withheld_converted, withheld)
    m1, v1 = _mean_var(sum(treated_revenue), sum(r * r for r in treated_revenue), treated)
    m2, v2 = _mean_var(sum(withheld_revenue), sum(r * r for r in withheld_revenue), withheld)
    se = math.sqrt((v1 / treated if treated else 0.0) + (v2 / withheld if withheld else 0.0))
    rpr = m1 - m2
    return Uplift(
        treated,
        treated_converted,
        withheld,
        withheld_converted,
        difference,
        low,
        high,
        rpr,
        rpr - Z95 * se,
        rpr + Z95 * se,
    )


@dataclass
class Holdouts:
    """Who each campaign treated and withheld, and the revenue each of them converted with after."""

    members: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    # (campaign, group) -> user -> revenue, for the members who converted
    outcomes: dict[tuple[str, str], dict[str, float]] = field(default_factory=lambda: defaultdict(dict))

    def enrol(self, decision: Mapping[str, Any]) -> None:
        """A decision puts its shopper in the campaign's treated or withheld group (if it names one)."""
        if decision.get("group") in GROUPS:
            self.members[(str(decision["campaign_id"]), str(decision["group"]))].add(str(decision["user_id"]))

    def follow(self, conversion: Mapping[str, Any]) -> None:
        """A conversion of a group's member counts for that group, attributed to a message or not."""
        campaign, group = str(conversion["campaign_id"]), str(conversion.get("group", ""))
        user = str(conversion["user_id"])
        if user in self.members.get((campaign, group), set()):
            revenue = float(conversion.get("revenue") or 0)
            per_user = self.outcomes[(campaign, group)]
            per_user[user] = per_user.get(user, 0.0) + revenue

    def of_campaign(self, campaign: str) -> Uplift:
        """The campaign's uplift; without a holdout, only its treated group's conversion."""
        if self.members.get((campaign, "withheld")):
            return self.pooled([campaign])
        treated = self.members.get((campaign, "treated"), set())
        return uplift(len(treated), len(self.outcomes.get((campaign, "treated"), {})), 0, 0)

    def pooled(self, campaign_ids: Iterable[str]) -> Uplift:
        """Pooled over the campaigns that have a holdout (the others have nothing to compare with)."""
        sizes = dict.fromkeys(GROUPS, 0)
        revenues: dict[str, list[float]] = {group: [] for group in GROUPS}
        for campaign in campaign_ids:
            if not self.members.get((campaign, "withheld")):
                continue
            for group in GROUPS:
                sizes[group] += len(self.members.get((campaign, group), ()))
                revenues[group].extend(self.outcomes.get((campaign, group), {}).values())
        return uplift(
            sizes["treated"],
            len(revenues["treated"]),
            sizes["withheld"],
            len(revenues["withheld"]),
            revenues["treated"],
            revenues["withheld"],
        )
