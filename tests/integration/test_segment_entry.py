"""Segment entry on moto (issue 20): a shopper enters a journey written with ``entry: {segment: ...}`` when
a write of their profile makes them start matching it — ingest's fold of their events, the scorer's new
scores — once, whatever the duplicates; a shopper who keeps matching does not enter again; one who stops
and starts again meets the re-entry rule."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fakes import identify_shopper
from moto import mock_aws
from payloads import identify, track
from test_journeys import catalog_with, decisions, iso

from nudge.local.runtime import LocalRuntime
from shared.campaigns.loader import Catalog
from shared.core.clock import SimulatedClock
from shared.journeys.instance import InstanceStatus, JourneyInstance

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # 15:00 in Jakarta: outside quiet hours
MODEL = Path(__file__).resolve().parents[2] / "models" / "scoring-model.json"
EMAIL = {"email": {"subject": "Your cart", "html": "<p>Cart</p>"}}

BIG_CART: dict[str, Any] = {
    "id": "big-cart",
    "name": "Big cart",
    "level": "L2",
    "entry": {"segment": ["cart_value > 100"]},
    "reentry": "always",  # only starting to match enters again
    "steps": [{"id": "email", "type": "send", "channels": EMAIL}],
}
WEEKLY = {**BIG_CART, "id": "big-cart-weekly", "reentry": "after 7d"}
SCORED: dict[str, Any] = {
    "id": "scored",
    "name": "Scored shoppers",
    "level": "L3",
    "entry": {"segment": ["churn_risk >= 0"]},  # every buyer the scorer scores
    "reentry": "always",
    "steps": [
        {"id": "wait-1d", "type": "wait", "duration": "1d"},
        {"id": "inbox", "type": "send", "channels": {"in_app": {"title": "Hi", "body": "Hi"}}},
    ],
}


@pytest.fixture
def catalog() -> Catalog:
    return catalog_with(BIG_CART, SCORED)


@pytest.fixture
def runtime(catalog: Catalog) -> Iterator[LocalRuntime]:
    """Adversarial (seed 0): duplicated, reordered and retried deliveries."""
    with mock_aws():
        yield LocalRuntime(catalog, SimulatedClock(T0), audience_segments=1, log_level="CRITICAL", seed=0)


@pytest.fixture
def weekly() -> Iterator[LocalRuntime]:
    """The big-cart journey re-entered a week after the last entry at the soonest."""
    with mock_aws():
        yield LocalRuntime(
            catalog_with(WEEKLY), SimulatedClock(T0), audience_segments=1, log_level="CRITICAL"
        )


def shopper(runtime: LocalRuntime, user_id: str) -> None:
    consent = {"email": True, "push": False}
    at = iso(T0 - timedelta(hours=1))
    identify_shopper(
        runtime, user_id, at=at, age=None, address=None, timezone="Asia/Jakarta", consent=consent
    )


def added(user_id: str, message_id: str, at: datetime, price: float) -> dict[str, Any]:
    event = track(user_id, "Product Added", message_id, at=iso(at))
    event["properties"] = {"product_id": message_id, "name": "Trail Runner", "price": price, "cart_id": "c1"}
    return event


def publish(runtime: LocalRuntime, *details: dict[str, Any]) -> None:
    runtime.publish(list(details))
    runtime.drain()


def instances(runtime: LocalRuntime, journey: str = "big-cart") -> dict[str, JourneyInstance]:
    return {
        i["user_id"]: JourneyInstance.model_validate_json(i["state"])
        for i in runtime.scan("journeys")
        if i["journey"] == journey
    }


def sent(runtime: LocalRuntime, user_id: str, journey: str = "big-cart") -> list[tuple[str, str, str | None]]:
    return [d for d in decisions(runtime, user_id, journey) if d[1] == "sent"]


def test_a_shopper_whose_cart_starts_matching_enters_once_named_by_the_event(runtime: LocalRuntime) -> None:
    shopper(runtime, "ayu")
    publish(runtime, added("ayu", "add-small", T0, 60.0))
    assert instances(runtime) == {}  # 60 is no big cart: nobody entered
    publish(runtime, added("ayu", "add-big", T0 + timedelta(minutes=5), 50.0))  # 110 now
    [entered] = instances(runtime).values()
    assert (entered.instance, entered.status, entered.reason) == (
        "add-big",
        InstanceStatus.COMPLETED,
        "end_of_steps",
    )
    assert [(p.kind.value, p.step) for p in entered.path] == [
        ("entered", None),
        ("send", "email"),
        ("ended", None),
    ]
    assert sent(runtime, "ayu") == [("email", "sent", None)]


def test_a_shopper_who_keeps_matching_does_not_enter_again(runtime: LocalRuntime) -> None:
    shopper(runtime, "ayu")
    publish(runtime, added("ayu", "add-big", T0, 150.0))
    publish(runtime, added("ayu", "add-more", T0 + timedelta(hours=1), 20.0))  # still a big cart, bigger
    [entered] = instances(runtime).values()
    assert (entered.instance, entered.seq) == ("add-big", 1)
    assert sent(runtime, "ayu") == [("email", "sent", None)]


def test_a_duplicated_event_enters_once(runtime: LocalRuntime) -> None:
    shopper(runtime, "ayu")
    big = added("ayu", "add-big", T0, 150.0)
    publish(runtime, big, big)
    publish(runtime, big)
    [entered] = instances(runtime).values()
    assert (entered.instance, entered.seq) == ("add-big", 1)
    assert sent(runtime, "ayu") == [("email", "sent", None)]


def test_a_shopper_who_stops_and_starts_matching_again_meets_the_reentry_rule(weekly: LocalRuntime) -> None:
    runtime = weekly
    shopper(runtime, "ayu")
    publish(runtime, added("ayu", "add-1", T0, 150.0))
    order = track("ayu", "Order Completed", "order-1", at=iso(T0 + timedelta(hours=1)), revenue=150.0)
    publish(runtime, order)  # the order closes the cart: no longer matching
    runtime.advance_to(T0 + timedelta(days=2))
    publish(runtime, added("ayu", "add-2", T0 + timedelta(days=2), 150.0))  # matching again, within 7 days
    assert instances(runtime, "big-cart-weekly")["ayu"].instance == "add-1"  # refused: re-entry after 7d
    publish(runtime, track("ayu", "Order Completed", "order-2", at=iso(T0 + timedelta(days=2, hours=1))))
    runtime.advance_to(T0 + timedelta(days=8))
    publish(runtime, added("ayu", "add-3", T0 + timedelta(days=8), 150.0))  # a week after the entry
    again = instances(runtime, "big-cart-weekly")["ayu"]
    assert (again.instance, again.seq, again.status) == ("add-3", 2, InstanceStatus.COMPLETED)
    assert len(sent(runtime, "ayu", "big-cart-weekly")) == 2


def test_new_scores_enter_the_shoppers_they_make_match_once_per_run_and_never_again(
    runtime: LocalRuntime,
) -> None:
    at = T0 - timedelta(days=120)
    events = []
    for i in range(6):
        user = f"u-{i}"
        events.append(identify(user, f"{user}-id", at, timezone="Asia/Jakarta", email=f"{user}@example.com"))
        events += [
            track(user, "Order Completed", f"{user}-o{n}", T0 - timedelta(days=5 + 9 * n + i), revenue=30.0)
            for n in range(i % 3 + 1)
        ]
    publish(runtime, *events)
    assert instances(runtime, "scored") == {}  # no scores yet: nobody matches
    runtime.publish_model(MODEL.read_text())
    runtime.invoke("score_planner", {"run": "2026-11-02T02:00:00Z"})
    runtime.drain()
    entered = instances(runtime, "scored")
    assert sorted(entered) == [f"u-{i}" for i in range(6)]
    assert {(i.instance, i.seq, i.step) for i in entered.values()} == {
        ("scores-2026-11-02T02:00:00Z", 1, "wait-1d")
    }
    runtime.advance_to(T0 + timedelta(days=2))  # woken after a day: the journey ends
    runtime.drain()
    assert {i.status for i in instances(runtime, "scored").values()} == {InstanceStatus.COMPLETED}
    runtime.invoke("score_planner", {"run": "2026-11-04T02:00:00Z"})  # new scores; they still match
    runtime.drain()
    assert {u: (i.instance, i.seq) for u, i in instances(runtime, "scored").items()} == {
        u: ("scores-2026-11-02T02:00:00Z", 2) for u in entered
    }


UNSCORED: dict[str, Any] = {
    "id": "unscored",
    "name": "Not scored yet",
    "level": "L3",
    "entry": {"segment": ["not churn_risk >= 0"]},  # reads a score only, and holds without one
    "reentry": "always",
    "steps": [{"id": "inbox", "type": "send", "channels": {"in_app": {"title": "Hi", "body": "Hi"}}}],
}


def test_a_journey_that_reads_only_scores_enters_a_new_shopper_at_their_first_fold_only() -> None:
    """Ingest evaluates a scores-only segment for a shopper it creates (no scores: the rule holds) and
    skips it for a stored one, whose scores no fold changes (docs/performance.md)."""
    with mock_aws():
        runtime = LocalRuntime(catalog_with(UNSCORED), SimulatedClock(T0), log_level="CRITICAL")
        publish(runtime, added("ayu", "add-1", T0, 20.0))
        publish(runtime, added("ayu", "add-2", T0 + timedelta(hours=1), 20.0))
        assert {u: i.instance for u, i in instances(runtime, "unscored").items()} == {"ayu": "add-1"}
