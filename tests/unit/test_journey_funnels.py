"""A journey's funnel in ``nudge report``, the demo's summary and the HTML report (issue 20): shoppers
entered, reaching each step, sent each send step's message, ending on the goal; the journey's uplift against
its holdout, and per branch path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from nudge.report.build import build_report
from nudge.report.html import render_html
from shared.campaigns.loader import Catalog
from shared.campaigns.model import Campaign
from shared.journeys.instance import InstanceStatus, JourneyInstance, PathEntry, PathKind

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
PUSH = {"push": {"title": "Hi", "body": "There"}}
JOURNEY = Campaign.model_validate(
    {
        "id": "cart-cascade",
        "name": "Cart cascade",
        "level": "L4",
        "trigger": {"event": "Product Added"},
        "goal": {"event": "Order Completed"},
        "holdout_percent": 10,
        "steps": [
            {"id": "nudge", "type": "send", "channels": PUSH},
            {"id": "wait-1d", "type": "wait", "duration": "1d"},
            {"id": "big-cart", "type": "branch", "if": ["cart_value > 100"], "else": "done"},
            {"id": "discount", "type": "send", "channels": PUSH},
            {"id": "done", "type": "exit"},
        ],
    }
)
CATALOG = Catalog([JOURNEY])


def item(user: str, status: InstanceStatus, *path: tuple[PathKind, str | None, str]) -> dict[str, Any]:
    entries = [PathEntry(seq=1, at=T0, kind=PathKind.ENTERED)]
    entries += [PathEntry(seq=2, at=T0, kind=kind, step=step, detail=detail) for kind, step, detail in path]
    instance = JourneyInstance(
        user_id=user,
        journey_id=JOURNEY.id,
        instance=f"e-{user}",
        version=JOURNEY.version,
        seq=2,
        status=status,
        entered_at=T0,
        transition="x",
        path=entries,
    )
    return {"user_id": user, "journey": JOURNEY.id, "state": instance.model_dump_json()}


SENT_NUDGE = (PathKind.SENT, "nudge", "push")
WAITING = (PathKind.WAITING, "wait-1d", "")
BIG = (PathKind.BRANCH, "big-cart", "then -> discount: all rules hold")
SMALL = (PathKind.BRANCH, "big-cart", "else -> done: 'cart_value > 100' does not hold")


def decision(user: str, step: str, status: str, group: str = "treated") -> dict[str, Any]:
    key = f"{JOURNEY.id}#e-{user}#{step}#2#{user}"
    return {
        "campaign_id": JOURNEY.id,
        "user_id": user,
        "send_key": key,
        "status": status,
        "group": group,
        "at": T0.isoformat(),
    }


def conversion(user: str, group: str) -> dict[str, Any]:
    return {
        "campaign_id": JOURNEY.id,
        "user_id": user,
        "group": group,
        "revenue": 50,
        "decided_at": T0.isoformat(),
        "converted_at": (T0 + timedelta(hours=5)).isoformat(),
    }


def report() -> Any:
    instances = [
        item("a", InstanceStatus.COMPLETED, SENT_NUDGE, WAITING, BIG, (PathKind.SENT, "discount", "push")),
        item("b", InstanceStatus.COMPLETED, SENT_NUDGE, WAITING, SMALL, (PathKind.ENDED, "done", "exit")),
        item("c", InstanceStatus.CONVERTED, SENT_NUDGE, WAITING),
        item("h", InstanceStatus.WITHHELD, (PathKind.WITHHELD, None, "holdout 10%")),
    ]
    messages = [
        decision("a", "nudge", "sent"),
        decision("a", "discount", "sent"),
        decision("b", "nudge", "sent"),
        decision("c", "nudge", "capped"),
        decision("h", "nudge", "withheld", group="withheld"),
    ]
    conversions = [conversion("a", "treated"), conversion("c", "treated")]
    return build_report(messages, conversions, CATALOG, journeys=instances)


def test_the_funnel_counts_entries_steps_sends_and_goal_exits_in_step_order() -> None:
    funnel = report().journeys["cart-cascade"]
    assert (funnel.entered, funnel.withheld, funnel.exited_by_goal) == (4, 1, 1)
    assert [(s.step, s.reached, s.sent) for s in funnel.steps] == [
        ("nudge", 3, 2),
        ("wait-1d", 3, None),
        ("big-cart", 2, None),
        ("discount", 1, 1),
        ("done", 1, None),
    ]
    assert funnel.summary() == {
        "entered": 4,
        "withheld": 1,
        "steps": {
            "nudge": {"reached": 3, "sent": 2},
            "wait-1d": {"reached": 3},
            "big-cart": {"reached": 2},
            "discount": {"reached": 1, "sent": 1},
            "done": {"reached": 1},
        },
        "exited_by_goal": 1,
        "converted": 2,
        "uplift": 0.66667,  # 2 of 3 treated converted, none of the 1 withheld
    }


def test_each_branch_path_is_compared_with_the_journeys_holdout() -> None:
    funnel = report().journeys["cart-cascade"]
    assert funnel.paths == {"big-cart": {"then -> discount": 1, "else -> done": 1}}
    then, other = (
        funnel.path_uplift["big-cart"]["then -> discount"],
        funnel.path_uplift["big-cart"]["else -> done"],
    )
    assert (then.treated, then.treated_converted, then.withheld, then.withheld_converted) == (1, 1, 1, 0)
    assert (other.treated, other.treated_converted) == (1, 0)
    assert (
        report().to_dict()["journeys"]["cart-cascade"]["paths"]["big-cart"]["else -> done"]["shoppers"] == 1
    )


def test_the_html_report_draws_each_journey_as_a_funnel() -> None:
    page = render_html(report())
    assert 'data-chart="journey-0"' in page and 'aria-label="funnel of journey cart-cascade"' in page
    funnel = page.split('data-chart="journey-0"')[1].split("</svg>")[0]
    assert funnel.count("data-mark") == 7  # entered, five steps, ended on the goal
    assert "sent 2" in funnel and "big-cart: then -&gt; discount" in page
