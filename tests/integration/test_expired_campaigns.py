"""The local runtime deploys what the stack deploys: an expired campaign gets no rule and no schedule.

The runtime is "deployed" at its simulated clock's start, so the same files give the same plan on
moto as ``cdk synth`` gives at that instant (shared.campaigns.expiry decides for both).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fakes import CAMPAIGNS, START, one_time, triggered
from moto import mock_aws
from payloads import identify, track

from nudge.local.runtime import LocalRuntime
from shared.campaigns.loader import Catalog, load_campaign_dir
from shared.core.clock import SimulatedClock
from shared.deployment import invocations
from shared.deployment.naming import OWN_BUS

THANKS = {"in_app": {"title": "Thanks", "body": "Order {{ event.order_id }} is confirmed."}}


def _catalog() -> Catalog:
    return Catalog(
        [
            triggered("thanks-live", THANKS),
            triggered("thanks-ended", THANKS, end="2026-11-01T00:00:00Z"),
            one_time("once-past", THANKS, at="2026-10-30T09:00:00"),
            one_time("once-ahead", THANKS, at="2026-11-02T10:00:00"),
        ]
    )


def test_the_runtime_leaves_expired_campaigns_out_and_says_which() -> None:
    catalog = _catalog()
    with mock_aws():
        runtime = LocalRuntime(catalog, SimulatedClock(START), log_level="CRITICAL")
        assert [(e.campaign_id, e.where) for e in runtime.expired] == [
            ("thanks-ended", "end"),
            ("once-past", "schedule.expression"),
        ]
        rules = runtime.client("events").list_rules(EventBusName=runtime.names.bus)["Rules"]
        names = {r["Name"] for r in rules}
        assert any("thanks-live" in n for n in names)
        assert not any("thanks-ended" in n for n in names)

        runtime.publish([identify("u1", "id-u1", at="2026-11-02T07:00:00Z", firstName="Ayu")])
        runtime.drain()
        runtime.publish([track("u1", "Order Completed", "o-1", order_id="o-1", revenue=20.0)])
        runtime.drain()
        assert {m.campaign_id for m in runtime.sent} == {"thanks-live"}

        planned_before = runtime.invocations.get("planner", 0)
        runtime.advance_to(START + timedelta(hours=3))  # past once-ahead (10:00 UTC)
        assert runtime.invocations.get("planner", 0) == planned_before + 1


def test_the_shipped_campaigns_run_the_same_on_a_clock_years_ahead() -> None:
    catalog = load_campaign_dir(CAMPAIGNS)
    later = START.replace(year=START.year + 12)
    with mock_aws():
        runtime = LocalRuntime(catalog, SimulatedClock(later), log_level="CRITICAL")
        assert runtime.expired == []
        rules = runtime.client("events").list_rules(EventBusName=runtime.names.bus)["Rules"]
    at_start = invocations.event_rules(
        catalog, now=START, ses_configuration_set=runtime.names.configuration_set
    )
    assert len(rules) == len([r for r in at_start if r.bus == OWN_BUS])
    assert invocations.all_schedules(catalog, now=later) == invocations.all_schedules(catalog, now=START)
    assert START.tzinfo is UTC and later > datetime(2038, 1, 1, tzinfo=UTC)
