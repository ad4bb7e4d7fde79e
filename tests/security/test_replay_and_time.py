"""Issue 15, finding 13: timestamps from the future and replayed orders.

A timestamp 23 h 59 m ahead (inside the day of clock skew ingest accepts) made
``days_since_last_order`` negative; the same ``Order Completed`` replayed after 48 other events
counted twice, as the profile remembers only its last 48 event ids. Profile times are now clamped to
the time ingest received the event, and an order's id is kept for as long as the order counts in
the profile's order windows (400 days), in the same profile write: no request is added.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fakes import catalog_without
from moto import mock_aws
from payloads import identify, track

from nudge.local.account import ACCOUNT, REGION
from nudge.local.runtime import LocalRuntime
from shared.core.clock import SimulatedClock
from shared.events.contract import parse_detail
from shared.events.sources import APP_EVENT_SOURCE
from shared.profiles.fold import fold_events
from shared.profiles.profile import ORDER_DAYS_KEPT, Profile, audience_view

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 2, 8, tzinfo=UTC)


@pytest.fixture
def runtime() -> Iterator[LocalRuntime]:
    with mock_aws():
        yield LocalRuntime(catalog_without(), SimulatedClock(START), audience_segments=2)


def ingest(runtime: LocalRuntime, *details: dict[str, Any]) -> None:
    bodies = [
        json.dumps(
            {
                "version": "0",
                "id": f"e-{d['messageId']}",
                "detail-type": "Segment",
                "source": APP_EVENT_SOURCE,
                "account": ACCOUNT,
                "time": START.isoformat(),
                "region": REGION,
                "resources": [],
                "detail": d,
            }
        )
        for d in details
    ]
    assert runtime.invoke("ingest", runtime.sqs_event("ingest", bodies)) == {"batchItemFailures": []}


def test_a_timestamp_from_the_future_is_clamped_to_the_receive_time(runtime: LocalRuntime) -> None:
    ahead = START + timedelta(hours=23, minutes=59)
    ingest(runtime, track("t1", "Order Completed", "o-1", ahead, revenue=30))

    profile = runtime.profiles.get("t1")
    assert profile is not None
    assert profile.last_order_at == START and profile.last_seen == START
    assert audience_view(profile, START)["days_since_last_order"] == 0
    assert profile.orders_in(1, START) == (1, Decimal(30))


def test_a_replayed_order_counts_once_however_many_events_came_between(runtime: LocalRuntime) -> None:
    order = track("r1", "Order Completed", "o-1", START - timedelta(hours=2), revenue=30)
    ingest(runtime, order)
    views = [
        track("r1", "Product Viewed", f"v-{i}", START - timedelta(minutes=90 - i), product_id="p1")
        for i in range(60)
    ]
    for batch in (views[:30], views[30:]):
        ingest(runtime, *batch)
    ingest(runtime, order)  # e.g. a DLQ redrive, or a publisher replaying its outbox

    profile = runtime.profiles.get("r1")
    assert profile is not None
    assert (profile.orders, profile.revenue) == (1, Decimal(30))
    assert profile.orders_in(30, START) == (1, Decimal(30))
    assert profile.count("Order Completed", 1, START) == 1
    assert profile.count("Product Viewed", 1, START) == 60


def test_remembering_orders_costs_no_request(runtime: LocalRuntime) -> None:
    """Requests to ingest one order (a batch of one): the same before and after this fix."""
    calls: Counter[str] = Counter()
    for service in ("dynamodb", "sqs"):
        runtime.client(service).meta.events.register(
            "before-call", lambda model, **_: calls.update([model.name])
        )
    ingest(runtime, track("c1", "Order Completed", "o-1", START, revenue=30))
    # the profile read, the send-log read for attribution, the profile write
    assert calls == Counter({"BatchGetItem": 1, "Query": 1, "PutItem": 1})


def test_order_ids_are_kept_while_the_order_counts_and_no_longer() -> None:
    def order(n: int, at: datetime) -> Any:
        return parse_detail(track("u", "Order Completed", f"o-{n}", at, revenue=1))

    first = START - timedelta(days=ORDER_DAYS_KEPT + 30)
    profile = fold_events(Profile(user_id="u"), [order(0, first)]).profile
    profile = fold_events(profile, [order(1, START)]).profile
    assert profile.remembers_order("o-1") and not profile.remembers_order("o-0")
    # 300 orders in a day stay within a few kilobytes
    busy = fold_events(profile, [order(n, START) for n in range(2, 302)]).profile
    assert busy.orders == 302 and len(busy.goal_events) <= 4_000
    replayed = fold_events(busy, [order(n, START) for n in range(1, 302)])
    assert replayed.applied == 0 and replayed.profile.orders == 302


def test_a_profile_with_remembered_orders_still_writes_as_a_snapshot(tmp_path: Path) -> None:
    from nudge.local.snapshot import write_profiles

    event = parse_detail(track("u", "Order Completed", "o-1", START, revenue=1))
    profile = fold_events(Profile(user_id="u"), [event]).profile
    assert profile.goal_events  # raw bytes, not text: kept out of the JSON snapshot like seen_events
    assert write_profiles([profile], tmp_path / "profiles.jsonl") == 1
    assert "goal_events" not in (tmp_path / "profiles.jsonl").read_text()


def test_a_trigger_times_its_delay_from_the_receive_time_too(runtime: LocalRuntime) -> None:
    """The trigger path reads the event from the bus, not from ingest: it clamps the same way, so a
    cart reminder is due an hour after the add arrived, not an hour after a forged future time."""
    ahead = START + timedelta(hours=23, minutes=59)
    runtime.publish(
        [
            identify("t2", "id-t2", START, email="t2@example.com", consent={"email": True}),
            track("t2", "Product Added", "add-1", ahead, product_id="p1", price=20),
        ]
    )
    runtime.drain()
    due = [at for at, _, target in runtime.one_time_schedules() if "abandoned-cart" in target["Input"]]
    assert due == [START + timedelta(hours=1)]
