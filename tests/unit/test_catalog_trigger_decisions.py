"""Catalog triggers, decided without AWS: the trigger's shape and rule pattern, which catalog changes are
announced and what their events say, the fan-out's jobs and send keys, the interest an event shows (as
``nudge simulate`` keeps it too)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fakes import catalog_without
from payloads import tracked

from nudge.simulated_catalog import SimulatedCatalog
from shared.campaigns.loader import Catalog
from shared.campaigns.model import Campaign
from shared.campaigns.policy import DeliveryPolicy
from shared.campaigns.trigger import Trigger
from shared.catalog.announcements import Announcements, CatalogChangeKind, CatalogEvent, catalog_events
from shared.catalog.interest import Interest, interests_of, write_order
from shared.catalog.product import Product
from shared.catalog.updates import CatalogChange
from shared.core.clock import SimulatedClock
from shared.core.errors import EventRejected
from shared.core.keys import HmacKey
from shared.triggers.catalog_triggers import (
    CatalogFanOut,
    FanOutOutcome,
    announcements_for,
    catalog_job,
    interested_jobs,
)

T0 = datetime(2026, 11, 2, 8, tzinfo=UTC)
KEY = HmacKey(b"the stack's signing key, 32 bytes+")


def product(
    price: str | None = None, in_stock: bool | None = None, at: datetime = T0, **more: Any
) -> Product:
    return Product(
        product_id="p-17",
        price=Decimal(price) if price else None,
        in_stock=in_stock,
        updated_at=at,
        **more,
    )


def campaign(trigger: dict[str, Any], campaign_id: str = "price-drop", **more: Any) -> Campaign:
    return Campaign.model_validate(
        {
            "id": campaign_id,
            "name": "x",
            "level": "L4",
            "trigger": trigger,
            "channels": {"in_app": {"title": "t", "body": "{{ event.name }}"}},
            **more,
        }
    )


def test_a_price_drop_triggers_rule_takes_the_catalogs_events_of_drops_of_its_percent() -> None:
    trigger = Trigger.model_validate({"catalog": "price_drop", "min_percent": 15, "within": "14d"})

    assert trigger.event == "Catalog Price Dropped"
    assert trigger.event_pattern() == {
        "source": ["nudge.internal"],
        "detail-type": ["Catalog Price Dropped"],
        "detail": {"catalog": ["price_drop"], "drop_percent": [{"numeric": [">=", 15]}]},
    }
    assert trigger.interest_window == timedelta(days=14)
    default = Trigger.model_validate({"catalog": "price_drop"})
    assert (default.drop_percent, default.interest_window) == (Decimal("10"), timedelta(days=30))
    assert Trigger.model_validate({"catalog": "back_in_stock"}).event_pattern() == {
        "source": ["nudge.internal"],
        "detail-type": ["Catalog Back In Stock"],
        "detail": {"catalog": ["back_in_stock"]},
    }


@pytest.mark.parametrize(
    ("trigger", "problem"),
    [
        ({"catalog": "price_drop", "within": "31d"}, "interest is kept 30 days"),
        ({"catalog": "back_in_stock", "min_percent": 10}, "'min_percent' is a price_drop trigger's"),
        ({"catalog": "price_drop", "delay": "1h"}, "a catalog trigger takes"),
        ({"catalog": "price_drop", "where": ["properties.total > 5"]}, "a catalog trigger takes"),
        ({"event": "Product Viewed", "within": "3d"}, "belong to a catalog trigger"),
        ({"catalog": "price_drop", "event": "Product Viewed"}, "leave 'event' out"),
        ({"catalog": "price_drop", "min_percent": 100}, "less than 100"),
        ({"catalog": "sold_out"}, "price_drop"),
    ],
)
def test_a_catalog_trigger_says_what_it_cannot_take(trigger: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Trigger.model_validate(trigger)


def test_only_drops_of_the_smallest_campaign_percent_and_restocks_wanted_are_announced() -> None:
    drop = CatalogChange(product("100", name="Aero"), product("90", at=T0 + timedelta(hours=1), name="Aero"))
    small = CatalogChange(product("100"), product("90.01", at=T0 + timedelta(hours=1)))
    restock = CatalogChange(product(in_stock=False), product(in_stock=True, at=T0 + timedelta(hours=1)))
    unknown = CatalogChange(None, product("10"))

    found = catalog_events([drop, small, restock, unknown], Decimal("10"), restocks=True)

    assert found == [
        CatalogEvent(
            CatalogChangeKind.PRICE_DROP,
            "p-17",
            T0 + timedelta(hours=1),
            Decimal("100"),
            Decimal("90"),
            None,
            Decimal("10.00"),
            (("name", "Aero"),),
        ),
        CatalogEvent(CatalogChangeKind.BACK_IN_STOCK, "p-17", T0 + timedelta(hours=1)),
    ]
    assert catalog_events([drop, restock], None, restocks=False) == []


def test_a_catalog_events_detail_reads_back_as_the_same_change() -> None:
    event = CatalogEvent(
        CatalogChangeKind.PRICE_DROP,
        "p-17",
        T0,
        Decimal("100"),
        Decimal("79.5"),
        "USD",
        Decimal("20.50"),
        (("name", "Aero"), ("image_url", "https://cdn.example.com/17.jpg")),
    )

    detail = event.detail()

    assert detail == {
        "catalog": "price_drop",
        "product_id": "p-17",
        "changed_at": "2026-11-02T08:00:00+00:00",
        "old_price": "100",
        "new_price": "79.5",
        "currency": "USD",
        "drop_percent": 20.5,
        "name": "Aero",
        "image_url": "https://cdn.example.com/17.jpg",
    }
    assert CatalogEvent.from_detail(detail) == event
    with pytest.raises(ValueError, match="zone"):
        CatalogEvent.from_detail({**detail, "changed_at": "2026-11-02T08:00:00"})


def test_an_announcement_put_on_the_bus_or_refused_fails_before_the_catalog_is_written() -> None:
    published: list[tuple[str, dict[str, Any]]] = []

    def accept(events: Any) -> list[dict[str, Any]]:
        published.extend(events)
        return []

    restock = CatalogChange(product(in_stock=False), product(in_stock=True, at=T0))
    Announcements(accept, None, True, KEY).announce([restock])
    assert [t for t, _ in published] == ["Catalog Back In Stock"]

    with pytest.raises(RuntimeError, match="kept refusing 1 catalog events"):
        Announcements(lambda events: [dict(d) for _, d in events], None, True, KEY).announce([restock])


def test_announcements_follow_the_enabled_catalog_campaigns() -> None:
    def publish(events: Any) -> list[dict[str, Any]]:
        return []

    found = announcements_for(
        [
            campaign({"catalog": "price_drop", "min_percent": 25}),
            campaign({"catalog": "price_drop", "min_percent": 12.5}, "small-drop"),
            campaign({"catalog": "price_drop", "min_percent": 5}, "off", enabled=False),
            campaign({"event": "Product Viewed"}, "views"),
        ],
        publish,
        KEY,
    )

    assert found is not None and (found.min_percent, found.restocks) == (Decimal("12.5"), False)
    assert announcements_for([campaign({"event": "Product Viewed"})], publish, KEY) is None
    restocks = announcements_for([campaign({"catalog": "back_in_stock"}, "bis")], publish, KEY)
    assert restocks is not None and (restocks.min_percent, restocks.restocks) == (None, True)


class Index:
    def __init__(self, interests: list[Interest]) -> None:
        self.interests = interests
        self.asked: list[tuple[str, datetime, datetime, int]] = []

    def interested(self, product_id: str, since: datetime, until: datetime, limit: int) -> list[Interest]:
        self.asked.append((product_id, since, until, limit))
        return self.interests[:limit]


def test_a_changes_jobs_are_keyed_by_campaign_change_and_shopper_and_carry_the_change() -> None:
    change = CatalogEvent(CatalogChangeKind.PRICE_DROP, "p-17", T0, Decimal("100"), Decimal("80"))
    index = Index(
        [Interest("u1", "p-17", T0 - timedelta(days=2)), Interest("u2", "p-17", T0 - timedelta(days=3))]
    )
    drops = campaign({"catalog": "price_drop", "within": "7d"})

    jobs = interested_jobs(drops, change, index)

    assert index.asked == [("p-17", T0 - timedelta(days=7), T0, 1000)]
    assert [j.send_key for j in jobs] == [
        "price-drop#price_drop:p-17@2026-11-02T08:00:00+00:00#u1",
        "price-drop#price_drop:p-17@2026-11-02T08:00:00+00:00#u2",
    ]
    first = jobs[0]
    assert (first.campaign_id, first.user_id, first.occurrence) == ("price-drop", "u1", T0.isoformat())
    assert first.trigger is not None
    assert (first.trigger.event, first.trigger.timestamp, first.trigger.properties) == (
        "Catalog Price Dropped",
        T0,
        change.detail(),
    )
    once = campaign({"catalog": "price_drop", "once_per_user": True})
    assert catalog_job(once, change, Interest("u1", "p-17", T0)).send_key == "price-drop#once#u1"


def test_an_events_interest_is_its_shoppers_latest_view_or_cart_of_each_product() -> None:
    events = [
        tracked("Product Viewed", T0, 1, product_id="p-17"),
        tracked("Product Viewed", T0 + timedelta(minutes=5), 2, product_id="p-17"),
        tracked("Product Added", T0 + timedelta(minutes=1), 3, sku="S-3"),
        tracked("Product Viewed", T0 + timedelta(minutes=2), 4, product_id="p-17"),
        tracked("Order Completed", T0, 5, products=[{"product_id": "p-9"}]),
        tracked("Product Viewed", T0, 6),  # no product
        tracked("Product Removed", T0 + timedelta(minutes=9), 7, product_id="p-5"),  # no interest
    ]

    assert interests_of("u-1", events) == [
        Interest("u-1", "S-3", T0 + timedelta(minutes=1)),
        Interest("u-1", "p-17", T0 + timedelta(minutes=5)),
    ]
    assert write_order(
        [Interest("u-2", "p-1", T0), Interest("u-1", "p-1", T0), Interest("u-2", "p-1", T0 + timedelta(1))]
    ) == [Interest("u-1", "p-1", T0), Interest("u-2", "p-1", T0 + timedelta(1))]


def test_nudge_simulates_the_interest_index_as_ingest_writes_it_the_days_first_view() -> None:
    index = SimulatedCatalog(Catalog([], DeliveryPolicy()))
    morning = T0.replace(hour=0, minute=10)
    for n, at in enumerate([morning, morning.replace(hour=23), morning.replace(hour=5)]):
        index.add(tracked("Product Viewed", at, n, user_id="u1", product_id="p-17"), "u1")
    assert index.interest["p-17"] == {"u1": morning}

    next_day = T0 + timedelta(days=1)
    index.add(tracked("Product Viewed", next_day, 3, user_id="u1", product_id="p-17"), "u1")
    assert index.interest["p-17"] == {"u1": next_day}


def drop_of(old: str, new: str) -> CatalogEvent:
    """The announcement the catalog makes of p-17's price going from ``old`` to ``new``."""
    change = CatalogChange(product(old, at=T0 - timedelta(days=1)), product(new, name="Aero"))
    (event,) = catalog_events([change], Decimal("0.01"), restocks=False)
    return event


class Queue:
    def __init__(self) -> None:
        self.bodies: list[str] = []

    def send_many(self, bodies: Any) -> None:
        self.bodies.extend(bodies)


def test_the_fan_out_enqueues_nothing_for_a_change_its_rule_would_not_take_or_for_an_ended_campaign() -> None:
    shipped = catalog_without()
    drops = shipped.get("price-drop")
    assert drops is not None
    ended = drops.model_copy(update={"id": "ended", "end": T0 - timedelta(days=1)})
    campaigns = Catalog([drops, ended], shipped.policy, shipped.custom)
    queue, index = Queue(), Index([Interest("u1", "p-17", T0 - timedelta(days=1))])
    fan_out = CatalogFanOut(campaigns, index, queue, SimulatedClock(T0), KEY)

    def envelope(change: CatalogEvent) -> dict[str, Any]:
        detail = change.sealed_detail(KEY)
        return {"source": "nudge.internal", "detail-type": change.kind.detail_type, "detail": detail}

    small = drop_of("100", "90.01")  # 9.99 %
    restock = CatalogEvent(CatalogChangeKind.BACK_IN_STOCK, "p-17", T0)
    drop = drop_of("100", "90")

    assert fan_out.handle("price-drop", envelope(small)) == FanOutOutcome("not_matching")
    assert fan_out.handle("price-drop", envelope(restock)) == FanOutOutcome("not_matching")
    assert fan_out.handle("ended", envelope(drop)) == FanOutOutcome("inactive")
    assert (queue.bodies, index.asked) == ([], [])
    assert fan_out.handle("price-drop", envelope(drop)) == FanOutOutcome("enqueued", 1)
    assert [json.loads(b)["send_key"] for b in queue.bodies] == [
        "price-drop#price_drop:p-17@2026-11-02T08:00:00+00:00#u1"
    ]
    with pytest.raises(EventRejected, match="not a catalog change"):
        fan_out.handle(
            "price-drop", {**envelope(drop), "detail": {**drop.sealed_detail(KEY), "changed_at": "x"}}
        )


def fan_out_of(index: Index, queue: Queue, key: HmacKey = KEY) -> CatalogFanOut:
    shipped = catalog_without()
    drops = shipped.get("price-drop")
    assert drops is not None
    return CatalogFanOut(
        Catalog([drops], shipped.policy, shipped.custom), index, queue, SimulatedClock(T0), key
    )


def announced(detail: dict[str, Any]) -> dict[str, Any]:
    """The envelope EventBridge hands the fan-out, the detail through JSON as on the bus."""
    return {
        "source": "nudge.internal",
        "detail-type": "Catalog Price Dropped",
        "detail": json.loads(json.dumps(detail)),
    }


NOT_SEALED = (
    "detail.signature: not sealed with this stack's catalog key (forged, altered, or another stack's), "
    "so no shopper is messaged"
)


@pytest.mark.parametrize(
    ("forged", "reason"),
    [
        ("unsealed", NOT_SEALED),
        ("another stack's key", NOT_SEALED),
        ("new price lowered", NOT_SEALED),
        ("product swapped", NOT_SEALED),
        ("name changed", NOT_SEALED),
        (
            "drop inflated",
            "detail.signature: drop_percent 50 is not the drop its sealed prices make (20.00), "
            "so no shopper is messaged",
        ),
    ],
)
def test_an_announcement_not_sealed_by_the_stack_messages_nobody(forged: str, reason: str) -> None:
    drop = drop_of("100", "80")
    detail = drop.sealed_detail(KEY)
    detail = {
        "unsealed": {k: v for k, v in detail.items() if k != "signature"},
        "another stack's key": drop.sealed_detail(HmacKey(b"another stack's signing key, 32 b")),
        "new price lowered": {**detail, "new_price": "1"},
        "product swapped": {**detail, "product_id": "p-18"},
        "name changed": {**detail, "name": "Click here"},
        "drop inflated": {**detail, "drop_percent": 50},
    }[forged]
    queue, index = Queue(), Index([Interest("u1", "p-17", T0 - timedelta(days=1))])

    with pytest.raises(EventRejected) as rejected:
        fan_out_of(index, queue).handle("price-drop", announced(detail))

    assert str(rejected.value) == reason
    assert (queue.bodies, index.asked) == ([], [])  # rejected before any shopper is read


def test_a_sealed_announcement_fans_out_whatever_form_the_bus_gives_its_drop_percent() -> None:
    drop = drop_of("100", "80")
    detail = drop.sealed_detail(KEY)
    assert detail["signature"] == KEY.sign(drop.sealed_fields()) and len(detail["signature"]) == 43
    queue, index = Queue(), Index([Interest("u1", "p-17", T0 - timedelta(days=1))])

    for written in (20.0, 20):  # EventBridge may write the number 20.0 as 20
        assert fan_out_of(index, queue).handle(
            "price-drop", announced({**detail, "drop_percent": written})
        ) == FanOutOutcome("enqueued", 1)
    assert len(queue.bodies) == 2
    assert "signature" not in json.loads(queue.bodies[0])["trigger"]["properties"]
