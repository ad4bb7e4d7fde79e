"""Campaign files: the shipped ones are valid, broken ones are reported with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import CAMPAIGNS

from shared.campaigns.loader import Catalog, load_campaign_dir, load_campaign_file
from shared.campaigns.model import Campaign
from shared.campaigns.yaml_lines import CampaignFileError

VALID = """\
id: spring-sale
name: Spring sale
level: L1
schedule:
  expression: cron(0 9 ? * MON *)
  timezone: Europe/Berlin
audience:
  - country in [DE, AT]
channels:
  email:
    subject: Spring sale
    html: <p>Hello {{ user.first_name | default('there') }}</p>
"""


def write(tmp_path: Path, text: str, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_shipped_campaigns_are_valid_and_cover_batch_and_real_time() -> None:
    catalog = load_campaign_dir(CAMPAIGNS)
    levels = {c.level for c in catalog}
    assert {"L1", "L4"} <= levels
    # an L1-L3 campaign runs on its schedule, or is a journey entered on starting to match a segment
    assert all(bool(c.schedule) != bool(c.entry) for c in catalog if c.level != "L4")
    assert [c.id for c in catalog if c.entry] == ["at-risk-save"]
    assert all(c.trigger for c in catalog if c.level == "L4")


def test_the_catalog_round_trips_through_the_bundled_json() -> None:
    catalog = load_campaign_dir(CAMPAIGNS)
    again = Catalog.from_json(catalog.to_json())
    assert [c.model_dump() for c in again] == [c.model_dump() for c in catalog]


def test_channel_order_is_the_file_order(tmp_path: Path) -> None:
    text = VALID + "  push:\n    title: Hi\n    body: Sale\n"
    campaign = load_campaign_file(write(tmp_path, text))
    assert campaign.channel_order() == ["email", "push"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("level: L1", "level: L5"), ":3: level: Input should be 'L1', 'L2', 'L3' or 'L4'"),
        (
            ("  - country in [DE, AT]", "  - contry in [DE, AT]"),
            ":8: audience.0: 'contry in [DE, AT]': unknown attribute 'contry' (did you mean 'country'?)",
        ),
        (
            ("cron(0 9 ? * MON *)", "cron(0 25 ? * MON *)"),
            ":5: schedule.expression: cron(0 25 ? * MON *): hour 25",
        ),
        (("Europe/Berlin", "Europe/Atlantis"), ":6: schedule.timezone: "),
        (("  - country in [DE, AT]", "  - count(Product Viewed, 7d) >= three"), ":8: audience.0: "),
        (
            ("name: Spring sale", "name: Spring sale\ncolour: green"),
            ":3: colour: Extra inputs are not permitted",
        ),
        (("  email:", "  fax:"), ":10: channels.fax: Extra inputs are not permitted"),
        (("    subject: Spring sale\n", ""), ":10: channels.email.subject: Field required"),
        (
            ("    subject: Spring sale", "    subject: Sale {{ user.frist_name }}"),
            ":11: channels.email.subject: "
            "user.frist_name: no shopper can have this (did you mean user.first_name?)",
        ),
        (
            ("<p>Hello", "<p>{{ event.order_id }}"),
            ":12: channels.email.html: event.order_id: 'event' is only set",
        ),
        (("<p>Hello", "<p>{% if %}"), ":12: channels.email.html: template error: "),
        (
            ("<p>Hello", "<p>{{ usr.first_name }}"),
            ":12: channels.email.html: unknown variable 'usr' (did you mean user?)",
        ),
    ],
)
def test_invalid_files_report_file_line_and_field(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    path = write(tmp_path, VALID.replace(*change))
    with pytest.raises(CampaignFileError) as error:
        load_campaign_file(path)
    assert any(p.startswith(str(path)) and expected in p for p in error.value.problems), error.value.problems


def test_an_l4_campaign_needs_a_trigger_not_a_schedule(tmp_path: Path) -> None:
    with pytest.raises(CampaignFileError, match="an L4 campaign needs a 'trigger' and no 'schedule'"):
        load_campaign_file(write(tmp_path, VALID.replace("level: L1", "level: L4")))


def test_a_trigger_with_an_invalid_property_filter_is_rejected() -> None:
    with pytest.raises(ValueError, match="numeric"):
        Campaign.model_validate(
            {
                "id": "x-1",
                "name": "x",
                "level": "L4",
                "trigger": {"event": "Checkout Started", "properties": {"total": [{"numeric": [">>", 5]}]}},
                "channels": {"in_app": {"title": "t", "body": "b"}},
            }
        )


def test_yaml_syntax_errors_and_duplicate_ids_are_all_reported(tmp_path: Path) -> None:
    write(tmp_path, VALID, "a.yaml")
    write(tmp_path, VALID, "b.yaml")
    write(tmp_path, "id: [unclosed\n", "c.yaml")
    with pytest.raises(CampaignFileError) as error:
        load_campaign_dir(tmp_path)
    problems = "\n".join(error.value.problems)
    assert "b.yaml:1: id: 'spring-sale' is already used by" in problems
    assert "c.yaml:2: invalid YAML" in problems


def test_template_files_are_inlined_and_their_errors_point_into_the_file(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "sale.html").write_text("<h1>Sale</h1>\n<p>{{ user.first_name }}</p>\n")
    (tmp_path / "templates" / "sale.txt").write_text("Sale for {{ user.city | default('you') }}\n")
    text = VALID.replace(
        "    html: <p>Hello {{ user.first_name | default('there') }}</p>\n",
        "    html_file: templates/sale.html\n    text_file: templates/sale.txt\n",
    )
    campaign = load_campaign_file(write(tmp_path, text))
    email = campaign.channels.email
    assert email is not None
    assert email.html == "<h1>Sale</h1>\n<p>{{ user.first_name }}</p>\n"
    assert email.text == "Sale for {{ user.city | default('you') }}\n"
    assert email.html_file == "templates/sale.html"
    bundled = Catalog.from_json(Catalog([campaign]).to_json()).get(campaign.id)
    assert bundled is not None and bundled.channels.email == email  # the Lambda needs no file access

    (tmp_path / "templates" / "sale.html").write_text("<h1>Sale</h1>\n\n<p>{{ user.favourite_colour }}</p>\n")
    with pytest.raises(CampaignFileError) as error:
        load_campaign_file(tmp_path / "c.yaml")
    assert error.value.problems == [
        f"{tmp_path / 'templates' / 'sale.html'}:3: channels.email.html: "
        "user.favourite_colour: no shopper can have this (did you mean user.favourite_category?)"
    ]


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        (
            "    html_file: templates/missing.html\n",
            ":12: channels.email.html_file: cannot read 'templates/missing.html'",
        ),
        (
            "    html_file: ../outside.html\n",
            ":12: channels.email.html_file: '../outside.html' must be a path inside",
        ),
        (
            "    html: <p>x</p>\n    html_file: a.html\n",
            ":13: channels.email.html_file: give either 'html' or 'html_file'",
        ),
        ("", ":10: channels.email: give the body as 'html' or 'html_file'"),
    ],
)
def test_template_file_mistakes_are_reported(tmp_path: Path, email: str, expected: str) -> None:
    text = VALID.replace("    html: <p>Hello {{ user.first_name | default('there') }}</p>\n", email)
    with pytest.raises(CampaignFileError) as error:
        load_campaign_file(write(tmp_path, text))
    assert any(expected in p for p in error.value.problems), error.value.problems


def test_block_scalar_templates_report_the_line_inside_the_block(tmp_path: Path) -> None:
    text = VALID.replace(
        "    html: <p>Hello {{ user.first_name | default('there') }}</p>\n",
        "    html: |\n      <p>Hello</p>\n      <p>{{ user.first_name | nosuchfilter }}</p>\n",
    )
    with pytest.raises(CampaignFileError) as error:
        load_campaign_file(write(tmp_path, text))
    assert error.value.problems == [
        f"{tmp_path / 'c.yaml'}:14: channels.email.html: template error: No filter named 'nosuchfilter'."
    ]


def test_the_shops_vocabulary_file_adds_events_and_traits(tmp_path: Path) -> None:
    text = VALID.replace(
        "  - country in [DE, AT]", '  - loyalty_tier == gold and count("Size Guide Opened", 7d) >= 1'
    ).replace("<p>Hello", "<p>{{ user.loyalty_tier }}")
    write(tmp_path, text)
    with pytest.raises(CampaignFileError) as error:
        load_campaign_dir(tmp_path)
    assert "unknown attribute 'loyalty_tier'" in str(error.value)
    write(
        tmp_path,
        "events: [Size Guide Opened]\ntraits:\n  loyalty_tier: 'text: bronze, silver or gold'\n",
        "_vocabulary.yaml",
    )
    catalog = load_campaign_dir(tmp_path)
    assert "Size Guide Opened" in catalog.vocabulary.events
    assert Catalog.from_json(catalog.to_json()).vocabulary == catalog.vocabulary
    write(tmp_path, "traits:\n  Loyalty Tier: text\n", "_vocabulary.yaml")
    with pytest.raises(CampaignFileError, match=r"_vocabulary.yaml:1: traits: .*lower_snake_case"):
        load_campaign_dir(tmp_path)


def test_trigger_and_conversion_events_must_be_known(tmp_path: Path) -> None:
    text = VALID + "conversion:\n  event: Order Complete\n"
    with pytest.raises(
        CampaignFileError,
        match=r":14: conversion.event: unknown event 'Order Complete' "
        r"\(did you mean 'Order Completed'\?\)",
    ):
        load_campaign_file(write(tmp_path, text))


def test_the_published_json_schema_is_the_models_schema() -> None:
    import json

    from shared.campaigns.model import campaign_json_schema

    published = json.loads((CAMPAIGNS.parent / "docs" / "campaign.schema.json").read_text())
    assert published == campaign_json_schema(), "run: make schema"


def test_templates_may_use_the_signed_unsubscribe_link(tmp_path: Path) -> None:
    text = VALID.replace("<p>Hello", '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a> Hello')
    assert load_campaign_file(write(tmp_path, text)).channels.email is not None
