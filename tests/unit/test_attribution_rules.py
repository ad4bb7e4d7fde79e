"""Attribution at its edges: the goal event, the window's exact ends, which decision a conversion
records, ties on time, what a decision that sent nothing reports, revenue of 0, and retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import permutations
from typing import Any

import pytest
from fakes import catalog_without
from hypothesis import given
from hypothesis import strategies as st

from shared.campaigns.loader import Catalog
from shared.events.contract import SegmentEvent, parse_detail
from shared.measurement.attribution import Conversion, Decision, attribute, decisions_of, revenue_of

T0 = datetime(2026, 11, 2, 8, tzinfo=UTC)
CART_WINDOW = timedelta(hours=48)  # abandoned-cart's conversion window
SALE_WINDOW = timedelta(hours=72)  # weekend-sale-sea's


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return catalog_without()  # with the one-message abandoned-cart the tests credit


def goal(at: datetime, name: str = "Order Completed", **properties: Any) -> SegmentEvent:
    return parse_detail(
        {
            "type": "track",
            "event": name,
            "userId": "u1",
            "messageId": "goal-1",
            "timestamp": at.isoformat(),
            "properties": properties or {"revenue": 80},
        }
    )


def decided(
    campaign: str,
    at: datetime,
    status: str = "sent",
    group: str = "treated",
    channel: str | None = "email",
    send_key: str | None = None,
) -> Decision:
    return Decision(campaign, "L4", group, at, send_key or f"{campaign}#{at:%H%M}#u1", status, channel)


# -- the goal event ------------------------------------------------------------------------------


def test_a_review_is_not_an_orders_conversion_and_an_order_is_not_a_reviews(catalog: Catalog) -> None:
    cart = decided("abandoned-cart", T0)  # goal: Order Completed
    review_request = decided("post-purchase-review", T0)  # goal: Product Reviewed
    an_hour_later = T0 + timedelta(hours=1)

    review = attribute(goal(an_hour_later, "Product Reviewed"), "u1", [cart, review_request], catalog)
    assert [(c.campaign_id, c.attributed) for c in review] == [("post-purchase-review", True)]
    purchase = attribute(goal(an_hour_later), "u1", [cart, review_request], catalog)
    assert [(c.campaign_id, c.attributed) for c in purchase] == [("abandoned-cart", True)]


def test_a_decision_of_a_campaign_no_longer_in_the_catalog_is_skipped(catalog: Catalog) -> None:
    gone = decided("retired-campaign", T0 + timedelta(hours=2))
    cart = decided("abandoned-cart", T0)

    [conversion] = attribute(goal(T0 + timedelta(hours=3)), "u1", [gone, cart], catalog)

    assert (conversion.campaign_id, conversion.attributed) == ("abandoned-cart", True)


# -- the window ----------------------------------------------------------------------------------


def test_an_order_at_exactly_the_end_of_the_window_counts_and_a_second_later_does_not(
    catalog: Catalog,
) -> None:
    cart = decided("abandoned-cart", T0)
    [at_the_end] = attribute(goal(T0 + CART_WINDOW), "u1", [cart], catalog)
    assert (at_the_end.campaign_id, at_the_end.decided_at) == ("abandoned-cart", T0)
    assert attribute(goal(T0 + CART_WINDOW + timedelta(seconds=1)), "u1", [cart], catalog) == []


def test_a_message_at_the_instant_of_the_order_did_not_cause_it(catalog: Catalog) -> None:
    thank_you = decided("order-thank-you", T0)
    assert attribute(goal(T0), "u1", [thank_you], catalog) == []
    assert len(attribute(goal(T0 + timedelta(seconds=1)), "u1", [thank_you], catalog)) == 1


# -- which decision a conversion records -----------------------------------------------------------


def test_a_withheld_shoppers_conversion_records_the_campaigns_latest_decision(catalog: Catalog) -> None:
    first = decided("weekend-sale-sea", T0, "withheld_holdout", "withheld", None)
    second = decided("weekend-sale-sea", T0 + timedelta(hours=5), "withheld_holdout", "withheld", None)
    at = T0 + timedelta(hours=6)

    for decisions in ([first, second], [second, first]):
        [conversion] = attribute(goal(at), "u1", decisions, catalog)
        assert conversion.decided_at == T0 + timedelta(hours=5)
        assert conversion.send_key == second.send_key


def test_a_campaign_that_is_not_the_last_touch_records_its_own_latest_decision(catalog: Catalog) -> None:
    sale_monday = decided("weekend-sale-sea", T0, "capped")
    sale_tuesday = decided("weekend-sale-sea", T0 + timedelta(hours=20), "capped")
    cart = decided("abandoned-cart", T0 + timedelta(hours=22))
    at = T0 + timedelta(hours=23)

    for decisions in permutations([sale_monday, sale_tuesday, cart]):
        by_campaign = {c.campaign_id: c for c in attribute(goal(at), "u1", decisions, catalog)}
        assert by_campaign["weekend-sale-sea"].decided_at == T0 + timedelta(hours=20)
        assert by_campaign["weekend-sale-sea"].attributed is False
        assert by_campaign["abandoned-cart"].attributed is True


def test_two_messages_at_the_same_instant_credit_the_larger_send_key_whatever_the_read_order(
    catalog: Catalog,
) -> None:
    sale = decided("weekend-sale-sea", T0, send_key="weekend-sale-sea#occ-1#u1")
    cart = decided("abandoned-cart", T0, send_key="abandoned-cart#occ-9#u1")
    at = T0 + timedelta(hours=1)

    for decisions in ([sale, cart], [cart, sale]):
        credited = [c.campaign_id for c in attribute(goal(at), "u1", decisions, catalog) if c.attributed]
        assert credited == ["weekend-sale-sea"]


def test_two_decisions_of_one_campaign_at_the_same_instant_record_the_larger_send_key(
    catalog: Catalog,
) -> None:
    a = decided("weekend-sale-sea", T0, "capped", send_key="weekend-sale-sea#a#u1")
    b = decided("weekend-sale-sea", T0, "capped", send_key="weekend-sale-sea#b#u1")

    for decisions in ([a, b], [b, a]):
        [conversion] = attribute(goal(T0 + timedelta(hours=1)), "u1", decisions, catalog)
        assert conversion.send_key == "weekend-sale-sea#b#u1"


@given(
    minutes=st.lists(st.integers(min_value=0, max_value=4), min_size=2, max_size=5),
    keys=st.permutations(["a", "b", "c", "d", "e"]),
)
def test_credit_goes_to_the_latest_send_then_the_largest_key_in_any_order(
    catalog: Catalog, minutes: list[int], keys: list[str]
) -> None:
    campaigns = ["weekend-sale-sea", "abandoned-cart", "browse-abandon", "welcome", "churn-risk-save"]
    sends = [
        decided(campaigns[i], T0 + timedelta(minutes=m), send_key=f"{keys[i]}#u1")
        for i, m in enumerate(minutes)
    ]
    winner = max(sends, key=lambda d: (d.at, d.send_key))
    at = T0 + timedelta(hours=1)

    for decisions in (sends, list(reversed(sends))):
        credited = [c for c in attribute(goal(at), "u1", decisions, catalog) if c.attributed]
        assert [(c.campaign_id, c.send_key, c.decided_at) for c in credited] == [
            (winner.campaign_id, winner.send_key, winner.at)
        ]


# -- what a decision that sent nothing reports ----------------------------------------------------


def test_a_capped_decision_that_named_a_channel_reports_no_channel(catalog: Catalog) -> None:
    entries = [
        {
            "campaign_id": "weekend-sale-sea",
            "level": "L1",
            "group": "treated",
            "at": T0.isoformat(),
            "send_key": "weekend-sale-sea#occ#u1",
            "status": "capped",
            "channel": "email",
        }
    ]
    [conversion] = attribute(goal(T0 + timedelta(hours=1)), "u1", decisions_of(entries), catalog)

    assert (conversion.attributed, conversion.channel) == (False, None)
    assert "channel" not in conversion.to_item()


def test_a_sent_conversion_stores_its_channel(catalog: Catalog) -> None:
    [conversion] = attribute(goal(T0 + timedelta(hours=1)), "u1", [decided("abandoned-cart", T0)], catalog)
    assert conversion.to_item()["channel"] == "email"


# -- revenue and retention -----------------------------------------------------------------------


def test_a_revenue_of_zero_is_missing_so_the_total_is_credited(catalog: Catalog) -> None:
    """Issue 19: Segment's examples send ``revenue`` and ``total``; a shop leaving revenue at 0 means its
    total (the profile reads the order alike: tests/unit/test_order_lifecycle.py)."""
    assert revenue_of({"revenue": 0, "total": 50, "value": 7}) == 50.0
    assert revenue_of({"revenue": "0.00", "total": 0, "value": 7}) == 7.0
    assert revenue_of({"revenue": 0, "total": "0"}) == 0.0
    order = goal(T0 + timedelta(hours=1), revenue=0, total=50)
    [conversion] = attribute(order, "u1", [decided("abandoned-cart", T0)], catalog)
    assert conversion.revenue == 50.0


def test_a_conversion_is_kept_for_400_days_after_the_order() -> None:
    conversion = Conversion(
        user_id="u1",
        goal_event_id="order-1",
        campaign_id="weekend-sale-sea",
        level="L1",
        group="treated",
        decided_at=T0,
        converted_at=T0 + timedelta(hours=30),
        send_key="weekend-sale-sea#occ#u1",
        revenue=80.0,
        attributed=True,
        channel="email",
    )
    item = conversion.to_item()
    # 2026-11-03 14:00 UTC + 400 days = 2027-12-08 14:00 UTC
    assert item["expires_at"] == int(datetime(2027, 12, 8, 14, tzinfo=UTC).timestamp()) == 1828274400
    assert item["conversion_key"] == "order-1#weekend-sale-sea"
