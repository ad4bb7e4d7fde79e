"""The soak, small enough for every test run: 1,000 events, each delivered 1-3 times, and 20% of the
DynamoDB, SES and SNS calls throttled. `make soak` runs the same with 10,000 events."""

from __future__ import annotations

from nudge.local.soak import SoakOptions, run_soak
from shared.adapters.sqs import REDRIVEN_BY_SQS
from shared.campaigns.loader import Catalog


def test_duplicates_and_throttling_lose_nothing_and_send_nothing_twice(catalog: Catalog) -> None:
    report = run_soak(catalog, SoakOptions(events=1000, fault_rate=0.2, seed=9))
    f = report.figures

    assert report.problems == []
    # The faults and duplicates really happened...
    assert f["duplicates_injected"] > 900
    assert 0.17 < f["faults_injected"] / f["calls_to_faulty_services"] < 0.23
    assert f["sqs_redeliveries"]["ingest"] > 0 and f["sqs_redeliveries"]["delivery"] > 0
    # ...and yet every job has one outcome, and the outcomes add up to the jobs.
    assert f["jobs"] > 100
    assert sum(f["outcomes"].values()) == f["jobs"]
    assert f["outcomes"]["sent"] == sum(f["sent_by_channel"].values()) > 0
    assert f["send_keys_sent_twice"] == 0
    # Every provider record is a logged send, or a job parked as a possible send (never resent).
    assert f["provider_records_unaccounted"] <= f["possible_sends_parked"]
    assert sum(f["provider_records"].values()) == f["outcomes"]["sent"] + f["provider_records_unaccounted"]
    # Aggregates are exact once the ingest dead-letter queue is redriven.
    assert f["profiles_exact_after_redrive"] == f["profiles"] > 100
    # Nothing reached a dead-letter queue without a reason.
    assert report.parked and not any(REDRIVEN_BY_SQS in reason for reason in report.parked)
