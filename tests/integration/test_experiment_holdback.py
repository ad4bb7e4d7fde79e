"""A batch send's holdback on moto: `winner` with `sample_percent` sends the tested sample at the
occurrence and defers the rest by `wait` through one-time schedules; the daily review between decides,
and the rest get the winner (or, with none significant, the variant leading on the counts), each once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from factory import ses_sent_count
from fakes import catalog_without
from moto import mock_aws
from payloads import identify

from nudge.local.runtime import LocalRuntime
from shared.adapters.dynamo.experiments import DynamoExperimentStore
from shared.campaigns.jobs import DeliveryJob
from shared.campaigns.loader import Catalog
from shared.core.clock import SimulatedClock
from shared.delivery.guards import in_holdout
from shared.experiments.assignment import in_sample
from shared.experiments.scheduled import experiments_of
from shared.experiments.store import CONVERTED, SENT

SALE = "weekend-sale-sea"  # Saturdays 10:00 in Jakarta (03:00 UTC), 10% holdout
EXPERIMENT = f"{SALE}:send"
OCCURRENCE = "2026-11-07T03:00:00Z"
RELEASE = datetime(2026, 11, 8, 3, tzinfo=UTC)  # the occurrence + wait (24h)


def catalog_with_holdback() -> Catalog:
    shipped = catalog_without("welcome")
    sale = shipped.get(SALE)
    assert sale is not None and sale.channels.email is not None
    free = sale.channels.email.model_copy(update={"subject": "Free shipping all weekend"})
    tested = sale.model_validate(
        {
            **sale.model_dump(exclude_none=True),
            "variants": [
                {"id": "forty"},
                {"id": "free-shipping", "channels": {"email": free.model_dump(exclude_none=True)}},
            ],
            "experiment": {"mode": "winner", "sample_percent": 20, "wait": "24h", "effect": 0.05},
        }
    )
    # the shipped experiments left out: these tests count what the review writes for the sale's
    others = [c for c in shipped if c.id != SALE and not any(e for e in experiments_of(Catalog([c])))]
    return Catalog([*others, tested], shipped.policy, shipped.custom)


@pytest.fixture
def runtime() -> Iterator[LocalRuntime]:
    with mock_aws():
        clock = SimulatedClock(datetime(2026, 11, 7, 1, tzinfo=UTC))
        yield LocalRuntime(
            catalog_with_holdback(), clock, audience_segments=1, log_level="CRITICAL", gentle=True
        )


def audience(runtime: LocalRuntime, n: int) -> set[str]:
    """n shoppers in the sale's audience (Jakarta, 25); the ids it reaches (less its holdout)."""
    runtime.publish(
        [
            identify(
                f"h{i:03d}",
                f"id-{i}",
                email=f"h{i}@example.com",
                age=25,
                address={"country": "ID"},
                timezone="Asia/Jakarta",
                consent={"email": True},
            )
            for i in range(n)
        ]
    )
    runtime.drain()
    return {f"h{i:03d}" for i in range(n) if not in_holdout(SALE, f"h{i:03d}", 10)}


def sent(runtime: LocalRuntime) -> dict[str, Any]:
    return {
        m["user_id"]: m.get("variant")
        for m in runtime.scan("messages")
        if m["campaign_id"] == SALE and m["status"] == "sent"
    }


def count(runtime: LocalRuntime, sends: dict[str, int], conversions: dict[str, int]) -> None:
    store = DynamoExperimentStore(runtime.client("dynamodb"), runtime.table_names["models"])
    store.add(EXPERIMENT, SENT, sends)
    store.add(EXPERIMENT, CONVERTED, conversions)


def test_the_sample_is_sent_now_and_the_rest_the_winner_after_the_wait_each_once(
    runtime: LocalRuntime,
) -> None:
    reached = audience(runtime, 80)
    sample = {u for u in reached if in_sample(EXPERIMENT, u, 20)}
    assert 0 < len(sample) < len(reached) // 2

    runtime.advance_to(datetime(2026, 11, 7, 3, 1, tzinfo=UTC))
    runtime.invoke("planner", {"campaign_id": SALE, "occurrence": OCCURRENCE})  # the schedule fired twice
    runtime.drain()

    assert set(sent(runtime)) == sample
    assert {v for v in sent(runtime).values()} == {"forty", "free-shipping"}  # the sample draws both
    everyone = {f"h{i:03d}" for i in range(80)}  # the holdout's jobs wait too (withheld when they come)
    outside = {u for u in everyone if not in_sample(EXPERIMENT, u, 20)}
    waiting = [when for when, _, _ in runtime.one_time_schedules()]
    assert waiting == [RELEASE] * len(outside)  # one schedule each, however often planned

    count(runtime, {"forty": 400, "free-shipping": 400}, {"forty": 20, "free-shipping": 60})
    runtime.advance_to(RELEASE + timedelta(minutes=1))  # the daily review at 02:00 declares the winner

    assert sent(runtime) == {
        **{u: v for u, v in sent(runtime).items() if u in sample},
        **dict.fromkeys(reached - sample, "free-shipping"),
    }
    assert ses_sent_count() == len(reached)
    rest = sorted(reached - sample)[0]
    job = DeliveryJob.for_occurrence(SALE, OCCURRENCE, rest).model_copy(update={"holdback": True})
    runtime.invoke("deliver", runtime.sqs_event("delivery", [job.model_dump_json()], receive_count=2))
    assert ses_sent_count() == len(reached)  # redelivered: nothing sent twice


def test_with_no_winner_significant_at_the_wait_the_rest_get_the_leading_variant(
    runtime: LocalRuntime,
) -> None:
    reached = audience(runtime, 40)
    sample = {u for u in reached if in_sample(EXPERIMENT, u, 20)}
    runtime.advance_to(datetime(2026, 11, 7, 3, 1, tzinfo=UTC))
    count(runtime, {"forty": 100, "free-shipping": 100}, {"forty": 15, "free-shipping": 5})  # < min_sample

    runtime.advance_to(RELEASE + timedelta(minutes=1))

    store = DynamoExperimentStore(runtime.client("dynamodb"), runtime.table_names["models"])
    state = store.read([EXPERIMENT])[EXPERIMENT].state
    assert state is not None and state.winner is None
    assert {u: v for u, v in sent(runtime).items() if u not in sample} == dict.fromkeys(
        reached - sample, "forty"
    )
