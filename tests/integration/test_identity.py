"""Identity on moto: an anonymous visitor's history moves to the shopper who logs in, exactly once, in
the request ingest makes anyway; later anonymous events follow the most recent login
(shared/profiles/merge.py)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import Any

import pytest
from payloads import alias, anonymously, identify, on_device, track

from nudge.local.runtime import LocalRuntime
from shared.adapters.dynamo.profiles import DynamoProfileStore
from shared.core.clock import SimulatedClock
from shared.core.identity import anonymous_profile_id
from shared.ingest.ingest import QueueRecord, ingest_batch
from shared.profiles.profile import Profile


def batch_for(runtime: LocalRuntime, details: list[dict[str, Any]]) -> dict[str, Any]:
    return runtime.sqs_event(
        "ingest", (json.dumps({"id": f"e-{i}", "detail": d}) for i, d in enumerate(details))
    )


def ingest(runtime: LocalRuntime, *details: dict[str, Any]) -> None:
    assert runtime.invoke("ingest", batch_for(runtime, list(details))) == {"batchItemFailures": []}


def visit(device: str, name: str, message_id: str, at: str, **properties: Any) -> dict[str, Any]:
    """A track call of a visitor who has not logged in on ``device``."""
    return anonymously(device, track("", name, message_id, at, **properties))


def browsing(device: str) -> list[dict[str, Any]]:
    """What a visitor does before logging in at checkout: two views of boots, one add to cart."""
    boots = {"product_id": "boots", "category": "shoes"}
    return [
        visit(device, "Product Viewed", f"{device}-v1", "2026-11-02T07:00:00Z", **boots),
        visit(device, "Product Viewed", f"{device}-v2", "2026-11-02T07:05:00Z", **boots),
        visit(device, "Product Added", f"{device}-a1", "2026-11-02T07:10:00Z", **boots, price=80),
    ]


def login(user: str, device: str, message_id: str, at: str = "2026-11-02T07:20:00Z") -> dict[str, Any]:
    return on_device(device, identify(user, message_id, at=at, email=f"{user}@example.com"))


def profile(runtime: LocalRuntime, profile_id: str) -> Profile:
    found = runtime.profiles.get(profile_id)
    assert found is not None, profile_id
    return found


def test_logging_in_moves_the_visitors_history_to_the_shopper_in_one_transaction(
    runtime: LocalRuntime, aws_calls: Any
) -> None:
    ingest(runtime, *browsing("dev-1"))
    ingest(runtime, identify("u1", "u1-old", at="2026-10-20T09:00:00Z", first_name="Ana"))
    aws_calls.counts.clear()

    ingest(runtime, login("u1", "dev-1", "login-1"))

    assert aws_calls.counts["dynamodb.BatchGetItem"] == 1  # the visitor is read with the shopper
    assert aws_calls.counts["dynamodb.TransactWriteItems"] == 1 and aws_calls.counts["dynamodb.PutItem"] == 0
    shopper = profile(runtime, "u1")
    assert shopper.counts == {
        "identify": {"2026-10-20": 1, "2026-11-02": 1},
        "Product Viewed": {"2026-11-02": 2},
        "Product Added": {"2026-11-02": 1},
    }
    assert shopper.cart is not None and [(i.product_id, i.quantity) for i in shopper.cart.items] == [
        ("boots", 1)
    ]
    assert shopper.cart.value == Decimal(80)
    assert shopper.category_views == {"shoes": 2}
    assert len(shopper.activity.viewed["boots"]) == 2
    assert shopper.first_seen == datetime(2026, 10, 20, 9, tzinfo=UTC)
    assert shopper.last_seen == datetime(2026, 11, 2, 7, 20, tzinfo=UTC)
    assert shopper.traits["first_name"] == "Ana" and shopper.anonymous_ids == ["dev-1"]
    visitor = profile(runtime, anonymous_profile_id("dev-1"))
    assert (visitor.linked_to, visitor.linked_at) == ("u1", datetime(2026, 11, 2, 7, 20, tzinfo=UTC))
    assert visitor.counts == {} and visitor.cart is None and visitor.activity.is_empty()


def test_a_duplicated_login_and_replayed_anonymous_events_change_nothing(
    runtime: LocalRuntime, aws_calls: Any
) -> None:
    ingest(runtime, *browsing("dev-1"))
    ingest(runtime, login("u1", "dev-1", "login-1"))
    merged = profile(runtime, "u1")
    aws_calls.counts.clear()

    ingest(runtime, login("u1", "dev-1", "login-1"), *browsing("dev-1"))

    assert profile(runtime, "u1") == merged
    assert aws_calls.counts["dynamodb.PutItem"] == 0 and aws_calls.counts["dynamodb.TransactWriteItems"] == 0


def test_later_anonymous_events_land_on_the_shopper(runtime: LocalRuntime, aws_calls: Any) -> None:
    ingest(runtime, login("u1", "dev-1", "login-1"))  # no anonymous history: the link alone is written
    assert profile(runtime, anonymous_profile_id("dev-1")).linked_to == "u1"
    aws_calls.counts.clear()

    ingest(runtime, *browsing("dev-1"))

    # the link, then the shopper it names (and the viewed products: docs/catalog.md)
    assert aws_calls.counts["dynamodb.BatchGetItem"] == 2 + 1
    assert aws_calls.counts["dynamodb.PutItem"] == 1
    assert profile(runtime, "u1").counts["Product Viewed"] == {"2026-11-02": 2}
    assert profile(runtime, anonymous_profile_id("dev-1")).counts == {}


def test_an_ordinary_event_after_login_costs_no_extra_request(runtime: LocalRuntime, aws_calls: Any) -> None:
    ingest(runtime, login("u1", "dev-1", "login-1"))
    aws_calls.counts.clear()

    ingest(runtime, on_device("dev-1", track("u1", "Product Viewed", "v9", product_id="hat")))

    # the shopper read and written; the product read and written (docs/catalog.md)
    assert dict(aws_calls.counts) == {
        "dynamodb.BatchGetItem": 1 + 1,
        "dynamodb.PutItem": 1,
        "dynamodb.BatchWriteItem": 1,
    }


def test_a_login_and_anonymous_events_in_the_same_batch_are_one_write(
    runtime: LocalRuntime, aws_calls: Any
) -> None:
    aws_calls.counts.clear()

    ingest(runtime, *browsing("dev-1"), login("u1", "dev-1", "login-1"))

    assert aws_calls.counts["dynamodb.TransactWriteItems"] == 1 and aws_calls.counts["dynamodb.PutItem"] == 0
    assert profile(runtime, "u1").counts["Product Viewed"] == {"2026-11-02": 2}
    assert profile(runtime, anonymous_profile_id("dev-1")).linked_to == "u1"


def test_an_alias_links_the_previous_id(runtime: LocalRuntime) -> None:
    ingest(runtime, *browsing("dev-1"))

    ingest(runtime, alias("u1", "dev-1", "alias-1", "2026-11-02T07:15:00Z"))

    assert profile(runtime, "u1").cart is not None
    assert profile(runtime, anonymous_profile_id("dev-1")).linked_to == "u1"


def test_one_shopper_many_devices_gathers_each_devices_history(runtime: LocalRuntime) -> None:
    ingest(runtime, *browsing("phone"), *browsing("laptop"))

    ingest(runtime, login("u1", "phone", "login-1"))
    ingest(runtime, login("u1", "laptop", "login-2", at="2026-11-02T07:45:00Z"))

    shopper = profile(runtime, "u1")
    assert shopper.counts["Product Viewed"] == {"2026-11-02": 4}
    assert shopper.category_views == {"shoes": 4}
    assert shopper.cart is not None and shopper.cart.items[0].quantity == 1  # the later cart, not a sum
    assert shopper.anonymous_ids == ["phone", "laptop"]


def test_a_shared_device_moves_its_history_once_and_follows_the_most_recent_login(
    runtime: LocalRuntime,
) -> None:
    ingest(runtime, *browsing("family-tablet"))
    ingest(runtime, login("u1", "family-tablet", "login-u1", at="2026-11-02T07:20:00Z"))
    ingest(runtime, login("u2", "family-tablet", "login-u2", at="2026-11-02T07:40:00Z"))
    # A late event of the first shopper on the tablet does not take the link back.
    ingest(runtime, on_device("family-tablet", track("u1", "Product Viewed", "late", "2026-11-02T07:30:00Z")))

    ingest(
        runtime, anonymously("family-tablet", track("", "Product Viewed", "after", "2026-11-02T07:50:00Z"))
    )

    first, second = profile(runtime, "u1"), profile(runtime, "u2")
    assert first.counts["Product Viewed"] == {"2026-11-02": 3}  # the tablet's two, and its own late one
    assert first.cart is not None
    assert second.counts["Product Viewed"] == {"2026-11-02": 1}  # only what followed its login
    assert second.cart is None
    tablet = profile(runtime, anonymous_profile_id("family-tablet"))
    assert (tablet.linked_to, tablet.linked_at) == ("u2", datetime(2026, 11, 2, 7, 40, tzinfo=UTC))


class Racing(DynamoProfileStore):
    """Another ingest invocation (``rival``) runs between this batch's read and its first write."""

    def __init__(self, runtime: LocalRuntime, rival: list[dict[str, Any]]) -> None:
        super().__init__(runtime.client("dynamodb"), runtime.table_names["profiles"])
        self.runtime, self.rival, self.writes = runtime, rival, 0

    def _race(self) -> None:
        self.writes += 1
        if self.writes == 1:
            ingest(self.runtime, *self.rival)

    def save(self, profile: Profile) -> bool:
        self._race()
        return super().save(profile)

    def save_linked(self, profile: Profile, links: Sequence[Profile]) -> bool:
        self._race()
        return super().save_linked(profile, links)


def ingest_racing(runtime: LocalRuntime, details: list[dict[str, Any]], rival: list[dict[str, Any]]) -> Any:
    records = [QueueRecord(f"r-{i}", json.dumps({"detail": d})) for i, d in enumerate(details)]
    store = Racing(runtime, rival)
    outcome = ingest_batch(records, store, ParkNothing(), SimulatedClock(runtime.clock.now()))
    assert outcome.failed_record_ids == [] and store.writes == 2  # lost the race once, then wrote
    return outcome


class ParkNothing:
    def park(self, body: str, reason: str, source: str) -> None:
        pytest.fail(f"nothing should be parked: {reason}")


def test_a_merge_racing_a_batch_of_the_visitors_events_folds_them_in_exactly_once(
    runtime: LocalRuntime,
) -> None:
    *before, added = browsing("dev-1")
    ingest(runtime, *before)

    # The login's batch read the visitor with two views; the rival batch adds to the cart meanwhile.
    outcome = ingest_racing(runtime, [login("u1", "dev-1", "login-1")], rival=[added])

    assert outcome.merged == 1
    shopper = profile(runtime, "u1")
    assert shopper.counts["Product Viewed"] == {"2026-11-02": 2}
    assert shopper.counts["Product Added"] == {"2026-11-02": 1}
    assert shopper.cart is not None and shopper.cart.items[0].quantity == 1
    assert profile(runtime, anonymous_profile_id("dev-1")).counts == {}


def test_a_visitors_batch_racing_their_login_follows_it_to_the_shopper(runtime: LocalRuntime) -> None:
    *before, added = browsing("dev-1")
    ingest(runtime, *before)

    # The visitor's add to cart read their anonymous profile; the login moves it meanwhile.
    ingest_racing(runtime, [added], rival=[login("u1", "dev-1", "login-1")])

    shopper = profile(runtime, "u1")
    assert shopper.counts["Product Viewed"] == {"2026-11-02": 2}
    assert shopper.counts["Product Added"] == {"2026-11-02": 1}
    assert shopper.cart is not None and shopper.cart.items[0].quantity == 1
    visitor = profile(runtime, anonymous_profile_id("dev-1"))
    assert visitor.counts == {} and visitor.linked_to == "u1"


def test_two_logins_racing_on_one_device_move_its_history_once(runtime: LocalRuntime) -> None:
    ingest(runtime, *browsing("dev-1"))

    ingest_racing(
        runtime,
        [login("u1", "dev-1", "login-u1", at="2026-11-02T07:20:00Z")],
        rival=[login("u2", "dev-1", "login-u2", at="2026-11-02T07:30:00Z")],
    )

    # u2's login was written first: the history moved to u2; u1's older login leaves the link with u2.
    assert profile(runtime, "u2").counts["Product Viewed"] == {"2026-11-02": 2}
    assert "Product Viewed" not in profile(runtime, "u1").counts
    assert profile(runtime, anonymous_profile_id("dev-1")).linked_to == "u2"


SEEDS = range(8)


@cache
def adversarial_run(seed: int) -> tuple[dict[str, Profile | None], list[Any], Counter[str]]:
    """Each event delivered one to three times, batches reordered, run concurrently, redelivered while
    running: a visitor's browsing, their login and their later logged-out events, published together.
    Returns the profiles of the shopper and both devices, what was parked, and what the adversary did."""
    from fakes import CAMPAIGNS
    from moto import mock_aws

    from shared.campaigns.loader import load_campaign_dir

    events = [*browsing("dev-1"), login("u1", "dev-1", "login-1"), *browsing("dev-2")]
    events += [visit("dev-1", "Product Viewed", f"after-{i}", "2026-11-02T07:40:00Z") for i in range(3)]
    events += [login("u1", "dev-2", "login-2", at="2026-11-02T07:45:00Z")]
    with mock_aws():
        clock = SimulatedClock(datetime(2026, 11, 2, 8, tzinfo=UTC))
        runtime = LocalRuntime(load_campaign_dir(CAMPAIGNS), clock, log_level="CRITICAL", seed=seed)
        runtime.publish(events, copies=[1 + (seed + i) % 3 for i in range(len(events))])
        runtime.drain()
        ids = ("u1", anonymous_profile_id("dev-1"), anonymous_profile_id("dev-2"))
        seen = Counter(runtime.adversary.seen) if runtime.adversary else Counter()
        return {i: runtime.profiles.get(i) for i in ids}, runtime.parked(), seen


@pytest.mark.parametrize("seed", SEEDS)
def test_the_adversary_cannot_fold_a_visitor_twice_or_lose_their_events(seed: int) -> None:
    profiles, parked, _ = adversarial_run(seed)

    shopper = profiles["u1"]
    assert shopper is not None
    assert shopper.counts["Product Viewed"] == {"2026-11-02": 7}  # 2 + 2 before login, 3 after
    assert shopper.counts["Product Added"] == {"2026-11-02": 1 + 1}
    assert shopper.counts["identify"] == {"2026-11-02": 2}
    assert shopper.category_views == {"shoes": 4}
    for device in ("dev-1", "dev-2"):
        link = profiles[anonymous_profile_id(device)]
        assert link is not None and link.linked_to == "u1" and link.counts == {} and link.cart is None
    assert parked == []


def test_the_adversary_did_race_the_visitors_batches() -> None:
    hostility = sum((adversarial_run(seed)[2] for seed in SEEDS), Counter())
    assert hostility["concurrent_same_shopper"] > 0 and hostility["later_batch_first"] > 0, hostility


def test_a_batch_campaign_reaches_the_shopper_once_not_again_through_their_visitors_link() -> None:
    from fakes import daily
    from moto import mock_aws

    from shared.campaigns.loader import Catalog

    everyone = daily("everyone", 9, ["email"], holdout_percent=0)
    with mock_aws():
        clock = SimulatedClock(datetime(2026, 11, 2, 8, tzinfo=UTC))
        runtime = LocalRuntime(Catalog([everyone]), clock, log_level="CRITICAL", gentle=True)
        login = identify(
            "u1", "login", "2026-11-02T07:30:00Z", email="u1@example.com", consent={"email": True}
        )
        runtime.publish([*browsing("dev-1"), *browsing("dev-2")])  # dev-2: a visitor who never logs in
        runtime.drain()
        runtime.publish([on_device("dev-1", login)])
        runtime.drain()

        runtime.advance_to(datetime(2026, 11, 2, 9, 1, tzinfo=UTC))

        decided = sorted((m["user_id"], m["status"], m.get("reason")) for m in runtime.scan("messages"))
        assert decided == [("anon:dev-2", "skipped", "anonymous"), ("u1", "sent", None)]


def test_a_batch_job_chosen_for_a_visitor_who_logs_in_before_it_is_delivered_stays_theirs() -> None:
    from fakes import daily
    from moto import mock_aws

    from shared.campaigns.loader import Catalog
    from shared.deployment import topology

    everyone = daily("everyone", 9, ["email"], holdout_percent=0)
    with mock_aws():
        clock = SimulatedClock(datetime(2026, 11, 2, 9, tzinfo=UTC))
        runtime = LocalRuntime(Catalog([everyone]), clock, log_level="CRITICAL", gentle=True)
        runtime.publish(browsing("dev-1"))
        runtime.drain()
        runtime.invoke("planner", {"campaign_id": "everyone", "occurrence": "2026-11-02T09:00:00Z"})
        runtime.drain(only=[topology.AUDIENCE_QUEUE.key])  # a job for the visitor waits on the queue
        login = identify(
            "u1", "login", "2026-11-02T08:30:00Z", email="u1@example.com", consent={"email": True}
        )
        runtime.publish([on_device("dev-1", login)])
        runtime.drain(only=[topology.INGEST_QUEUE.key])

        runtime.drain()

        # The audience chose the visitor's profile, not the shopper's: its job does not reach the shopper.
        decided = sorted((m["user_id"], m["status"], m.get("reason")) for m in runtime.scan("messages"))
        assert decided == [("anon:dev-1", "skipped", "anonymous")]
