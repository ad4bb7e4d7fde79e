"""Experiments executed on moto: the daily scoring run's planner reviews every experiment on the counts
delivery and ingest add to its item, writes the state (weights, winner, the decision with its evidence)
once per run, and delivery draws with the reviewed weights."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fakes import catalog_without, identify_shopper
from moto import mock_aws
from payloads import track

from nudge.local.runtime import LocalRuntime
from shared.adapters.dynamo.experiments import DynamoExperimentStore
from shared.campaigns.jobs import DeliveryJob
from shared.campaigns.loader import Catalog
from shared.core.clock import SimulatedClock
from shared.delivery.guards import in_holdout
from shared.experiments.assignment import assign_variant
from shared.experiments.scheduled import experiments_of
from shared.experiments.store import CONVERTED, SENT, StoredExperiment

SALE = "weekend-sale-sea"  # L1, 10% holdout, goal: Order Completed within 72 h
EXPERIMENT = f"{SALE}:send"
START = datetime(2026, 11, 7, 3, tzinfo=UTC)
RUN = "2026-11-08T02:00:00Z"
NEXT_RUN = "2026-11-09T02:00:00Z"


def sale_with_variants(**experiment: Any) -> Catalog:
    """The shipped catalog with the weekend sale as two subjects, ``experiment`` as its experiment."""
    shipped = catalog_without("welcome")
    sale = shipped.get(SALE)
    assert sale is not None and sale.channels.email is not None
    free = sale.channels.email.model_copy(update={"subject": "Free shipping all weekend"})
    tested = sale.model_validate(
        {
            **sale.model_dump(exclude_none=True),
            "variants": [
                {"id": "forty", "weight": 1},
                {"id": "free-shipping", "channels": {"email": free.model_dump(exclude_none=True)}},
            ],
            "experiment": experiment,
        }
    )
    # the shipped experiments left out: these tests count what the review writes for the sale's
    others = [c for c in shipped if c.id != SALE and not any(e for e in experiments_of(Catalog([c])))]
    return Catalog([*others, tested], shipped.policy, shipped.custom)


def start(catalog: Catalog) -> Iterator[LocalRuntime]:
    with mock_aws():
        clock = SimulatedClock(START)
        yield LocalRuntime(catalog, clock, audience_segments=1, log_level="CRITICAL", gentle=True)


@pytest.fixture
def winner() -> Iterator[LocalRuntime]:
    yield from start(sale_with_variants(mode="winner", effect=0.05, min_sample=200))


@pytest.fixture
def bandit() -> Iterator[LocalRuntime]:
    yield from start(sale_with_variants(mode="bandit", floor_percent=10, reweight_every="1d"))


def store(runtime: LocalRuntime) -> DynamoExperimentStore:
    return DynamoExperimentStore(runtime.client("dynamodb"), runtime.table_names["models"])


def stored(runtime: LocalRuntime) -> StoredExperiment:
    return store(runtime).read([EXPERIMENT])[EXPERIMENT]


def count(runtime: LocalRuntime, sent: dict[str, int], converted: dict[str, int]) -> None:
    store(runtime).add(EXPERIMENT, SENT, sent)
    store(runtime).add(EXPERIMENT, CONVERTED, converted)


def treated(count: int, prefix: str = "u") -> list[str]:
    return [u for u in (f"{prefix}{i}" for i in range(count * 3)) if not in_holdout(SALE, u, 10)][:count]


def deliver_sale(runtime: LocalRuntime, users: list[str], occurrence: str = "2026-11-08T03:00:00Z") -> None:
    jobs = (DeliveryJob.for_occurrence(SALE, occurrence, u).model_dump_json() for u in users)
    runtime.invoke("deliver", runtime.sqs_event("delivery", jobs))


def sale_variants(runtime: LocalRuntime, users: list[str]) -> dict[str, str | None]:
    return {
        e["user_id"]: e.get("variant")
        for u in users
        for e in runtime.send_log.entries_for(u)
        if e["campaign_id"] == SALE and e["status"] == "sent"
    }


def test_the_scheduled_review_declares_a_significant_winner_with_its_evidence(winner: LocalRuntime) -> None:
    count(winner, {"forty": 400, "free-shipping": 400}, {"forty": 20, "free-shipping": 60})

    result = winner.invoke("score_planner", {"run": RUN})

    found = stored(winner)
    assert result["experiments_written"] == 1
    assert found.run == RUN
    assert found.state is not None
    assert found.state.winner == "free-shipping"
    assert found.state.weights == {"forty": 0.0, "free-shipping": 1.0}
    [decision] = found.state.history
    assert (decision.action, decision.at) == ("winner", datetime(2026, 11, 8, 2, tzinfo=UTC))
    evidence = decision.evidence["variants"]
    assert {v: (e["shoppers"], e["converted"], e["rate"]) for v, e in evidence.items()} == {
        "forty": (400, 20, 0.05),
        "free-shipping": (400, 60, 0.15),
    }
    assert evidence["free-shipping"]["ci95"] == [0.118345, 0.188314]  # Wilson, 60 of 400
    assert decision.evidence["p_values"]["forty|free-shipping"] < 0.05
    assert evidence["free-shipping"]["p_best"] > 0.99


def test_a_duplicated_scheduled_run_writes_nothing_the_first_did_not(winner: LocalRuntime) -> None:
    count(winner, {"forty": 100, "free-shipping": 100}, {"forty": 5, "free-shipping": 9})
    winner.invoke("score_planner", {"run": RUN})
    first = stored(winner)
    count(winner, {"forty": 300, "free-shipping": 300}, {"forty": 15, "free-shipping": 51})  # counts moved on

    again = winner.invoke("score_planner", {"run": RUN})  # the scheduler's duplicate of the same run

    assert again["experiments_written"] == 0
    assert stored(winner).state == first.state
    assert first.state is not None and first.state.winner is None  # too few shoppers at the first look
    assert [d.action for d in first.state.history] == ["looked"]


def test_not_significant_yet_no_winner_and_the_weights_stay(winner: LocalRuntime) -> None:
    count(winner, {"forty": 400, "free-shipping": 400}, {"forty": 20, "free-shipping": 24})

    winner.invoke("score_planner", {"run": RUN})

    state = stored(winner).state
    assert state is not None
    assert (state.winner, state.closed, state.weights) == (None, False, {"forty": 1.0, "free-shipping": 1.0})


def test_delivery_sends_every_shopper_the_winner_once_the_review_declared_it(winner: LocalRuntime) -> None:
    earlier, users = treated(12)[:4], treated(12)[4:]
    for user in earlier + users:
        identify_shopper(winner, user, at="2026-11-07T02:00:00Z", timezone="Asia/Jakarta")
    drawn = {u: assign_variant(EXPERIMENT, u, {"forty": 1, "free-shipping": 1}) for u in users}
    assert set(drawn.values()) == {"forty", "free-shipping"}  # by the file's weights, both would be drawn
    deliver_sale(winner, earlier, occurrence="2026-11-07T03:00:00Z")  # read before any review: the file's
    before = stored(winner).sent
    count(winner, {"forty": 400, "free-shipping": 400}, {"forty": 20, "free-shipping": 60})
    winner.invoke("score_planner", {"run": RUN})
    winner.clock.advance(timedelta(days=1))

    deliver_sale(winner, users)

    assert sale_variants(winner, users) == dict.fromkeys(users, "free-shipping")
    after = stored(winner).sent  # the batch's 8 sends added with one request
    assert after == {
        "forty": 400 + before.get("forty", 0),
        "free-shipping": 408 + before.get("free-shipping", 0),
    }


def test_a_batch_adds_its_sends_per_variant_and_a_credited_order_converts_once(winner: LocalRuntime) -> None:
    users, [unreachable] = treated(6), treated(1, prefix="x")
    for user in users:
        identify_shopper(winner, user, at="2026-11-07T02:00:00Z", timezone="Asia/Jakarta")
    no_email = {"email": False, "push": False, "in_app": False}
    identify_shopper(
        winner, unreachable, at="2026-11-07T02:00:00Z", timezone="Asia/Jakarta", consent=no_email
    )
    deliver_sale(winner, [*users, unreachable], occurrence="2026-11-07T03:00:00Z")
    [refused] = [e for e in winner.send_log.entries_for(unreachable) if e["campaign_id"] == SALE]
    assert (refused["status"], refused["variant"] is not None) == ("no_consent", True)  # drawn, not sent
    drawn = sale_variants(winner, users)
    expected: dict[str, int] = {}
    for variant in drawn.values():
        expected[str(variant)] = expected.get(str(variant), 0) + 1
    buyer = users[0]
    placed = track(buyer, "Order Completed", "order-1", at="2026-11-07T09:00:00Z", order_id="o1", revenue=40)
    winner.clock.advance(timedelta(hours=6))

    winner.publish([placed, placed])  # EventBridge delivered it twice
    winner.drain()
    winner.invoke("ingest", winner.sqs_event("ingest", [json.dumps({"detail": placed})], receive_count=2))

    found = stored(winner)
    assert (found.sent, found.converted) == (expected, {drawn[buyer]: 1})
    assert found.state is None  # counted, not yet reviewed


def test_the_bandit_reweights_once_a_day_with_the_floor(bandit: LocalRuntime) -> None:
    count(bandit, {"forty": 300, "free-shipping": 300}, {"forty": 15, "free-shipping": 45})
    bandit.invoke("score_planner", {"run": RUN})  # the first look starts the clock of reweight_every
    bandit.invoke("score_planner", {"run": NEXT_RUN})
    bandit.invoke("score_planner", {"run": NEXT_RUN})  # duplicated

    state = stored(bandit).state
    assert state is not None
    assert [d.action for d in state.history] == ["looked", "reweighted"]
    assert state.weights["forty"] == pytest.approx(0.1, abs=1e-6)  # free-shipping is best in ~all draws
    assert state.weights["free-shipping"] == pytest.approx(0.9, abs=1e-6)
    assert state.history[-1].evidence["variants"]["free-shipping"]["p_best"] == 1.0


def test_max_duration_runs_from_the_experiments_first_send_not_its_first_review(winner: LocalRuntime) -> None:
    from shared.experiments.scheduled import review_all

    catalog = winner.catalog
    experiments = store(winner)
    first_look = datetime(2026, 11, 1, 2, tzinfo=UTC)  # a review before anything was sent
    review_all(catalog, experiments, first_look, "2026-11-01T02:00:00Z")
    assert stored(winner).first_sent is None
    first_send = datetime(2026, 11, 7, 3, 0, 5, tzinfo=UTC)
    experiments.add(EXPERIMENT, SENT, {"forty": 30, "free-shipping": 30}, first_send)
    experiments.add(EXPERIMENT, SENT, {"forty": 30}, first_send + timedelta(days=1))  # kept: the first
    experiments.add(EXPERIMENT, CONVERTED, {"forty": 1})
    assert stored(winner).first_sent == first_send

    # 14 days after the first look, 7 after the first send: still running
    review_all(catalog, experiments, first_look + timedelta(days=14), "2026-11-15T02:00:00Z")
    running = stored(winner).state
    assert running is not None and (running.started, running.closed) == (first_send, False)
    # 14 days after the first send: closed with no winner
    review_all(catalog, experiments, first_send + timedelta(days=14), "2026-11-21T03:00:06Z")
    closed = stored(winner).state
    assert closed is not None and (closed.closed, closed.history[-1].action) == (True, "no_winner")


def test_a_batch_records_its_first_send_on_the_experiment_and_a_later_one_keeps_it(
    winner: LocalRuntime,
) -> None:
    first, later = treated(3), treated(3, prefix="y")
    for user in (*first, *later):
        identify_shopper(winner, user, at="2026-11-07T02:00:00Z", timezone="Asia/Jakarta")
    deliver_sale(winner, first, occurrence="2026-11-07T03:00:00Z")
    winner.clock.advance(timedelta(hours=2))
    deliver_sale(winner, later, occurrence="2026-11-07T03:00:00Z")

    found = stored(winner)
    assert sum(found.sent.values()) == 6
    assert found.first_sent == START
