"""The report's arithmetic: uplift and its interval, the verdict's thresholds, the tables' counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from nudge.report.build import build_report
from nudge.report.html import render_html
from nudge.report.uplift import uplift
from nudge.report.verdict import campaign_advice, classify
from shared.experiments.intervals import wilson

T0 = datetime(2026, 11, 2, 8, tzinfo=UTC)


def test_uplift_matches_a_hand_computed_newcombe_interval() -> None:
    # 60/1000 treated vs 20/500 withheld. By hand (z = 1.959964):
    #   Wilson 60/1000 = [0.046897, 0.076471], Wilson 20/500 = [0.026041, 0.060974]
    #   low  = 0.02 - sqrt((0.06 - 0.046897)^2 + (0.060974 - 0.04)^2) = -0.004731
    #   high = 0.02 + sqrt((0.076471 - 0.06)^2 + (0.04 - 0.026041)^2) = +0.041591
    result = uplift(1000, 60, 500, 20)
    assert wilson(60, 1000) == pytest.approx((0.046897, 0.076471), abs=2e-6)
    assert wilson(20, 500) == pytest.approx((0.026041, 0.060974), abs=2e-6)
    assert result.difference == pytest.approx(0.02)
    assert result.low == pytest.approx(-0.004731, abs=2e-6)
    assert result.high == pytest.approx(0.041591, abs=2e-6)
    assert result.verdict == "not significant yet"


def test_revenue_per_recipient_difference_matches_a_hand_computed_welch_interval() -> None:
    # treated: 4 shoppers, two bought 100 and 50 -> mean 37.5, sample variance 6875/3
    # withheld: 2 shoppers, one bought 20 -> mean 10, sample variance 200
    # se = sqrt(6875/3/4 + 200/2) = 25.9406; 27.5 +- 1.959964 * se = [-23.342, 78.342]
    result = uplift(4, 2, 2, 1, [100.0, 50.0], [20.0])
    assert result.revenue_per_recipient == pytest.approx(27.5)
    assert result.revenue_low == pytest.approx(-23.342, abs=1e-3)
    assert result.revenue_high == pytest.approx(78.342, abs=1e-3)


@pytest.mark.parametrize(
    ("counts", "verdict"),
    [
        ((2000, 200, 2000, 100), "significant gain"),
        ((2000, 100, 2000, 200), "significant loss"),
        ((1000, 60, 500, 20), "not significant yet"),
        ((1000, 300, 20, 0), "too few to tell"),
        ((1000, 60, 0, 0), "no holdout"),
    ],
)
def test_uplift_verdicts(counts: tuple[int, int, int, int], verdict: str) -> None:
    assert uplift(*counts).verdict == verdict


def mix(l1: float, l2: float, l3: float, l4: float) -> dict[str, float]:
    return {"L1": l1, "L2": l2, "L3": l3, "L4": l4}


@pytest.mark.parametrize(
    ("shares", "frequency", "kind"),
    [
        (mix(0.8, 0.1, 0.0, 0.1), 9.0, "Striving"),  # mostly generic
        (mix(0.5, 0.2, 0.1, 0.2), 3.0, "Striving"),  # L1 at exactly half
        (mix(0.2, 0.3, 0.1, 0.4), 12.0, "Striving"),  # personalized, but too many
        (mix(0.15, 0.25, 0.15, 0.45), 3.0, "Stellar"),
        (mix(0.15, 0.25, 0.15, 0.45), 7.0, "Stellar"),  # top of the optimal band
        (mix(0.15, 0.25, 0.15, 0.45), 7.1, "Steady"),  # just over it
        (mix(0.15, 0.25, 0.15, 0.45), 0.9, "Steady"),  # too few
        (mix(0.2, 0.36, 0.15, 0.29), 3.0, "Steady"),  # L4 just under 30%
        (mix(0.0, 0.5, 0.0, 0.5), 2.0, "Steady"),  # L2 + L4 only: the seed's Steady sender
        (mix(0.04, 0.3, 0.2, 0.46), 3.0, "Steady"),  # L1 under 5%: not all four levels
    ],
)
def test_verdict_thresholds(shares: dict[str, float], frequency: float, kind: str) -> None:
    assert classify(shares, frequency).kind == kind


def test_striving_advice_names_the_volume_and_the_fix() -> None:
    verdict = classify(mix(0.8, 0.1, 0.0, 0.1), 9.0)
    assert verdict.recommendations[0].startswith(
        "L1 is 80% of volume at 9.0 messages/user/week: cut the broadcast"
    )
    assert 2 <= len(verdict.recommendations) <= 3
    assert any("above the optimal" in r for r in verdict.recommendations)


def test_steady_advice_names_the_missing_levels() -> None:
    advice = classify(mix(0.0, 0.5, 0.0, 0.5), 2.0).recommendations
    assert any(r.startswith("No L3") for r in advice)
    assert any(r.startswith("No L1") for r in advice)


def message(
    user: str, campaign: str, level: str, at: datetime, status: str = "sent", **extra: object
) -> dict:
    group = "withheld" if status == "withheld_holdout" else "treated"
    return {
        "user_id": user,
        "send_key": f"{campaign}#{at.isoformat()}#{user}",
        "campaign_id": campaign,
        "level": level,
        "status": status,
        "group": group,
        "at": at.isoformat(),
        **extra,
    }


def test_report_counts_engagement_conversions_frequency_and_mix() -> None:
    messages = [
        message("u1", "sale", "L1", T0, channel="email", delivered_at="x", opened_at="x", clicked_at="x"),
        message("u1", "cart", "L4", T0 + timedelta(days=1), channel="push"),
        message("u2", "sale", "L1", T0, channel="email", delivered_at="x"),
        message("u3", "sale", "L1", T0, status="withheld_holdout"),
        message("u4", "cart", "L4", T0 + timedelta(days=13), channel="in_app", opened_at="x"),
        message("u5", "sale", "L1", T0, status="capped", channel="email"),
        # beside a send key, not decisions: never counted
        {**message("u2", "sale", "L1", T0, channel="email"), "status": "deferred_quiet_hours"},
        {**message("u2", "sale", "L1", T0, channel="email"), "status": "duplicate"},
    ]
    conversions = [
        {
            "user_id": "u1",
            "campaign_id": "cart",
            "level": "L4",
            "group": "treated",
            "channel": "push",
            "decided_at": (T0 + timedelta(days=1)).isoformat(),
            "converted_at": (T0 + timedelta(days=1, hours=2)).isoformat(),
            "revenue": 80.0,
            "attributed": True,
        },
        {
            "user_id": "u1",
            "campaign_id": "sale",
            "level": "L1",
            "group": "treated",
            "decided_at": T0.isoformat(),
            "converted_at": (T0 + timedelta(days=1, hours=2)).isoformat(),
            "revenue": 80.0,
            "attributed": False,
        },
        {
            "user_id": "u3",
            "campaign_id": "sale",
            "level": "L1",
            "group": "withheld",
            "decided_at": T0.isoformat(),
            "converted_at": (T0 + timedelta(hours=3)).isoformat(),
            "revenue": 30.0,
            "attributed": False,
        },
    ]

    report = build_report(messages, conversions)

    sale, cart = report.campaigns["sale"], report.campaigns["cart"]
    assert (sale.sent, sale.withheld, sale.delivered, sale.opened, sale.clicked) == (2, 1, 2, 1, 1)
    assert (cart.sent, cart.delivered, cart.opened, cart.conversions, cart.revenue) == (2, 2, 1, 1, 80.0)
    assert sale.conversions == 0  # counted for its uplift, but the last touch was the cart message
    assert sale.uplift is not None
    # treated u1, u2, u5 (capped still treated); withheld u3: 1/3 vs 1/1
    assert (sale.uplift.treated, sale.uplift.treated_converted) == (3, 1)
    assert (sale.uplift.withheld, sale.uplift.withheld_converted) == (1, 1)
    assert report.channels["push"].conversions == 1 and report.channels["email"].conversions == 0
    assert report.levels["L1"].sent == 2 and report.levels["L4"].sent == 2
    assert report.level_mix == {"L1": 0.5, "L2": 0.0, "L3": 0.0, "L4": 0.5}
    # 13 days of decisions = 13/7 weeks; u1 got 2, u2 and u4 one each
    weeks = 13 / 7
    assert sorted(report.per_user_week) == pytest.approx(sorted([2 / weeks, 1 / weeks, 1 / weeks]))
    assert report.messages_per_user_week_p95 == pytest.approx(2 / weeks)
    assert report.total.revenue == 80.0
    assert report.decisions["capped"] == 1 and "duplicate" not in report.decisions
    assert report.daily_conversions["2026-11-03"]["L4"] == 1


def test_since_drops_earlier_decisions_and_their_conversions() -> None:
    messages = [
        message("u1", "sale", "L1", T0, channel="email"),
        message("u2", "sale", "L1", T0 + timedelta(days=3)),
    ]
    conversions = [
        {
            "user_id": "u1",
            "campaign_id": "sale",
            "level": "L1",
            "group": "treated",
            "channel": "email",
            "decided_at": T0.isoformat(),
            "converted_at": (T0 + timedelta(days=3, hours=1)).isoformat(),
            "revenue": 10.0,
            "attributed": True,
        }
    ]
    report = build_report(messages, conversions, since=T0 + timedelta(days=1))
    assert report.total.sent == 1
    assert report.total.conversions == 0


def test_html_escapes_campaign_ids_and_carries_every_chart() -> None:
    messages = [message("u1", "<script>x</script>", "L4", T0, channel="email")]
    page = render_html(build_report(messages, []))
    assert "<script>x</script>" not in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page
    for chart in ("sends", "conversions", "frequency", "uplift"):
        assert f'data-chart="{chart}"' in page


def test_level_uplift_pools_only_campaigns_with_a_holdout_and_advice_names_campaigns() -> None:
    messages = []
    for n in range(160):
        # 'cart' has a holdout (every 4th shopper withheld); 'thanks' has none and sends to everyone
        status = "withheld_holdout" if n % 4 == 0 else "sent"
        messages.append(message(f"u{n}", "cart", "L4", T0, status=status, channel="push"))
        messages.append(message(f"u{n}", "thanks", "L4", T0, channel="push"))
    conversions = [
        {
            "user_id": f"u{n}",
            "campaign_id": campaign,
            "level": "L4",
            "group": "treated",
            "channel": "push",
            "decided_at": T0.isoformat(),
            "converted_at": (T0 + timedelta(hours=1)).isoformat(),
            "revenue": 10.0,
            "attributed": campaign == "cart",
        }
        for n in range(160)
        if n % 4 and n % 2
        for campaign in ("cart", "thanks")
    ]

    report = build_report(messages, conversions)

    level = report.levels["L4"].uplift
    assert level is not None
    assert (level.treated, level.withheld) == (120, 40)  # 'thanks' is left out of the pool
    assert (level.treated_converted, level.withheld_converted) == (80, 0)
    assert report.campaigns["thanks"].uplift is not None
    assert report.campaigns["thanks"].uplift.verdict == "no holdout"
    # the verdict's own gaps (no L1/L2/L3) come first; the campaigns' results add their advice after
    winner, unmeasured = campaign_advice(report)
    assert winner.startswith("'cart' is a proven winner (+66.7 pp, 95% CI +")
    assert unmeasured == (
        "'thanks' sent 160 messages with no holdout, so what it earns is unknown: "
        "add holdout_percent: 5 to its file."
    )
