"""Folding at the edges: late-arriving events never move recency backwards, the cart after removes
and late orders, an order's value from ``total``, and every window and bound at its exact limit
(order days, remembered order ids, day and month buckets, category days, product views)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from payloads import tracked as track

from shared.events.contract import SegmentEvent
from shared.profiles.fold import fold_events
from shared.profiles.profile import (
    FINGERPRINT_LENGTH,
    GOAL_ENTRY_LENGTH,
    MAX_CART_ITEMS,
    MAX_CATEGORIES_PER_EVENT,
    MAX_GOAL_EVENTS,
    MAX_ORDER_DAYS,
    RECENT_EVENTS,
    Profile,
    _seen,
    fingerprint,
)

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)


def fold(*batches: list[SegmentEvent]) -> Profile:
    profile = Profile(user_id="u-1")
    for batch in batches:
        profile = fold_events(profile, batch).profile
    return profile


# -- an order's value ------------------------------------------------------------------------------


def test_an_order_that_sends_total_instead_of_revenue_adds_its_total() -> None:
    profile = fold([track("Order Completed", T0, "o-1", order_id="o-1", total="30.5")])
    assert profile.revenue == Decimal("30.50")
    assert profile.orders_in(1, T0) == (1, Decimal("30.50"))


# -- late-arriving events ----------------------------------------------------------------------------


def test_a_late_arriving_older_order_moves_no_recency_backwards() -> None:
    recent = track("Order Completed", T0 + timedelta(days=2), "o-2", revenue=10)
    late = track("Order Completed", T0, "o-1", revenue=5)

    profile = fold([recent], [late])

    assert profile.last_order_at == T0 + timedelta(days=2)
    assert profile.first_order_at == T0
    assert profile.last_seen == T0 + timedelta(days=2)
    assert profile.first_seen == T0
    assert profile.last_at("Order Completed") == T0 + timedelta(days=2)
    assert (profile.orders, profile.revenue) == (2, Decimal("15.00"))


def test_a_late_arriving_older_view_does_not_make_the_shopper_look_lapsed() -> None:
    profile = fold(
        [track("Product Viewed", T0 + timedelta(hours=5), "v-2")], [track("Product Viewed", T0, "v-1")]
    )
    assert profile.last_seen == T0 + timedelta(hours=5)
    assert profile.first_seen == T0
    assert profile.last_at("Product Viewed") == T0 + timedelta(hours=5)


# -- the open cart -----------------------------------------------------------------------------------


def test_removing_the_last_item_closes_the_cart() -> None:
    profile = fold(
        [track("Product Added", T0, "a-1", product_id="p1", price=10)],
        [track("Product Removed", T0 + timedelta(minutes=1), "r-1", product_id="p1")],
    )
    assert profile.cart is None


def test_a_product_added_and_removed_by_its_sku_leaves_the_cart() -> None:
    profile = fold(
        [track("Product Added", T0, "a-1", sku="SKU-1", price=10)],
        [track("Product Removed", T0 + timedelta(minutes=1), "r-1", sku="SKU-1")],
    )
    assert profile.cart is None


def test_a_late_arriving_order_placed_before_the_latest_add_keeps_the_cart_open() -> None:
    adding = [track("Product Added", T0 + timedelta(hours=1), "a-1", product_id="p1", price=10)]
    earlier_order = [track("Order Completed", T0, "o-1", revenue=20)]

    profile = fold(adding, earlier_order)

    assert profile.cart is not None
    assert [i.product_id for i in profile.cart.items] == ["p1"]


def test_an_order_at_the_instant_of_the_last_add_closes_the_cart() -> None:
    profile = fold(
        [track("Product Added", T0, "a-1", product_id="p1", price=10)],
        [track("Order Completed", T0, "o-1", revenue=10)],
    )
    assert profile.cart is None


def test_the_cart_keeps_at_most_its_bound_of_distinct_products() -> None:
    adds = [
        track("Product Added", T0 + timedelta(seconds=i), f"a-{i}", product_id=f"p{i}", price=1)
        for i in range(MAX_CART_ITEMS + 1)
    ]
    profile = fold(adds)
    assert profile.cart is not None
    assert len(profile.cart.items) == MAX_CART_ITEMS == 50
    assert profile.cart.items[-1].product_id == f"p{MAX_CART_ITEMS - 1}"


# -- duplicates --------------------------------------------------------------------------------------


def test_a_view_delivered_twice_in_one_batch_counts_once() -> None:
    view = track("Product Viewed", T0, "v-1", category="shoes")
    result = fold_events(Profile(user_id="u-1"), [view, view])
    assert (result.applied, result.duplicates) == (1, 1)
    assert result.profile.counts["Product Viewed"] == {"2026-11-02": 1}
    assert result.profile.category_views == {"shoes": 1}


@settings(max_examples=300, deadline=None)
@given(
    memory=st.binary(max_size=60),
    start=st.integers(0, 60),
    fresh=st.binary(min_size=FINGERPRINT_LENGTH, max_size=FINGERPRINT_LENGTH),
    stride=st.sampled_from([FINGERPRINT_LENGTH, GOAL_ENTRY_LENGTH]),
)
def test_an_event_is_seen_when_its_fingerprint_starts_an_entry_of_the_memory(
    memory: bytes, start: int, fresh: bytes, stride: int
) -> None:
    """The lookup (bytes.find, then only a match at an entry's start) says what comparing the entries one
    by one says, for fingerprints cut anywhere from the memory (straddling two entries) or not in it."""
    cut = memory[start : start + FINGERPRINT_LENGTH]
    for candidate in (cut, fresh) if len(cut) == FINGERPRINT_LENGTH else (fresh,):
        entries = range(0, len(memory), stride)
        expected = any(memory[i : i + FINGERPRINT_LENGTH] == candidate for i in entries)
        assert _seen(memory, candidate, stride) is expected


def test_a_fingerprint_straddling_two_remembered_events_is_not_seen() -> None:
    first, second = fingerprint("m-1"), fingerprint("m-2")
    straddling = (first + second)[3 : 3 + FINGERPRINT_LENGTH]
    assert _seen(first + second, second) and not _seen(first + second, straddling)
    order_entries = first + b"\x00\x01" + second + b"\x00\x02"  # fingerprint and day, 8 bytes an entry
    assert _seen(order_entries, second, GOAL_ENTRY_LENGTH)
    assert not _seen(order_entries, (first + b"\x00\x01")[2:8], GOAL_ENTRY_LENGTH)


def test_an_order_replayed_after_the_dedupe_memory_has_moved_on_counts_once() -> None:
    order = track("Order Completed", T0, "o-1", revenue=25)
    views = [track("Product Viewed", T0 + timedelta(minutes=i + 1), f"v-{i}") for i in range(RECENT_EVENTS)]

    profile = fold([order], views, [order])

    assert not profile.has_seen("o-1")  # the 48 views pushed it out of the recent events
    assert profile.remembers_order("o-1")
    assert (profile.orders, profile.revenue) == (1, Decimal("25.00"))


def test_past_500_orders_the_oldest_order_ids_are_forgotten_first() -> None:
    orders = [
        track("Order Completed", T0 + timedelta(hours=i), f"o-{i}", revenue=1)
        for i in range(MAX_GOAL_EVENTS + 1)
    ]
    profile = fold(orders)
    assert not profile.remembers_order("o-0")
    assert all(profile.remembers_order(f"o-{i}") for i in range(1, MAX_GOAL_EVENTS + 1))


def test_an_order_id_is_remembered_for_399_days_and_forgotten_at_400() -> None:
    order = track("Order Completed", T0, "o-1", revenue=40)
    kept = fold([order], [track("Product Viewed", T0 + timedelta(days=399), "v-1")])
    assert kept.remembers_order("o-1")
    assert kept.orders_in(400, T0 + timedelta(days=399)) == (1, Decimal("40.00"))
    gone = fold([order], [track("Product Viewed", T0 + timedelta(days=400), "v-1")])
    assert not gone.remembers_order("o-1")
    assert gone.activity.orders == {}


# -- order windows -----------------------------------------------------------------------------------


def test_past_120_order_days_the_oldest_order_day_is_dropped_first() -> None:
    days = MAX_ORDER_DAYS + 1
    orders = [track("Order Completed", T0 + timedelta(days=i), f"o-{i}", revenue=i + 1) for i in range(days)]
    profile = fold(orders)
    newest = T0 + timedelta(days=days - 1)
    assert len(profile.activity.orders) == MAX_ORDER_DAYS == 120
    assert T0.date().isoformat() not in profile.activity.orders
    assert newest.date().isoformat() in profile.activity.orders
    assert profile.orders_in(1, newest) == (1, Decimal(days))


def test_an_order_window_of_n_days_counts_exactly_n_calendar_days() -> None:
    profile = fold(
        [
            track("Order Completed", T0 - timedelta(days=2), "o-1", revenue=1),
            track("Order Completed", T0 - timedelta(days=1), "o-2", revenue=2),
            track("Order Completed", T0, "o-3", revenue=4),
        ]
    )
    assert profile.orders_in(1, T0) == (1, Decimal(4))
    assert profile.orders_in(2, T0) == (2, Decimal(6))
    assert profile.orders_in(3, T0) == (3, Decimal(7))


# -- day and month buckets, category days, views -------------------------------------------------------


def test_the_day_bucket_exactly_35_days_old_folds_into_its_month() -> None:
    profile = fold(
        [track("Coupon Applied", T0 - timedelta(days=35), "c-1"), track("Coupon Applied", T0, "c-2")]
    )
    assert profile.counts["Coupon Applied"] == {"2026-09": 1, "2026-11-02": 1}
    younger = fold(
        [track("Coupon Applied", T0 - timedelta(days=34), "c-1"), track("Coupon Applied", T0, "c-2")]
    )
    assert younger.counts["Coupon Applied"] == {"2026-09-29": 1, "2026-11-02": 1}


def test_the_oldest_of_the_thirteen_months_kept_is_still_kept() -> None:
    # 13 months of 31 days before 2026-11-02 is 2025-09-25: September 2025 is the oldest month kept.
    profile = fold(
        [
            track("Coupon Applied", datetime(2025, 8, 31, 12, tzinfo=UTC), "c-0"),
            track("Coupon Applied", datetime(2025, 9, 1, 12, tzinfo=UTC), "c-1"),
            track("Coupon Applied", T0, "c-2"),
        ]
    )
    assert profile.counts["Coupon Applied"] == {"2025-09": 1, "2026-11-02": 1}


def test_a_category_day_exactly_35_days_old_is_dropped() -> None:
    profile = fold(
        [
            track("Product Viewed", T0 - timedelta(days=35), "v-1", category="shoes"),
            track("Product Viewed", T0 - timedelta(days=34), "v-2", category="bags"),
            track("Product Viewed", T0, "v-3", category="hats"),
        ]
    )
    assert profile.activity.categories["Product Viewed"] == {
        "bags": {"2026-09-29": 1},
        "hats": {"2026-11-02": 1},
    }


def test_at_most_twenty_categories_are_kept_per_event() -> None:
    views = [
        track("Product Viewed", T0 + timedelta(minutes=i), f"v-{i}", category=f"cat-{i:02}")
        for i in range(MAX_CATEGORIES_PER_EVENT + 1)
    ]
    per_event = fold(views).activity.categories["Product Viewed"]
    assert len(per_event) == MAX_CATEGORIES_PER_EVENT == 20
    assert "cat-20" not in per_event


def test_a_product_view_exactly_48_hours_old_is_forgotten() -> None:
    profile = fold(
        [
            track("Product Viewed", T0 - timedelta(hours=48), "v-1", product_id="old"),
            track(
                "Product Viewed", T0 - timedelta(hours=48) + timedelta(minutes=1), "v-2", product_id="kept"
            ),
            track("Product Viewed", T0, "v-3", product_id="now"),
        ]
    )
    assert sorted(profile.activity.viewed) == ["kept", "now"]
