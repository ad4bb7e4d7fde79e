"""The interest index on moto, written at most once per shopper, product and UTC day (docs/catalog.md,
the interest index): the profile's mark says ingest wrote that item that day. A mark is never set
without the item: not by a visitor's history merged at login, not by a purchase, not by a profile write
that follows a failed interest write, not on a profile re-created while the shopper was being erased."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from fakes import catalog_without
from payloads import identify, on_device
from test_catalog_triggers import T0, iso, millis, product_event, send

from nudge.local.runtime import LocalRuntime
from shared.adapters.dynamo.catalog import DynamoInterestIndex, DynamoProductCatalog
from shared.adapters.dynamo.profiles import DynamoProfileStore
from shared.campaigns.loader import Catalog
from shared.catalog.interest import INTEREST_DAYS
from shared.core.clock import SimulatedClock
from shared.deployment.topology import INTEREST
from shared.ingest.ingest import QueueRecord, ingest_batch
from shared.profiles.products import day_number
from shared.profiles.profile import Profile

DAY = day_number(T0)


@pytest.fixture
def catalog() -> Catalog:
    """The bundled campaigns but the ones a view, a cart or an identify start on their own."""
    return catalog_without("welcome", "abandoned-cart", "browse-abandonment", "browse-abandon")


class InterestWrites:
    """Counts the interest items put (BatchWriteItem; erasure's deletes are not), and can refuse the next
    request."""

    def __init__(self, runtime: LocalRuntime) -> None:
        self.table, self.items, self.refuse = runtime.table_names["interest"], 0, 0
        runtime.client("dynamodb").meta.events.register(
            "provide-client-params.dynamodb.BatchWriteItem", self.__call__
        )

    def __call__(self, params: dict[str, Any], **_: Any) -> None:
        if self.refuse:
            self.refuse -= 1
            error = {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}
            raise ClientError({"Error": error}, "BatchWriteItem")
        self.items += sum("PutRequest" in r for r in params["RequestItems"].get(self.table, []))


@pytest.fixture
def writes(runtime: LocalRuntime) -> InterestWrites:
    return InterestWrites(runtime)


def stored(runtime: LocalRuntime) -> dict[tuple[str, str], tuple[int, int]]:
    """Each interest item: its time (milliseconds) and its expiry (DynamoDB TTL, seconds)."""
    items = runtime.client("dynamodb").scan(TableName=runtime.table_names["interest"])["Items"]
    ttl = str(INTEREST.ttl_attribute)
    return {
        (i["user_id"]["S"], i["product_id"]["S"]): (int(i["interested_at"]["N"]), int(i[ttl]["N"]))
        for i in items
    }


def marks(runtime: LocalRuntime, user_id: str) -> dict[str, int]:
    profile = runtime.profiles.get(user_id)
    assert profile is not None, user_id
    return profile.activity.indexed


def seconds(at: Any) -> int:
    return int(at.timestamp())


@pytest.mark.gentle("counts the index's writes per batch")
def test_a_shoppers_views_of_a_product_one_day_write_one_item_and_the_next_days_view_renews_it(
    runtime: LocalRuntime, clock: SimulatedClock, writes: InterestWrites
) -> None:
    send(runtime, clock, T0, product_event("u1", "v1", T0))
    later = T0 + timedelta(hours=15, minutes=59)  # 23:59 the same UTC day
    send(runtime, clock, later, product_event("u1", "v2", later), product_event("u1", "v3", T0))

    assert writes.items == 1
    expiry = seconds(T0 + timedelta(days=INTEREST_DAYS))
    assert stored(runtime) == {("u1", "p-17"): (millis(T0), expiry)}
    assert marks(runtime, "u1") == {"p-17": DAY}

    next_day = T0.replace(hour=0) + timedelta(days=1)
    send(runtime, clock, next_day, product_event("u1", "v4", next_day))

    assert writes.items == 2
    assert stored(runtime) == {
        ("u1", "p-17"): (millis(next_day), seconds(next_day + timedelta(days=INTEREST_DAYS)))
    }
    assert marks(runtime, "u1") == {"p-17": DAY + 1}


@pytest.mark.gentle("reads the index after each batch")
def test_the_item_keeps_the_days_first_view_and_the_fan_outs_window_is_counted_from_it(
    runtime: LocalRuntime, clock: SimulatedClock
) -> None:
    day2 = T0.replace(hour=0) + timedelta(days=1)
    first, last = day2 + timedelta(minutes=10), day2 + timedelta(hours=23, minutes=50)
    send(runtime, clock, first, product_event("u1", "v1", first))
    send(runtime, clock, last, product_event("u1", "v2", last))
    index = DynamoInterestIndex(runtime.client("dynamodb"), runtime.table_names["interest"])

    def interested(changed_at: Any) -> list[str]:
        since = changed_at - timedelta(days=INTEREST_DAYS)
        return [i.user_id for i in index.interested("p-17", since, changed_at, 10)]

    # The item says 00:10 (expiring 30 days later), not 23:50: a 30-day window finds the shopper up to
    # 30 days after the day's first view, less than a day earlier than after their latest one.
    assert stored(runtime)[("u1", "p-17")] == (millis(first), seconds(first + timedelta(days=INTEREST_DAYS)))
    assert interested(first + timedelta(days=INTEREST_DAYS)) == ["u1"]
    assert interested(first + timedelta(days=INTEREST_DAYS, milliseconds=1)) == []


def visitor_view(device: str, message_id: str, at: Any, product_id: str = "p-17") -> dict[str, Any]:
    event = product_event("", message_id, at, product_id=product_id)
    del event["userId"]
    event["anonymousId"] = device
    return event


@pytest.mark.gentle("counts the index's writes per batch")
def test_a_visitors_interest_moves_to_the_shopper_at_login_at_the_start_of_its_day(
    runtime: LocalRuntime, clock: SimulatedClock, writes: InterestWrites
) -> None:
    day_start = T0.replace(hour=0, minute=0)
    send(runtime, clock, T0, visitor_view("device-9", "anon-view", T0))
    assert (writes.items, stored(runtime)) == (0, {})  # a visitor has no address: not indexed
    login = on_device("device-9", identify("u1", "login", at=iso(T0 + timedelta(minutes=10))))
    send(runtime, clock, T0 + timedelta(minutes=10), login)

    # the login moves the visitor's history, and with it their interest: the recent products keep the
    # day only, so the item's time is the day's start
    shopper = runtime.profiles.get("u1")
    assert shopper is not None and shopper.activity.products["p-17"][0] == DAY
    assert writes.items == 1
    assert stored(runtime) == {
        ("u1", "p-17"): (millis(day_start), seconds(day_start + timedelta(days=INTEREST_DAYS)))
    }
    assert marks(runtime, "u1") == {"p-17": DAY}

    view = T0 + timedelta(minutes=20)
    send(runtime, clock, view, product_event("u1", "v1", view))
    assert writes.items == 1  # the day's item is written: the mark holds


@pytest.mark.gentle("counts the index's writes per batch")
def test_a_login_moves_no_interest_older_than_the_index_nor_from_a_visitor_moved_to_another_shopper(
    runtime: LocalRuntime, clock: SimulatedClock, writes: InterestWrites
) -> None:
    send(runtime, clock, T0, visitor_view("device-9", "anon-old", T0))
    login = T0 + timedelta(days=INTEREST_DAYS, hours=1)
    send(runtime, clock, login, on_device("device-9", identify("u1", "login-1", at=iso(login))))
    assert (writes.items, stored(runtime)) == (0, {})  # expired before the login

    later = login + timedelta(days=1)
    send(runtime, clock, later, visitor_view("device-7", "anon-new", later, product_id="p-3"))
    send(
        runtime,
        clock,
        later + timedelta(hours=1),
        on_device("device-7", identify("u1", "login-2", at=iso(later + timedelta(hours=1)))),
    )
    assert set(stored(runtime)) == {("u1", "p-3")}
    written = writes.items
    # another shopper logs in on that device: the visitor's history stays with u1, nothing moves to u2
    again = later + timedelta(hours=2)
    send(runtime, clock, again, on_device("device-7", identify("u2", "login-3", at=iso(again))))
    assert writes.items == written and set(stored(runtime)) == {("u1", "p-3")}


@pytest.mark.gentle("counts the index's writes per batch")
def test_a_purchase_then_a_view_the_same_day_writes_the_views_item(
    runtime: LocalRuntime, clock: SimulatedClock, writes: InterestWrites
) -> None:
    order = product_event("u1", "o1", T0, name="Order Completed", products=[{"product_id": "p-17"}])
    send(runtime, clock, T0, order)
    assert (writes.items, marks(runtime, "u1")) == (0, {})

    view = T0 + timedelta(hours=1)
    send(runtime, clock, view, product_event("u1", "v1", view))

    assert writes.items == 1
    assert {k: at for k, (at, _) in stored(runtime).items()} == {("u1", "p-17"): millis(view)}


@pytest.mark.gentle("the refused request is the first of the batch's, its redelivery the next")
def test_an_interest_write_that_fails_is_written_when_its_record_is_redelivered_and_marks_nothing(
    runtime: LocalRuntime, clock: SimulatedClock, writes: InterestWrites
) -> None:
    writes.refuse = 1
    send(runtime, clock, T0, product_event("u1", "v1", T0))

    # The first receive folded the view into the profile and failed; the redelivery wrote the item. No
    # profile write followed the item's (the view was folded already): the profile holds no mark.
    assert runtime.redelivered["ingest"] == 1
    assert {k: at for k, (at, _) in stored(runtime).items()} == {("u1", "p-17"): millis(T0)}
    assert writes.items == 1
    assert marks(runtime, "u1") == {}

    later = T0 + timedelta(hours=1)
    send(runtime, clock, later, product_event("u1", "v2", later))  # unmarked: written, then marked
    send(runtime, clock, later, product_event("u1", "v3", later + timedelta(minutes=1)))

    assert writes.items == 2
    assert marks(runtime, "u1") == {"p-17": DAY}


@pytest.mark.gentle("counts the index's writes per batch")
def test_an_erased_shopper_is_indexed_again_by_their_next_view_that_day(
    runtime: LocalRuntime, clock: SimulatedClock, writes: InterestWrites
) -> None:
    send(runtime, clock, T0, product_event("u1", "v1", T0))
    assert runtime.http("DELETE", "/me", user_id="u1")["statusCode"] == 200
    assert stored(runtime) == {}

    later = T0 + timedelta(hours=1)
    send(runtime, clock, later, product_event("u1", "v2", later))

    assert writes.items == 2
    assert {k: at for k, (at, _) in stored(runtime).items()} == {("u1", "p-17"): millis(later)}
    assert marks(runtime, "u1") == {"p-17": DAY}


class Racing(DynamoProfileStore):
    """``rival`` (another invocation, an erasure) runs between this batch's read and its first write."""

    def __init__(self, runtime: LocalRuntime, rival: Any) -> None:
        names = runtime.table_names
        super().__init__(runtime.client("dynamodb"), names["profiles"], names["privacy"])
        self.rival, self.writes = rival, 0

    def save(self, profile: Profile) -> bool:
        self.writes += 1
        if self.writes == 1:
            self.rival()
        return super().save(profile)


class ParkNothing:
    def park(self, body: str, reason: str, source: str) -> None:
        pytest.fail(f"nothing should be parked: {reason}")


def ingest_racing(runtime: LocalRuntime, details: Sequence[dict[str, Any]], rival: Any) -> Racing:
    records = [QueueRecord(f"r-{i}", json.dumps({"detail": d})) for i, d in enumerate(details)]
    store = Racing(runtime, rival)
    names = runtime.table_names
    products = DynamoProductCatalog(runtime.client("dynamodb"), names["catalog"], names["interest"])
    outcome = ingest_batch(
        records, store, ParkNothing(), runtime.clock, erasures=runtime.erasures, products=products
    )
    assert outcome.failed_record_ids == [] and store.writes == 2, outcome.errors  # lost the race once
    return store


@pytest.mark.gentle("the race is played by hand")
def test_a_profile_write_that_loses_a_race_marks_its_items_onto_what_the_rival_wrote(
    runtime: LocalRuntime, clock: SimulatedClock, writes: InterestWrites
) -> None:
    send(runtime, clock, T0, product_event("u1", "v0", T0, product_id="p-1"))
    rival = product_event("u1", "v2", T0 + timedelta(minutes=2), product_id="p-3")

    ingest_racing(
        runtime,
        [product_event("u1", "v1", T0 + timedelta(minutes=1))],
        lambda: send(runtime, clock, T0 + timedelta(minutes=2), rival),
    )

    assert set(stored(runtime)) == {("u1", "p-1"), ("u1", "p-17"), ("u1", "p-3")}
    assert marks(runtime, "u1") == {"p-1": DAY, "p-17": DAY, "p-3": DAY}
    assert writes.items == 3


@pytest.mark.gentle("the race is played by hand")
def test_a_profile_made_again_after_an_erasure_that_raced_the_batch_carries_no_mark(
    runtime: LocalRuntime, clock: SimulatedClock, writes: InterestWrites
) -> None:
    send(runtime, clock, T0, product_event("u1", "v0", T0, product_id="p-1"))
    # A device clock ahead: the view counts as after the erasure, which deletes its item meanwhile.
    ahead = T0 + timedelta(minutes=5)

    ingest_racing(
        runtime,
        [product_event("u1", "v1", ahead)],
        lambda: runtime.http("DELETE", "/me", user_id="u1"),
    )

    assert stored(runtime) == {}
    assert runtime.profiles.get("u1") is not None and marks(runtime, "u1") == {}
    send(runtime, clock, ahead, product_event("u1", "v2", ahead + timedelta(minutes=1)))
    assert set(stored(runtime)) == {("u1", "p-17")}
