"""Folding events into a profile: aggregates, traits, the open cart, and duplicates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from shared.events.contract import SegmentEvent, parse_detail
from shared.profiles.fold import fold_events
from shared.profiles.profile import (
    DAY_BUCKETS_KEPT,
    FINGERPRINT_LENGTH,
    RECENT_EVENTS,
    Profile,
    audience_view,
)

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)


def event(kind: str, minutes: int, message_id: str, **fields: Any) -> SegmentEvent:
    detail: dict[str, Any] = {
        "type": "track",
        "event": kind,
        "userId": "u-1",
        "messageId": message_id,
        "timestamp": (T0 + timedelta(minutes=minutes)).isoformat(),
        **fields,
    }
    if kind == "identify":
        detail["type"] = "identify"
        detail.pop("event")
    return parse_detail(detail)


def product(pid: str, price: float, category: str = "shoes") -> dict[str, Any]:
    return {"product_id": pid, "name": f"Item {pid}", "price": price, "quantity": 1, "category": category}


def test_identify_maps_segment_traits_onto_audience_names() -> None:
    identify = event(
        "identify",
        0,
        "m-0",
        traits={
            "firstName": "Ayu",
            "age": 27,
            "address": {"country": "id", "city": "Jakarta"},
            "consent": {"email": True, "push": False},
        },
        context={"timezone": "Asia/Jakarta", "locale": "id-ID"},
    )
    profile = fold_events(Profile(user_id="u-1"), [identify]).profile
    assert profile.traits["first_name"] == "Ayu"
    assert profile.traits["country"] == "ID"
    assert profile.traits["city"] == "Jakarta"
    assert profile.traits["timezone"] == "Asia/Jakarta"
    assert profile.traits["language"] == "id"
    assert profile.traits["consent"] == {"email": True, "push": False}


def test_numeric_traits_keep_their_precision_and_non_finite_ones_are_dropped() -> None:
    identify = event("identify", 0, "m-0", traits={"latitude": -6.208763, "score": float("inf")})
    traits = fold_events(Profile(user_id="u-1"), [identify]).profile.traits
    assert traits["latitude"] == -6.208763
    assert "score" not in traits


def test_consent_updates_merge_per_channel() -> None:
    first = event("identify", 0, "m-0", traits={"consent": {"email": True, "push": True}})
    later = event("identify", 5, "m-1", traits={"consent": {"push": False}})
    profile = fold_events(fold_events(Profile(user_id="u-1"), [first]).profile, [later]).profile
    assert profile.traits["consent"] == {"email": True, "push": False}


def test_behaviour_is_counted_per_day_and_orders_add_revenue() -> None:
    events = [
        event("Product Viewed", 0, "m-1", properties=product("p1", 40)),
        event("Product Viewed", 1, "m-2", properties=product("p2", 60, "bags")),
        event("Product Viewed", 60 * 24, "m-3", properties=product("p1", 40)),
        event(
            "Order Completed",
            60 * 24 + 5,
            "m-4",
            properties={"order_id": "o1", "revenue": "99.95", "products": [product("p1", 40)]},
        ),
    ]
    profile = fold_events(Profile(user_id="u-1"), events).profile
    assert profile.counts["Product Viewed"] == {"2026-11-02": 2, "2026-11-03": 1}
    assert profile.count("Product Viewed", 1, T0 + timedelta(days=1)) == 1
    assert profile.count("Product Viewed", 7, T0 + timedelta(days=1)) == 3
    assert profile.orders == 1
    assert profile.revenue == Decimal("99.95")
    assert profile.category_views == {"shoes": 2, "bags": 1}
    assert profile.category_purchases == {"shoes": 1}
    assert profile.last_order_at == T0 + timedelta(days=1, minutes=5)


def test_the_open_cart_follows_adds_removes_and_is_cleared_by_an_order() -> None:
    adds = [
        event("Product Added", 0, "m-1", properties=product("p1", 40)),
        event("Product Added", 1, "m-2", properties=product("p2", 15.5)),
        event("Product Added", 2, "m-3", properties=product("p1", 40)),
        event("Product Removed", 3, "m-4", properties={"product_id": "p2"}),
    ]
    profile = fold_events(Profile(user_id="u-1"), adds).profile
    assert profile.cart is not None
    assert [(i.product_id, i.quantity) for i in profile.cart.items] == [("p1", 2)]
    assert profile.cart.value == Decimal("80.00")
    assert audience_view(profile, T0)["cart_items"] == 2
    ordered = fold_events(profile, [event("Order Completed", 10, "m-5", properties={"order_id": "o"})])
    assert ordered.profile.cart is None


def test_events_out_of_order_in_a_batch_are_applied_in_time_order() -> None:
    order = event("Order Completed", 10, "m-2", properties={"order_id": "o"})
    add = event("Product Added", 0, "m-1", properties=product("p1", 40))
    assert fold_events(Profile(user_id="u-1"), [order, add]).profile.cart is None


def test_a_duplicated_event_changes_nothing_within_and_across_batches() -> None:
    view = event("Order Completed", 0, "m-1", properties={"order_id": "o", "revenue": 10})
    first = fold_events(Profile(user_id="u-1"), [view, view])
    assert (first.applied, first.duplicates) == (1, 1)
    again = fold_events(first.profile, [view])
    assert (again.applied, again.duplicates) == (0, 1)
    assert again.profile == first.profile
    assert first.profile.orders == 1


def test_the_dedupe_memory_is_bounded() -> None:
    many = [event("Product Viewed", i, f"m-{i}") for i in range(RECENT_EVENTS * 3)]
    profile = fold_events(Profile(user_id="u-1"), many).profile
    assert len(profile.seen_events) == RECENT_EVENTS * FINGERPRINT_LENGTH
    assert profile.has_seen(f"m-{RECENT_EVENTS * 3 - 1}")
    assert not profile.has_seen("m-0")


def test_old_day_buckets_fold_into_months_so_the_item_stays_small() -> None:
    old = event("Product Viewed", -60 * 24 * (DAY_BUCKETS_KEPT + 10), "m-old")
    new = event("Product Viewed", 0, "m-new")
    profile = fold_events(Profile(user_id="u-1"), [old, new]).profile
    assert profile.counts["Product Viewed"] == {"2026-09": 1, "2026-11-02": 1}
    assert sum(profile.counts["Product Viewed"].values()) == 2


def test_unknown_events_are_kept_as_behaviour() -> None:
    profile = fold_events(Profile(user_id="u-1"), [event("Coupon Applied", 0, "m-1")]).profile
    assert profile.counts["Coupon Applied"] == {"2026-11-02": 1}


def test_audience_view_exposes_recency_in_days() -> None:
    order = event("Order Completed", 0, "m-1", properties={"order_id": "o", "revenue": 20})
    profile = fold_events(Profile(user_id="u-1"), [order]).profile
    view = audience_view(profile, T0 + timedelta(days=9, hours=1))
    assert view["days_since_last_order"] == 9
    assert view["orders"] == 1
    assert view["consent.in_app"] is True
    assert view["consent.email"] is False


def test_age_comes_from_the_birthday_or_birth_year_when_not_given() -> None:
    now = datetime(2026, 11, 2, tzinfo=UTC)
    assert audience_view(Profile(user_id="a", traits={"birthday": "2000-11-03"}), now)["age"] == 25
    assert audience_view(Profile(user_id="b", traits={"birthday": "2000-11-02T00:00:00Z"}), now)["age"] == 26
    assert audience_view(Profile(user_id="c", traits={"birth_year": 1990}), now)["age"] == 36
    assert audience_view(Profile(user_id="d", traits={"age": 41, "birth_year": 1990}), now)["age"] == 41
    assert audience_view(Profile(user_id="e", traits={"birthday": "soon"}), now)["age"] is None


def test_activity_windows_are_stored_inside_the_compressed_behaviour_and_round_trip() -> None:
    from shared.adapters.dynamo.profiles import _profile_from_item, profile_to_item
    from shared.events.contract import parse_detail

    order = parse_detail(
        {
            "type": "track",
            "event": "Order Completed",
            "userId": "u1",
            "messageId": "m-1",
            "timestamp": "2026-11-02T07:30:00Z",
            "properties": {"revenue": 42.5, "products": [{"category": "shoes"}]},
        }
    )
    profile = fold_events(Profile(user_id="u1"), [order]).profile
    assert not profile.activity.is_empty()
    item = profile_to_item(profile)
    assert "activity" not in item  # no attribute of its own: it rides in the compressed behaviour
    again = _profile_from_item(item)
    assert again.activity == profile.activity
    assert again.last_at("Order Completed") == profile.last_at("Order Completed")
