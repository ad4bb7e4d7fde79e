"""The benchmark's measurements and its cost arithmetic."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fakes import CAMPAIGNS
from moto import mock_aws

from benchmarks.prices import PRICES_USD
from nudge.bench.catalog_fanout import FANOUT_SHOPPERS, fanout_cost_usd, measure_catalog_fanout
from nudge.bench.cost import cost_model, fanout_estimate
from nudge.bench.delivery import measure_delivery
from nudge.bench.identity import measure_identity
from nudge.bench.ingest import INGEST_BATCH, measure_ingest
from nudge.bench.journey import measure_journey
from nudge.bench.measuring import dynamodb_item_bytes
from nudge.bench.recommendations import measure_recommendations
from nudge.bench.trigger import measure_trigger
from nudge.local.runtime import LocalRuntime
from shared.campaigns.loader import load_campaign_dir
from shared.core.clock import SimulatedClock
from shared.recommendations.cooccurrence import MAX_SKETCH_BYTES


@pytest.fixture(scope="module")
def measured() -> Iterator[dict[str, Any]]:
    with mock_aws():
        runtime = LocalRuntime(
            load_campaign_dir(CAMPAIGNS),
            SimulatedClock(datetime(2026, 11, 2, 8, tzinfo=UTC)),
            log_level="CRITICAL",
        )
        results: dict[str, Any] = {}
        results.update(measure_ingest(runtime))
        results.update(measure_trigger(runtime))
        results.update(measure_journey(runtime))
        results.update(measure_delivery(runtime))
        results.update(measure_identity(runtime))
        results.update(measure_catalog_fanout(runtime))
        yield results


def test_ingest_costs_a_read_per_batch_a_write_per_user_and_a_read_and_a_write_for_its_products(
    measured: dict[str, Any],
) -> None:
    # profiles (and erasure markers) read in one request, one write per user; the batch's products
    # read in one request and the changed ones written with the shoppers' interest in them, 25 items a
    # request: 4 products and the 80 (shopper, product) pairs but the ones indexed already that day, 1,520
    # of 2,400 over the 30 batches, in 76 requests (shared/ingest/products.py)
    assert measured["ingest_requests_per_batch"] == pytest.approx(
        {"dynamodb.BatchGetItem": 2.0, "dynamodb.BatchWriteItem": 76 / 30, "dynamodb.PutItem": 20.0}
    )
    assert measured["ddb_requests_per_ingested_event"] == pytest.approx((22 + 76 / 30) / INGEST_BATCH)
    assert measured["interest_items_written_per_batch"] == pytest.approx(1520 / 30)
    assert measured["interest_items_renewed_per_batch"] == pytest.approx(780 / 30)  # the next days' of a pair
    # a unit each, billed whatever the requests: the batch's 4 products read, and written (newer events)
    assert (measured["catalog_items_read_per_batch"], measured["catalog_items_written_per_batch"]) == (
        4.0,
        4.0,
    )
    assert 0 < measured["ingest_cpu_ms_per_event"] < 50


def test_a_merge_costs_a_transaction_in_place_of_the_write_and_events_after_it_nothing_more(
    measured: dict[str, Any],
) -> None:
    # 20 logins in one batch: the visitors are read with the shoppers, each merge is one transaction,
    # and the products each visitor viewed (5) move to the interest index under their shopper: 100
    # items, 25 a BatchWriteItem (shared/ingest/products.py, visitor_interest).
    assert measured["identity_merge_batch_requests"] == {
        "dynamodb.BatchGetItem": 1,
        "dynamodb.TransactWriteItems": 20,
        "dynamodb.BatchWriteItem": 4,
    }
    assert measured["identity_requests_per_merge"] == pytest.approx(25 / 20)
    # 100 events after login (both ids): one read, one write per shopper, as without identity (and
    # their products' one read and one write; their interest, the products the visitors viewed, was
    # indexed and marked for the day at login: no item again, docs/catalog.md).
    assert measured["identity_requests_per_event_after_login"] == pytest.approx(23 / 100)
    # 100 logged-out events of linked devices: one more read, for the shoppers the links name (and
    # the products' read and write, their interest indexed under the shoppers they follow).
    assert measured["identity_linked_batch_requests"] == {
        "dynamodb.BatchGetItem": 3,
        "dynamodb.BatchWriteItem": 5,
        "dynamodb.PutItem": 20,
    }
    assert measured["identity_requests_per_linked_anonymous_event"] == pytest.approx(28 / 100)


def test_a_price_drop_costs_one_index_query_and_a_send_per_ten_interested_shoppers(
    measured: dict[str, Any],
) -> None:
    assert (measured["catalog_fanout_shoppers"], measured["catalog_fanout_jobs"]) == (100, 100)
    assert measured["catalog_fanout_requests"] == {"dynamodb.Query": 1, "sqs.SendMessageBatch": 10}
    assert measured["aws_requests_per_price_drop"] == 11
    # the event ($1/M), the invocation ($0.2/M) and its 256 MB for 5 + 10 * 8 ms, 1 read unit (100 keys
    # of 60 bytes, eventually consistent), 10 SQS requests ($0.4/M each)
    expected = (
        PRICES_USD["eventbridge_event"]
        + PRICES_USD["lambda_request"]
        + PRICES_USD["lambda_gb_second_arm64"] * 0.25 * 0.085
        + PRICES_USD["dynamodb_rru"]
        + 10 * PRICES_USD["sqs_request"]
    )
    assert measured["usd_per_price_drop_fanout"] == pytest.approx(expected)
    assert fanout_cost_usd({"dynamodb.Query": 1, "sqs.SendMessageBatch": 100}, 1000) > expected
    assert FANOUT_SHOPPERS == 100


def test_an_immediate_trigger_enqueues_with_one_request(measured: dict[str, Any]) -> None:
    assert measured["l4_requests"] == {"sqs.SendMessageBatch": 1}


def test_a_journey_entry_costs_three_requests_and_a_transition_five(measured: dict[str, Any]) -> None:
    assert measured["journey_measured"] == "cart-recovery"
    assert measured["journey_entry_requests"] == {
        "dynamodb.GetItem": 1,
        "dynamodb.PutItem": 1,
        "scheduler.CreateSchedule": 1,
    }
    assert measured["journey_transition_requests"] == {
        "dynamodb.GetItem": 2,
        "dynamodb.PutItem": 1,
        "sqs.SendMessageBatch": 1,
        "scheduler.CreateSchedule": 1,
    }
    assert (measured["aws_requests_per_journey_entry"], measured["aws_requests_per_journey_transition"]) == (
        3,
        5,
    )
    assert 1024 < measured["journey_item_bytes"] <= 2048  # two write units per transition
    assert 5 < measured["cost_usd_per_million_journey_shoppers"] < 30


def test_a_delayed_trigger_schedules_with_one_request(measured: dict[str, Any]) -> None:
    assert measured["l4_delayed_requests"] == {"scheduler.CreateSchedule": 1}
    assert measured["aws_requests_l4_event_to_schedule"] == 1


def test_delivery_request_mix_per_message(measured: dict[str, Any]) -> None:
    # Per batch of 10 jobs: one read of profiles, one of ledgers with their kept records and send-log
    # entries, one write of outcomes (the holdout's decisions with them). Per send: the claim (the
    # ledger's conditional update: caps decided, send key held) and the provider call.
    decisions, jobs = measured["delivery_decisions"], measured["delivery_jobs"]
    sent, withheld = decisions["sent"], decisions.get("withheld_holdout", 0)
    assert sent + withheld == jobs == 300
    assert 0 < withheld < 60  # the campaign holds 10% out
    per_sent = {k: v * sent for k, v in measured["delivery_requests_per_message"].items()}
    assert per_sent == pytest.approx(
        {
            "dynamodb.BatchGetItem": 2 * jobs / 10,
            "dynamodb.BatchWriteItem": jobs / 10,
            "dynamodb.UpdateItem": sent,
            "sesv2.SendEmail": sent,
        }
    )
    assert measured["aws_requests_per_delivered_message"] == pytest.approx((3 * jobs / 10 + 2 * sent) / sent)
    assert measured["aws_requests_per_delivered_message"] <= 2.5
    # Items, as capacity is billed: each job reads its profile, ledger, send-log entry and two kept
    # records (the erasure marker, the hashed address); writes its decision; each send its claim.
    items = {k: v * sent for k, v in measured["delivery_items_per_message"].items()}
    assert items == pytest.approx(
        {
            "read.profiles": jobs,
            "read.ledger": jobs,
            "read.messages": jobs,
            "read.privacy": 2 * jobs,
            "written.messages": jobs,
            "written.ledger": sent,
        }
    )
    assert measured["messages_measured"] == sent


def test_item_size_follows_dynamodb_rules() -> None:
    item = {"id": {"S": "abc"}, "n": {"N": "12345"}, "ok": {"BOOL": True}, "m": {"M": {"k": {"S": "vv"}}}}
    # names 2+1+2+1, values 3 + (5//2+1) + 1 + (3 + 1 + 2 + 1)
    assert dynamodb_item_bytes(item) == 6 + 3 + 3 + 1 + 7


def test_the_cost_model_prices_counted_requests() -> None:
    measured = {
        "profile_item_bytes_mean": 1500.0,
        "ingest_cpu_ms_per_event": 0.0,
        "ingest_requests_per_batch": {"dynamodb.BatchGetItem": 1.0, "dynamodb.PutItem": 20.0},
        "send_log_item_bytes_mean": 300.0,
        "ledger_item_bytes_mean": 2100.0,
        "deliver_cpu_ms_per_message": 0.0,
        "delivery_requests_per_message": {"dynamodb.UpdateItem": 1.0, "dynamodb.BatchGetItem": 0.2},
        "delivery_items_per_message": {"read.profiles": 1.0, "written.messages": 1.0, "written.ledger": 1.0},
    }
    costs = cost_model(measured)
    events = costs["cost_per_million_events_breakdown"]
    assert events["eventbridge"] == 1.0
    assert events["sqs"] == pytest.approx(1.2 * PRICES_USD["sqs_request"] * 1e6, abs=1e-3)
    # 20 writes of a 2-WRU item and 20 one-unit reads per 100 events
    expected_ddb = (0.2 * 2 * PRICES_USD["dynamodb_wru"] + 0.2 * PRICES_USD["dynamodb_rru"]) * 1e6
    assert events["dynamodb"] == pytest.approx(expected_ddb, abs=1e-3)
    assert costs["cost_usd_per_million_events"] == pytest.approx(sum(events.values()), abs=1e-3)
    # A message: a 1-unit read of its profile, a 1-unit send-log write, a 3-unit ledger write.
    expected_message_ddb = (PRICES_USD["dynamodb_rru"] + 4 * PRICES_USD["dynamodb_wru"]) * 1e6
    assert costs["cost_per_million_messages_breakdown"]["dynamodb"] == pytest.approx(
        expected_message_ddb, abs=1e-3
    )
    assert costs["channel_fees_usd_per_million"]["email"] == 100.0


# What the cost model needs, for an ingest that only writes profiles (20 a batch of 1.5 KB) and no delivery.
PROFILE_WRITES_ONLY: dict[str, Any] = {
    "profile_item_bytes_mean": 1500.0,
    "ingest_cpu_ms_per_event": 0.0,
    "ingest_requests_per_batch": {"dynamodb.PutItem": 20.0},
    "send_log_item_bytes_mean": 300.0,
    "ledger_item_bytes_mean": 2100.0,
    "deliver_cpu_ms_per_message": 0.0,
    "delivery_requests_per_message": {},
    "delivery_items_per_message": {},
}


def test_the_cost_model_prices_each_catalog_item_ingest_reads_and_writes() -> None:
    measured: dict[str, Any] = dict(PROFILE_WRITES_ONLY)
    without = cost_model(measured)["cost_per_million_events_breakdown"]["dynamodb"]
    measured |= {"catalog_items_read_per_batch": 4.0, "catalog_items_written_per_batch": 5.0}
    with_catalog = cost_model(measured)["cost_per_million_events_breakdown"]["dynamodb"]
    # per 100 events: 5 one-unit writes and 4 one-unit reads
    expected = (0.05 * PRICES_USD["dynamodb_wru"] + 0.04 * PRICES_USD["dynamodb_rru"]) * 1e6
    assert with_catalog - without == pytest.approx(expected, abs=1e-3)


def test_the_cost_model_prices_the_interest_index_apart_and_a_renewal_at_three_units() -> None:
    measured: dict[str, Any] = dict(PROFILE_WRITES_ONLY)
    without = cost_model(measured)
    assert without["cost_usd_per_million_events_interest_index"] == 0
    indexed = cost_model(
        measured | {"interest_items_written_per_batch": 50.0, "interest_items_renewed_per_batch": 20.0}
    )
    # per 100 events: 30 first items at 2 units (item, index entry), 20 renewals at 3 (item, the index's
    # delete and put: the sort key moved)
    expected = (0.3 * 2 + 0.2 * 3) * PRICES_USD["dynamodb_wru"] * 1e6
    assert indexed["cost_usd_per_million_events_interest_index"] == pytest.approx(expected, abs=1e-3)
    assert indexed["cost_usd_per_million_events"] - without["cost_usd_per_million_events"] == pytest.approx(
        expected, abs=2e-3
    )
    assert indexed["cost_usd_per_million_events_without_catalog_triggers"] == pytest.approx(
        without["cost_usd_per_million_events"], abs=2e-3
    )


def test_the_fan_out_estimate_grows_with_profile_size_and_cpu() -> None:
    small = fanout_estimate({"profile_item_bytes_mean": 1000.0, "worker_cpu_ms_per_profile": 0.05})
    large = fanout_estimate({"profile_item_bytes_mean": 20_000.0, "worker_cpu_ms_per_profile": 0.5})
    assert 0 < small["batch_campaign_minutes_10m_profiles"] < large["batch_campaign_minutes_10m_profiles"]
    assert not math.isnan(large["batch_campaign_minutes_10m_profiles"])


def test_the_recommendation_step_keeps_its_census_sketch_and_item_model_bounded() -> None:
    measured = measure_recommendations()
    assert set(measured) == {
        "recommendations_census_cpu_s_per_100k_shoppers",
        "recommendations_ranking_cpu_s_per_100k_shoppers",
        "recommendations_cpu_s_per_100k_shoppers",
        "recommendations_census_sketch_bytes",
        "recommendations_item_model_bytes",
        "recommendations_scores_bytes_per_shopper",
    }
    assert 50_000 < measured["recommendations_census_sketch_bytes"] <= MAX_SKETCH_BYTES  # the long tail cut
    assert 0 < measured["recommendations_item_model_bytes"] <= 150_000  # 1,000 products, 10 neighbours
    assert measured["recommendations_scores_bytes_per_shopper"] <= len('["p-4999", ') * 10
    assert measured["recommendations_cpu_s_per_100k_shoppers"] == pytest.approx(
        measured["recommendations_census_cpu_s_per_100k_shoppers"]
        + measured["recommendations_ranking_cpu_s_per_100k_shoppers"]
    )
