"""Journeys on moto through the real handlers (issue 20): entry from an L4 trigger, waits as one-time
schedules, sends through delivery, branch, split, wait-until with its timeout, the goal, re-entry and
versioning; and the races: goal vs wake-up, duplicate wake-up, duplicate entry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from factory import sent_emails
from fakes import CAMPAIGNS, identify_shopper
from moto import mock_aws
from payloads import anonymously, identify, track

from nudge.local.runtime import LocalRuntime
from shared.campaigns.loader import Catalog, load_campaign_dir
from shared.campaigns.model import Campaign
from shared.core.clock import SimulatedClock
from shared.deployment import topology
from shared.journeys.instance import InstanceStatus, JourneyInstance
from shared.journeys.transitions import WAKE_FIELD

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # 15:00 in Jakarta: outside quiet hours
EMAIL = {"email": {"subject": "{{ event.name | default('Your cart') }}", "html": "<p>Cart</p>"}}
IN_APP = {"in_app": {"title": "Still in your cart", "body": "Come back"}}
DISCOUNT = {"email": {"subject": "10% off", "html": "<p>CART10</p>"}}

CASCADE: dict[str, Any] = {
    "id": "cart-cascade",
    "name": "Cart cascade",
    "level": "L4",
    "trigger": {"event": "Product Added"},
    "goal": {"event": "Order Completed"},
    "reentry": "after 7d",
    "caps": {"per_day": 1, "per_week": 3},  # the journey's messages count as one campaign's
    "steps": [
        {"id": "wait-1h", "type": "wait", "duration": "1h"},
        {"id": "email-cart", "type": "send", "channels": EMAIL},
        {"id": "wait-23h", "type": "wait", "duration": "23h"},
        {"id": "inbox-cart", "type": "send", "channels": IN_APP},
        {"id": "wait-48h", "type": "wait", "duration": "48h"},
        {"id": "big-cart", "type": "branch", "if": ["cart_value > 100"], "else": "done"},
        {"id": "discount", "type": "send", "channels": DISCOUNT},
        {"id": "done", "type": "exit"},
    ],
}


def catalog_with(*journeys: dict[str, Any]) -> Catalog:
    shipped = load_campaign_dir(CAMPAIGNS)
    return Catalog([Campaign.model_validate(j) for j in journeys], shipped.policy, shipped.custom)


@pytest.fixture
def catalog() -> Catalog:
    return catalog_with(CASCADE)


@pytest.fixture
def runtime(catalog: Catalog, request: pytest.FixtureRequest) -> Iterator[LocalRuntime]:
    """Adversarial (seed from the ``seed`` marker, else 0): duplicates, reordering, retries."""
    marker = request.node.get_closest_marker("seed")
    seed = marker.args[0] if marker else 0
    with mock_aws():
        yield LocalRuntime(
            catalog,
            SimulatedClock(T0),
            audience_segments=1,
            log_level="CRITICAL",
            seed=seed,
        )


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def shopper(runtime: LocalRuntime, user_id: str) -> None:
    consent = {"email": True, "push": False}
    identify_shopper(
        runtime,
        user_id,
        at=iso(T0 - timedelta(hours=1)),
        age=None,
        address=None,
        timezone="Asia/Jakarta",
        consent=consent,
    )


def added(user_id: str, message_id: str, at: datetime, price: float = 89.5) -> dict[str, Any]:
    event = track(user_id, "Product Added", message_id, at=iso(at))
    event["properties"] = {"product_id": "p-1", "name": "Trail Runner", "price": price, "cart_id": "c1"}
    return event


def order(user_id: str, message_id: str, at: datetime) -> dict[str, Any]:
    return track(user_id, "Order Completed", message_id, at=iso(at), revenue=89.5)


def publish(runtime: LocalRuntime, *details: dict[str, Any]) -> None:
    runtime.publish(list(details))
    runtime.drain()


def at(runtime: LocalRuntime, moment: datetime) -> None:
    runtime.advance_to(moment)
    runtime.drain()


def instance(runtime: LocalRuntime, user_id: str, journey: str = "cart-cascade") -> JourneyInstance:
    [item] = [i for i in runtime.scan("journeys") if i["user_id"] == user_id and i["journey"] == journey]
    return JourneyInstance.model_validate_json(item["state"])


def decisions(
    runtime: LocalRuntime, user_id: str, journey: str = "cart-cascade"
) -> list[tuple[str, str, str | None]]:
    """(step, status, reason) of the journey's send-log decisions (not the marks of duplicate jobs)."""
    entries = [
        e
        for e in runtime.send_log.entries_for(user_id)
        if e["campaign_id"] == journey and not e["send_key"].endswith("#duplicate")
    ]
    return sorted((e["send_key"].split("#")[2], e["status"], e.get("reason")) for e in entries)


def path(runtime: LocalRuntime, user_id: str, journey: str = "cart-cascade") -> list[tuple[str, str | None]]:
    return [(p.kind.value, p.step) for p in instance(runtime, user_id, journey).path]


def test_the_cascade_waits_sends_and_ends_on_the_branch_for_a_small_cart(runtime: LocalRuntime) -> None:
    shopper(runtime, "ayu")
    publish(runtime, added("ayu", "add-1", T0))
    [(due, _, target)] = runtime.one_time_schedules()
    assert due == T0 + timedelta(hours=1)
    assert json.loads(target["Input"])[WAKE_FIELD] == {
        "user_id": "ayu",
        "journey_id": "cart-cascade",
        "instance": "add-1",
        "step": "wait-1h",
        "seq": 1,
    }
    assert decisions(runtime, "ayu") == []

    at(runtime, T0 + timedelta(minutes=59))
    assert decisions(runtime, "ayu") == []
    at(runtime, T0 + timedelta(hours=1, minutes=16))  # the flexible window is 15 minutes
    assert decisions(runtime, "ayu") == [("email-cart", "sent", None)]
    [email] = sent_emails()
    assert email["Subject"] == "Trail Runner"  # the entry event feeds every step's templates
    assert instance(runtime, "ayu").step == "wait-23h"

    at(runtime, T0 + timedelta(hours=24, minutes=32))
    assert decisions(runtime, "ayu") == [("email-cart", "sent", None), ("inbox-cart", "sent", None)]
    at(runtime, T0 + timedelta(hours=72, minutes=48))
    state = instance(runtime, "ayu")
    assert (state.status, state.step, state.reason, state.seq) == ("completed", "done", "exit", 4)
    assert path(runtime, "ayu") == [
        ("entered", None),
        ("waiting", "wait-1h"),
        ("woke", "wait-1h"),
        ("send", "email-cart"),
        ("waiting", "wait-23h"),
        ("woke", "wait-23h"),
        ("send", "inbox-cart"),
        ("waiting", "wait-48h"),
        ("woke", "wait-48h"),
        ("branch", "big-cart"),
        ("ended", "done"),
    ]
    [branch] = [p for p in state.path if p.kind == "branch"]
    assert branch.detail == "else -> done: 'cart_value > 100' does not hold"
    assert len(decisions(runtime, "ayu")) == 2
    assert runtime.one_time_schedules() == []


def test_a_big_cart_takes_the_branch_to_the_discount(runtime: LocalRuntime) -> None:
    shopper(runtime, "budi")
    publish(runtime, added("budi", "add-1", T0, price=150.0))
    at(runtime, T0 + timedelta(hours=73))
    assert decisions(runtime, "budi") == [
        ("discount", "sent", None),
        ("email-cart", "sent", None),
        ("inbox-cart", "sent", None),
    ]
    state = instance(runtime, "budi")
    [branch] = [p for p in state.path if p.kind == "branch"]
    assert branch.detail == "then -> discount: all rules hold"
    assert (state.status, state.step) == ("completed", "done")


def test_the_goal_during_a_wait_ends_the_journey_and_the_wake_up_is_a_no_op(runtime: LocalRuntime) -> None:
    shopper(runtime, "citra")
    publish(runtime, added("citra", "add-1", T0))
    at(runtime, T0 + timedelta(minutes=30))
    publish(runtime, order("citra", "ord-1", T0 + timedelta(minutes=30)))
    state = instance(runtime, "citra")
    assert (state.status, state.step, state.seq) == ("converted", "wait-1h", 2)
    assert state.reason == "Order Completed at 2026-11-02T08:30:00+00:00"

    at(runtime, T0 + timedelta(hours=80))
    assert decisions(runtime, "citra") == []
    assert instance(runtime, "citra").seq == 2  # the wake-up that fired afterwards changed nothing
    assert [p.kind.value for p in instance(runtime, "citra").path] == ["entered", "waiting", "event", "ended"]


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5])
def test_the_goal_at_the_instant_of_the_wake_up_wins_in_any_order(seed: int, catalog: Catalog) -> None:
    with mock_aws():
        runtime = LocalRuntime(
            catalog, SimulatedClock(T0), audience_segments=1, log_level="CRITICAL", seed=seed
        )
        shopper(runtime, "dewi")
        publish(runtime, added("dewi", "add-1", T0))
        [(due, _, _)] = runtime.one_time_schedules()
        runtime.advance_to(due - timedelta(seconds=1))
        # the order and the wake-up land together: rules, queues and the schedule drained in one pass
        runtime.publish([order("dewi", "ord-1", due)])
        runtime.advance_to(due + timedelta(minutes=16))
        runtime.drain()
        at(runtime, T0 + timedelta(hours=80))

        state = instance(runtime, "dewi")
        assert state.status == "converted"
        assert [status for _, status, _ in decisions(runtime, "dewi")] in ([], ["cancelled"])
        assert not [m for m in runtime.sent if m.campaign_id == "cart-cascade"]


def test_a_duplicated_wake_up_moves_the_instance_once(runtime: LocalRuntime) -> None:
    shopper(runtime, "eka")
    publish(runtime, added("eka", "add-1", T0))
    [(due, _, target)] = runtime.one_time_schedules()
    runtime.send("delivery", [target["Input"], target["Input"]])  # Scheduler's at-least-once, twice over
    runtime.advance_to(due + timedelta(minutes=16))
    runtime.drain()
    runtime.send("delivery", [target["Input"]])  # and once more, late
    runtime.drain()

    assert decisions(runtime, "eka") == [("email-cart", "sent", None)]
    # a wake-up that finds its own transition written repeats its effects: delivery knows the key
    assert {
        e["status"] for e in runtime.send_log.entries_for("eka") if e["send_key"].endswith("#duplicate")
    } <= {"duplicate"}
    assert len([m for m in runtime.sent if m.campaign_id == "cart-cascade"]) == 1
    state = instance(runtime, "eka")
    assert (state.seq, state.step) == (2, "wait-23h")
    assert [s[2]["Input"] for s in runtime.one_time_schedules()] == [
        json.dumps(
            {
                WAKE_FIELD: {
                    "user_id": "eka",
                    "journey_id": "cart-cascade",
                    "instance": "add-1",
                    "step": "wait-23h",
                    "seq": 2,
                }
            }
        )
    ]


def test_a_duplicated_entry_event_enters_once(runtime: LocalRuntime) -> None:
    shopper(runtime, "fajar")
    event = added("fajar", "add-1", T0)
    publish(runtime, event, event)
    publish(runtime, event)
    assert len(runtime.one_time_schedules()) == 1
    assert instance(runtime, "fajar").seq == 1
    at(runtime, T0 + timedelta(hours=2))
    assert decisions(runtime, "fajar") == [("email-cart", "sent", None)]


@pytest.mark.parametrize("reentry", ["after 7d", "always"])
def test_a_second_cart_while_in_the_journey_does_not_enter_again(reentry: str) -> None:
    with mock_aws():
        runtime = LocalRuntime(
            catalog_with({**CASCADE, "reentry": reentry}),
            SimulatedClock(T0),
            audience_segments=1,
            log_level="CRITICAL",
            seed=0,
        )
        shopper(runtime, "gita")
        publish(runtime, added("gita", "add-1", T0))
        at(runtime, T0 + timedelta(minutes=10))
        publish(runtime, added("gita", "add-2", T0 + timedelta(minutes=10)))
        state = instance(runtime, "gita")
        assert (state.instance, state.seq) == ("add-1", 1)
        assert len(runtime.one_time_schedules()) == 1


def test_reentry_after_7d_refuses_an_entry_inside_the_window_and_takes_one_after(
    runtime: LocalRuntime,
) -> None:
    shopper(runtime, "hadi")
    publish(runtime, added("hadi", "add-1", T0))
    at(runtime, T0 + timedelta(minutes=30))
    publish(runtime, order("hadi", "ord-1", T0 + timedelta(minutes=30)))  # converted: ended
    at(runtime, T0 + timedelta(days=6, hours=23))
    publish(runtime, added("hadi", "add-2", T0 + timedelta(days=6, hours=23)))
    assert instance(runtime, "hadi").instance == "add-1"  # inside the 7 days since it entered
    at(runtime, T0 + timedelta(days=7))
    publish(runtime, added("hadi", "add-3", T0 + timedelta(days=7)))
    state = instance(runtime, "hadi")
    assert (state.instance, state.status, state.seq, state.step) == ("add-3", "active", 3, "wait-1h")
    assert state.path[0].kind == "entered" and len(state.path) == 2  # a new instance: a new path


def test_a_deployed_version_moves_in_flight_instances_by_step_id_or_exits_them() -> None:
    """The rule (docs/journeys.md): an instance woken on a newer version goes on by step id from the step
    it waited at; if that step is gone (or is no wait any more), it exits with ``version_changed``."""
    renamed = {**CASCADE, "steps": [{**CASCADE["steps"][0], "id": "first-wait"}, *CASCADE["steps"][1:]]}
    longer = {**CASCADE, "steps": [{**CASCADE["steps"][0], "duration": "2h"}, *CASCADE["steps"][1:]]}
    for deployed, user in ((renamed, "indah"), (longer, "joko")):
        catalog = catalog_with(CASCADE)
        with mock_aws():
            runtime = LocalRuntime(
                catalog, SimulatedClock(T0), audience_segments=1, log_level="CRITICAL", seed=0
            )
            shopper(runtime, user)
            publish(runtime, added(user, "add-1", T0))
            old = instance(runtime, user).version
            new = Campaign.model_validate(deployed)
            catalog._by_id[new.id] = new  # a deploy: the catalog the functions load has the new steps
            at(runtime, T0 + timedelta(hours=2))
            state = instance(runtime, user)
            if user == "indah":
                assert (state.status, state.reason, state.step, state.version) == (
                    "exited",
                    "version_changed",
                    "wait-1h",
                    old,
                )
                assert decisions(runtime, user) == []
            else:
                assert (state.status, state.version, state.step) == ("active", new.version, "wait-23h")
                [note] = [p for p in state.path if p.kind == "version"]
                assert note.detail == f"{old} -> {new.version}"
                assert decisions(runtime, user) == [("email-cart", "sent", None)]


STEPWISE: dict[str, Any] = {
    "id": "stepwise",
    "name": "Every step type",
    "level": "L4",
    "trigger": {"event": "Product Added"},
    "exit_if": ["Signed Out"],
    "reentry": "never",
    "caps": {"per_day": 3, "per_week": 5},
    "steps": [
        {
            "id": "reply",
            "type": "wait",
            "until": {"event": "Checkout Started", "timeout": "2h"},
            "on_event": "checked-out",
            "on_timeout": "morning",
        },
        {"id": "checked-out", "type": "send", "channels": IN_APP, "next": "done"},
        {"id": "morning", "type": "wait", "until_local_time": "10:00"},
        {
            "id": "ab",
            "type": "split",
            "paths": [{"percent": 50, "next": "mail"}, {"percent": 50, "next": "done"}],
        },
        {"id": "mail", "type": "send", "channels": EMAIL},
        {"id": "done", "type": "exit"},
    ],
}


@pytest.fixture
def stepwise() -> Iterator[LocalRuntime]:
    with mock_aws():
        yield LocalRuntime(
            catalog_with(STEPWISE), SimulatedClock(T0), audience_segments=1, log_level="CRITICAL", seed=0
        )


def test_an_awaited_event_before_the_timeout_takes_on_event(stepwise: LocalRuntime) -> None:
    shopper(stepwise, "kiki")
    publish(stepwise, added("kiki", "add-1", T0))
    assert instance(stepwise, "kiki", "stepwise").awaiting == "Checkout Started"
    at(stepwise, T0 + timedelta(minutes=40))
    publish(stepwise, track("kiki", "Checkout Started", "co-1", at=iso(T0 + timedelta(minutes=40))))
    state = instance(stepwise, "kiki", "stepwise")
    assert (state.status, state.step) == ("completed", "done")
    assert decisions(stepwise, "kiki", "stepwise") == [("checked-out", "sent", None)]
    at(stepwise, T0 + timedelta(hours=3))  # the timeout's wake-up finds a stale sequence number
    assert instance(stepwise, "kiki", "stepwise").seq == 2


def test_the_timeout_waits_until_ten_in_the_shoppers_zone_then_splits(stepwise: LocalRuntime) -> None:
    from shared.campaigns.journey import split_bucket

    users = ["lala", "mira", "nina", "oki"]
    for user in users:
        shopper(stepwise, user)
    publish(stepwise, *(added(u, f"add-{u}", T0) for u in users))
    at(stepwise, T0 + timedelta(hours=2, minutes=16))
    # 10:15 UTC is 17:15 in Jakarta: the next 10:00 there is 03:00 UTC the next day
    assert {s[0] for s in stepwise.one_time_schedules()} == {datetime(2026, 11, 3, 3, 0, tzinfo=UTC)}
    assert instance(stepwise, "lala", "stepwise").step == "morning"
    at(stepwise, datetime(2026, 11, 3, 3, 16, tzinfo=UTC))
    for user in users:
        mailed = split_bucket("stepwise", "ab", user) < 50
        assert decisions(stepwise, user, "stepwise") == ([("mail", "sent", None)] if mailed else [])
        [split] = [p for p in instance(stepwise, user, "stepwise").path if p.kind == "split"]
        assert split.detail == ("50% -> mail" if mailed else "50% -> done")
        assert instance(stepwise, user, "stepwise").status == "completed"


def test_an_exit_if_event_ends_the_instance_and_never_allows_no_reentry(stepwise: LocalRuntime) -> None:
    shopper(stepwise, "putu")
    publish(stepwise, added("putu", "add-1", T0))
    at(stepwise, T0 + timedelta(minutes=5))
    publish(stepwise, track("putu", "Signed Out", "so-1", at=iso(T0 + timedelta(minutes=5))))
    state = instance(stepwise, "putu", "stepwise")
    assert (state.status, state.reason) == ("exited", "Signed Out at 2026-11-02T08:05:00+00:00")
    at(stepwise, T0 + timedelta(days=30))
    publish(stepwise, added("putu", "add-2", T0 + timedelta(days=30)))
    assert instance(stepwise, "putu", "stepwise").instance == "add-1"  # reentry: never


def test_a_shopper_in_the_holdout_is_withheld_from_the_whole_journey(catalog: Catalog) -> None:
    from shared.delivery.guards import in_holdout

    held = {**CASCADE, "holdout_percent": 50}
    user = next(u for u in (f"q{i}" for i in range(100)) if in_holdout("cart-cascade", u, 50))
    with mock_aws():
        runtime = LocalRuntime(
            catalog_with(held), SimulatedClock(T0), audience_segments=1, log_level="CRITICAL", seed=0
        )
        shopper(runtime, user)
        publish(runtime, added(user, "add-1", T0))
        state = instance(runtime, user)
        assert (state.status, state.reason) == ("withheld", "holdout")
        assert runtime.one_time_schedules() == []
        assert decisions(runtime, user) == [("email-cart", "withheld_holdout", "holdout 50%")]
        [entry] = [e for e in runtime.send_log.entries_for(user) if e["campaign_id"] == "cart-cascade"]
        assert entry["group"] == "withheld"
        at(runtime, T0 + timedelta(days=4))
        assert not [m for m in runtime.sent if m.campaign_id == "cart-cascade"]


def test_nudge_why_prints_the_shoppers_path_with_each_steps_decision(runtime: LocalRuntime) -> None:
    from nudge.operations import journey_path

    shopper(runtime, "rani")
    publish(runtime, added("rani", "add-1", T0, price=150.0))
    at(runtime, T0 + timedelta(hours=30))
    publish(runtime, order("rani", "ord-1", T0 + timedelta(hours=30)))
    state = instance(runtime, "rani")
    rows = journey_path(state, runtime.send_log.entries_for("rani"))
    assert [(r.at, r.step, r.what, r.detail) for r in rows] == [
        ("2026-11-02 08:00:00", "-", "entered", f"version {state.version}"),
        ("2026-11-02 08:00:00", "wait-1h", "waiting", "until 2026-11-02T09:00:00+00:00"),
        (rows[2].at, "wait-1h", "woke", ""),
        (rows[2].at, "email-cart", "send", "email: sent"),
        (rows[2].at, "wait-23h", "waiting", rows[4].detail),
        (rows[5].at, "wait-23h", "woke", ""),
        (rows[5].at, "inbox-cart", "send", "in_app: sent"),
        (rows[5].at, "wait-48h", "waiting", rows[7].detail),
        ("2026-11-03 14:00:00", "wait-48h", "event", "Order Completed"),
        (
            "2026-11-03 14:00:00",
            "wait-48h",
            "ended",
            "converted: Order Completed at 2026-11-03T14:00:00+00:00",
        ),
    ]
    assert "2026-11-02 09:0" <= rows[2].at <= "2026-11-02 09:15:00"
    assert rows[4].detail.startswith("until 2026-11-03T")


def test_a_wake_up_with_a_send_costs_five_requests_and_an_entry_three(catalog: Catalog) -> None:
    """The cost per transition docs/journeys.md states: entry = instance read + conditional put +
    CreateSchedule (the profile is read only when a rule needs it); a wake-up with a send = instance read +
    profile read (the goal check) + conditional put + one enqueue of the step's job + the next schedule."""
    from collections import Counter

    with mock_aws():
        runtime = LocalRuntime(
            catalog, SimulatedClock(T0), audience_segments=1, log_level="CRITICAL", gentle=True
        )
        shopper(runtime, "sari")

        def by(function: str) -> Counter[str]:
            return Counter({op: n for (who, op), n in runtime.requests.items() if who == function})

        before = by("trigger")
        publish(runtime, added("sari", "add-1", T0))
        assert by("trigger") - before == Counter(
            {"dynamodb.GetItem": 1, "dynamodb.PutItem": 1, "scheduler.CreateSchedule": 1}
        )
        [(due, _, target)] = runtime.one_time_schedules()
        runtime.advance_to(due - timedelta(seconds=1))
        before = by("deliver")
        runtime.send("delivery", [target["Input"]])  # the wake-up as its schedule delivers it
        batch = runtime.receive(topology.DELIVERY_QUEUE, 1)
        runtime.process(topology.DELIVERY_QUEUE, batch)
        assert by("deliver") - before == Counter(
            {
                "dynamodb.GetItem": 2,
                "dynamodb.PutItem": 1,
                "sqs.SendMessageBatch": 1,
                "scheduler.CreateSchedule": 1,
            }
        )
        # a duplicate of it finds its own transition written and repeats the effects (both idempotent)
        runtime.drain(only=["delivery"])  # the email job it made, delivered
        before = by("deliver")
        runtime.send("delivery", [target["Input"]])
        runtime.process(topology.DELIVERY_QUEUE, runtime.receive(topology.DELIVERY_QUEUE, 1))
        assert by("deliver") - before == Counter(
            {"dynamodb.GetItem": 1, "sqs.SendMessageBatch": 1, "scheduler.CreateSchedule": 1}
        )


BATCH: dict[str, Any] = {
    "id": "daily-series",
    "name": "A batch-entered journey",
    "level": "L2",
    "schedule": {"expression": "cron(0 9 * * ? *)", "timezone": "UTC"},
    "reentry": "never",
    "caps": {"per_day": 1, "per_week": 3},
    "steps": [
        {"id": "hello", "type": "send", "channels": IN_APP},
        {"id": "a-day", "type": "wait", "duration": "1d"},
        {"id": "again", "type": "send", "channels": IN_APP},
    ],
}


def test_a_batch_audience_enters_each_chosen_shopper_once_per_occurrence() -> None:
    with mock_aws():
        runtime = LocalRuntime(
            catalog_with(BATCH), SimulatedClock(T0), audience_segments=2, log_level="CRITICAL", seed=0
        )
        for user in ("tari", "umar"):
            shopper(runtime, user)
        at(runtime, T0 + timedelta(hours=1, minutes=1))
        for user in ("tari", "umar"):
            state = instance(runtime, user, "daily-series")
            assert (state.instance, state.step, state.entry) == ("2026-11-02T09:00:00Z", "a-day", None)
            assert decisions(runtime, user, "daily-series") == [("hello", "sent", None)]
        at(runtime, T0 + timedelta(days=1, hours=1, minutes=20))  # the next occurrence: reentry never
        for user in ("tari", "umar"):
            state = instance(runtime, user, "daily-series")
            assert (state.instance, state.status, state.seq) == ("2026-11-02T09:00:00Z", "completed", 2)
            assert decisions(runtime, user, "daily-series") == [
                ("again", "sent", None),
                ("hello", "sent", None),
            ]
        assert [r.key for r in runtime.rules if r.campaign_id == "daily-series"] == []


LOOP: dict[str, Any] = {
    "id": "daily-nudge",
    "name": "A loop through a wait",
    "level": "L4",
    "trigger": {"event": "Product Added"},
    "goal": {"event": "Order Completed"},
    "caps": {"per_day": 2, "per_week": 10},
    "steps": [
        {"id": "a-day", "type": "wait", "duration": "1d"},
        {"id": "nudge", "type": "send", "channels": IN_APP},
        {"id": "again", "type": "branch", "if": ["orders > 1000"], "then": "end", "else": "a-day"},
        {"id": "end", "type": "exit"},
    ],
}


def test_a_loop_sends_its_step_each_time_round_and_an_old_wake_up_moves_nothing() -> None:
    with mock_aws():
        runtime = LocalRuntime(
            catalog_with(LOOP), SimulatedClock(T0), audience_segments=1, log_level="CRITICAL", seed=0
        )
        shopper(runtime, "vina")
        publish(runtime, added("vina", "add-1", T0))
        [(_, _, first)] = runtime.one_time_schedules()
        at(runtime, T0 + timedelta(days=2, minutes=40))
        assert decisions(runtime, "vina", "daily-nudge") == [("nudge", "sent", None), ("nudge", "sent", None)]
        state = instance(runtime, "vina", "daily-nudge")
        assert (state.step, state.seq) == ("a-day", 3)
        runtime.send("delivery", [first["Input"]])  # the first day's wake-up, very late
        runtime.drain()
        assert instance(runtime, "vina", "daily-nudge").seq == 3
        assert len(decisions(runtime, "vina", "daily-nudge")) == 2
        keys = sorted(
            e["send_key"] for e in runtime.send_log.entries_for("vina") if e["campaign_id"] == "daily-nudge"
        )
        assert keys == ["daily-nudge#add-1#nudge#2#vina", "daily-nudge#add-1#nudge#3#vina"]


def test_a_visitor_who_entered_before_logging_in_converts_on_the_shoppers_order_at_once(
    runtime: LocalRuntime,
) -> None:
    """The order of the shopper the visitor became names the device (its anonymousId): the goal finds the
    instance under the visitor's anon: id, without waiting for the next wake-up's profile check."""
    publish(runtime, anonymously("dev-1", added("nobody", "add-anon", T0)))
    assert instance(runtime, "anon:dev-1").status == InstanceStatus.ACTIVE
    login = identify("ayu", "login-ayu", iso(T0 + timedelta(minutes=10)), timezone="Asia/Jakarta")
    publish(runtime, {**login, "anonymousId": "dev-1"})
    publish(runtime, {**order("ayu", "order-1", T0 + timedelta(minutes=30)), "anonymousId": "dev-1"})
    ended = instance(runtime, "anon:dev-1")
    assert (ended.status, ended.step, ended.reason) == (
        InstanceStatus.CONVERTED,
        "wait-1h",  # before its wake-up: the routed order ended it
        f"Order Completed at {T0.isoformat()}",  # the bus's time: the runtime's clock has not moved
    )
    at(runtime, T0 + timedelta(hours=2))
    assert decisions(runtime, "ayu") == [] and decisions(runtime, "anon:dev-1") == []
