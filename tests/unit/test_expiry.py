"""Expired campaigns are never deployed: one decision (shared.campaigns.expiry) for validate, synth and the
runtime.

Every test here runs on a fixed clock; the shipped campaigns are checked years ahead so that no file in
campaigns/ can turn into a deploy that fails on the day its date passes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fakes
import pytest
from typer.testing import CliRunner

from nudge.cli import app
from shared.campaigns.expiry import expired_campaigns, expiry
from shared.campaigns.loader import Catalog, load_campaign_dir
from shared.campaigns.model import Campaign
from shared.deployment import invocations

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
runner = CliRunner()


def campaign(**changes: Any) -> Campaign:
    """An L1 email every Monday 09:00 in Berlin; ``changes`` replace its fields."""
    weekly = {
        "name": "C",
        "level": "L1",
        "schedule": {"expression": "cron(0 9 ? * MON *)", "timezone": "Europe/Berlin"},
    }
    return fakes.campaign("c-1", ["email"], **(weekly | changes))


def l4(**changes: Any) -> Campaign:
    return campaign(level="L4", schedule=None, trigger={"event": "Order Completed"}, **changes)


# -- the decision -------------------------------------------------------------------------------


def test_a_one_time_schedule_in_the_past_is_expired_and_names_its_field() -> None:
    once = campaign(schedule={"expression": "at(2026-11-26T18:00:00)", "timezone": "America/New_York"})
    found = expiry(once, NOW)
    assert found is not None
    assert (found.campaign_id, found.field) == ("c-1", ("schedule", "expression"))
    assert "at(2026-11-26T18:00:00)" in found.reason


def test_a_one_time_schedule_is_expired_from_its_own_instant_on() -> None:
    once = campaign(schedule={"expression": "at(2026-11-26T18:00:00)", "timezone": "America/New_York"})
    fires = datetime(2026, 11, 26, 23, 0, tzinfo=UTC)  # 18:00 in New York (EST, UTC-5)
    assert expiry(once, fires - timedelta(seconds=1)) is None
    assert expiry(once, fires) is not None  # a schedule created at its own instant would never run


def test_an_end_before_now_is_expired_for_batch_and_real_time_campaigns() -> None:
    ended = "2026-12-01T00:00:00Z"
    for candidate in (campaign(end=ended), l4(end=ended)):
        found = expiry(candidate, NOW)
        assert found is not None and found.field == ("end",)
        assert "2026-12-01 00:00 UTC" in found.reason
    assert expiry(l4(end="2026-12-02T08:00:01Z"), NOW) is None
    assert expiry(campaign(end="2026-12-07T08:00:01Z"), NOW) is None  # one Monday 09:00 Berlin left


def test_a_recurring_schedule_never_expires_without_an_end() -> None:
    weekly = campaign()
    for years in (0, 1, 10, 100):
        assert expiry(weekly, NOW + timedelta(days=365 * years)) is None
    assert expiry(l4(), NOW + timedelta(days=365 * 100)) is None


def test_a_schedule_that_fires_no_more_before_its_end_is_expired() -> None:
    last_year = campaign(schedule={"expression": "cron(0 9 ? * MON 2025)", "timezone": "UTC"})
    assert expiry(last_year, NOW) is not None
    too_late = campaign(
        schedule={"expression": "at(2026-12-24T09:00:00)", "timezone": "UTC"}, end="2026-12-20T00:00:00Z"
    )
    found = expiry(too_late, NOW)
    assert found is not None and found.field == ("schedule", "expression")


def test_the_decision_needs_an_aware_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        expiry(campaign(), datetime(2026, 12, 2))


# -- what is deployed: one plan for CDK and the local runtime ----------------------------------


def test_topology_leaves_expired_campaigns_out_of_schedules_and_rules() -> None:
    catalog = Catalog(
        [
            campaign(id="weekly"),
            campaign(id="once-past", schedule={"expression": "at(2026-11-26T18:00:00)", "timezone": "UTC"}),
            campaign(id="once-ahead", schedule={"expression": "at(2027-11-25T18:00:00)", "timezone": "UTC"}),
            l4(id="trigger-live"),
            l4(id="trigger-ended", end="2026-11-30T00:00:00Z"),
        ]
    )
    schedules = {s.campaign_id for s in invocations.all_schedules(catalog, now=NOW)}
    assert schedules == {None, "weekly", "once-ahead"}  # None: the daily scoring run
    rules = {
        r.campaign_id for r in invocations.event_rules(catalog, now=NOW, ses_configuration_set="Nudge-email")
    }
    assert rules == {None, "trigger-live"}  # None: ingest and SES feedback
    assert [e.campaign_id for e in expired_campaigns(catalog, NOW)] == ["once-past", "trigger-ended"]


@pytest.mark.parametrize("years", [1, 5, 30])
def test_the_shipped_campaigns_plan_the_same_years_from_now(years: int) -> None:
    """Nothing in campaigns/ is a time bomb: the deploy plan years ahead is the plan today."""
    catalog = load_campaign_dir(fakes.CAMPAIGNS)
    later = NOW + timedelta(days=365 * years + 17)
    assert expired_campaigns(catalog, NOW) == []
    assert expired_campaigns(catalog, later) == []
    assert invocations.all_schedules(catalog, now=later) == invocations.all_schedules(catalog, now=NOW)
    assert invocations.event_rules(catalog, now=later, ses_configuration_set=None) == invocations.event_rules(
        catalog, now=NOW, ses_configuration_set=None
    )
    assert {s.campaign_id for s in invocations.campaign_schedules(catalog, now=later)} == {
        c.id for c in catalog if c.schedule is not None
    }


def test_the_shipped_one_time_examples_are_not_absolute_dates() -> None:
    """A shipped ``at()`` expires on its date; the examples recur instead (see docs/design.md)."""
    catalog = load_campaign_dir(fakes.CAMPAIGNS)
    assert [c.id for c in catalog if c.schedule and c.schedule.expression.startswith("at(")] == []
    assert [c.id for c in catalog if c.end is not None] == []


# -- nudge validate -----------------------------------------------------------------------------

EXPIRED_FILE = """\
id: black-friday-2026
name: Black Friday 2026
level: L1
schedule:
  expression: at(2026-11-26T18:00:00)
  timezone: America/New_York
channels:
  email:
    subject: Hi
    html: <p>Hi</p>
"""


def test_validate_warns_with_file_and_line_and_still_exits_0(tmp_path: Path) -> None:
    path = tmp_path / "bf.yaml"
    path.write_text(EXPIRED_FILE)
    (tmp_path / "ended.yaml").write_text(
        EXPIRED_FILE.replace("black-friday-2026", "ended")
        .replace("at(2026-11-26T18:00:00)", "cron(0 9 ? * MON *)")
        .replace("level: L1\n", "level: L1\nend: 2026-12-01T00:00:00Z\n")
    )
    result = runner.invoke(app, ["validate", str(tmp_path), "--now", "2026-12-02T08:00:00Z"])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if "expired, not deployed" in line]
    assert len(warnings) == 2, result.output
    assert warnings[0].startswith(f"{path}:5: schedule.expression: expired, not deployed")
    assert warnings[1].startswith(f"{tmp_path / 'ended.yaml'}:4: end: expired, not deployed")
    assert "2 valid campaign(s)" in result.output

    result = runner.invoke(app, ["validate", str(path), "--now", "2026-11-01T00:00:00Z"])
    assert result.exit_code == 0, result.output
    assert "expired" not in result.output


def test_validate_of_the_shipped_campaigns_warns_of_nothing_decades_ahead() -> None:
    result = runner.invoke(app, ["validate", str(fakes.CAMPAIGNS), "--now", "2061-03-05T00:00:00Z"])
    assert result.exit_code == 0, result.output
    assert "expired" not in result.output


def test_validate_rejects_a_now_without_a_zone(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(fakes.CAMPAIGNS), "--now", "2026-12-02T08:00:00"])
    assert result.exit_code != 0
    assert "--now" in result.output


def test_vip_early_access_runs_the_evening_before_black_friday_every_year() -> None:
    """The shipped example that used to be at(2026-11-26T18:00:00): the same instant in 2026, and
    Thanksgiving evening in New York in every later year, so it never expires."""
    vip = load_campaign_dir(fakes.CAMPAIGNS).get("vip-early-access")
    assert vip is not None and vip.schedule is not None
    from shared.campaigns.schedules import ScheduleExpression

    expression = ScheduleExpression.parse(vip.schedule.expression, vip.schedule.timezone)
    fires = list(expression.occurrences(datetime(2026, 1, 1, tzinfo=UTC), datetime(2029, 1, 1, tzinfo=UTC)))
    assert fires == [
        datetime(2026, 11, 26, 23, 0, tzinfo=UTC),  # 18:00 EST, Thanksgiving 2026
        datetime(2027, 11, 25, 23, 0, tzinfo=UTC),
        datetime(2028, 11, 23, 23, 0, tzinfo=UTC),
    ]
