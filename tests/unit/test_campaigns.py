"""Campaign files: the shipped ones are valid, broken ones are reported with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.campaigns import Campaign, CampaignFileError, Catalog, load_campaign_dir, load_campaign_file

CAMPAIGNS = Path(__file__).resolve().parents[2] / "campaigns"

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
    assert all(c.schedule for c in catalog if c.level != "L4")
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
            ":7: audience: Value error, unknown attribute 'contry'",
        ),
        (("cron(0 9 ? * MON *)", "cron(0 25 ? * MON *)"), ":4: schedule: "),
        (("Europe/Berlin", "Europe/Atlantis"), ":4: schedule: "),
        (
            ("name: Spring sale", "name: Spring sale\ncolour: green"),
            ":3: colour: Extra inputs are not permitted",
        ),
        (("  email:", "  fax:"), ":9: channels.fax: Extra inputs are not permitted"),
        (("    subject: Spring sale\n", ""), ":9: channels.email.subject: Field required"),
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
