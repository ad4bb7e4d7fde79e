"""Attribution rules: which campaigns a goal event counts for, and which message is credited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fakes import catalog_without
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.campaigns.loader import Catalog
from shared.events.contract import parse_detail
from shared.measurement.attribution import (
    Decision,
    attribute,
    decisions_of,
    goal_events,
    longest_window,
    revenue_of,
)

T0 = datetime(2026, 11, 2, 8, tzinfo=UTC)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return catalog_without()  # with the one-message abandoned-cart the tests credit


def order(at: datetime, message_id: str = "order-1", **properties: object) -> object:
    detail = {
        "type": "track",
        "event": "Order Completed",
        "userId": "u1",
        "messageId": message_id,
        "timestamp": at.isoformat(),
        "properties": properties or {"revenue": 120.5},
    }
    return parse_detail(detail)


def decision(
    campaign: str, level: str, at: datetime, status: str = "sent", group: str = "treated"
) -> Decision:
    return Decision(
        campaign, level, group, at, f"{campaign}#occ#u1", status, "email" if status == "sent" else None
    )


def test_two_messages_before_one_order_credit_the_last_and_count_for_both(catalog: Catalog) -> None:
    sale = decision("weekend-sale-sea", "L1", T0)
    cart = decision("abandoned-cart", "L4", T0 + timedelta(hours=5))

    conversions = attribute(order(T0 + timedelta(hours=6)), "u1", [sale, cart], catalog)

    by_campaign = {c.campaign_id: c for c in conversions}
    assert set(by_campaign) == {"weekend-sale-sea", "abandoned-cart"}
    assert by_campaign["abandoned-cart"].attributed is True
    assert by_campaign["weekend-sale-sea"].attributed is False
    # both carry the order's revenue for their own uplift; only the last touch is credited with it
    assert [c.revenue for c in conversions] == [120.5, 120.5]
    assert by_campaign["abandoned-cart"].channel == "email"
    assert {c.key for c in conversions} == {"order-1#abandoned-cart", "order-1#weekend-sale-sea"}


def test_an_order_outside_the_window_counts_for_nothing(catalog: Catalog) -> None:
    cart = decision("abandoned-cart", "L4", T0)  # window 48 h
    sale = decision("weekend-sale-sea", "L1", T0)  # window 72 h

    assert attribute(order(T0 + timedelta(hours=49)), "u1", [cart], catalog) == []
    late = attribute(order(T0 + timedelta(hours=49)), "u1", [cart, sale], catalog)
    assert [(c.campaign_id, c.attributed) for c in late] == [("weekend-sale-sea", True)]
    # an order before the message is not caused by it
    assert attribute(order(T0 - timedelta(minutes=1)), "u1", [cart, sale], catalog) == []


def test_a_withheld_shopper_who_orders_counts_for_the_holdout_and_earns_no_credit(catalog: Catalog) -> None:
    withheld = decision("weekend-sale-sea", "L1", T0, status="withheld_holdout", group="withheld")

    [conversion] = attribute(order(T0 + timedelta(hours=1)), "u1", [withheld], catalog)

    assert conversion.group == "withheld"
    assert conversion.attributed is False
    assert conversion.channel is None


def test_a_capped_treated_shopper_still_counts_for_uplift_but_not_for_credit(catalog: Catalog) -> None:
    capped = decision("weekend-sale-sea", "L1", T0, status="capped")

    [conversion] = attribute(order(T0 + timedelta(hours=1)), "u1", [capped], catalog)

    assert (conversion.group, conversion.attributed) == ("treated", False)


def test_the_credited_message_is_the_last_sent_even_after_a_later_capped_decision(catalog: Catalog) -> None:
    sent = decision("abandoned-cart", "L4", T0)
    capped_later = decision("abandoned-cart", "L4", T0 + timedelta(hours=1), status="capped")

    [conversion] = attribute(order(T0 + timedelta(hours=2)), "u1", [sent, capped_later], catalog)

    assert conversion.attributed is True
    assert conversion.decided_at == T0


def test_other_events_are_not_goals(catalog: Catalog) -> None:
    viewed = parse_detail(
        {
            "type": "track",
            "event": "Product Viewed",
            "userId": "u1",
            "messageId": "v1",
            "timestamp": (T0 + timedelta(hours=1)).isoformat(),  # inside the window: only the goal refuses it
        }
    )
    assert attribute(viewed, "u1", [decision("abandoned-cart", "L4", T0)], catalog) == []
    assert "Order Completed" in goal_events(catalog)
    assert longest_window(catalog) == timedelta(hours=max(c.conversion.window_hours for c in catalog))


@pytest.mark.parametrize(
    ("properties", "expected"),
    [
        ({"revenue": 10.456}, 10.46),
        ({"total": "99.5"}, 99.5),
        ({"revenue": None, "total": 12}, 12.0),
        ({"revenue": "lots", "value": 3}, 3.0),
        ({"revenue": -5}, 0.0),
        ({"revenue": float("nan")}, 0.0),
        ({"revenue": True}, 0.0),
        ({"revenue": 1e12}, 0.0),
        ({}, 0.0),
    ],
)
def test_revenue_is_read_leniently_and_never_invented(properties: dict[str, object], expected: float) -> None:
    assert revenue_of(properties) == expected


def test_send_log_entries_without_a_group_or_time_are_not_decisions() -> None:
    entries = [
        {"campaign_id": "c", "level": "L1", "group": "treated", "at": T0.isoformat(), "status": "sent"},
        {"campaign_id": "c", "level": "L1", "at": T0.isoformat(), "status": "skipped"},  # before holdout
        {"campaign_id": "c", "level": "L1", "group": "treated", "status": "sent"},
        {"campaign_id": "c", "level": "L1", "group": "treated", "at": "yesterday", "status": "sent"},
    ]
    assert [d.status for d in decisions_of(entries)] == ["sent"]


# -- properties ------------------------------------------------------------------------------------


CAMPAIGN_LEVELS = {"weekend-sale-sea": "L1", "browse-abandon": "L2", "abandoned-cart": "L4", "welcome": "L4"}
decisions_strategy = st.lists(
    st.builds(
        lambda campaign, minutes, status: decision(
            campaign,
            CAMPAIGN_LEVELS[campaign],
            T0 + timedelta(minutes=minutes),
            status=status,
            group="withheld" if status == "withheld_holdout" else "treated",
        ),
        st.sampled_from(sorted(CAMPAIGN_LEVELS)),
        st.integers(min_value=-200 * 60, max_value=200 * 60),
        st.sampled_from(["sent", "sent", "capped", "withheld_holdout", "no_consent"]),
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(decisions=decisions_strategy, minutes=st.integers(min_value=-100 * 60, max_value=100 * 60))
def test_attribution_properties(catalog: Catalog, decisions: list[Decision], minutes: int) -> None:
    at = T0 + timedelta(minutes=minutes)
    conversions = attribute(order(at), "u1", decisions, catalog)

    # at most one conversion per campaign, and at most one message credited per goal event
    assert len({c.campaign_id for c in conversions}) == len(conversions)
    credited = [c for c in conversions if c.attributed]
    assert len(credited) <= 1
    for c in conversions:
        window = timedelta(hours=catalog.get(c.campaign_id).conversion.window_hours)  # type: ignore[union-attr]
        assert c.decided_at < at <= c.decided_at + window
    # the credited message is a sent one, and no sent message in its window is later
    in_window = [
        d
        for d in decisions
        if d.status == "sent"
        and d.at < at <= d.at + timedelta(hours=catalog.get(d.campaign_id).conversion.window_hours)  # type: ignore[union-attr]
    ]
    if in_window:
        [winner] = credited
        assert winner.decided_at == max(d.at for d in in_window)
    else:
        assert credited == []
