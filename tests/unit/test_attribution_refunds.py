"""Attribution's credited revenue is net of refunds: a refund or a cancellation names its order
(``order_id``), and each conversion of that order gives back what the refund takes, once per refund."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fakes import catalog_without
from payloads import published

from shared.campaigns.loader import Catalog
from shared.events.contract import SegmentEvent, parse_detail
from shared.measurement.attribution import Decision, OrderRefund, attribute, refunds_in

SPEC = published("segment-ecommerce-v2")
T0 = datetime(2026, 11, 2, 8, tzinfo=UTC)
ORDER_ID = SPEC["Order Completed"]["order_id"]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return catalog_without()  # with the one-message abandoned-cart the tests credit


def call(name: str, at: datetime, message_id: str, user_id: str = "u1", **changes: Any) -> SegmentEvent:
    return parse_detail(
        {
            "type": "track",
            "event": name,
            "userId": user_id,
            "messageId": message_id,
            "timestamp": at.isoformat(),
            "properties": {**SPEC[name], **changes},
        }
    )


def sent(campaign: str, at: datetime) -> Decision:
    return Decision(campaign, "L4", "treated", at, f"{campaign}#u1", "sent", "email")


def test_a_conversion_remembers_the_order_it_counts(catalog: Catalog) -> None:
    order = call("Order Completed", T0 + timedelta(hours=1), "order-event-1")
    [conversion] = attribute(order, "u1", [sent("abandoned-cart", T0)], catalog)
    assert conversion.order_id == ORDER_ID
    assert conversion.to_item()["order_id"] == ORDER_ID
    assert conversion.revenue == 25.0


def test_a_goal_event_without_an_order_id_stores_none(catalog: Catalog) -> None:
    order = call("Order Completed", T0 + timedelta(hours=1), "order-event-1", order_id=None)
    [conversion] = attribute(order, "u1", [sent("abandoned-cart", T0)], catalog)
    assert conversion.order_id is None and "order_id" not in conversion.to_item()


def test_refunds_and_cancellations_name_their_order_and_amount() -> None:
    events = [
        call("Order Completed", T0, "o"),
        call("Order Refunded", T0 + timedelta(days=1), "r-1", total=10, products=[]),
        call("Order Refunded", T0 + timedelta(days=2), "r-2", total=None, products=[]),
        call("Order Cancelled", T0 + timedelta(days=3), "c-1"),
        call("Order Refunded", T0 + timedelta(days=4), "r-3", order_id=None),
    ]
    assert refunds_in(events) == [
        OrderRefund(ORDER_ID, "r-1", 10.0, cancels=False),
        OrderRefund(ORDER_ID, "r-2", None, cancels=False),
        OrderRefund(ORDER_ID, "c-1", None, cancels=True),
    ]


def test_the_specs_refund_takes_back_no_more_than_the_conversion_was_credited() -> None:
    """Segment's refund example names a total of 30; the order brought in 25."""
    [refund] = refunds_in([call("Order Refunded", T0, "r-1")])
    assert refund.amount == 30.0
    changed = refund.applied_to({"revenue": 25.0, "attributed": True})
    assert changed == {"revenue": 0.0, "gross_revenue": 25.0, "refunds": {"r-1": 25.0}}


def test_partial_refunds_add_up_and_each_is_taken_back_once() -> None:
    item: dict[str, Any] = {"revenue": 25.0}
    item |= OrderRefund(ORDER_ID, "r-1", 10.0, cancels=False).applied_to(item) or {}
    assert (item["revenue"], item["gross_revenue"], item["refunds"]) == (15.0, 25.0, {"r-1": 10.0})
    assert OrderRefund(ORDER_ID, "r-1", 10.0, cancels=False).applied_to(item) is None
    item |= OrderRefund(ORDER_ID, "r-2", 2.5, cancels=False).applied_to(item) or {}
    assert (item["revenue"], item["gross_revenue"]) == (12.5, 25.0)
    assert item["refunds"] == {"r-1": 10.0, "r-2": 2.5}


def test_a_cancellation_takes_back_all_that_is_left_and_marks_the_conversion() -> None:
    item: dict[str, Any] = {"revenue": 15.0, "gross_revenue": 25.0, "refunds": {"r-1": 10.0}}
    changed = OrderRefund(ORDER_ID, "c-1", None, cancels=True).applied_to(item)
    assert changed == {
        "revenue": 0.0,
        "gross_revenue": 25.0,
        "refunds": {"r-1": 10.0, "c-1": 15.0},
        "cancelled": True,
    }
    assert OrderRefund(ORDER_ID, "r-9", 5.0, cancels=False).applied_to({**item, **changed}) is None
