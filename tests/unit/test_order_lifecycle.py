"""Orders, refunds, cancellations and the cart as Segment's V2 Ecommerce spec sends them: the examples'
properties (tests/tracker_payloads/segment-ecommerce-v2.json, from "Spec: V2 Ecommerce Events") folded
into a profile the way ingest folds them. Revenue is net of refunds, each refund linked to its order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from payloads import published

from shared.core.money import order_value
from shared.events.contract import SegmentEvent, parse_detail
from shared.profiles.fold import fold_events
from shared.profiles.profile import Profile, audience_view

SPEC = published("segment-ecommerce-v2")
T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
ORDER_DAY = T0.date().isoformat()


def call(name: str, minutes: int, message_id: str | None = None, **changes: Any) -> SegmentEvent:
    """The spec's example of ``name`` as a track call of u-1, ``minutes`` after T0."""
    return parse_detail(
        {
            "type": "track",
            "event": name,
            "userId": "u-1",
            "messageId": message_id or f"{name}-{minutes}",
            "timestamp": (T0 + timedelta(minutes=minutes)).isoformat(),
            "properties": {**SPEC[name], **changes},
        }
    )


def folded(*events: SegmentEvent, profile: Profile | None = None) -> Profile:
    return fold_events(profile or Profile(user_id="u-1"), list(events)).profile


# -- an order's value ---------------------------------------------------------------------------------


def test_the_spec_order_is_worth_its_revenue() -> None:
    profile = folded(call("Order Completed", 0))
    assert (profile.orders, profile.revenue) == (1, Decimal("25.00"))
    assert profile.orders_in(30, T0) == (1, Decimal("25.00"))


def test_a_revenue_of_zero_is_missing_so_the_total_is_recorded() -> None:
    assert order_value({"revenue": 0, "total": 5}) == Decimal(5)
    profile = folded(call("Order Completed", 0, revenue=0, total=5))
    assert profile.revenue == Decimal(5)
    assert profile.orders_in(30, T0) == (1, Decimal(5))


def test_an_order_worth_nothing_in_every_field_is_still_an_order() -> None:
    profile = folded(call("Order Completed", 0, revenue=0, total=0, value=0))
    assert (profile.orders, profile.revenue) == (1, Decimal(0))


# -- refunds ------------------------------------------------------------------------------------------


def test_a_refund_of_the_whole_order_takes_its_revenue_back() -> None:
    """The spec's refund names a total of 30 for an order whose revenue was 25: no more than the order
    brought in is taken back."""
    profile = folded(call("Order Completed", 0), call("Order Refunded", 60))
    assert profile.revenue == Decimal(0)
    assert profile.orders_in(30, T0 + timedelta(hours=1)) == (1, Decimal(0))
    assert profile.orders == 1  # refunded, not cancelled: the shopper did order
    assert audience_view(profile, T0 + timedelta(hours=1))["revenue"] == 0.0


def test_a_partial_refund_takes_back_its_amount_on_the_orders_day() -> None:
    later = 3 * 24 * 60
    profile = folded(call("Order Completed", 0), call("Order Refunded", later, total=10, products=[]))
    assert profile.revenue == Decimal("15.00")
    assert profile.activity.orders == {ORDER_DAY: (1, Decimal("15.00"))}


def test_a_refund_naming_no_amount_takes_back_the_whole_order() -> None:
    refund = call("Order Refunded", 60, total=None, products=[])
    assert folded(call("Order Completed", 0), refund).revenue == Decimal(0)


def test_two_partial_refunds_never_take_back_more_than_the_order_brought_in() -> None:
    profile = folded(
        call("Order Completed", 0),
        call("Order Refunded", 60, total=20),
        call("Order Refunded", 120, total=20),
    )
    assert profile.revenue == Decimal(0)
    assert profile.activity.orders == {ORDER_DAY: (1, Decimal(0))}


def test_a_refund_delivered_twice_is_taken_back_once() -> None:
    refund = call("Order Refunded", 60, "refund-1", total=10)
    profile = folded(call("Order Completed", 0), refund)
    assert folded(refund, profile=profile).revenue == Decimal("15.00")


def test_a_refund_replayed_long_after_is_still_taken_back_once() -> None:
    refund = call("Order Refunded", 60, "refund-1", total=10)
    profile = folded(call("Order Completed", 0), refund)
    views = [call("Product Added", 120 + i, f"add-{i}") for i in range(60)]
    profile = folded(*views, profile=profile)
    assert folded(refund, profile=profile).revenue == Decimal("15.00")


def test_a_refund_of_an_order_never_seen_changes_no_revenue() -> None:
    profile = folded(call("Order Completed", 0), call("Order Refunded", 60, order_id="another-order"))
    assert profile.revenue == Decimal("25.00")
    assert profile.counts["Order Refunded"] == {ORDER_DAY: 1}


def test_a_refund_takes_back_only_from_its_own_order() -> None:
    first = call("Order Completed", 0, order_id="o-1", revenue=40)
    second = call("Order Completed", 30)  # the spec's order id, which the refund names
    profile = folded(first, second, call("Order Refunded", 60))
    assert profile.revenue == Decimal("40.00")
    assert profile.orders == 2


# -- cancellations ------------------------------------------------------------------------------------


def test_a_cancelled_order_no_longer_counts() -> None:
    profile = folded(call("Order Completed", 0), call("Order Cancelled", 60))
    assert (profile.orders, profile.revenue) == (0, Decimal(0))
    assert profile.orders_in(30, T0 + timedelta(hours=1)) == (0, Decimal(0))
    view = audience_view(profile, T0 + timedelta(hours=1))
    assert (view["orders"], view["revenue"]) == (0, 0.0)
    assert profile.count("Order Completed", 7, T0) == 0  # count("Order Completed", 7d) agrees
    assert profile.counts["Order Cancelled"] == {ORDER_DAY: 1}


def test_an_order_cancelled_after_its_day_became_a_month_bucket_is_taken_from_that_month() -> None:
    placed = call("Order Completed", 0)
    profile = folded(placed, call("Order Completed", 60 * 24 * 40, "a-later-order", order_id="o-2"))
    assert profile.counts["Order Completed"] == {"2026-11": 1, "2026-12-12": 1}
    later = folded(call("Order Cancelled", 60 * 24 * 41), profile=profile)
    assert later.counts["Order Completed"] == {"2026-12-12": 1}


def test_cancelling_one_of_two_orders_on_a_day_keeps_the_other() -> None:
    profile = folded(
        call("Order Completed", 0, order_id="o-1", revenue=40),
        call("Order Completed", 30),
        call("Order Cancelled", 60),
        call("Order Cancelled", 90, "the same cancellation, sent again by the back office"),
    )
    assert (profile.orders, profile.revenue) == (1, Decimal("40.00"))
    assert profile.activity.orders == {ORDER_DAY: (1, Decimal("40.00"))}


def test_a_cancellation_after_a_partial_refund_takes_back_what_is_left_once() -> None:
    profile = folded(
        call("Order Completed", 0),
        call("Order Refunded", 30, total=10),
        call("Order Cancelled", 60),
        call("Order Cancelled", 90, "cancel-again"),
        call("Order Refunded", 120, total=10),
    )
    assert (profile.orders, profile.revenue) == (0, Decimal(0))


def test_a_cancellation_of_an_order_never_seen_changes_nothing() -> None:
    profile = folded(call("Order Completed", 0), call("Order Cancelled", 60, order_id="another-order"))
    assert (profile.orders, profile.revenue) == (1, Decimal("25.00"))


# -- the cart -----------------------------------------------------------------------------------------


def test_removing_one_of_three_leaves_two_in_the_cart() -> None:
    profile = folded(call("Product Added", 0, quantity=3), call("Product Removed", 5))
    assert profile.cart is not None
    assert [(i.product_id, i.quantity) for i in profile.cart.items] == [("507f1f77bcf86cd799439011", 2)]
    assert audience_view(profile, T0)["cart_items"] == 2


@pytest.mark.parametrize("removed", [{"quantity": 3}, {"quantity": 5}, {"quantity": None}])
def test_removing_all_of_a_line_or_without_a_quantity_removes_the_line(removed: dict[str, Any]) -> None:
    profile = folded(call("Product Added", 0, quantity=3), call("Product Removed", 5, **removed))
    assert profile.cart is None


def test_a_wishlist_product_added_to_cart_is_in_the_cart() -> None:
    profile = folded(call("Wishlist Product Added to Cart", 0))
    assert profile.cart is not None
    assert [(i.product_id, i.quantity, i.price) for i in profile.cart.items] == [
        ("507f1f77bcf86cd799439011", 1, Decimal("18.99"))
    ]
    assert profile.cart.cart_id == "99j2d92j9dj29dj29d2d"
    again = folded(call("Product Added", 5), profile=profile)
    assert again.cart is not None and again.cart.items[0].quantity == 2
