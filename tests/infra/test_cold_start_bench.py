"""`make bench`'s cold starts (nudge/bench/cold_starts.py): every function measured in the Lambda-shaped
Python 3.13, each first request doing the work it stands for, the SnapStart functions measured restored.

The functions run with the system clock (they are Lambda processes), so the requests are made for
the moment the test runs; what is asserted holds at any moment (the shoppers' zone is chosen where it
is daytime, so no delivery waits for quiet hours).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nudge.bench.cold_starts import EVENT_PATH, measure_cold_starts
from shared.campaigns.loader import load_campaign_dir
from shared.deployment import topology

CAMPAIGNS = Path(__file__).resolve().parents[2] / "campaigns"


@pytest.fixture(scope="module")
def measured() -> dict[str, Any]:
    return measure_cold_starts(load_campaign_dir(CAMPAIGNS), runs=1)


def test_every_function_is_measured_in_the_lambda_shaped_python(measured: dict[str, Any]) -> None:
    assert measured["cold_start_python"] == "python3.13, Lambda-shaped"
    keys = {spec.key for spec in topology.FUNCTIONS}
    assert set(measured["import_ms_lambda_env"]) == set(measured["ports_ms_lambda_env"]) == keys
    for key in keys:
        assert 0 < measured["import_ms_lambda_env"][key] <= measured["ports_ms_lambda_env"][key], key
    for key, first in measured["first_request_ms"].items():
        assert measured["ports_ms_lambda_env"][key] <= first, key


def test_each_first_request_does_the_work_it_stands_for(measured: dict[str, Any]) -> None:
    assert set(measured["first_request_ms"]) == {*EVENT_PATH, "feedback", *topology.SNAPSTART_FUNCTIONS}
    outcomes = measured["first_request_outcomes"]
    assert outcomes["ingest"] == outcomes["deliver"] == "0 failed"
    assert outcomes["trigger"] == "enqueued"
    assert outcomes["deliver_decision"] == {"status": "sent", "channel": "email"}
    assert outcomes["inbox"] == outcomes["preferences"] == outcomes["privacy"] == 200


def test_the_snapstart_functions_and_the_event_path_are_measured_restored(measured: dict[str, Any]) -> None:
    restored = measured["first_request_after_restore_ms"]
    assert set(restored) == topology.SNAPSTART_FUNCTIONS | topology.EVENT_PATH_SNAPSTART_FUNCTIONS
    assert all(0 < restored[key] < measured["first_request_ms"][key] for key in restored)
    outcomes = measured["first_request_outcomes"]  # restored, each does the same work
    assert outcomes["ingest_restored"] == outcomes["deliver_restored"] == "0 failed"
    assert outcomes["trigger_restored"] == "enqueued"


def test_no_function_builds_a_campaign_schema(measured: dict[str, Any]) -> None:
    """The catalog comes validated from the bundle (shared/campaigns/bundle.py), and no first request
    validates a campaign: the campaign models' deferred schemas are never built in a Lambda."""
    assert measured["campaign_schemas_built"] == {spec.key: [] for spec in topology.FUNCTIONS}
