"""What `nudge import` reads from an export: Segment-Spec payloads as they are, EventBridge events,
warehouse rows in snake_case, and a CSV of orders; every body as ingest reads it from its queue."""

from __future__ import annotations

import json
from typing import Any

from payloads import published

from nudge.backfill.formats import IMPORT_SOURCE, body_of, warehouse_row
from nudge.backfill.run import reason_kind
from shared.events.contract import TimestampSource, parse_detail


def test_a_segment_payload_is_published_as_it_is_by_the_import() -> None:
    identify = published("segment-identify")
    assert json.loads(body_of(json.dumps(identify))) == {"source": IMPORT_SOURCE, "detail": identify}


def test_an_eventbridge_event_keeps_its_time_and_takes_the_imports_source() -> None:
    detail = {k: v for k, v in published("rudderstack-identify").items() if k != "originalTimestamp"}
    line = json.dumps({"source": "shop.web", "time": "2022-02-01T19:14:19Z", "detail": detail})
    body = json.loads(body_of(line))
    assert (body["source"], body["time"], body["detail"]) == (IMPORT_SOURCE, "2022-02-01T19:14:19Z", detail)


def test_a_line_that_is_not_json_is_left_for_ingest_to_reject() -> None:
    assert body_of("{not json") == "{not json"


def test_a_segment_warehouse_row_is_read_as_a_track_call() -> None:
    """A row of Segment's `order_completed` warehouse table (properties are columns; `id` is the
    message id)."""
    row: dict[str, Any] = {
        "id": "ajs-f8ca1e4de5024d9430b3928bd8ac6b96",
        "anonymous_id": "507f191e810c19729de860ea",
        "user_id": 97980,
        "event": "order_completed",
        "event_text": "Order Completed",
        "original_timestamp": "2015-12-12T19:11:01.152Z",
        "sent_at": "2015-12-12T19:11:01.169Z",
        "received_at": "2015-12-12T19:11:01.266Z",
        "order_id": "50314b8e9bcf000000000000",
        "revenue": 25.0,
    }
    call = warehouse_row(row)
    assert call == {
        "type": "track",
        "messageId": "ajs-f8ca1e4de5024d9430b3928bd8ac6b96",
        "anonymousId": "507f191e810c19729de860ea",
        "userId": 97980,
        "event": "Order Completed",
        "originalTimestamp": "2015-12-12T19:11:01.152Z",
        "sentAt": "2015-12-12T19:11:01.169Z",
        "receivedAt": "2015-12-12T19:11:01.266Z",
        "properties": {
            "order_id": "50314b8e9bcf000000000000",
            "revenue": 25.0,
        },
    }
    event = parse_detail(call)
    assert event.user_id == "97980" and event.timestamp_source is TimestampSource.ORIGINAL_TIMESTAMP


def test_a_warehouse_identifies_row_keeps_its_columns_as_traits() -> None:
    row = {
        "id": "m-1",
        "user_id": "u-1",
        "type": "identify",
        "timestamp": "2015-02-23T22:28:55Z",
        "plan": "premium",
    }
    assert warehouse_row(row)["traits"] == {"plan": "premium"}


def test_rejections_are_counted_by_reason_without_the_values_that_differ() -> None:
    first = "detail.timestamp: 2026-11-05T08:00:00+00:00 is in the future"
    second = "detail.timestamp: 2026-12-24T10:30:00.250000+00:00 is in the future"
    assert reason_kind(first) == reason_kind(second) == "detail.timestamp: <time> is in the future"
    assert reason_kind("body: not JSON (Expecting value at position 12)") == (
        "body: not JSON (Expecting value at position N)"
    )
