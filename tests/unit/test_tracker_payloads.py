"""The event contract as trackers send it: payloads copied from Segment's and RudderStack's published
specs (https://segment.com/docs/connections/spec/, https://www.rudderstack.com/docs/event-spec/),
pushed through the same parsing and folding ingest runs.

Segment's examples are dated 2015 (older than the live-traffic age limit): they are parsed here without
a clock, as a backfill (``nudge import``) reads them; the live-traffic bound is pinned on its own.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from payloads import published

from shared.campaigns.audience.rules import ShopperFacts
from shared.campaigns.audience.selection import AudienceRule
from shared.campaigns.audience.vocabulary import default_vocabulary
from shared.events.contract import (
    BACKFILL,
    LIVE_TRAFFIC,
    EventRejected,
    TimestampSource,
    parse_detail,
)
from shared.events.countries import country_code
from shared.events.traits import TraitPolicy, context_fills, context_traits
from shared.profiles.fold import fold_events
from shared.profiles.profile import Profile, audience_view

# Segment, Spec: Identify — "a complete example of an identify call".
SEGMENT_IDENTIFY = published("segment-identify")

# Segment, Spec: Common Fields — the common fields "in raw JSON" (a track call), with the spec's
# `context.traits` ("useful where you need to track an event, but also associate information from a
# previous identify call") and an event name, which every track call carries.
SEGMENT_TRACK_WITH_CONTEXT = published("segment-common-fields-track")

# RudderStack, Identify — the sample payload, with the common fields a RudderStack SDK adds: traits in
# `context.traits`, `originalTimestamp` and `sentAt`, and no `timestamp` (RudderStack's server computes it).
RUDDERSTACK_IDENTIFY = published("rudderstack-identify")

# RudderStack, Track — the "Product Reviewed" sample with the common fields, sent by a server SDK that
# tracks with the shop's numeric database id.
RUDDERSTACK_TRACK_NUMERIC_USER = published("rudderstack-track-numeric-user")


def fold(*details: dict[str, Any]) -> Profile:
    events = [parse_detail(d) for d in details]
    return fold_events(Profile(user_id=events[0].profile_id), events).profile


# -- traits in context.traits ----------------------------------------------------------------------


def test_a_rudderstack_identify_reads_its_traits_from_context_traits() -> None:
    profile = fold(RUDDERSTACK_IDENTIFY)
    assert profile.user_id == "27340af5c8819"
    assert profile.traits["name"] == "Richard Hendricks"
    assert profile.traits["email"] == "rhedricks@example.com"
    assert profile.traits["logins"] == 2
    assert profile.traits["country"] == "GB"
    assert profile.traits["language"] == "en"


def test_top_level_traits_win_over_context_traits_on_an_identify() -> None:
    detail = {
        **SEGMENT_IDENTIFY,
        "context": {"traits": {"plan": "free", "email": "old@example.com", "title": "Engineer"}},
    }
    event = parse_detail(detail)
    assert event.traits["plan"] == "premium"
    assert event.traits["email"] == "peter@example.com"
    assert event.traits["title"] == "Engineer"  # only in context.traits: read


def test_a_tracks_context_traits_fill_what_the_profile_does_not_know_yet() -> None:
    profile = fold(SEGMENT_TRACK_WITH_CONTEXT)
    assert profile.traits["email"] == "peter@example.com"
    assert profile.traits["plan"] == "premium"
    assert profile.traits["country"] == "NL"
    assert profile.traits["timezone"] == "Europe/Amsterdam"
    assert profile.traits["language"] == "nl"
    assert profile.counts["Product Viewed"] == {"2015-12-10": 1}


def test_a_tracks_context_traits_never_undo_a_newer_identify() -> None:
    """The device repeats the traits of its last identify on every call; the shopper changed their plan
    (and consent) since, from another device."""
    identify = {
        "type": "identify",
        "userId": "97980cfea0067",
        "messageId": "m-newer",
        "timestamp": "2015-12-10T04:00:00Z",
        "traits": {"plan": "enterprise", "consent": {"email": False}},
    }
    stale = {
        **SEGMENT_TRACK_WITH_CONTEXT,
        "context": {"traits": {"plan": "premium", "consent": {"email": True}}},
    }
    profile = fold(identify, stale)
    assert profile.traits["plan"] == "enterprise"
    assert profile.traits["consent"] == {"email": False}


def test_context_trait_contact_points_from_an_untrusted_source_are_dropped_too() -> None:
    event = parse_detail(SEGMENT_TRACK_WITH_CONTEXT)
    screened, reasons = TraitPolicy().screen(event, "partner.feed")
    assert "email" not in screened.context_traits
    assert screened.context_traits["plan"] == "premium"
    assert reasons == [
        "detail.context.traits.email: a contact point, and 'partner.feed' is not a trusted source; dropped"
    ]
    identify, reasons = TraitPolicy().screen(parse_detail(RUDDERSTACK_IDENTIFY), "partner.feed")
    assert "email" not in identify.traits and identify.traits["name"] == "Richard Hendricks"
    assert reasons == [
        "detail.traits.email: a contact point, and 'partner.feed' is not a trusted source; dropped"
    ]


def _track_with(context: dict[str, Any], message_id: str = "m-ctx") -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Product Viewed",
        "userId": "u-ctx",
        "messageId": message_id,
        "timestamp": "2015-12-10T04:10:00Z",
        "context": context,
    }


def test_a_track_teaches_the_language_when_the_profile_knows_only_the_time_zone() -> None:
    """The fold skips the context of a track without context.traits when the profile has what it could
    teach (most tracks): a profile with a time zone and no language still learns the language."""
    profile = fold(_track_with({"timezone": "Asia/Jakarta"}, "m-1"), _track_with({"locale": "id-ID"}, "m-2"))
    assert profile.traits == {"timezone": "Asia/Jakarta", "language": "id"}
    again = fold_events(
        profile, [parse_detail(_track_with({"timezone": "Europe/Paris", "locale": "fr"}, "m-3"))]
    )
    assert again.profile.traits == {"timezone": "Asia/Jakarta", "language": "id"}  # known: never overwritten


context_values = st.one_of(
    st.none(), st.integers(), st.text(alphabet=st.characters(codec="utf-8"), max_size=8)
)


@settings(max_examples=200, deadline=None)
@given(
    context=st.fixed_dictionaries(
        {},
        optional={
            "timezone": context_values,
            "locale": context_values,
            "ip": context_values,
            "traits": st.one_of(st.none(), st.integers(), st.just({})),
        },
    )
)
def test_a_context_without_traits_fills_exactly_the_traits_context_fills_names(
    context: dict[str, Any],
) -> None:
    event = parse_detail(_track_with(context))
    assert not event.context_traits
    assert set(context_fills(event.context)) == set(context_traits(event))


# -- the event's time ------------------------------------------------------------------------------


def test_without_timestamp_the_original_timestamp_is_the_events_time() -> None:
    event = parse_detail(RUDDERSTACK_IDENTIFY)
    assert event.timestamp == datetime(2022, 2, 1, 19, 14, 18, 381000, tzinfo=UTC)
    assert event.timestamp_source is TimestampSource.ORIGINAL_TIMESTAMP


def test_without_either_the_bus_time_is_the_events_time() -> None:
    detail = {k: v for k, v in RUDDERSTACK_IDENTIFY.items() if k != "originalTimestamp"}
    event = parse_detail(detail, bus_time="2022-02-01T19:14:19Z")
    assert event.timestamp == datetime(2022, 2, 1, 19, 14, 19, tzinfo=UTC)
    assert event.timestamp_source is TimestampSource.BUS_TIME


def test_a_timestamp_given_is_used_whatever_else_the_payload_carries() -> None:
    event = parse_detail(SEGMENT_IDENTIFY, bus_time="2026-01-01T00:00:00Z")
    assert event.timestamp == datetime(2015, 2, 23, 22, 28, 55, 111000, tzinfo=UTC)
    assert event.timestamp_source is TimestampSource.TIMESTAMP


def test_with_no_time_at_all_the_reason_names_every_field_looked_at() -> None:
    detail = {k: v for k, v in RUDDERSTACK_IDENTIFY.items() if k != "originalTimestamp"}
    with pytest.raises(EventRejected) as rejected:
        parse_detail(detail)
    assert rejected.value.reason == (
        "detail.timestamp: Field required (nor 'originalTimestamp', nor the EventBridge event's 'time')"
    )


def test_a_bad_original_timestamp_is_named_as_such() -> None:
    detail = {**RUDDERSTACK_IDENTIFY, "originalTimestamp": "yesterday"}
    with pytest.raises(EventRejected, match=r"^detail\.originalTimestamp: Input should be a valid datetime"):
        parse_detail(detail)


# -- the age bound is the live-traffic policy; a backfill loads history -----------------------------

NOW = datetime(2026, 11, 10, tzinfo=UTC)


def test_live_traffic_refuses_segments_2015_example_and_says_how_to_load_history() -> None:
    with pytest.raises(EventRejected) as rejected:
        parse_detail(SEGMENT_IDENTIFY, now=NOW)
    assert rejected.value.reason == (
        "detail.timestamp: 2015-02-23T22:28:55.111000+00:00 is too old for live traffic (more than 5 years "
        "before the clock, the live-traffic age limit): load history with `nudge import`"
    )
    assert LIVE_TRAFFIC.max_age == timedelta(days=365 * 5)


def test_a_backfill_loads_segments_2015_example_and_still_refuses_the_future() -> None:
    assert parse_detail(SEGMENT_IDENTIFY, now=NOW, policy=BACKFILL).user_id == "97980cfea0067"
    assert BACKFILL.max_age is None
    future = {**SEGMENT_IDENTIFY, "timestamp": "2026-11-20T00:00:00Z"}
    with pytest.raises(EventRejected, match="is in the future"):
        parse_detail(future, now=NOW, policy=BACKFILL)


def test_an_event_just_inside_the_live_traffic_age_limit_is_accepted() -> None:
    inside = {**SEGMENT_IDENTIFY, "timestamp": (NOW - LIVE_TRAFFIC.max_age).isoformat()}  # type: ignore[operator]
    assert parse_detail(inside, now=NOW).user_id == "97980cfea0067"
    outside = {**inside, "timestamp": (NOW - LIVE_TRAFFIC.max_age - timedelta(seconds=1)).isoformat()}  # type: ignore[operator]
    with pytest.raises(EventRejected, match="too old for live traffic"):
        parse_detail(outside, now=NOW)


# -- numeric ids -----------------------------------------------------------------------------------


def test_a_numeric_user_id_is_accepted_as_text() -> None:
    event = parse_detail(RUDDERSTACK_TRACK_NUMERIC_USER)
    assert event.user_id == "97980"
    assert event.profile_id == "97980"
    assert event.timestamp_source is TimestampSource.ORIGINAL_TIMESTAMP
    assert fold(RUDDERSTACK_TRACK_NUMERIC_USER).counts["Product Reviewed"] == {"2022-02-01": 1}


@pytest.mark.parametrize(
    ("field", "value", "text"),
    [("anonymousId", 8_172_635, "8172635"), ("messageId", 1234567890123, "1234567890123")],
)
def test_numeric_anonymous_and_message_ids_are_text_too(field: str, value: int, text: str) -> None:
    event = parse_detail({**RUDDERSTACK_TRACK_NUMERIC_USER, field: value})
    assert event.model_dump(by_alias=True)[field] == text


@pytest.mark.parametrize("value", [True, 1.5, -0.0, [97980]])
def test_a_user_id_that_is_not_text_or_a_whole_number_is_still_rejected(value: object) -> None:
    with pytest.raises(EventRejected, match=r"^detail\.userId: "):
        parse_detail({**RUDDERSTACK_TRACK_NUMERIC_USER, "userId": value})


# -- countries -------------------------------------------------------------------------------------


def test_segments_own_example_address_matches_country_in_us() -> None:
    profile = fold(SEGMENT_IDENTIFY)
    assert profile.traits["country"] == "US"
    assert profile.traits["country_raw"] == "USA"
    assert profile.traits["city"] == "San Francisco"
    rule = AudienceRule.parse("country in [US]", default_vocabulary())
    assert rule.holds_for(ShopperFacts(profile, NOW))


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("USA", "US"),
        ("usa", "US"),
        ("U.S.A.", "US"),
        ("United States", "US"),
        ("United States of America", "US"),
        ("the United States", "US"),
        ("US", "US"),
        ("UK", "GB"),
        ("United Kingdom", "GB"),
        ("Great Britain", "GB"),
        ("GBR", "GB"),
        ("Deutschland", "Deutschland"),  # not an English name: kept as sent
        ("DEU", "DE"),
        ("Germany", "DE"),
        ("id", "ID"),
        ("IDN", "ID"),
        ("Indonesia", "ID"),
        ("South Korea", "KR"),
        ("Korea, Republic of", "KR"),
        ("Viet Nam", "VN"),
        ("Vietnam", "VN"),
        ("Czech Republic", "CZ"),
        ("Czechia", "CZ"),
        ("Türkiye", "TR"),
        ("Turkey", "TR"),
        ("Côte d'Ivoire", "CI"),
        ("Ivory Coast", "CI"),
        ("Bosnia & Herzegovina", "BA"),
        ("  Singapore ", "SG"),
        ("UAE", "AE"),
        ("Russia", "RU"),
        ("Holland", "NL"),
        ("Narnia", "Narnia"),
        ("", ""),
    ],
)
def test_country_names_and_alpha_3_codes_become_alpha_2(raw: str, code: str) -> None:
    assert country_code(raw) == code


def test_the_raw_country_is_kept_beside_its_code_and_a_top_level_country_wins() -> None:
    identify = {**SEGMENT_IDENTIFY, "traits": {"address": {"country": "US"}}}
    assert fold(identify).traits["country_raw"] == "US"
    top_level = {**SEGMENT_IDENTIFY, "traits": {"country": "Germany", "address": {"country": "USA"}}}
    profile = fold(top_level)
    assert (profile.traits["country"], profile.traits["country_raw"]) == ("DE", "Germany")
    assert audience_view(profile, NOW)["country"] == "DE"
