"""Journeys as campaign files (issue 20): the step types, the flow checks that name the step, and a
campaign without steps read as the one-step journey ``[send]``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from shared.campaigns.journey import BranchStep, Reentry, SendStep, SplitStep, WaitStep, split_bucket
from shared.campaigns.loader import Catalog, load_campaign_dir, load_campaign_file
from shared.campaigns.model import Campaign

ROOT = Path(__file__).resolve().parents[2]
PUSH = {"push": {"title": "Hi", "body": "There"}}
EMAIL = {"email": {"subject": "Hello", "html": "<p>Hi</p>"}}


def journey(steps: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "id": "cart-cascade",
        "name": "Cart cascade",
        "level": "L4",
        "trigger": {"event": "Product Added"},
        "steps": steps,
        **extra,
    }


CASCADE = [
    {"id": "wait-1h", "type": "wait", "duration": "1h"},
    {"id": "email", "type": "send", "channels": EMAIL},
    {
        "id": "wait-reply",
        "type": "wait",
        "until": {"event": "Checkout Started", "timeout": "1d"},
        "on_event": "done",
        "on_timeout": "big-cart",
    },
    {"id": "big-cart", "type": "branch", "if": ["cart_value > 100"], "then": "discount", "else": "done"},
    {"id": "discount", "type": "send", "channels": PUSH, "caps": {"per_day": 1}},
    {"id": "done", "type": "exit"},
]


def test_a_journey_file_reads_its_steps_goal_exits_and_reentry() -> None:
    campaign = Campaign.model_validate(
        journey(CASCADE, goal={"event": "Order Completed"}, exit_if=["Checkout Started"], reentry="after 7d")
    )
    flow = campaign.flow
    assert [type(s).__name__ for s in flow.steps] == [
        "WaitStep",
        "SendStep",
        "WaitStep",
        "BranchStep",
        "SendStep",
        "ExitStep",
    ]
    assert flow.first == "wait-1h"
    assert flow.edges("wait-1h") == ["email"]
    assert flow.edges("wait-reply") == ["done", "big-cart"]
    assert flow.edges("big-cart") == ["discount", "done"]
    assert flow.edges("discount") == ["done"]
    assert flow.edges("done") == []
    assert campaign.ending_events() == ["Order Completed", "Checkout Started"]
    assert campaign.reentry_rule == (Reentry.AFTER, timedelta(days=7))
    assert campaign.is_journey
    # the campaign-level content is the first send step's, what a preview shows first
    assert campaign.channel_order() == ["email"]
    step = campaign.step_campaign("discount")
    assert step.channel_order() == ["push"] and step.caps is not None and step.caps.per_day == 1
    assert step.id == campaign.id and step.holdout_percent == campaign.holdout_percent


def test_a_campaign_without_steps_is_the_one_step_journey_send() -> None:
    catalog = load_campaign_dir(ROOT / "campaigns")
    welcome = catalog.get("order-thank-you")  # a one-message campaign that ships
    assert welcome is not None and not welcome.is_journey
    steps = welcome.flow.steps
    assert len(steps) == 1 and isinstance(steps[0], SendStep)
    assert steps[0].id == "send"
    assert steps[0].channels == welcome.channels
    assert welcome.step_campaign("send") is welcome
    assert welcome.reentry == "always"


def test_the_bundled_catalog_round_trips_a_journey_with_its_version() -> None:
    campaign = Campaign.model_validate(journey(CASCADE))
    again = Catalog.from_json(Catalog([campaign]).to_json()).get("cart-cascade")
    assert again == campaign
    assert again is not None and again.version == campaign.version
    assert isinstance(again.flow.step("big-cart"), BranchStep)


def test_the_version_changes_with_the_steps_and_not_with_the_name() -> None:
    base = Campaign.model_validate(journey(CASCADE))
    renamed = Campaign.model_validate({**journey(CASCADE), "name": "Other"})
    longer = Campaign.model_validate(journey([{**CASCADE[0], "duration": "2h"}, *CASCADE[1:]]))
    assert base.version == renamed.version
    assert base.version != longer.version
    assert len(base.version) == 12


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        (
            [{"id": "a", "type": "send", "channels": PUSH, "next": "nowhere"}],
            "step 'a': leads to unknown step 'nowhere'",
        ),
        (
            [{"id": "a", "type": "send", "channels": PUSH}, {"id": "a", "type": "exit"}],
            "step 'a': the id is used twice",
        ),
        (
            [{"id": "a", "type": "exit"}, {"id": "b", "type": "send", "channels": PUSH}],
            "step 'b': unreachable from the first step 'a'",
        ),
        (
            [
                {"id": "a", "type": "send", "channels": PUSH},
                {"id": "b", "type": "branch", "if": ["orders > 1"], "then": "a", "else": "c"},
                {"id": "c", "type": "exit"},
            ],
            "step 'a': a loop without a wait (add a wait step to it)",
        ),
        (
            [
                {"id": "a", "type": "send", "channels": PUSH},
                {"id": "b", "type": "wait", "duration": "1d", "next": "a"},
            ],
            "step 'a': no path from it reaches an exit or the end of the steps",
        ),
        (
            [{"id": "a", "type": "wait", "until": {"event": "Order Completed"}}],
            "step 'a': a wait until 'Order Completed' needs a 'timeout'",
        ),
        (
            [{"id": "a", "type": "wait", "duration": "1h", "until_local_time": "10:00"}],
            "step 'a': a wait takes one of",
        ),
        (
            [{"id": "a", "type": "wait", "until_local_time": "25:00"}],
            "step 'a': until_local_time '25:00': write HH:MM",
        ),
        (
            [{"id": "a", "type": "wait", "duration": "1h", "on_event": "a"}],
            "step 'a': on_event / on_timeout need",
        ),
        (
            [
                {
                    "id": "a",
                    "type": "split",
                    "paths": [{"percent": 50, "next": "b"}, {"percent": 40, "next": "b"}],
                },
                {"id": "b", "type": "exit"},
            ],
            "step 'a': split percentages add up to 100",
        ),
        ([{"id": "a", "type": "send", "channels": {}}], "step 'a': channels: no content for any channel"),
        ([{"id": "a", "type": "teleport"}], "does not match any of the expected tags"),
        ([], "steps: a journey has at least one step"),
    ],
)
def test_a_flow_that_cannot_run_is_refused_naming_the_step(steps: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ValidationError) as error:
        Campaign.model_validate(journey(steps, channels=PUSH) if not steps else journey(steps))
    assert message in str(error.value)


def test_a_journey_trigger_only_enters_it() -> None:
    with pytest.raises(ValidationError, match="use a 'wait' step for a delay"):
        Campaign.model_validate({**journey(CASCADE), "trigger": {"event": "Product Added", "delay": "1h"}})


def test_goal_and_exit_if_belong_to_a_journey() -> None:
    with pytest.raises(ValidationError, match="'goal' and 'exit_if' belong to a journey"):
        Campaign.model_validate(
            {
                "id": "plain",
                "name": "P",
                "level": "L4",
                "trigger": {"event": "Product Added"},
                "channels": PUSH,
                "goal": {"event": "Order Completed"},
            }
        )


def segment_journey(**fields: Any) -> dict[str, Any]:
    return {
        "id": "at-risk",
        "name": "At risk",
        "level": "L3",
        "entry": {"segment": ["rfm.segment in [at_risk, cant_lose]"]},
        "steps": [{"id": "email", "type": "send", "channels": EMAIL}],
        **fields,
    }


def test_a_segment_entry_journey_reads_its_rules_and_needs_no_schedule() -> None:
    campaign = Campaign.model_validate(segment_journey())
    assert campaign.entry is not None and campaign.entry.segment == ["rfm.segment in [at_risk, cant_lose]"]
    assert campaign.schedule is None and campaign.trigger is None and campaign.is_journey


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"schedule": {"expression": "rate(1 day)"}}, "a segment entry is a journey's"),
        ({"steps": None, "channels": EMAIL}, "a segment entry is a journey's"),
        ({"level": "L4", "trigger": {"event": "Product Added"}}, "an L4 campaign needs a 'trigger'"),
        ({"entry": {"segment": []}}, "at least 1 item"),
        ({"entry": {"segment": ["rfm.segment is at_risk"]}}, "entry.segment"),
    ],
)
def test_a_segment_entry_is_refused_beside_a_schedule_or_trigger_without_steps_or_rules(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Campaign.model_validate(segment_journey(**fields))


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("never", (Reentry.NEVER, None)),
        ("always", (Reentry.ALWAYS, None)),
        ("after 7d", (Reentry.AFTER, timedelta(days=7))),
        ("after 36h", (Reentry.AFTER, timedelta(hours=36))),
    ],
)
def test_reentry_reads_never_always_or_after_a_duration(
    text: str, rule: tuple[Reentry, timedelta | None]
) -> None:
    assert Campaign.model_validate(journey(CASCADE, reentry=text)).reentry_rule == rule


def test_reentry_refuses_anything_else() -> None:
    with pytest.raises(ValidationError, match="reentry"):
        Campaign.model_validate(journey(CASCADE, reentry="sometimes"))


def test_a_split_is_the_same_for_a_shopper_every_time_and_close_to_its_percentages() -> None:
    campaign = Campaign.model_validate(
        journey(
            [
                {
                    "id": "ab",
                    "type": "split",
                    "paths": [{"percent": 30, "next": "a"}, {"percent": 70, "next": "b"}],
                },
                {"id": "a", "type": "send", "channels": PUSH, "next": "end"},
                {"id": "b", "type": "send", "channels": EMAIL},
                {"id": "end", "type": "exit"},
            ]
        )
    )
    split = campaign.flow.step("ab")
    assert isinstance(split, SplitStep)
    picks = [split.path_for(campaign.id, f"u{i}").next for i in range(2000)]
    assert picks == [split.path_for(campaign.id, f"u{i}").next for i in range(2000)]
    assert 540 <= picks.count("a") <= 660
    assert split_bucket("j", "ab", "u1") == split_bucket("j", "ab", "u1")
    assert split_bucket("j", "ab", "u1") != split_bucket("j", "other", "u1")


def test_a_wait_until_an_event_has_its_timeout() -> None:
    step = Campaign.model_validate(journey(CASCADE)).flow.step("wait-reply")
    assert isinstance(step, WaitStep) and step.timeout == timedelta(days=1)


def test_a_journey_file_inlines_each_send_steps_template_files(tmp_path: Path) -> None:
    (tmp_path / "body.html").write_text("<p>{{ user.first_name | default('Hi') }}</p>")
    (tmp_path / "j.yaml").write_text(
        "id: file-journey\nname: F\nlevel: L4\ntrigger: {event: Product Added}\nsteps:\n"
        "  - {id: w, type: wait, duration: 1h}\n"
        "  - id: mail\n    type: send\n    channels:\n      email: {subject: S, html_file: body.html}\n"
        "  - id: mail2\n    type: send\n    channels:\n      email: {subject: S, html: '{{ user.nope }}'}\n"
    )
    from shared.campaigns.yaml_lines import CampaignFileError

    with pytest.raises(CampaignFileError) as error:
        load_campaign_file(tmp_path / "j.yaml")
    assert error.value.problems == [
        f"{tmp_path / 'j.yaml'}:14: steps.2.channels.email.html: user.nope: no shopper can have this"
    ]
    (tmp_path / "j.yaml").write_text(
        (tmp_path / "j.yaml").read_text().replace("user.nope", "user.first_name")
    )
    campaign = load_campaign_file(tmp_path / "j.yaml")
    mail = campaign.flow.step("mail")
    assert isinstance(mail, SendStep) and mail.channels.email is not None
    assert mail.channels.email.html == "<p>{{ user.first_name | default('Hi') }}</p>"


def test_nudge_validate_accepts_a_journey_and_rejects_one_with_a_dangling_step(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from nudge.cli import app

    text = (
        "id: two-touch\nname: T\nlevel: L4\ntrigger: {event: Product Added}\n"
        "goal: {event: Order Completed}\nreentry: after 7d\nsteps:\n"
        "  - {id: wait, type: wait, duration: 1h}\n"
        "  - id: nudge\n    type: send\n    channels:\n      push: {title: Hi, body: There}\n"
    )
    (tmp_path / "two-touch.yaml").write_text(text)
    accepted = CliRunner().invoke(
        app, ["validate", str(tmp_path / "two-touch.yaml"), "--now", "2026-12-01T00:00:00Z"]
    )
    assert accepted.exit_code == 0, accepted.output
    (tmp_path / "two-touch.yaml").write_text(text.replace("duration: 1h}", "duration: 1h, next: later}"))
    refused = CliRunner().invoke(app, ["validate", str(tmp_path / "two-touch.yaml")])
    assert refused.exit_code == 1
    assert "step 'wait': leads to unknown step 'later'" in refused.output


def test_a_journey_gets_one_rule_for_the_events_it_ends_on_or_waits_for() -> None:
    from datetime import UTC, datetime

    from shared.deployment import invocations

    campaign = Campaign.model_validate(
        journey(
            CASCADE,
            goal={"event": "Order Completed", "where": ["properties.total > 10"]},
            exit_if=["Signed Out"],
        )
    )
    rules = invocations.event_rules(
        [campaign], now=datetime(2026, 11, 2, tzinfo=UTC), ses_configuration_set=None
    )
    by_key = {r.key: r for r in rules}
    assert sorted(by_key) == ["ingest-all", "journey-cart-cascade", "trigger-cart-cascade"]
    rule = by_key["journey-cart-cascade"]
    assert rule.pattern == {
        "detail": {"type": ["track"], "event": ["Checkout Started", "Order Completed", "Signed Out"]}
    }
    assert (rule.target_function, rule.campaign_id, rule.kind) == ("trigger", "cart-cascade", "journey_event")
    assert rule.target_input({"id": "e1"}) == {
        "campaign_id": "cart-cascade",
        "kind": "journey_event",
        "event": {"id": "e1"},
    }
    assert rule.input_template == (
        '{"campaign_id": "cart-cascade", "kind": "journey_event", "event": <aws.events.event.json>}'
    )
    assert by_key["trigger-cart-cascade"].input_template == (
        '{"campaign_id": "cart-cascade", "event": <aws.events.event.json>}'
    )


def test_a_journey_that_waits_for_no_event_gets_no_event_rule() -> None:
    from shared.deployment.invocations import journey_event_pattern

    plain = [{"id": "w", "type": "wait", "duration": "1h"}, {"id": "s", "type": "send", "channels": PUSH}]
    assert journey_event_pattern(Campaign.model_validate(journey(plain))) is None


def test_the_report_counts_a_journeys_decisions_per_send_step_in_step_order() -> None:
    from datetime import UTC, datetime

    from nudge.report.journeys import journey_steps

    campaign = Campaign.model_validate(journey(CASCADE))
    at = datetime(2026, 11, 2, 9, tzinfo=UTC)

    def decided(step: str, user: str, status: str, journey_id: str = "cart-cascade") -> Any:
        return (
            at,
            {
                "campaign_id": journey_id,
                "send_key": f"{journey_id}#e-{user}#{step}#2#{user}",
                "status": status,
            },
        )

    decisions = [
        decided("discount", "u1", "sent"),
        decided("email", "u1", "sent"),
        decided("email", "u2", "capped"),
        decided("email", "u3", "sent"),
        (at, {"campaign_id": "welcome", "send_key": "welcome#once#u1", "status": "sent"}),
    ]
    assert journey_steps(decisions, Catalog([campaign])) == {
        "cart-cascade": {"email": {"capped": 1, "sent": 2}, "discount": {"sent": 1}}
    }
    assert journey_steps(decisions, None) == {}
