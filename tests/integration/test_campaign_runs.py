"""Scheduled and real-time campaigns through the local runtime: the same handlers, routes and schedules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from factory import ses_sent_count
from fakes import catalog_without
from payloads import identify, track

from nudge.local.runtime import LocalRuntime
from shared.adapters.sqs import SqsQueue
from shared.batch.batch_campaigns import AudienceWorker, SegmentTask
from shared.campaigns.jobs import DeliveryJob
from shared.campaigns.loader import Catalog
from shared.delivery.guards import in_holdout


@pytest.fixture
def catalog() -> Catalog:
    """Every bundled campaign but the welcome, whose email on each first identify is not what these
    tests count (test_triggers covers it)."""
    return catalog_without("welcome")


def shoppers(runtime: LocalRuntime, n: int) -> set[str]:
    """n shoppers across countries and ages; returns the ids the weekend-sale audience should reach
    (its audience, less the campaign's holdout group)."""
    countries = ["ID", "MY", "IN", "US", "SG"]
    zones = {"ID": "Asia/Jakarta", "MY": "Asia/Kuala_Lumpur", "IN": "Asia/Kolkata", "US": "America/New_York"}
    details, expected = [], set()
    for i in range(n):
        country, age = countries[i % len(countries)], 16 + (i % 30)
        details.append(
            identify(
                f"u{i:04d}",
                f"id-{i}",
                email=f"u{i}@example.com",
                age=age,
                address={"country": country},
                timezone=zones.get(country, "Asia/Singapore"),
                consent={"email": True},
            )
        )
        held_out = in_holdout("weekend-sale-sea", f"u{i:04d}", 10)
        if country in {"ID", "MY", "SG", "PH"} and 18 <= age <= 34 and not held_out:
            expected.add(f"u{i:04d}")
    runtime.publish(details)
    runtime.drain()
    return expected


def sent_to(runtime: LocalRuntime, campaign_id: str) -> set[str]:
    return {
        m["user_id"]
        for m in runtime.scan("messages")
        if m["campaign_id"] == campaign_id and m["status"] == "sent"
    }


def test_a_weekly_campaign_fires_at_its_local_time_and_reaches_exactly_its_audience(
    runtime: LocalRuntime,
) -> None:
    expected = shoppers(runtime, 120)
    runtime.advance_to(datetime(2026, 11, 7, 2, 59, tzinfo=UTC))
    assert sent_to(runtime, "weekend-sale-sea") == set()

    runtime.advance_to(datetime(2026, 11, 7, 3, 1, tzinfo=UTC))  # Saturday 10:00 in Jakarta

    assert sent_to(runtime, "weekend-sale-sea") == expected
    assert ses_sent_count() == len(expected)
    occurrences = {m["occurrence"] for m in runtime.scan("messages")}
    assert occurrences == {"2026-11-07T03:00:00Z"}


def test_a_schedule_firing_twice_for_one_occurrence_sends_each_user_once(runtime: LocalRuntime) -> None:
    expected = shoppers(runtime, 60)
    fire = {"campaign_id": "weekend-sale-sea", "occurrence": "2026-11-07T03:00:00Z"}
    runtime.clock.advance_to(datetime(2026, 11, 7, 3, tzinfo=UTC))
    runtime.invoke("planner", fire)
    runtime.invoke("planner", fire)
    runtime.drain()

    assert ses_sent_count() == len(expected)


def test_an_audience_worker_out_of_time_hands_over_where_it_stopped(runtime: LocalRuntime) -> None:
    expected = shoppers(runtime, 90)
    sqs = runtime.client("sqs")
    delivery = SqsQueue(sqs, runtime.queue_urls["delivery"])
    audience = SqsQueue(sqs, runtime.queue_urls["audience"])
    worker = AudienceWorker(runtime.catalog, _SmallPages(runtime.profiles), delivery, audience, runtime.clock)

    result = worker.work(
        SegmentTask(
            campaign_id="weekend-sale-sea", occurrence="2026-11-07T03:00:00Z", segment=0, total_segments=1
        ),
        remaining_ms=lambda: 1_000,
    )
    assert result.continued and result.scanned == 10

    runtime.drain()  # the continuation message is worked by the audience function, then delivery
    assert sent_to(runtime, "weekend-sale-sea") == expected


class _SmallPages:
    """The real profile store, read ten profiles per page so that one segment takes many pages."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def scan_segment(self, segment: int, total: int, start_key: Any, limit: int) -> Any:
        return self._store.scan_segment(segment, total, start_key, 10)


def test_a_real_time_trigger_costs_at_most_two_aws_requests_to_enqueue(
    runtime: LocalRuntime, aws_calls: Any
) -> None:
    shoppers(runtime, 1)
    aws_calls.counts.clear()
    envelope = {
        "id": "e1",
        "source": "nudge.app",
        "detail-type": "Segment Event",
        "detail": track("u0000", "Order Completed", "o-1", order_id="o1"),
    }
    result = runtime.invoke("trigger", {"campaign_id": "order-thank-you", "event": envelope})

    assert result == {"status": "enqueued", "send_key": "order-thank-you#o-1#u0000"}
    assert aws_calls.total() <= 2
    assert aws_calls.counts["sqs.SendMessageBatch"] == 1


def test_an_event_published_twice_makes_one_message(runtime: LocalRuntime) -> None:
    shoppers(runtime, 1)
    order = track("u0000", "Order Completed", "o-1", order_id="o1", revenue=10)
    runtime.publish([order])
    runtime.publish([order])
    runtime.drain()

    assert sent_to(runtime, "order-thank-you") == {"u0000"}
    on_order = [c for c in runtime.catalog if c.trigger is not None and c.trigger.event == "Order Completed"]
    assert runtime.invocations["trigger"] == 2 * len(on_order)
    statuses = sorted(m["status"] for m in runtime.scan("messages") if m["campaign_id"] == "order-thank-you")
    assert statuses == ["duplicate", "sent"]


def test_events_that_do_not_match_the_trigger_pattern_do_not_invoke_it(runtime: LocalRuntime) -> None:
    shoppers(runtime, 1)
    # No campaign triggers on list views; a checkout only triggers above the high-value threshold.
    runtime.publish([track("u0000", "Product List Viewed", "v-1"), track("u0000", "Checkout Started", "c-1")])
    runtime.drain()
    assert runtime.invocations.get("trigger", 0) == 0


def test_a_trigger_for_an_unknown_campaign_is_parked_with_the_reason(runtime: LocalRuntime) -> None:
    result = runtime.invoke("trigger", {"campaign_id": "gone", "event": {"detail": {}}})
    assert result["status"] == "parked"
    [parked] = runtime.parked()
    assert (parked.queue, parked.reason) == (
        "trigger-dlq",
        "PermanentDeliveryError: unknown L4 campaign 'gone'",
    )


def test_a_job_enqueued_by_a_trigger_round_trips_through_the_queue(runtime: LocalRuntime) -> None:
    job = DeliveryJob.for_occurrence("weekend-sale-sea", "2026-11-07T03:00:00Z", "u1")
    assert DeliveryJob.model_validate_json(job.model_dump_json()) == job
    assert job.send_key == "weekend-sale-sea#2026-11-07T03:00:00Z#u1"


def test_the_win_back_campaign_reaches_only_lapsed_buyers(runtime: LocalRuntime) -> None:
    runtime.publish(
        [
            identify("lapsed", "i1", email="l@example.com", consent={"email": True}),
            identify("recent", "i2", email="r@example.com", consent={"email": True}),
            track("lapsed", "Order Completed", "o1", at="2026-10-20T10:00:00Z", order_id="o1"),
            track("recent", "Order Completed", "o2", at="2026-11-02T07:00:00Z", order_id="o2"),
        ]
    )
    runtime.drain()
    runtime.advance_to(runtime.clock.now() + timedelta(days=3))  # past Wednesday 18:00 UTC
    assert sent_to(runtime, "win-back-lapsed") == {"lapsed"}


def test_a_malformed_triggering_event_is_parked_with_the_reason(runtime: LocalRuntime) -> None:
    detail = {
        "type": "track",
        "event": "Order Completed",
        "userId": "u1",
        "timestamp": "2026-11-02T07:00:00Z",
    }
    result = runtime.invoke("trigger", {"campaign_id": "order-thank-you", "event": {"detail": detail}})
    assert result == {"status": "parked", "reason": "detail.messageId: Field required"}
    [parked] = runtime.parked()
    assert (parked.queue, parked.source) == ("trigger-dlq", "trigger")
