"""The journeys Nudge ships, from their files, on moto through the real handlers (issue 20): the welcome
series (welcome, a top-category nudge at 2 days, a first-order offer at 7, an order ending it), the
post-purchase review and cross-sell, the at-risk save entered on new scores and woken at 10:00 local."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fakes import CAMPAIGNS, identify_shopper
from moto import mock_aws
from payloads import track
from test_journeys import decisions, iso

from nudge.local.runtime import LocalRuntime
from shared.campaigns.loader import Catalog, load_campaign_dir
from shared.core.clock import SimulatedClock
from shared.delivery.guards import in_holdout
from shared.journeys.instance import InstanceStatus, JourneyInstance
from shared.journeys.segments import SegmentEntries

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # 15:00 in Jakarta: outside quiet hours


def shipped(*ids: str) -> Catalog:
    full = load_campaign_dir(CAMPAIGNS)
    return Catalog([c for c in full if c.id in ids], full.policy, full.custom)


@pytest.fixture
def runtime(request: pytest.FixtureRequest) -> Iterator[LocalRuntime]:
    """Gentle (in order), with the shipped journey the test names (indirect parameter)."""
    catalog = shipped(request.param)
    with mock_aws():
        yield LocalRuntime(
            catalog, SimulatedClock(T0), audience_segments=1, log_level="CRITICAL", gentle=True
        )


def outside_holdout(journey: str) -> str:
    percent = load_campaign_dir(CAMPAIGNS).get(journey).holdout_percent  # type: ignore[union-attr]
    return next(u for u in (f"s{i}" for i in range(100)) if not in_holdout(journey, u, percent))


def at(runtime: LocalRuntime, moment: datetime) -> None:
    runtime.advance_to(moment)
    runtime.drain()


def instance(runtime: LocalRuntime, user_id: str, journey: str) -> JourneyInstance:
    [item] = [i for i in runtime.scan("journeys") if i["user_id"] == user_id and i["journey"] == journey]
    return JourneyInstance.model_validate_json(item["state"])


def sent_steps(runtime: LocalRuntime, user_id: str, journey: str) -> list[str]:
    return [step for step, status, _ in decisions(runtime, user_id, journey) if status == "sent"]


def shopper(runtime: LocalRuntime, user_id: str, at: datetime = T0) -> None:
    consent = {"email": True, "push": False}
    identify_shopper(
        runtime, user_id, at=iso(at), age=None, address=None, timezone="Asia/Jakarta", consent=consent
    )
    runtime.drain()


def order(user_id: str, message_id: str, moment: datetime, **properties: Any) -> dict[str, Any]:
    return track(user_id, "Order Completed", message_id, at=iso(moment), revenue=40.0, **properties)


@pytest.mark.parametrize("runtime", ["welcome-series"], indirect=True)
def test_the_welcome_series_welcomes_nudges_and_offers_to_a_shopper_who_never_orders(
    runtime: LocalRuntime,
) -> None:
    user = outside_holdout("welcome-series")
    shopper(runtime, user)
    assert sent_steps(runtime, user, "welcome-series") == ["welcome"]
    at(runtime, T0 + timedelta(days=2, minutes=1))
    assert sent_steps(runtime, user, "welcome-series") == ["top-category", "welcome"]  # in-app: no push
    shopper(runtime, user, T0 + timedelta(days=3))  # a second identify enters nothing: reentry never
    at(runtime, T0 + timedelta(days=7, minutes=2))
    assert sent_steps(runtime, user, "welcome-series") == ["first-order-offer", "top-category", "welcome"]
    ended = instance(runtime, user, "welcome-series")
    assert (ended.status, ended.step, ended.seq) == (InstanceStatus.COMPLETED, "done", 3)


@pytest.mark.parametrize("runtime", ["welcome-series"], indirect=True)
def test_an_order_ends_the_welcome_series_before_the_offer(runtime: LocalRuntime) -> None:
    user = outside_holdout("welcome-series")
    shopper(runtime, user)
    at(runtime, T0 + timedelta(days=3))
    runtime.publish([order(user, "o-1", T0 + timedelta(days=3))])
    runtime.drain()
    at(runtime, T0 + timedelta(days=8))
    assert sent_steps(runtime, user, "welcome-series") == ["top-category", "welcome"]
    ended = instance(runtime, user, "welcome-series")
    assert (ended.status, ended.step) == (InstanceStatus.CONVERTED, "wait-5d")


@pytest.mark.parametrize("runtime", ["post-purchase"], indirect=True)
def test_post_purchase_asks_for_a_review_at_3_days_and_cross_sells_at_17(runtime: LocalRuntime) -> None:
    user = outside_holdout("post-purchase")
    shopper(runtime, user, T0 - timedelta(hours=1))
    runtime.publish([order(user, "o-1", T0, order_id="A-1")])
    runtime.drain()
    at(runtime, T0 + timedelta(days=3, minutes=1))
    assert sent_steps(runtime, user, "post-purchase") == ["review-request"]
    at(runtime, T0 + timedelta(days=17, minutes=2))
    assert sent_steps(runtime, user, "post-purchase") == ["cross-sell", "review-request"]
    ended = instance(runtime, user, "post-purchase")
    assert (ended.status, ended.reason) == (InstanceStatus.COMPLETED, "end_of_steps")


@pytest.mark.parametrize("runtime", ["at-risk-save"], indirect=True)
def test_the_at_risk_save_emails_on_entry_and_pushes_at_the_next_10_local(runtime: LocalRuntime) -> None:
    user = outside_holdout("at-risk-save")
    shopper(runtime, user, T0 - timedelta(hours=1))
    [profile] = [p for p in runtime.all_profiles() if p.user_id == user]
    entries: SegmentEntries = runtime._ports["scorer"].worker.segments  # the scorer's own, as wired
    at_risk = profile.model_copy(update={"scores": {"rfm": {"segment": "at_risk", "r": 1, "f": 3, "m": 4}}})
    [entered] = entries.enter_started(entries.matching(profile, T0), at_risk, "scores-run-1", T0)
    runtime.drain()
    assert entered.instance is not None
    assert (entered.instance.step, entered.instance.instance) == ("wait-10am", "scores-run-1")
    assert sent_steps(runtime, user, "at-risk-save") == ["email-save"]
    [(due, _, _)] = runtime.one_time_schedules()
    assert due == datetime(2026, 11, 3, 3, 0, tzinfo=UTC)  # 10:00 the next day in Jakarta (UTC+7)
    assert entries.enter_started(entries.matching(at_risk, T0), at_risk, "scores-run-2", T0) == []
    at(runtime, datetime(2026, 11, 3, 3, 1, tzinfo=UTC))
    assert sent_steps(runtime, user, "at-risk-save") == ["email-save", "push-save"]  # in-app: no push consent


@pytest.mark.parametrize("runtime", ["at-risk-save"], indirect=True)
def test_the_at_risk_save_sends_both_messages_when_10_local_comes_the_same_day(runtime: LocalRuntime) -> None:
    """Entered at 09:00 in Jakarta: the push follows at 10:00 that day, within the journey's own daily cap."""
    user = outside_holdout("at-risk-save")
    morning = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)  # 09:00 in Jakarta
    at(runtime, morning)
    shopper(runtime, user, morning - timedelta(minutes=5))
    [profile] = [p for p in runtime.all_profiles() if p.user_id == user]
    entries: SegmentEntries = runtime._ports["scorer"].worker.segments
    at_risk = profile.model_copy(update={"scores": {"rfm": {"segment": "cant_lose", "r": 1, "f": 5, "m": 5}}})
    entries.enter_started(entries.matching(profile, morning), at_risk, "scores-run-1", morning)
    runtime.drain()
    at(runtime, morning + timedelta(hours=1, minutes=1))
    assert sent_steps(runtime, user, "at-risk-save") == ["email-save", "push-save"]
