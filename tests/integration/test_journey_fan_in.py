"""The fan-in of journey wake-ups (issue 20): `make bench` fires 100,000 at once on moto (docs/journeys.md has
the wall time); here 200, 1% of them twice, through the deliver handler."""

from __future__ import annotations

from datetime import UTC, datetime

from fakes import CAMPAIGNS
from moto import mock_aws

from nudge.bench.fan_in import fan_in_catalog, measure_wake_up_fan_in
from nudge.local.runtime import LocalRuntime
from shared.campaigns.loader import load_campaign_dir
from shared.core.clock import SimulatedClock


def test_a_fan_in_of_wake_ups_moves_each_instance_exactly_once_at_three_requests_each() -> None:
    with mock_aws():
        runtime = LocalRuntime(
            fan_in_catalog(load_campaign_dir(CAMPAIGNS)),
            SimulatedClock(datetime(2026, 11, 2, 8, tzinfo=UTC)),
            log_level="CRITICAL",
            gentle=True,
        )
        fanned = measure_wake_up_fan_in(runtime, 200)
    assert (fanned["fan_in_wake_ups"], fanned["fan_in_duplicate_wake_ups"]) == (200, 2)
    assert fanned["fan_in_instances_moved_exactly_once"] is True
    # instance and profile reads and the conditional put; a duplicate reads the instance only
    assert fanned["fan_in_requests_per_wake_up"] == round((200 * 3 + 2 * 1) / 202, 2)
    assert fanned["fan_in_wall_seconds"] > 0
