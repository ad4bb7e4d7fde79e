"""Fuzzing the event contract and the ingest batch: hostile payloads are parsed or rejected with a
reason naming the field, never crash, and never change what happens to their batch-mates.

7,100 generated cases here (``max_examples`` below), of which 600 are batches of up to 10 records;
with the campaign files (tests/unit/test_campaign_fuzzing.py, 2,500) and the template values
(tests/integration/test_template_safety.py, 400) the bad-input suite generates 10,000. The batch
tests store profiles through the real DynamoDB codec (``profile_to_item`` and back) in memory, so
what DynamoDB would refuse (numbers out of its range, items over 400 KB) fails here too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.adapters.dynamo.codec import MAX_ITEM_BYTES, item_size
from shared.adapters.dynamo.profiles import _profile_from_item, profile_to_item
from shared.core.clock import SimulatedClock
from shared.events.contract import MAX_EVENT_BYTES, MAX_NESTING, EventRejected, SegmentEvent, parse_detail
from shared.ingest.ingest import QueueRecord, ingest_batch
from shared.profiles.profile import Profile

NOW = datetime(2026, 11, 10, 12, tzinfo=UTC)
FIELD_REASON = re.compile(r'^(detail|body)(\.[\w-]+|\[\d+\]|\["(?:[^"\\]|\\.)*"\]|\.\.\.)*: \S')

# Text as hostile as JSON allows: every code point (surrogates included), and known troublemakers.
any_char = st.characters(exclude_categories=())
nasty = st.sampled_from(
    [
        "",
        "\x00",
        "a\x00b",
        "\u202eevil\u202c",  # right-to-left override
        "\ud800",  # lone surrogate
        "\udfff tail",
        "\ufeff",
        "\uffff",
        "\U0001f600" * 3,
        "\r\nBcc: victim@example.com",
        "{{ 7*7 }}",
        "{% for x in range(99) %}x{% endfor %}",
        "<script>alert(1)</script>",
        "' OR 1=1 --",
        "anon:",
        "NaN",
        "9" * 400,
    ]
)
hostile_text = st.one_of(
    st.text(any_char, max_size=40),
    nasty,
    st.builds(lambda c, n: c * n, any_char, st.integers(200, 20_000)),  # huge strings
)
unicode_char = st.characters(exclude_categories=("Cs",))  # every code point but lone surrogates
unicode_text = st.one_of(
    st.text(unicode_char, max_size=40),
    nasty.filter(lambda t: "\ud800" not in t and "\udfff" not in t),
    st.builds(lambda c, n: c * n, unicode_char, st.integers(200, 4_000)),
)
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=10**30, max_value=10**400),
    st.floats(),  # NaN and the infinities included
    st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e308, 5e-324, -0.0]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, hostile_text)


def nested(depth: int, leaf: Any, as_dict: bool) -> Any:
    for level in range(depth):
        leaf = {f"k{level}": leaf} if as_dict else [leaf]
    return leaf


def json_values_of(leaves: st.SearchStrategy[Any], max_depth: int) -> st.SearchStrategy[Any]:
    deep = st.builds(nested, st.integers(1, max_depth), leaves, st.booleans())
    return (
        st.recursive(
            leaves,
            lambda children: (
                st.lists(children, max_size=5) | st.dictionaries(hostile_text, children, max_size=5)
            ),
            max_leaves=15,
        )
        | deep
    )


json_values = json_values_of(scalars, 3000)
timestamps = st.one_of(
    st.datetimes(
        min_value=datetime.min,
        max_value=datetime.max,
        timezones=st.sampled_from(
            [
                UTC,
                timezone(timedelta(hours=14)),
                timezone(-timedelta(hours=12)),
                timezone(timedelta(minutes=-30)),
            ]
        )
        | st.none(),
    ).map(lambda d: d.isoformat()),
    st.datetimes(min_value=datetime(2026, 11, 9), max_value=datetime(2026, 11, 11)).map(
        lambda d: d.isoformat() + "Z"
    ),
    st.sampled_from(["0000-00-00T00:00:00Z", "2026-13-45", "yesterday", "", "2026-11-10T12:00:00+99:00"]),
    numbers,
)


def segments(json_values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {},
        optional={
            "type": st.sampled_from(["track", "identify", "page", "screen", "group", "alias"]) | json_values,
            "event": st.sampled_from(["Product Viewed", "Order Completed", "Product Added"]) | json_values,
            "userId": hostile_text | json_values,
            "anonymousId": hostile_text | json_values,
            "messageId": hostile_text | json_values,
            "timestamp": timestamps,
            "name": json_values,
            "properties": st.dictionaries(hostile_text, json_values, max_size=6) | json_values,
            "traits": st.dictionaries(hostile_text, json_values, max_size=6) | json_values,
            "context": st.dictionaries(st.sampled_from(["timezone", "locale", "ip"]), json_values)
            | json_values,
            "integrations": json_values,
        },
    )


segment_like = segments(json_values)


def assert_clear_reason(reason: str) -> None:
    """A reason names the field it is about, reads on one line, and fits an SQS message attribute."""
    for part in reason.split("; "):
        assert FIELD_REASON.match(part), reason
    assert reason.isprintable(), reason
    assert len(reason) < 2000


@settings(max_examples=3500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(detail=segment_like | json_values)
def test_any_payload_is_parsed_or_rejected_with_a_reason_naming_the_field(detail: Any) -> None:
    try:
        event = parse_detail(detail, now=NOW)
    except EventRejected as rejected:
        assert_clear_reason(rejected.reason)
        return
    assert isinstance(event, SegmentEvent)
    assert event.message_id and (event.user_id or event.anonymous_id)
    assert event.timestamp.tzinfo is not None
    assert NOW - timedelta(days=365 * 5) <= event.timestamp <= NOW + timedelta(days=1)
    event.profile_id.encode()  # a usable DynamoDB key: valid Unicode
    event.message_id.encode()


def valid(**fields: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Product Viewed",
        "userId": "u-1",
        "messageId": "m-1",
        "timestamp": "2026-11-10T11:00:00Z",
        **fields,
    }


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    field=st.sampled_from(["userId", "anonymousId", "messageId", "event", "name", "type"]), value=json_values
)
def test_one_bad_field_in_an_otherwise_valid_event_is_named_in_the_reason(field: str, value: Any) -> None:
    try:
        parse_detail(valid(**{field: value}), now=NOW)
    except EventRejected as rejected:
        assert_clear_reason(rejected.reason)
        named = {"userId", "anonymousId"} if field in {"userId", "anonymousId"} else {field}
        assert any(f"'{n}'" in rejected.reason or f"detail.{n}" in rejected.reason for n in named), (
            rejected.reason
        )


@settings(max_examples=300, deadline=None)
@given(
    depth=st.integers(MAX_NESTING + 1, 20_000),
    as_dict=st.booleans(),
    where=st.sampled_from(["properties", "traits", "context"]),
)
def test_deep_nesting_is_rejected_with_its_path_not_a_recursion_error(
    depth: int, as_dict: bool, where: str
) -> None:
    detail = valid(**{where: {"x": nested(depth, 1, as_dict)}})
    try:
        parse_detail(detail, now=NOW)
    except EventRejected as rejected:
        assert rejected.reason.startswith(f"detail.{where}.x"), rejected.reason
        assert f"nested deeper than {MAX_NESTING} levels" in rejected.reason
    else:
        raise AssertionError("accepted an event nested deeper than the limit")


@settings(max_examples=700, deadline=None)
@given(
    moment=st.datetimes(
        min_value=datetime.min,
        max_value=datetime.max,
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=14)), timezone(-timedelta(hours=12))]),
    )
)
def test_timestamps_far_in_the_past_or_future_are_rejected_as_such(moment: datetime) -> None:
    try:
        event = parse_detail(valid(timestamp=moment.isoformat()), now=NOW)
    except EventRejected as rejected:
        assert rejected.reason.startswith("detail.timestamp: "), rejected.reason
        assert re.search(r"in the future|too old|outside the years", rejected.reason), rejected.reason
        return
    assert event.timestamp == moment


def test_timestamps_at_the_edges_of_the_calendar_are_rejected_not_crashed_on() -> None:
    for text in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"):
        try:
            parse_detail(valid(timestamp=text), now=NOW)
        except EventRejected as rejected:
            assert rejected.reason == f"detail.timestamp: {text} is outside the years 1 to 9999 in UTC"
        else:
            raise AssertionError(text)


# ---- the batch: bad records are parked with their reason, batch-mates are applied as if alone ----


class CodecProfileStore:
    """The ProfileStore port in memory, storing each profile as the DynamoDB item it would be (the real
    codec), and refusing what DynamoDB refuses: items over 400 KB, numbers it cannot hold."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def get(self, user_id: str) -> Profile | None:
        item = self.items.get(user_id)
        return _profile_from_item(item) if item else None

    def get_many(self, user_ids: Sequence[str]) -> dict[str, Profile]:
        return {u: p for u in user_ids if (p := self.get(u)) is not None}

    def save(self, profile: Profile) -> bool:
        stored = self.items.get(profile.user_id)
        if (int(stored["version"]["N"]) if stored else 0) != profile.version:
            return False
        item = profile_to_item(profile.model_copy(update={"version": profile.version + 1}))
        assert item_size(item) <= MAX_ITEM_BYTES, f"DynamoDB would refuse {item_size(item)} bytes"
        item["user_id"]["S"].encode()  # a key DynamoDB can hold
        self.items[profile.user_id] = item
        return True

    def scan_segment(self, *_: Any) -> tuple[list[Profile], Mapping[str, Any] | None]:
        return [self.get(u) for u in self.items if self.get(u)], None  # type: ignore[misc]


class ParkedList:
    def __init__(self) -> None:
        self.parked: list[tuple[str, str, str]] = []

    def park(self, body: str, reason: str, source: str) -> None:
        self.parked.append((body, reason, source))


good_events = st.builds(
    lambda user, n, name, props, offset: {
        "type": "track",
        "event": name,
        "userId": f"u{user}",
        "messageId": f"good-{n}",
        "timestamp": (NOW - timedelta(minutes=offset)).isoformat(),
        "properties": props,
    },
    st.integers(0, 3),
    st.integers(0, 10**9),
    st.sampled_from(["Product Viewed", "Product Added", "Order Completed", "Checkout Started"]),
    st.fixed_dictionaries(
        {},
        optional={
            "product_id": unicode_text | numbers | st.none(),
            "category": unicode_text | numbers,
            "price": numbers | unicode_text,
            "revenue": numbers | unicode_text,
            "quantity": numbers,
            "name": unicode_text,
            "products": st.lists(
                st.fixed_dictionaries({"category": st.text(unicode_char, max_size=20), "quantity": numbers}),
                max_size=300,
            ),
        },
    ),
    st.integers(0, 60 * 24 * 3),
)
raw_bodies = st.one_of(
    st.text(any_char, max_size=50),
    st.sampled_from(
        [
            "",
            "null",
            "[]",
            '{"detail": 1}',
            '{"no-detail": {}}',
            '{"detail": {"a": ' + "1" * 5000 + "}}",  # more digits than Python reads
            '{"detail": ' + "[" * 100_000 + "]" * 100_000 + "}",  # deeper than Python's JSON reader recurses
            '{"detail": {"x": NaN}}',
            '{"detail": "\\ud800"}',
            json.dumps({"detail": valid(properties={"blob": "x" * 300_000})}),  # over EventBridge's 256 KB
        ]
    ),
)
records = st.one_of(
    good_events.map(lambda d: ("good", json.dumps({"detail": d}))),
    segments(json_values_of(scalars, 400)).map(lambda d: ("any", json.dumps({"detail": d}))),
    raw_bodies.map(lambda b: ("any", b)),
)


def run(bodies: list[str]) -> tuple[Any, CodecProfileStore, ParkedList]:
    store, parked = CodecProfileStore(), ParkedList()
    batch = [QueueRecord(f"r-{i}", body) for i, body in enumerate(bodies)]
    return ingest_batch(batch, store, parked, SimulatedClock(NOW)), store, parked


def accepted_alone(body: str) -> bool:
    try:
        detail = json.loads(body)["detail"]
        compact = json.dumps(detail, ensure_ascii=False, separators=(",", ":"))
        if len(compact.encode("utf-8", "surrogatepass")) > MAX_EVENT_BYTES:
            return False
        parse_detail(detail, now=NOW)
    except Exception:
        return False
    return True


@settings(
    max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(batch=st.lists(records, min_size=1, max_size=10))
def test_a_bad_record_never_affects_its_batch_mates(batch: list[tuple[str, str]]) -> None:
    bodies = [body for _, body in batch]
    outcome, store, parked = run(bodies)

    assert outcome.errors == [] and outcome.failed_record_ids == []
    rejected = dict(outcome.rejected)
    for i, (kind, body) in enumerate(batch):
        if kind == "good":
            assert f"r-{i}" not in rejected, rejected.get(f"r-{i}")
        assert (f"r-{i}" in rejected) != accepted_alone(body)
    for _, reason in outcome.rejected:
        assert_clear_reason(reason)
    assert [(b, r) for b, r, _ in parked.parked] == [(bodies[int(i[2:])], r) for i, r in outcome.rejected]
    # The batch-mates end up exactly as if the rejected records had never been in the batch.
    alone, alone_store, _ = run([b for i, b in enumerate(bodies) if f"r-{i}" not in rejected])
    assert alone.events_applied == outcome.events_applied
    assert {u: _profile_from_item(i) for u, i in store.items.items()} == {
        u: _profile_from_item(i) for u, i in alone_store.items.items()
    }
