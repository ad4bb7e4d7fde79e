"""The event contract: what is accepted, what is rejected, and the reason given."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.events.contract import EventRejected, event_json_schema, parse_detail

DOCS = Path(__file__).resolve().parents[2] / "docs"
NOW = datetime(2026, 11, 10, tzinfo=UTC)


def track(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "type": "track",
        "event": "Product Viewed",
        "userId": "u-1",
        "messageId": "m-1",
        "timestamp": "2026-11-09T10:00:00Z",
        "properties": {"product_id": "p-1", "category": "shoes"},
    }
    base.update(overrides)
    return base


def test_a_segment_track_call_is_parsed_with_its_properties() -> None:
    event = parse_detail(track(), now=NOW)
    assert event.event == "Product Viewed"
    assert event.profile_id == "u-1"
    assert event.properties["category"] == "shoes"
    assert event.timestamp == datetime(2026, 11, 9, 10, tzinfo=UTC)


def test_unknown_event_names_and_extra_fields_are_kept() -> None:
    event = parse_detail(track(event="Wishlist Product Added", integrations={"All": True}), now=NOW)
    assert event.behaviour_name == "Wishlist Product Added"
    assert event.model_extra == {"integrations": {"All": True}}


def test_anonymous_visitors_get_their_own_profile_id() -> None:
    detail = track()
    del detail["userId"]
    detail["anonymousId"] = "a-9"
    assert parse_detail(detail, now=NOW).profile_id == "anon:a-9"


def test_naive_timestamps_are_taken_as_utc() -> None:
    event = parse_detail(track(timestamp="2026-11-09T10:00:00"), now=NOW)
    assert event.timestamp.tzinfo is not None
    assert event.timestamp.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"messageId": None}, "detail.messageId: Field required"),
        ({"event": None}, "a track call needs 'event'"),
        ({"userId": None}, "needs 'userId' or 'anonymousId'"),
        ({"userId": ["u-1"]}, "detail.userId: Input should be a valid string"),
        ({"type": "purchase"}, "detail.type: Input should be 'track', 'identify'"),
        ({"timestamp": "yesterday"}, "detail.timestamp:"),
        ({"timestamp": "2026-11-20T00:00:00Z"}, "is in the future"),
        ({"timestamp": "2001-01-01T00:00:00Z"}, "is too old"),
        ({"messageId": "x" * 300}, "detail.messageId: String should have at most 256 characters"),
    ],
)
def test_malformed_payloads_are_rejected_with_a_reason_naming_the_field(
    change: dict[str, object], reason: str
) -> None:
    detail = {k: v for k, v in {**track(), **change}.items() if v is not None}
    with pytest.raises(EventRejected) as rejected:
        parse_detail(detail, now=NOW)
    assert reason in rejected.value.reason


def test_a_detail_that_is_not_an_object_is_rejected() -> None:
    with pytest.raises(EventRejected, match="expected a JSON object, got list"):
        parse_detail([1, 2], now=NOW)


def test_the_published_json_schema_matches_the_models() -> None:
    published = json.loads((DOCS / "event.schema.json").read_text())
    assert published == event_json_schema(), "run: nudge schema --out docs/event.schema.json"
    assert set(published["required"]) == {"type", "messageId"}
    assert published["anyOf"] == [{"required": ["timestamp"]}, {"required": ["originalTimestamp"]}]
    assert {"type": "integer"} in published["properties"]["userId"]["anyOf"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
segment_like = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["track", "identify", "page", "bogus"]) | json_values,
        "event": st.text(max_size=250) | json_values,
        "userId": st.text(max_size=300) | json_values,
        "anonymousId": st.text(max_size=20) | json_values,
        "messageId": st.text(max_size=300) | json_values,
        "timestamp": st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()) | json_values,
        "properties": json_values,
        "traits": json_values,
        "context": json_values,
    },
)


@settings(max_examples=400, deadline=None)
@given(detail=segment_like | json_values)
def test_any_json_is_either_accepted_or_rejected_with_a_reason(detail: object) -> None:
    try:
        event = parse_detail(detail, now=NOW)
    except EventRejected as rejected:
        assert rejected.reason.startswith(("detail", "detail."))
        return
    assert event.message_id and (event.user_id or event.anonymous_id)
    assert event.type != "track" or event.event
