"""The report's experiments: each variant's recipients, conversions, rate with its Wilson interval and
probability of being best; the program's uplift against the global control group."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from nudge.report.build import build_report
from shared.experiments.bandit import probability_best
from shared.experiments.intervals import wilson
from shared.experiments.sequential import Arm

T0 = datetime(2026, 11, 2, 8, tzinfo=UTC)


def decision(user: str, campaign: str = "sale", status: str = "sent", **extra: Any) -> dict[str, Any]:
    group = {"withheld_global_control": "global_control", "withheld_holdout": "withheld"}.get(
        status, "treated"
    )
    return {
        "user_id": user,
        "send_key": f"{campaign}#{user}",
        "campaign_id": campaign,
        "level": "L1",
        "status": status,
        "group": group,
        "channel": "email" if status == "sent" else None,
        "at": T0.isoformat(),
        **extra,
    }


def conversion(user: str, campaign: str = "sale", event: str = "", **extra: Any) -> dict[str, Any]:
    return {
        "user_id": user,
        "campaign_id": campaign,
        "goal_event_id": event or f"order-{user}",
        "level": "L1",
        "group": "treated",
        "decided_at": T0.isoformat(),
        "converted_at": (T0 + timedelta(hours=5)).isoformat(),
        "revenue": 10.0,
        **extra,
    }


def test_the_variant_table_counts_each_variants_recipients_and_their_conversions() -> None:
    messages = [
        *(decision(f"a{i}", variant="forty", delivered_at="x") for i in range(40)),
        *(decision(f"b{i}", variant="free", delivered_at="x", opened_at="x") for i in range(40)),
        decision("b-capped", status="capped", variant="free"),  # not sent: not the variant's recipient
        decision("plain", campaign="other"),
    ]
    conversions = [
        *(conversion(f"a{i}", attributed=True) for i in range(4)),
        *(conversion(f"b{i}", attributed=i < 5) for i in range(10)),
        conversion("b0", event="order-b0-again", attributed=True),  # the same shopper again: revenue only
        conversion("b-capped", attributed=False),
        conversion("plain", campaign="other", attributed=True),
    ]
    report = build_report(messages, conversions)
    assert list(report.variants) == ["sale"]
    forty, free = report.variants["sale"]["forty"], report.variants["sale"]["free"]
    assert (forty.sent, forty.delivered, forty.opened, forty.conversions, forty.revenue) == (
        40,
        40,
        0,
        4,
        40.0,
    )
    assert (free.sent, free.opened, free.conversions, free.revenue) == (40, 40, 10, 60.0)
    assert free.rate == 0.25 and free.interval == wilson(10, 40)
    expected = probability_best({"forty": Arm(40, 4), "free": Arm(40, 10)})
    assert (forty.probability_best, free.probability_best) == (expected["forty"], expected["free"])
    assert free.probability_best == pytest.approx(0.9578, abs=1e-4)  # seeded; the Beta integral gives 0.95785
    data = report.to_dict()["variants"]["sale"]["free"]
    assert data["conversion_rate_ci95"] == [round(wilson(10, 40)[0], 5), round(wilson(10, 40)[1], 5)]
    assert report.program is None and report.to_dict()["program_uplift"] is None


def test_the_program_is_measured_against_the_global_control() -> None:
    messages = [
        *(decision(f"r{i}") for i in range(100)),
        *(decision(f"h{i}", status="withheld_holdout") for i in range(20)),  # reached by the program
        *(decision(f"c{i}", status="withheld_global_control") for i in range(40)),
        decision("c0", campaign="thanks"),  # a transactional message reaches the control: still control
    ]
    conversions = [
        *(conversion(f"r{i}") for i in range(20)),
        conversion("r0", campaign="other"),  # the same goal event for a second campaign: counted once
        *(conversion(f"h{i}", group="withheld") for i in range(4)),
        *(conversion(f"c{i}", group="global_control") for i in range(4)),
    ]
    program = build_report(messages, conversions).program
    assert program is not None
    assert (program.treated, program.treated_converted, program.withheld, program.withheld_converted) == (
        120,
        24,
        40,
        4,
    )
    assert program.difference == pytest.approx(0.1)
    assert program.revenue_per_recipient == pytest.approx(24 * 10 / 120 - 4 * 10 / 40)
    assert program.verdict == "not significant yet"


def test_the_html_report_draws_each_experiment_and_states_the_program_uplift() -> None:
    from nudge.report.html import render_html

    messages = [
        *(decision(f"a{i}", variant="forty") for i in range(40)),
        *(decision(f"b{i}", variant="free") for i in range(40)),
        *(decision(f"c{i}", status="withheld_global_control") for i in range(10)),
    ]
    conversions = [*(conversion(f"a{i}") for i in range(4)), *(conversion(f"b{i}") for i in range(10))]
    page = render_html(build_report(messages, conversions))
    assert page.count('data-chart="variants0"') == 1
    assert page.count("<circle data-mark") == 2  # one rate per variant
    assert "<h2>Variants — sale</h2>" in page
    assert "free: 25.0% of 40 (95% CI 14.2% to 40.2%), P(best) 96%" in page
    assert "the 10 in the global control 0.0%: +17.50 pp" in page
    plain = render_html(build_report([decision("u1")], []))
    assert "Variants —" not in plain and "global control" not in plain
