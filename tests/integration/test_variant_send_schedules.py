"""A variant's own send time on moto (docs/experiments.md, "A variant's send time"): a triggered send's
variant with `delay` waits on one one-time schedule named from its send key, however often its job
comes, and is sent once when the schedule fires, guards decided again then; a batch send's variant with
`at` goes at the shopper's local time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from factory import ses_sent_count
from fakes import catalog_without, identify_shopper
from payloads import identify, track

from nudge.local.runtime import LocalRuntime
from shared.campaigns.jobs import DeliveryJob, TriggerContext
from shared.campaigns.loader import Catalog
from shared.delivery.guards import in_holdout
from shared.experiments.assignment import assign_variant

CART = "abandoned-cart"  # an hour after the add (a one-time schedule), unless the shopper ordered
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # 15:00 in Jakarta: outside quiet hours
DUE = T0 + timedelta(hours=3)  # the trigger's hour, then the variant's two hours: 18:00 in Jakarta
SALE = "weekend-sale-sea"  # Saturdays 10:00 in Jakarta (03:00 UTC)
OCCURRENCE = "2026-11-07T03:00:00Z"


def with_variants(catalog: Catalog, campaign_id: str, later: dict[str, Any]) -> Catalog:
    """``campaign_id`` with two variants of the same content: ``at-once`` and ``later`` (its send time)."""
    shipped = catalog.get(campaign_id)
    assert shipped is not None
    tested = shipped.model_validate(
        {
            **shipped.model_dump(exclude_none=True, exclude={"experiment", "variants"}),
            "variants": [{"id": "at-once"}, {"id": "later", "send_time": later}],
        }
    )
    return Catalog([*(c for c in catalog if c.id != campaign_id), tested], catalog.policy, catalog.custom)


@pytest.fixture
def catalog() -> Catalog:
    shipped = catalog_without("welcome")
    return with_variants(with_variants(shipped, CART, {"delay": "2h"}), SALE, {"at": "19:00"})


def drawing(campaign_id: str, variant: str, prefix: str = "u") -> str:
    """A shopper outside the campaign's holdout who draws ``variant``."""
    return next(
        u
        for u in (f"{prefix}{i}" for i in range(300))
        if not in_holdout(campaign_id, u, 10)
        and assign_variant(f"{campaign_id}:send", u, {"at-once": 1, "later": 1}) == variant
    )


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def added(user: str) -> dict[str, Any]:
    event = track(user, "Product Added", "add-1", at=iso(T0))
    event["properties"] = {"product_id": "p-1", "name": "Trail Runner", "price": 89.5, "cart_id": "c1"}
    return event


def cart_shopper(runtime: LocalRuntime, user: str) -> None:
    consent = {"email": True, "push": False}
    at = iso(T0 - timedelta(hours=1))
    identify_shopper(runtime, user, at=at, age=None, address=None, timezone="Asia/Jakarta", consent=consent)


def log(runtime: LocalRuntime, user: str, campaign: str) -> list[dict[str, Any]]:
    """The campaign's decisions for the shopper (a duplicate job's, logged beside them, left out)."""
    return [
        e
        for e in runtime.send_log.entries_for(user)
        if e["campaign_id"] == campaign and e["status"] != "duplicate"
    ]


def test_a_delayed_variant_waits_on_one_schedule_and_is_sent_once_when_it_fires(
    runtime: LocalRuntime,
) -> None:
    user = drawing(CART, "later")
    cart_shopper(runtime, user)
    runtime.publish([added(user), added(user)])  # the same event twice
    runtime.drain()
    runtime.advance_to(T0 + timedelta(hours=1, minutes=1))  # the trigger's delay is over

    [waiting] = log(runtime, user, CART)
    assert (waiting["status"], waiting["variant"], waiting["send_at"]) == (
        "deferred_send_time",
        "later",
        DUE.isoformat(),
    )
    assert waiting["reason"] == f"variant later: delay 2h, until {DUE.isoformat()}"
    [(when, _, _)] = runtime.one_time_schedules()
    assert when == DUE
    # the delayed job delivered again (SQS at least once): no second schedule
    trigger = TriggerContext(event="Product Added", message_id="add-1", timestamp=T0)
    job = DeliveryJob.for_trigger(CART, user, trigger).model_copy(
        update={"not_before": T0 + timedelta(hours=1)}
    )
    runtime.invoke("deliver", runtime.sqs_event("delivery", [job.model_dump_json()], receive_count=2))
    assert [w for w, _, _ in runtime.one_time_schedules()] == [DUE]
    assert ses_sent_count() == 0

    runtime.advance_to(DUE - timedelta(minutes=1))
    assert ses_sent_count() == 0
    runtime.advance_to(DUE + timedelta(minutes=1))

    assert [(e["status"], e.get("variant"), e.get("send_at")) for e in log(runtime, user, CART)] == [
        ("deferred_send_time", "later", DUE.isoformat()),
        ("sent", "later", DUE.isoformat()),
    ]
    assert ses_sent_count() == 1
    assert runtime.one_time_schedules() == []


def test_an_order_before_the_variants_send_time_cancels_it(runtime: LocalRuntime) -> None:
    user = drawing(CART, "later")
    cart_shopper(runtime, user)
    runtime.publish([added(user)])
    runtime.drain()
    runtime.advance_to(T0 + timedelta(hours=2))  # deferred to its send time at T0 + 1h
    runtime.publish([track(user, "Order Completed", "ord-1", at=iso(T0 + timedelta(hours=2)), revenue=89.5)])
    runtime.drain()

    runtime.advance_to(DUE + timedelta(minutes=1))

    assert [e["status"] for e in log(runtime, user, CART)] == ["deferred_send_time", "cancelled"]
    assert [w for w, _, _ in runtime.one_time_schedules() if w <= DUE + timedelta(days=1)] == []


def test_the_other_variant_goes_when_the_trigger_is_due(runtime: LocalRuntime) -> None:
    user = drawing(CART, "at-once")
    cart_shopper(runtime, user)
    runtime.publish([added(user)])
    runtime.drain()
    runtime.advance_to(T0 + timedelta(hours=1, minutes=1))
    assert [(e["status"], e.get("variant"), e.get("send_at")) for e in log(runtime, user, CART)] == [
        ("sent", "at-once", None)
    ]


@pytest.mark.gentle("counts the schedules of a batch send exactly")
def test_a_batch_sends_variant_at_an_hour_goes_at_the_shoppers_local_time(runtime: LocalRuntime) -> None:
    later, at_once = drawing(SALE, "later", "s"), drawing(SALE, "at-once", "s")
    runtime.publish(
        [
            identify(
                user,
                f"id-{user}",
                email=f"{user}@example.com",
                age=25,
                address={"country": "ID"},
                timezone="Asia/Jakarta",
                consent={"email": True},
            )
            for user in (later, at_once)
        ]
    )
    runtime.drain()
    runtime.advance_to(datetime(2026, 11, 7, 3, 1, tzinfo=UTC))
    runtime.invoke("planner", {"campaign_id": SALE, "occurrence": OCCURRENCE})  # the schedule fired twice
    runtime.drain()

    evening = datetime(2026, 11, 7, 12, 0, tzinfo=UTC)  # 19:00 in Jakarta
    assert [e["status"] for e in log(runtime, at_once, SALE)] == ["sent"]
    assert [e["status"] for e in log(runtime, later, SALE)] == ["deferred_send_time"]
    assert [w for w, _, _ in runtime.one_time_schedules()] == [evening]

    runtime.advance_to(evening + timedelta(minutes=1))
    assert [(e["status"], e.get("send_at")) for e in log(runtime, later, SALE)] == [
        ("deferred_send_time", evening.isoformat()),
        ("sent", evening.isoformat()),
    ]
    assert ses_sent_count() == 2
