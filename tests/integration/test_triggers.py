"""Real-time (L4) triggers on moto: delays through one-time schedules, cancel conditions, throttle,
repeat views, once-per-shopper, property conditions in the rule, quiet hours, and the hot-path budget."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from factory import sent_emails, ses_sent_count
from fakes import catalog_without, identify_shopper
from moto import mock_aws
from payloads import identify, track

from nudge.local.runtime import LocalRuntime
from shared.campaigns.loader import Catalog
from shared.core.clock import SimulatedClock
from shared.delivery.guards import in_holdout
from shared.delivery.profile_wait import PROFILE_WAIT

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # 15:00 in Jakarta: outside quiet hours


@pytest.fixture
def catalog() -> Catalog:
    """Every bundled campaign but the welcome (its email on each first identify would use the day's
    email cap in tests about other things; test_triggers covers it)."""
    return catalog_without("welcome")


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def shopper(runtime: LocalRuntime, user_id: str, timezone: str = "Asia/Jakarta") -> None:
    """Ayu, with no age and no address, identified an hour before T0."""
    consent = {"email": True, "push": False}
    at = iso(T0 - timedelta(hours=1))
    identify_shopper(runtime, user_id, at=at, age=None, address=None, timezone=timezone, consent=consent)


def free_of_holdout(campaign: str, prefix: str = "u") -> str:
    return next(u for u in (f"{prefix}{i}" for i in range(200)) if not in_holdout(campaign, u, 10))


def publish(runtime: LocalRuntime, *details: dict[str, Any]) -> None:
    runtime.publish(list(details))
    runtime.drain()


def decisions(runtime: LocalRuntime, user_id: str, campaign: str) -> list[tuple[str, str | None]]:
    return [
        (e["status"], e.get("reason"))
        for e in runtime.send_log.entries_for(user_id)
        if e["campaign_id"] == campaign
    ]


def product_event(
    event_name: str, user_id: str, message_id: str, at: datetime, /, **properties: Any
) -> dict[str, Any]:
    """A product event; its ``name`` property (the product's) cannot go through track()'s keywords."""
    event = track(user_id, event_name, message_id, at=iso(at))
    event["properties"] = properties
    return event


def added(user_id: str, message_id: str, at: datetime, product: str = "p-1") -> dict[str, Any]:
    return product_event(
        "Product Added",
        user_id,
        message_id,
        at,
        product_id=product,
        name="Trail Runner",
        price=89.5,
        image_url="https://cdn.example.com/p-1.jpg",
        cart_id="c1",
    )


def test_an_abandoned_cart_waits_an_hour_on_a_one_time_schedule_then_sends(runtime: LocalRuntime) -> None:
    user = free_of_holdout("abandoned-cart")
    shopper(runtime, user)
    publish(runtime, added(user, "add-1", T0))

    [(due, _, target)] = runtime.one_time_schedules()
    assert due == T0 + timedelta(hours=1)
    assert target["Arn"] == runtime.queue_arn("delivery")
    assert decisions(runtime, user, "abandoned-cart") == []

    runtime.advance_to(T0 + timedelta(minutes=59))
    assert decisions(runtime, user, "abandoned-cart") == []
    runtime.advance_to(T0 + timedelta(hours=1, minutes=1))

    assert decisions(runtime, user, "abandoned-cart") == [("sent", None)]
    assert runtime.one_time_schedules() == []  # deleted once it fired
    [sent] = [m for m in runtime.scan("messages") if m["campaign_id"] == "abandoned-cart"]
    assert sent["channel"] == "email"


def test_an_order_after_the_add_cancels_the_reminder_with_the_reason(runtime: LocalRuntime) -> None:
    user = free_of_holdout("abandoned-cart")
    shopper(runtime, user)
    publish(runtime, added(user, "add-1", T0))
    runtime.advance_to(T0 + timedelta(minutes=30))  # ingest clamps event times to when they arrive
    publish(
        runtime, track(user, "Order Completed", "ord-1", at=iso(T0 + timedelta(minutes=30)), revenue=89.5)
    )

    runtime.advance_to(T0 + timedelta(hours=2))

    [(status, reason)] = decisions(runtime, user, "abandoned-cart")
    assert status == "cancelled"
    assert reason is not None and reason.startswith("cancel_if: Order Completed at 2026-11-02T08:30")
    assert not [
        m for m in runtime.scan("messages") if m["campaign_id"] == "abandoned-cart" and m["status"] == "sent"
    ]


def test_the_same_event_twice_makes_one_schedule_and_one_message(runtime: LocalRuntime) -> None:
    user = free_of_holdout("abandoned-cart")
    shopper(runtime, user)
    event = added(user, "add-1", T0)
    publish(runtime, event, event)
    publish(runtime, event)

    assert len(runtime.one_time_schedules()) == 1
    runtime.advance_to(T0 + timedelta(hours=2))
    assert decisions(runtime, user, "abandoned-cart") == [("sent", None)]


def test_throttle_allows_one_reminder_a_day(runtime: LocalRuntime) -> None:
    user = free_of_holdout("abandoned-cart")
    shopper(runtime, user)
    publish(runtime, added(user, "add-1", T0))
    runtime.advance_to(T0 + timedelta(minutes=10))  # events arrive when they happen (times are clamped)
    publish(runtime, added(user, "add-2", T0 + timedelta(minutes=10), "p-2"))
    assert len(runtime.one_time_schedules()) == 2

    runtime.advance_to(T0 + timedelta(hours=2))

    # (a copy of a job the adversary delivers while the first runs is logged beside it: a duplicate)
    assert Counter(d for d in decisions(runtime, user, "abandoned-cart") if d[0] != "duplicate") == {
        ("sent", None): 1,
        ("capped", "throttle"): 1,
    }
    runtime.advance_to(T0 + timedelta(hours=25))
    publish(runtime, added(user, "add-3", T0 + timedelta(hours=25), "p-3"))
    runtime.advance_to(T0 + timedelta(hours=27))
    statuses = Counter(s for s, _ in decisions(runtime, user, "abandoned-cart") if s != "duplicate")
    assert statuses == {"sent": 2, "capped": 1}


def test_an_event_of_a_shopper_never_identified_is_decided_not_crashed(runtime: LocalRuntime) -> None:
    # A checkout from a user id the store has no identify for: the profile has no address.
    checkout = track("stranger", "Checkout Started", "co-1", at=iso(T0), total=300.0, currency="USD")
    publish(runtime, checkout)
    runtime.advance_to(T0 + timedelta(hours=1))
    assert decisions(runtime, "stranger", "high-value-checkout")[0][0] in {"skipped", "withheld_holdout"}
    # And a trigger for a user with no profile at all (ingest never sees it): delivery waits for the
    # profile as long as ingest could take to write it, then parks the job with the reason.
    envelope = {"detail": track("ghost", "Order Completed", "o-g", at=iso(T0), revenue=5), "detail-type": "x"}
    runtime.invoke("trigger", {"campaign_id": "order-thank-you", "event": envelope})
    runtime.drain()
    assert decisions(runtime, "ghost", "order-thank-you") == [] and runtime.parked() == []
    runtime.advance_to(T0 + timedelta(hours=1) + PROFILE_WAIT + timedelta(minutes=1))
    assert decisions(runtime, "ghost", "order-thank-you") == []
    (parked,) = runtime.parked()
    assert parked.queue == "delivery-dlq" and "unknown_user: no profile 902 s after" in parked.reason


def test_property_conditions_are_in_the_rule_so_small_baskets_never_invoke_the_trigger(
    runtime: LocalRuntime,
) -> None:
    user = free_of_holdout("high-value-checkout")
    shopper(runtime, user)
    before = runtime.invocations.get("trigger", 0)  # the identify triggered the welcome
    publish(runtime, track(user, "Checkout Started", "co-small", at=iso(T0), total=120.0))
    assert runtime.invocations.get("trigger", 0) == before
    publish(runtime, track(user, "Checkout Started", "co-big", at=iso(T0), total=180.0))
    assert runtime.invocations["trigger"] == before + 1
    assert [at for at, _, _ in runtime.one_time_schedules()] == [T0 + timedelta(minutes=20)]


def test_a_trigger_due_in_quiet_hours_waits_for_morning_and_rechecks_cancel_conditions(
    runtime: LocalRuntime,
) -> None:
    buyer, waiter = "qh-buyer", "qh-waiter"
    for user in (buyer, waiter):
        shopper(runtime, user)  # Jakarta, UTC+7
    night = datetime(2026, 11, 2, 15, 30, tzinfo=UTC)  # 22:30 in Jakarta
    runtime.advance_to(night)  # events arrive when they happen (ingest and triggers clamp times)
    for user in (buyer, waiter):
        publish(runtime, track(user, "Checkout Started", f"co-{user}", at=iso(night), total=250.0))
    runtime.advance_to(night + timedelta(minutes=25))  # the 20-minute delay is over: 22:50, quiet
    assert [s for s, _ in decisions(runtime, waiter, "high-value-checkout")] == ["deferred_quiet_hours"]
    # the buyer completes the order before the quiet hours end
    runtime.advance_to(night + timedelta(hours=8))
    publish(
        runtime, track(buyer, "Order Completed", "ord-b", at=iso(night + timedelta(hours=8)), revenue=250)
    )
    runtime.advance_to(datetime(2026, 11, 3, 1, 30, tzinfo=UTC))  # 08:30 in Jakarta

    def statuses(user: str) -> list[str]:
        return [s for s, _ in decisions(runtime, user, "high-value-checkout")]

    held = [u for u in (buyer, waiter) if in_holdout("high-value-checkout", u, 10)]
    assert held == []
    assert statuses(waiter) == ["deferred_quiet_hours", "sent"]
    assert statuses(buyer) == ["deferred_quiet_hours", "cancelled"]


def test_browse_abandonment_needs_the_third_view_of_the_same_product(runtime: LocalRuntime) -> None:
    three, two = free_of_holdout("browse-abandonment", "b"), free_of_holdout("browse-abandonment", "c")
    for user in (three, two):
        shopper(runtime, user)
        runtime.register_push_endpoint("GCM", f"t-{user}", user_id=user)
    for i in range(3):
        at = T0 + timedelta(hours=i)
        runtime.advance_to(at)  # events arrive when they happen (ingest and triggers clamp times)
        publish(
            runtime, product_event("Product Viewed", three, f"v3-{i}", at, product_id="p-9", name="Parka")
        )
        if i < 2:
            publish(
                runtime, product_event("Product Viewed", two, f"v2-{i}", at, product_id="p-9", name="Parka")
            )

    runtime.advance_to(T0 + timedelta(hours=5))

    # Only the third view makes a schedule (the first two are "not_repeated": no schedule, no decision).
    assert decisions(runtime, three, "browse-abandonment") == [("sent", None)]
    assert decisions(runtime, two, "browse-abandonment") == []
    assert runtime.one_time_schedules() == []


def test_a_repeat_view_followed_by_an_add_is_cancelled_with_the_view_count_kept(
    runtime: LocalRuntime,
) -> None:
    user = free_of_holdout("browse-abandonment", "d")
    shopper(runtime, user)
    runtime.register_push_endpoint("GCM", f"t-{user}", user_id=user)
    for i in range(3):
        at = T0 + timedelta(minutes=10 * i)
        runtime.advance_to(at)  # each event arrives when it happens (ingest clamps times to arrival)
        publish(runtime, product_event("Product Viewed", user, f"v-{i}", at, product_id="p-5", name="Boot"))
    runtime.advance_to(T0 + timedelta(minutes=40))
    publish(runtime, added(user, "add-5", T0 + timedelta(minutes=40), "p-5"))
    runtime.advance_to(T0 + timedelta(hours=2))
    [(status, reason)] = decisions(runtime, user, "browse-abandonment")
    assert status == "cancelled" and reason is not None and reason.startswith("cancel_if: Product Added")


def test_welcome_goes_once_per_shopper_whatever_the_number_of_identifies() -> None:
    with mock_aws():
        runtime = LocalRuntime(catalog_without(), SimulatedClock(T0), log_level="CRITICAL")
        _welcome_once(runtime)


def _welcome_once(runtime: LocalRuntime) -> None:
    publish(
        runtime,
        identify("w1", "id-w1-a", at=iso(T0), email="w1@example.com", consent={"email": True}),
        identify("w1", "id-w1-b", at=iso(T0 + timedelta(minutes=5)), firstName="Wulan"),
    )
    runtime.advance_to(T0 + timedelta(minutes=10))  # a welcome that beat ingest looks again by then
    publish(runtime, identify("w1", "id-w1-c", at=iso(T0 + timedelta(days=1)), city="Bandung"))
    runtime.advance_to(T0 + timedelta(minutes=20))
    # Later identifies are claimed against the same send key: logged once beside it as duplicates.
    assert Counter(s for s, _ in decisions(runtime, "w1", "welcome")) == {"sent": 1, "duplicate": 1}
    assert ses_sent_count() == 1


def test_post_purchase_review_is_sent_seven_days_after_the_order(runtime: LocalRuntime) -> None:
    user = free_of_holdout("post-purchase-review")
    shopper(runtime, user)
    order = track(
        user,
        "Order Completed",
        "ord-r",
        at=iso(T0),
        order_id="o-42",
        revenue=60,
        products=[{"product_id": "p-1", "name": "Trail Runner", "quantity": 1}],
    )
    publish(runtime, order)
    runtime.advance_to(T0 + timedelta(days=6, hours=23))
    assert decisions(runtime, user, "post-purchase-review") == []
    runtime.advance_to(T0 + timedelta(days=7, hours=1))
    assert decisions(runtime, user, "post-purchase-review") == [("sent", None)]


def test_a_delayed_trigger_costs_at_most_two_requests(runtime: LocalRuntime, aws_calls: Any) -> None:
    user = free_of_holdout("abandoned-cart")
    shopper(runtime, user)
    for service in ("scheduler",):
        runtime.client(service).meta.events.register("before-call", aws_calls)
    event = {"detail": added(user, "add-9", T0), "detail-type": "x", "source": "nudge.app"}
    aws_calls.counts.clear()
    result = runtime.invoke("trigger", {"campaign_id": "abandoned-cart", "event": event})
    assert result["status"] == "scheduled"
    assert dict(aws_calls.counts) == {"scheduler.CreateSchedule": 1}


def at_checkout(user_id: str, device: str, message_id: str, at: datetime) -> dict[str, Any]:
    """The visitor on ``device`` logs in at checkout (an identify with both ids)."""
    login = identify(user_id, message_id, at=iso(at))
    return {**login, "anonymousId": device}


def test_a_cart_filled_before_login_is_reminded_to_the_shopper_who_logged_in_at_checkout(
    runtime: LocalRuntime,
) -> None:
    user = free_of_holdout("abandoned-cart")
    shopper(runtime, user)
    cart = added(user, "add-1", T0)
    del cart["userId"]
    publish(runtime, {**cart, "anonymousId": "phone-1"})  # the delay starts for the anonymous visitor
    runtime.advance_to(T0 + timedelta(minutes=10))
    publish(runtime, at_checkout(user, "phone-1", "login-1", T0 + timedelta(minutes=10)))  # ... and leaves

    runtime.advance_to(T0 + timedelta(hours=1, minutes=1))

    assert decisions(runtime, user, "abandoned-cart") == [("sent", None)]
    assert decisions(runtime, "anon:phone-1", "abandoned-cart") == []
    [sent] = [m for m in runtime.scan("messages") if m["campaign_id"] == "abandoned-cart"]
    assert sent["user_id"] == user and sent["send_key"].endswith("#anon:phone-1")
    [email] = sent_emails()
    assert "Trail Runner" in str(email["Subject"])  # the trigger's event, rendered for the shopper


def test_an_order_after_logging_in_cancels_the_reminder_started_anonymously(runtime: LocalRuntime) -> None:
    user = free_of_holdout("abandoned-cart")
    shopper(runtime, user)
    cart = added(user, "add-1", T0)
    del cart["userId"]
    publish(runtime, {**cart, "anonymousId": "phone-1"})
    runtime.advance_to(T0 + timedelta(minutes=10))
    publish(runtime, at_checkout(user, "phone-1", "login-1", T0 + timedelta(minutes=10)))
    runtime.advance_to(T0 + timedelta(minutes=20))
    publish(
        runtime, track(user, "Order Completed", "ord-1", at=iso(T0 + timedelta(minutes=20)), revenue=89.5)
    )

    runtime.advance_to(T0 + timedelta(hours=2))

    [(status, reason)] = decisions(runtime, user, "abandoned-cart")
    assert status == "cancelled"
    assert reason is not None and reason.startswith("cancel_if: Order Completed at 2026-11-02T08:20")


def test_a_reminder_of_a_visitor_who_never_logs_in_is_not_sent(runtime: LocalRuntime) -> None:
    cart = added("nobody", "add-1", T0)
    del cart["userId"]
    publish(runtime, {**cart, "anonymousId": "phone-9"})

    runtime.advance_to(T0 + timedelta(hours=1, minutes=1))

    assert decisions(runtime, "anon:phone-9", "abandoned-cart") == [("skipped", "anonymous")]


def test_an_order_placed_logged_out_on_a_linked_device_converts_for_the_shopper(
    runtime: LocalRuntime,
) -> None:
    user = free_of_holdout("abandoned-cart")
    shopper(runtime, user)
    publish(runtime, at_checkout(user, "phone-1", "login-1", T0 - timedelta(minutes=5)))
    publish(runtime, added(user, "add-1", T0))
    runtime.advance_to(T0 + timedelta(hours=1, minutes=1))
    assert decisions(runtime, user, "abandoned-cart") == [("sent", None)]

    order = track(
        "", "Order Completed", "ord-1", at=iso(T0 + timedelta(hours=2)), order_id="o-1", revenue=89.5
    )
    del order["userId"]
    runtime.advance_to(T0 + timedelta(hours=2))
    publish(runtime, {**order, "anonymousId": "phone-1"})

    [conversion] = [c for c in runtime.scan("conversions") if c["campaign_id"] == "abandoned-cart"]
    assert (conversion["user_id"], conversion["goal_event_id"], conversion["attributed"]) == (
        user,
        "ord-1",
        True,
    )
    assert runtime.profiles.get(user).orders == 1  # type: ignore[union-attr]


def test_a_third_view_made_logged_out_on_a_linked_device_counts_the_shoppers_views(
    runtime: LocalRuntime,
) -> None:
    user = free_of_holdout("browse-abandonment", "b")
    shopper(runtime, user)
    runtime.register_push_endpoint("GCM", f"t-{user}", user_id=user)
    publish(runtime, at_checkout(user, "tablet-1", "login-1", T0 - timedelta(minutes=5)))
    for i in range(3):
        at = T0 + timedelta(hours=i)
        runtime.advance_to(at)
        view = product_event("Product Viewed", user, f"v-{i}", at, product_id="p-9", name="Parka")
        if i == 2:  # the third, after logging out on the tablet: the rule is checked on the shopper's views
            del view["userId"]
            view["anonymousId"] = "tablet-1"
        publish(runtime, view)

    runtime.advance_to(T0 + timedelta(hours=5))

    assert decisions(runtime, user, "browse-abandonment") == [("sent", None)]
