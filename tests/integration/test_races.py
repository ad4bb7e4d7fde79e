"""Races the adversarial runtime found (docs/design.md, "Races the adversarial runtime found"), each
pinned on the gentle runtime by driving the interleaving that loses: here, delivery before ingest."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from factory import sent_emails
from fakes import catalog_without
from moto import mock_aws
from payloads import identify, track

from nudge.local.runtime import LocalRuntime
from shared.campaigns.loader import Catalog
from shared.core.clock import SimulatedClock
from shared.delivery.guards import in_holdout
from shared.delivery.profile_wait import PROFILE_WAIT
from shared.deployment import topology

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # a Monday, 15:00 in Jakarta: outside quiet hours


@pytest.fixture
def gentle() -> Iterator[LocalRuntime]:
    """The shipped campaigns with the one-message welcome (an L4 trigger that sends at once) the races
    are about, in place of the welcome-series journey (tests/fakes.py)."""
    with mock_aws():
        yield LocalRuntime(catalog_without(), SimulatedClock(T0), log_level="CRITICAL", gentle=True)


def first(campaign: str) -> str:
    """A shopper id outside the campaign's holdout."""
    catalog: Catalog = catalog_without()
    percent = catalog.get(campaign).holdout_percent  # type: ignore[union-attr]
    return next(u for u in (f"new{i}" for i in range(200)) if not in_holdout(campaign, u, percent))


def decisions(runtime: LocalRuntime, user_id: str, campaign: str) -> list[tuple[str, str | None]]:
    return [
        (e["status"], e.get("reason"))
        for e in runtime.send_log.entries_for(user_id)
        if e["campaign_id"] == campaign
    ]


def test_a_brand_new_shoppers_welcome_is_sent_when_delivery_runs_before_ingest(gentle: LocalRuntime) -> None:
    user = first("welcome")
    gentle.publish(
        [identify(user, "id-1", at="2026-11-02T07:59:00Z", email="new@example.com", consent={"email": True})]
    )
    # EventBridge invoked the trigger; its job reaches delivery before ingest folded the identify.
    gentle.drain(only=[topology.DELIVERY_QUEUE.key])
    assert decisions(gentle, user, "welcome") == []  # not decided on a profile that is not there yet
    ((at, name, _),) = gentle.one_time_schedules()
    assert at == T0 + timedelta(seconds=30)  # delivery looks again, at the time, without a flexible window
    schedule = gentle.client("scheduler").get_schedule(GroupName=gentle.names.deferral_group, Name=name)
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    gentle.drain()  # ingest catches up
    gentle.advance_to(T0 + timedelta(minutes=2))  # delivery's next look at the profile

    assert decisions(gentle, user, "welcome") == [("sent", None)]
    assert [m["To"] for m in sent_emails()] == ["new@example.com"]
    assert gentle.parked() == []


def test_a_first_time_buyers_thank_you_is_sent_when_delivery_runs_before_ingest(gentle: LocalRuntime) -> None:
    user = first("order-thank-you")
    endpoint = gentle.register_push_endpoint("GCM", "device-1", user_id=user)
    gentle.publish(
        [
            identify(user, "id-1", at="2026-11-02T07:58:00Z", consent={"push": True}, push_endpoint=endpoint),
            track(user, "Order Completed", "order-1", at="2026-11-02T07:59:00Z", order_id="o-1", revenue=20),
        ]
    )
    gentle.drain(only=[topology.DELIVERY_QUEUE.key])
    assert decisions(gentle, user, "order-thank-you") == []
    gentle.drain()
    gentle.advance_to(T0 + timedelta(minutes=2))

    assert decisions(gentle, user, "order-thank-you") == [("sent", None)]
    assert gentle.parked() == []


def test_a_job_whose_profile_never_comes_is_parked_with_the_reason_once_the_wait_is_over(
    gentle: LocalRuntime,
) -> None:
    # The bound: by then ingest has folded the event or parked it (its last receive has timed out).
    ingest = topology.INGEST_QUEUE
    assert (
        timedelta(
            seconds=ingest.max_batching_window_s + ingest.visibility_timeout_s * ingest.max_receive_count
        )
        == PROFILE_WAIT
    )
    user = first("welcome")
    gentle.publish([identify(user, "id-1", at="2026-11-02T07:59:00Z", email="x@example.com")])
    gentle.drain(only=[topology.DELIVERY_QUEUE.key])
    # ingest never folds it (say it was parked): throw the ingest queue's copy away
    sqs = gentle.client("sqs")
    sqs.purge_queue(QueueUrl=gentle.queue_urls[topology.INGEST_QUEUE.key])

    gentle.advance_to(T0 + PROFILE_WAIT - timedelta(seconds=1))
    assert gentle.parked() == [] and decisions(gentle, user, "welcome") == []
    gentle.advance_to(T0 + PROFILE_WAIT + timedelta(minutes=1))

    (parked,) = gentle.parked()
    assert parked.queue == topology.DELIVERY_QUEUE.dlq_key
    assert parked.reason.startswith(
        f"ProfileNeverArrived: unknown_user: no profile {int(PROFILE_WAIT.total_seconds())} s after"
    )
    assert json.loads(parked.body)["send_key"] == f"welcome#once#{user}"
    assert sent_emails() == []
