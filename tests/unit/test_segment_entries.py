"""Segment entry on in-memory ports (issue 20): who starts matching (the segment and the journey's audience,
live journeys only, known shoppers only), and a walk that reads the profile being written, not the stored
one (which does not match yet)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from test_journey_engine import PUSH, engine

from shared.campaigns.model import Campaign
from shared.journeys.segments import SegmentEntries
from shared.journeys.transitions import Transition
from shared.profiles.profile import Cart, CartItem, Profile

T0 = datetime(2026, 11, 2, 8, tzinfo=UTC)


def journey(**fields: Any) -> Campaign:
    return Campaign.model_validate(
        {
            "id": "big-cart",
            "name": "Big cart",
            "level": "L2",
            "entry": {"segment": ["cart_value > 100"]},
            "reentry": "always",
            "steps": [
                {"id": "still-big", "type": "branch", "if": ["cart_value > 100"], "else": "done"},
                {"id": "offer", "type": "send", "channels": PUSH},
                {"id": "done", "type": "exit"},
            ],
            **fields,
        }
    )


def shopper(user_id: str = "u1", cart: float = 0, **traits: Any) -> Profile:
    items = [CartItem(product_id="p", price=Decimal(str(cart)), quantity=1)] if cart else []
    return Profile(
        user_id=user_id,
        traits=traits,
        cart=Cart(cart_id="c", items=items, updated_at=T0) if items else None,
    )


def entries(campaign: Campaign) -> SegmentEntries:
    made, _, _, _ = engine(campaign)
    return SegmentEntries(made)


def test_a_shopper_who_starts_matching_enters_and_the_walk_reads_the_profile_being_written() -> None:
    segments = entries(journey())
    before, after = shopper(cart=50), shopper(cart=150)
    [entered] = segments.enter_started(segments.matching(before, T0), after, "add-2", T0)
    assert entered.transition == Transition.ENTERED and entered.instance is not None
    # the stored profile is not there (the engine's profile store has none): the branch read ``after``
    assert [(p.kind.value, p.step) for p in entered.instance.path][1:3] == [
        ("branch", "still-big"),
        ("send", "offer"),
    ]


def test_a_shopper_who_matched_before_the_write_does_not_enter() -> None:
    segments = entries(journey())
    assert (
        segments.enter_started(segments.matching(shopper(cart=120), T0), shopper(cart=150), "add-2", T0) == []
    )


def test_the_journeys_audience_must_hold_too() -> None:
    segments = entries(journey(audience=["country == ID"]))
    assert segments.matching(shopper(cart=150, country="MY"), T0) == frozenset()
    assert segments.matching(shopper(cart=150, country="ID"), T0) == {"big-cart"}


def test_an_ended_journey_and_an_anonymous_visitor_enter_nobody() -> None:
    ended = entries(journey(end=T0 - timedelta(days=1)))
    assert ended.matching(shopper(cart=150), T0) == frozenset()
    segments = entries(journey())
    assert segments.matching(shopper("anon:device-1", cart=150), T0) == frozenset()
    assert segments.matching(None, T0) == frozenset()


def test_journeys_whose_rules_read_only_scores_are_told_apart_from_those_a_fold_can_change() -> None:
    def only_scores(segment: list[str], audience: list[str] | None = None) -> bool:
        return entries(journey(entry={"segment": segment}, audience=audience or [])).reads_only_scores

    assert only_scores(["rfm.segment in [at_risk, cant_lose]"])
    assert only_scores(["all(churn_risk > 0.5, not purchase_propensity >= 0.6)", "rfm.r <= 2"])
    assert not only_scores(["cart_value > 100"])
    assert not only_scores(["any(churn_risk > 0.5, orders >= 3)"])  # orders: a fold changes it
    assert not only_scores(["rfm.segment in [at_risk]"], audience=["country in [ID]"])
    assert not only_scores(['count("Product Viewed", 7d) >= 3'])
