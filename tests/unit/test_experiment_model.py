"""Variants and the experiment in a campaign file: where they go (a campaign's one send, a journey's send
steps), what a variant replaces, and the file errors that name what is wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from shared.campaigns.loader import load_campaign_file
from shared.campaigns.model import Campaign
from shared.campaigns.variants import ExperimentMode
from shared.campaigns.yaml_lines import CampaignFileError

EMAIL = {"email": {"subject": "Hello", "html": "<p>Hi</p>"}}
PUSH = {"push": {"title": "Hi", "body": "There"}}


def campaign(**extra: Any) -> dict[str, Any]:
    return {
        "id": "welcome",
        "name": "Welcome",
        "level": "L4",
        "trigger": {"event": "Signed Up"},
        "channels": {**EMAIL, **PUSH},
        **extra,
    }


VARIANTS = [
    {"id": "a", "weight": 50},
    {"id": "b", "weight": 50, "channels": {"email": {"subject": "Welcome!", "html": "<p>B</p>"}}},
    {"id": "push-first", "weight": 20, "channel_preference": ["push", "email"]},
]


def test_a_variant_replaces_the_content_and_channel_order_it_names() -> None:
    welcome = Campaign.model_validate(campaign(variants=VARIANTS, experiment={"mode": "winner"}))
    assert welcome.experiment is not None and welcome.experiment.mode == ExperimentMode.WINNER
    assert welcome.experiment_id(None) == "welcome:send"
    b = welcome.variant_campaign("b")
    assert b.channels.email is not None and b.channels.email.subject == "Welcome!"
    assert b.channels.push == welcome.channels.push
    assert b.channel_order() == ["email", "push"]
    assert welcome.variant_campaign("push-first").channel_order() == ["push", "email"]
    assert welcome.variant_campaign("a") == welcome
    with pytest.raises(ValueError, match=r"welcome has no variant 'c' \(variants: a, b, push-first\)"):
        welcome.variant_campaign("c")
    step = welcome.flow.step("send")
    assert step.variants == welcome.variants  # type: ignore[union-attr]


def test_a_journeys_send_step_carries_its_variants_into_its_step_campaign() -> None:
    journey = Campaign.model_validate(
        {
            "id": "cart",
            "name": "Cart",
            "level": "L4",
            "trigger": {"event": "Product Added"},
            "steps": [
                {"id": "w", "type": "wait", "duration": "1h"},
                {"id": "mail", "type": "send", "channels": EMAIL, "variants": VARIANTS[:2]},
            ],
        }
    )
    mail = journey.step_campaign("mail")
    assert [v.id for v in mail.variants or []] == ["a", "b"]
    assert journey.experiment_id("mail") == "cart:mail"
    assert mail.variant_campaign("b").channels.email.subject == "Welcome!"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"variants": [{"id": "a"}]}, "the campaign: variants: an experiment has at least two variants"),
        ({"variants": [{"id": "a"}, {"id": "a"}]}, "the campaign: variant 'a': the id is used twice"),
        ({"variants": [{"id": "a", "weight": 0}, {"id": "b"}]}, "greater than 0"),
        ({"variants": [{"id": "A b"}, {"id": "b"}]}, "should match pattern"),
        ({"experiment": {"mode": "winner"}}, "the campaign: 'experiment' needs 'variants'"),
        ({"variants": VARIANTS, "experiment": {"mode": "best"}}, "'fixed', 'winner' or 'bandit'"),
        (
            {"variants": [{"id": "a"}, {"id": "b", "channel_preference": ["in_app"]}]},
            "variant 'b': channels: no content for in_app",
        ),
        (
            {
                "variants": [{"id": "a"}, {"id": "b"}, {"id": "c"}],
                "experiment": {"mode": "bandit", "floor_percent": 40},
            },
            "floor_percent 40 for 3 variants leaves nothing to re-weight",
        ),
        ({"variants": VARIANTS, "experiment": {"mode": "winner", "alpha": 0.5}}, "less than or equal to 0.2"),
    ],
)
def test_an_experiment_that_cannot_run_is_refused_with_what_is_wrong(
    extra: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Campaign.model_validate(campaign(**extra))


def test_a_journeys_variants_belong_on_its_send_steps() -> None:
    with pytest.raises(ValidationError, match="a journey's variants belong on its send steps"):
        Campaign.model_validate(
            {
                "id": "cart",
                "name": "Cart",
                "level": "L4",
                "trigger": {"event": "Product Added"},
                "steps": [{"id": "mail", "type": "send", "channels": EMAIL}],
                "variants": VARIANTS,
            }
        )
    with pytest.raises(ValidationError, match="step 'mail': variant 'a': the id is used twice"):
        Campaign.model_validate(
            {
                "id": "cart",
                "name": "Cart",
                "level": "L4",
                "trigger": {"event": "Product Added"},
                "steps": [
                    {"id": "mail", "type": "send", "channels": EMAIL, "variants": [{"id": "a"}, {"id": "a"}]}
                ],
            }
        )


def test_a_variants_template_files_are_inlined_and_checked(tmp_path: Path) -> None:
    (tmp_path / "b.html").write_text("<p>{{ user.first_name | default('Hi') }} B</p>")
    (tmp_path / "w.yaml").write_text(
        "id: welcome\nname: W\nlevel: L4\ntrigger: {event: Signed Up}\n"
        "channels:\n  email: {subject: S, html: '<p>A</p>'}\n"
        "variants:\n  - {id: a}\n  - id: b\n    channels:\n      email: {subject: SB, html_file: b.html}\n"
        "  - id: c\n    channels:\n      email: {subject: SC, html: '{{ user.nope }}'}\n"
    )
    with pytest.raises(CampaignFileError) as error:
        load_campaign_file(tmp_path / "w.yaml")
    assert error.value.problems == [
        f"{tmp_path / 'w.yaml'}:14: variants.2.channels.email.html: user.nope: no shopper can have this"
    ]
    (tmp_path / "w.yaml").write_text(
        (tmp_path / "w.yaml").read_text().replace("user.nope", "user.first_name")
    )
    welcome = load_campaign_file(tmp_path / "w.yaml")
    assert (
        welcome.variant_campaign("b").channels.email.html == "<p>{{ user.first_name | default('Hi') }} B</p>"
    )  # type: ignore[union-attr]
