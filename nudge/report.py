"""`nudge report`: what the messaging earned, read from the send log and the conversions table.

Everything is computed from two tables the system writes (docs/measurement.md):

- the **send log** (``messages``): one decision per send key with its level, channel, holdout group
  and the engagement SES and the inbox folded into it (``delivered_at``, ``opened_at``, ...);
- the **conversions** (``conversions``): one item per (goal event, campaign), written by ingest.

Uplift is intent-to-treat: the treated group is every shopper a campaign chose and did not hold
out (including those a cap or consent then stopped), the withheld group its holdout; both are
followed for the campaign's goal window. The interval for a difference of two proportions is
Newcombe's hybrid score interval (method 10), which stays honest at small counts; the revenue per
recipient difference uses a normal (Welch) interval.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from shared.campaigns.loader import Catalog
from shared.core.vocabulary import Channel, DecisionStatus, Level

Z95 = 1.959963984540054
MIN_GROUP = 30  # fewer shoppers than this in either group: "too few to tell"
# Decisions that are not a campaign's final word on a send key (logged beside it, or in flight).
NOT_DECISIONS = frozenset(
    {DecisionStatus.DEFERRED_QUIET_HOURS, DecisionStatus.DUPLICATE, DecisionStatus.CLAIMED}
)

# The verdict's thresholds (docs/measurement.md explains each and where it comes from).
STRIVING_L1_SHARE = 0.5  # L1 is at least half of the volume: limited personalization
STRIVING_FREQUENCY = 10.0  # messages per recipient per week: high send frequency
OPTIMAL_FREQUENCY = (1.0, 7.0)  # a week's messages per recipient in the optimal band
STELLAR_L4_SHARE = 0.3  # emphasis on real time: at least 30% of sends are L4 triggers
STELLAR_LEVEL_SHARE = 0.05  # "a blend of all four levels": each level has at least 5% of sends


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


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
    p1 = treated_converted / treated if treated else 0.0
    p2 = withheld_converted / withheld if withheld else 0.0
    l1, u1 = wilson(treated_converted, treated)
    l2, u2 = wilson(withheld_converted, withheld)
    difference = p1 - p2
    low = difference - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = difference + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
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


def _at(item: Mapping[str, Any], name: str = "at") -> datetime | None:
    value = item.get(name)
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def build_report(
    messages: Iterable[Mapping[str, Any]],
    conversions: Iterable[Mapping[str, Any]],
    catalog: Catalog | None = None,
    since: datetime | None = None,
) -> Report:
    decisions: list[tuple[datetime, Mapping[str, Any]]] = []
    for item in messages:
        at = _at(item)
        if at is None or (since is not None and at < since) or item.get("status") in NOT_DECISIONS:
            continue
        decisions.append((at, item))
    converted: list[tuple[datetime, Mapping[str, Any]]] = []
    for item in conversions:
        at = _at(item, "converted_at")
        decided = _at(item, "decided_at")
        if at is None or decided is None or (since is not None and decided < since):
            continue
        converted.append((at, item))

    names = {c.id: c.name for c in catalog} if catalog is not None else {}
    levels_of: dict[str, str] = {c.id: c.level for c in catalog} if catalog is not None else {}
    for _, item in decisions:
        levels_of.setdefault(str(item["campaign_id"]), str(item.get("level", "")))
        names.setdefault(str(item["campaign_id"]), str(item["campaign_id"]))

    campaigns: dict[str, Row] = defaultdict(Row)
    levels: dict[str, Row] = {level: Row() for level in Level}
    channels: dict[str, Row] = {channel: Row() for channel in Channel}
    total = Row()
    groups: dict[tuple[str, str], set[str]] = defaultdict(set)  # (campaign, group) -> users
    sent_per_user: Counter[str] = Counter()
    daily_sends: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(Level, 0))
    status_counts: Counter[str] = Counter()
    for at, item in decisions:
        campaign, level, status = str(item["campaign_id"]), str(item.get("level", "")), str(item["status"])
        status_counts[
            status if status != DecisionStatus.SKIPPED else f"skipped: {item.get('reason', '?')}"
        ] += 1
        if item.get("group") in ("treated", "withheld"):
            groups[(campaign, str(item["group"]))].add(str(item["user_id"]))
        rows = [campaigns[campaign], total]
        if level in levels:
            rows.append(levels[level])
        if status == DecisionStatus.WITHHELD_HOLDOUT:
            for row in rows:
                row.withheld += 1
            continue
        if status != DecisionStatus.SENT:
            continue
        channel = str(item.get("channel") or "")
        if channel in channels:
            rows.append(channels[channel])
        sent_per_user[str(item["user_id"])] += 1
        if level in tuple(Level):
            daily_sends[at.date().isoformat()][level] += 1
        # Push and in-app have no delivery receipt here: accepted by SNS / written to the inbox counts.
        delivered = bool(item.get("delivered_at")) or channel in (Channel.PUSH, Channel.IN_APP)
        clicked = bool(item.get("clicked_at"))
        opened = bool(item.get("opened_at")) or clicked
        for row in rows:
            row.sent += 1
            row.delivered += delivered
            row.opened += opened
            row.clicked += clicked

    outcomes: dict[tuple[str, str], dict[str, float]] = defaultdict(
        dict
    )  # (campaign, group) -> user -> revenue
    daily_conversions: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(Level, 0))
    for at, item in converted:
        campaign, group, user = str(item["campaign_id"]), str(item.get("group", "")), str(item["user_id"])
        if user in groups.get((campaign, group), set()):
            revenue = float(item.get("revenue") or 0)
            per_user = outcomes[(campaign, group)]
            per_user[user] = per_user.get(user, 0.0) + revenue
        if item.get("attributed"):
            level, channel = str(item.get("level", "")), str(item.get("channel") or "")
            rows = [campaigns[campaign], total]
            if level in levels:
                rows.append(levels[level])
                daily_conversions[at.date().isoformat()][level] += 1
            if channel in channels:
                rows.append(channels[channel])
            for row in rows:
                row.conversions += 1
                row.revenue += float(item.get("revenue") or 0)

    def uplift_of(campaign_ids: Iterable[str]) -> Uplift:
        """Pooled over the campaigns that have a holdout (the others have nothing to compare with)."""
        sizes = {g: 0 for g in ("treated", "withheld")}
        revenues: dict[str, list[float]] = {"treated": [], "withheld": []}
        for campaign in campaign_ids:
            if not groups.get((campaign, "withheld")):
                continue
            for group in sizes:
                sizes[group] += len(groups.get((campaign, group), ()))
                revenues[group].extend(outcomes.get((campaign, group), {}).values())
        return uplift(
            sizes["treated"],
            len(revenues["treated"]),
            sizes["withheld"],
            len(revenues["withheld"]),
            revenues["treated"],
            revenues["withheld"],
        )

    for campaign, row in campaigns.items():
        treated = groups.get((campaign, "treated"), set())
        row.uplift = (
            uplift_of([campaign])
            if groups.get((campaign, "withheld"))
            else uplift(len(treated), len(outcomes.get((campaign, "treated"), {})), 0, 0)
        )
    for level, row in levels.items():
        row.uplift = uplift_of([c for c in campaigns if levels_of.get(c) == level])
    total.uplift = uplift_of(list(campaigns))

    moments = [at for at, _ in decisions]
    start = since or (min(moments) if moments else None)
    end = max(moments) if moments else None
    weeks = max((end - start).total_seconds() / 86400, 1.0) / 7 if start and end else 1 / 7
    per_user_week = [n / weeks for n in sent_per_user.values()]
    sends = sum(levels[level].sent for level in Level)
    mix: dict[str, float] = {level: (levels[level].sent / sends if sends else 0.0) for level in Level}
    report = Report(
        since=since,
        start=start,
        end=end,
        campaigns=dict(sorted(campaigns.items(), key=lambda kv: (levels_of.get(kv[0], ""), kv[0]))),
        campaign_names=names,
        campaign_levels={c: levels_of.get(c, "") for c in campaigns},
        levels=levels,
        channels=channels,
        total=total,
        recipients=len(sent_per_user),
        per_user_week=per_user_week,
        level_mix=mix,
        daily_sends=dict(sorted(daily_sends.items())),
        daily_conversions=dict(sorted(daily_conversions.items())),
        verdict=Verdict("Steady", "", []),
        decisions=status_counts,
    )
    report.verdict = classify(mix, report.messages_per_user_week, report, catalog)
    return report


def classify(
    mix: Mapping[str, float], frequency: float, report: Report | None = None, catalog: Catalog | None = None
) -> Verdict:
    """Striving, Steady or Stellar from the level mix and the send frequency, with what to change."""
    l1, l4 = mix.get(Level.L1, 0.0), mix.get(Level.L4, 0.0)
    low, high = OPTIMAL_FREQUENCY
    missing = [level for level in Level if mix.get(level, 0.0) < STELLAR_LEVEL_SHARE]
    stats = f"L1 {l1:.0%} · L4 {l4:.0%} of sends, {frequency:.1f} messages per recipient per week"
    if not any(mix.values()):
        return Verdict("Steady", "nothing was sent in this period", ["Enable a campaign: nothing was sent."])
    if l1 >= STRIVING_L1_SHARE or frequency > STRIVING_FREQUENCY:
        kind = "Striving"
        why = (
            f"{stats}: "
            + ("generic L1 messages are the majority" if l1 >= STRIVING_L1_SHARE else "")
            + (" and " if l1 >= STRIVING_L1_SHARE and frequency > STRIVING_FREQUENCY else "")
            + (f"more than {STRIVING_FREQUENCY:g} a week" if frequency > STRIVING_FREQUENCY else "")
        )
    elif not missing and l4 >= STELLAR_L4_SHARE and low <= frequency <= high:
        kind = "Stellar"
        why = f"{stats}: all four levels, led by real-time L4, at an optimal frequency"
    else:
        kind = "Steady"
        gaps = []
        if missing:
            gaps.append("no " + "/".join(missing))
        if l4 < STELLAR_L4_SHARE:
            gaps.append(f"L4 below {STELLAR_L4_SHARE:.0%}")
        if not low <= frequency <= high:
            gaps.append(f"frequency outside {low:g}-{high:g} a week")
        why = f"{stats}: personalized, but " + ", ".join(gaps)
    return Verdict(kind, why, recommendations(mix, frequency, report, catalog))


def recommendations(
    mix: Mapping[str, float], frequency: float, report: Report | None, catalog: Catalog | None
) -> list[str]:
    """The two or three changes that would move the sender up, most important first."""
    low, high = OPTIMAL_FREQUENCY
    l1, l4 = mix.get(Level.L1, 0.0), mix.get(Level.L4, 0.0)
    advice: list[str] = []

    def biggest(level: str) -> str | None:
        if report is None:
            return None
        rows = [(r.sent, c) for c, r in report.campaigns.items() if report.campaign_levels.get(c) == level]
        return max(rows)[1] if rows and max(rows)[0] > 0 else None

    triggers = [c.id for c in catalog if c.level == Level.L4] if catalog is not None else []
    if l1 >= STRIVING_L1_SHARE:
        blast = biggest(Level.L1)
        advice.append(
            f"L1 is {l1:.0%} of volume at {frequency:.1f} messages/user/week: cut the broadcast"
            + (f" '{blast}'" if blast else "")
            + " to fewer, bigger moments and move that budget to real-time triggers"
            + (f" ({', '.join(triggers[:2])})" if triggers else " such as abandoned-cart")
            + "."
        )
    if frequency > high:
        advice.append(
            f"{frequency:.1f} messages per recipient per week is above the optimal {low:g}-{high:g}: lower "
            "caps.all_channels.per_week in campaigns/_policy.yaml and raise the priority of triggers."
        )
    if l4 < STELLAR_L4_SHARE:
        if triggers:
            advice.append(
                f"L4 is only {l4:.0%} of sends: real-time triggers convert best — add more "
                "(browse abandonment, back in stock, price drop) or widen the existing ones' conditions."
            )
        else:
            advice.append(
                f"L4 is only {l4:.0%} of sends: add an abandoned-cart trigger "
                "(see campaigns/abandoned-cart.yaml)."
            )
    if mix.get(Level.L3, 0.0) < STELLAR_LEVEL_SHARE:
        advice.append(
            "No L3: turn on scoring and add a prediction-led campaign "
            "(churn-risk save, champions early access)."
        )
    if mix.get(Level.L2, 0.0) < STELLAR_LEVEL_SHARE:
        advice.append("No L2: add a behavioural campaign (repeat viewers of a category, lapsed buyers).")
    if l1 < STELLAR_LEVEL_SHARE:
        advice.append(
            "No L1: add a demographic campaign for store-wide moments (a payday or weekend sale); "
            "Stellar senders use L1 for the big events."
        )
    if frequency < low:
        advice.append(
            f"{frequency:.1f} messages per recipient per week is below the optimal {low:g}-{high:g}: "
            "there is room for more well-timed messages."
        )
    if report is not None:
        advice.extend(campaign_advice(report))
        losers = [
            (c, r.uplift)
            for c, r in report.campaigns.items()
            if r.uplift is not None and r.uplift.verdict == "significant loss"
        ]
        for campaign, result in losers[:1]:
            advice.insert(
                0,
                f"'{campaign}' lowers conversion ({result.difference * 100:+.1f} pp, 95% CI "
                f"{result.low * 100:+.1f} to {result.high * 100:+.1f}): pause it or change its audience.",
            )
    return advice[:3]


def campaign_advice(report: Report) -> list[str]:
    """What the campaigns' own results say: scale the proven winner, measure the biggest unmeasured."""
    advice = []
    winners = sorted(
        (
            (r.uplift.difference, c, r.uplift)
            for c, r in report.campaigns.items()
            if r.uplift is not None and r.uplift.verdict == "significant gain"
        ),
        reverse=True,
    )
    if winners:
        _, campaign, result = winners[0]
        advice.append(
            f"'{campaign}' is a proven winner ({result.difference * 100:+.1f} pp, 95% CI "
            f"{result.low * 100:+.1f} to {result.high * 100:+.1f}): widen its audience or raise its priority."
        )
    unmeasured = sorted(
        (r.sent, c)
        for c, r in report.campaigns.items()
        if r.sent and (r.uplift is None or not r.uplift.withheld)
    )
    if unmeasured:
        sent, campaign = unmeasured[-1]
        advice.append(
            f"'{campaign}' sent {sent:,} messages with no holdout, so what it earns is unknown: "
            "add holdout_percent: 5 to its file."
        )
    return advice


def day_range(report: Report) -> list[date]:
    if report.start is None or report.end is None:
        return []
    first, last = report.start.date(), report.end.date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]
