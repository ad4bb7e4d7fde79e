"""The report's experiments: each variant's recipients, conversions, rate with its Wilson interval and
probability of being best; the program's uplift against the global control group."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from nudge.report.build import build_report
from shared.campaigns.variants import Experiment, ExperimentMode, Variant
from shared.experiments.bandit import probability_best
from shared.experiments.intervals import wilson
from shared.experiments.review import ExperimentState, review
from shared.experiments.sequential import Arm
from shared.experiments.store import StoredExperiment

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
    assert "<th>bought</th>" in page
    assert (
        "bought: shoppers sent the variant who then converted for the campaign, credited to its send or not"
        in page
    )
    assert "free: 25.0% of 40 (95% CI 14.2% to 40.2%), P(best) 96%" in page
    assert "the 10 in the global control 0.0%: +17.50 pp" in page
    plain = render_html(build_report([decision("u1")], []))
    assert "Variants —" not in plain and "global control" not in plain


def stored_experiment() -> StoredExperiment:
    """An experiment the daily review looked at twice: a look, then a winner on 400 shoppers each."""
    state = ExperimentState.start("sale:send", [Variant(id="forty"), Variant(id="free")], T0)
    arms = {"forty": Arm(100, 5), "free": Arm(100, 9)}
    experiment = Experiment(mode=ExperimentMode.WINNER, effect=0.05)
    looked = review(state, experiment, arms, T0 + timedelta(days=1))
    won = review(looked, experiment, {"forty": Arm(400, 20), "free": Arm(400, 60)}, T0 + timedelta(days=2))
    return StoredExperiment(
        "sale:send", won, sent={"forty": 400, "free": 400}, converted={"forty": 20, "free": 60}
    )


def test_the_report_states_each_experiments_decision_history_with_its_evidence() -> None:
    from nudge.report.html import render_html

    report = build_report([decision("u1")], [], experiments_stored=[stored_experiment()])

    record = report.to_dict()["experiment_decisions"]["sale:send"]
    assert (record["winner"], record["closed"], record["weights"]) == (
        "free",
        False,
        {"forty": 0.0, "free": 1.0},
    )
    assert record["counted"] == {
        "forty": {"sent": 400, "converted": 20},
        "free": {"sent": 400, "converted": 60},
    }
    assert [(d["at"], d["action"]) for d in record["history"]] == [
        ("2026-11-03T08:00:00+00:00", "looked"),
        ("2026-11-04T08:00:00+00:00", "winner"),
    ]
    assert record["history"][1]["evidence"]["variants"]["free"]["ci95"] == [0.118345, 0.188314]
    page = render_html(report)
    assert "<h3>Decisions — sale:send (winner free)</h3>" in page
    assert "<th>shoppers, conversions credited to its send, rate [95% CI], P(best)</th>" in page
    assert "decisions are taken on conversions credited to each variant&#x27;s send" in page
    assert "forty 0% · free 100%" in page
    assert "free 400, 60, 15.0% [11.8%, 18.8%], P(best) 100%" in page
    assert page.count("<tr><td>2026-11-0") == 2  # one row per decision


def test_an_experiment_counted_but_never_reviewed_has_no_history() -> None:
    never = StoredExperiment("sale:send", None, sent={"forty": 3})

    assert build_report([decision("u1")], [], experiments_stored=[never]).experiment_decisions == {}


def test_nudge_report_prints_each_decision_with_its_evidence() -> None:
    from nudge.cli.common import console
    from nudge.cli.tables.report import print_experiment_decisions

    report = build_report([decision("u1")], [], experiments_stored=[stored_experiment()])
    with console.capture() as captured:
        print_experiment_decisions(report)

    text = " ".join(captured.get().split())
    assert "Decisions — sale:send (winner free)" in text
    assert "looked" in text and "winner" in text
    assert "15.0%" in text and "P(best)" in text
    assert "0.000208" in text  # the winner's always-valid p-value
    # the counts the decisions are taken on are named, apart from the variant table's "bought"
    assert "decisions are taken on conversions credited to each variant's send" in text
