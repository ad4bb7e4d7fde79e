"""The verdict: Striving, Steady or Stellar from the level mix and the send frequency, and what to change.

The thresholds are below; docs/measurement.md explains each and where it comes from.
"""

from __future__ import annotations

from collections.abc import Mapping

from nudge.report.model import Report, Verdict
from shared.campaigns.loader import Catalog
from shared.core.vocabulary import Level

STRIVING_L1_SHARE = 0.5  # L1 is at least half of the volume: limited personalization
STRIVING_FREQUENCY = 10.0  # messages per recipient per week: high send frequency
OPTIMAL_FREQUENCY = (1.0, 7.0)  # a week's messages per recipient in the optimal band
STELLAR_L4_SHARE = 0.3  # emphasis on real time: at least 30% of sends are L4 triggers
STELLAR_LEVEL_SHARE = 0.05  # "a blend of all four levels": each level has at least 5% of sends


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
