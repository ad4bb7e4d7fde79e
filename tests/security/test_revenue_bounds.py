"""Issue 15, finding 8: one rule for what an order is worth, used by the profile and by attribution.

The profile added ``-999999999999``, ``"-500"`` and ``"1e11"`` to a shopper's revenue (and so to
``sum(revenue, 90d)`` and the RFM monetary score) while attribution refused them. Both now read an
order's value through :func:`shared.core.money.order_value`: a number or a plain decimal string, from 0 to
``MAX_AMOUNT``, rounded to cents; anything else is worth 0 (the order still counts as an order).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from shared.core.money import MAX_AMOUNT, order_value
from shared.events.contract import parse_detail
from shared.measurement.attribution import revenue_of
from shared.profiles.fold import fold_events
from shared.profiles.profile import Profile

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)


def order(message_id: str, minutes: int, **properties: Any) -> Any:
    return parse_detail(
        {
            "type": "track",
            "event": "Order Completed",
            "userId": "u-1",
            "messageId": message_id,
            "timestamp": (T0 + timedelta(minutes=minutes)).isoformat(),
            "properties": properties,
        }
    )


@pytest.mark.parametrize(
    ("properties", "worth"),
    [
        ({"revenue": -999999999999}, Decimal(0)),
        ({"revenue": "-500"}, Decimal(0)),
        ({"revenue": "1e11"}, Decimal(0)),
        ({"revenue": 1e11}, Decimal(0)),
        ({"revenue": "1e3"}, Decimal(0)),  # exponents are not how a shop writes an amount
        ({"revenue": " 12.5"}, Decimal(0)),
        ({"revenue": "0x1F"}, Decimal(0)),
        ({"revenue": True}, Decimal(0)),
        ({"revenue": float("nan")}, Decimal(0)),
        ({"revenue": float("inf")}, Decimal(0)),
        ({"revenue": 1e9 + 0.01}, Decimal(0)),
        ({"revenue": "99.95"}, Decimal("99.95")),
        ({"revenue": 10.456}, Decimal("10.46")),
        ({"revenue": int(MAX_AMOUNT)}, MAX_AMOUNT),
        ({"revenue": -5, "total": 12}, Decimal(12)),
        ({"revenue": "lots", "value": 3}, Decimal(3)),
        ({}, Decimal(0)),
    ],
)
def test_the_profile_and_attribution_value_an_order_alike(properties: dict[str, Any], worth: Decimal) -> None:
    assert order_value(properties) == worth
    assert revenue_of(properties) == float(worth)

    profile = fold_events(Profile(user_id="u-1"), [order("m-1", 0, **properties)]).profile
    assert profile.orders == 1
    assert profile.revenue == worth
    assert profile.orders_in(90, T0) == (1, worth)


def test_no_mix_of_bad_amounts_makes_revenue_negative_or_huge() -> None:
    amounts: list[Any] = [-999999999999, "-500", "1e11", 1e11, 25, "-0.01", 1e9 + 1]
    events = [order(f"m-{i}", i, revenue=amount) for i, amount in enumerate(amounts)]
    profile = fold_events(Profile(user_id="u-1"), events).profile
    assert profile.orders == len(amounts)
    assert profile.revenue == Decimal(25)
    assert profile.orders_in(90, T0 + timedelta(hours=1)) == (len(amounts), Decimal(25))


def test_a_cart_price_follows_the_same_rule() -> None:
    added = parse_detail(
        {
            "type": "track",
            "event": "Product Added",
            "userId": "u-1",
            "messageId": "m-cart",
            "timestamp": T0.isoformat(),
            "properties": {"product_id": "p1", "price": "-500", "quantity": 1},
        }
    )
    profile = fold_events(Profile(user_id="u-1"), [added]).profile
    assert profile.cart is not None and profile.cart.value == Decimal(0)
