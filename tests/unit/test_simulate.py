"""nudge simulate: demand, caps and quiet hours over simulated weeks of the local store."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from fakes import CAMPAIGNS, daily

from nudge.simulate import SimulatedDelivery, SimulationOptions, SimulationReport, simulate
from shared.campaigns.jobs import DeliveryJob
from shared.campaigns.loader import Catalog, load_campaign_dir
from shared.campaigns.policy import DeliveryPolicy
from shared.profiles.profile import Profile

OPTIONS = SimulationOptions(users=150, weeks=2, seed=3, warmup_days=7)


IN_APP = {"in_app": {"title": "Hi", "body": "Daily deal"}}


@pytest.fixture(scope="module")
def capped() -> SimulationReport:
    policy = DeliveryPolicy.model_validate(
        {"caps": {"campaign": {"per_day": 1, "per_week": 2}}, "quiet_hours": {"enabled": False}}
    )
    return simulate(Catalog([daily("daily-deal", 12, IN_APP)], policy), OPTIONS)


def test_demand_is_every_firing_and_the_caps_cut_it_to_the_budget(capped: SimulationReport) -> None:
    tally = capped.campaigns["daily-deal"]
    assert tally.fired == 14  # two weeks of a daily schedule
    # in-app reaches every signed-in shopper; anonymous visitors are in the audience but unreachable
    assert tally.wanted + tally.unreachable == tally.in_audience and tally.wanted <= 14 * capped.shoppers
    wanted, sent = capped.distribution("wanted"), capped.distribution("sent")
    assert wanted["max"] == 7 and sent["max"] == 2  # a rolling week never holds more than 2
    assert tally.sent + sum(tally.capped.values()) == tally.wanted
    assert set(tally.capped) == {"campaign.per_week"}
    assert capped.by_level()["L1"]["sent"] == tally.sent
    assert len(capped.capped_users) == len(
        {u for u, weeks in capped.wanted_per_user_week.items() if sum(weeks) > 2}
    )


def test_per_user_week_statistics_are_over_every_shopper_and_week(capped: SimulationReport) -> None:
    counts = sorted(n for weeks in capped.sent_per_user_week.values() for n in weeks)
    assert len(counts) == capped.shoppers * 2
    assert capped.distribution("sent")["mean"] == round(sum(counts) / len(counts), 2)
    assert capped.distribution("sent")["p50"] == counts[math.ceil(len(counts) / 2) - 1]  # nearest rank


def test_email_in_quiet_hours_waits_for_the_morning() -> None:
    email = {"email": {"subject": "Late deal", "html": "<p>Deal</p>"}}
    late = daily("late-deal", 23, email, audience=["timezone == Europe/London"])  # GMT in November
    report = simulate(Catalog([late]), OPTIONS)
    tally = report.campaigns["late-deal"]
    assert tally.wanted > 0 and tally.deferred == tally.wanted  # 23:00 UTC is in 21:00-08:00 for everyone


def test_holdout_shoppers_are_not_demand() -> None:
    held = daily("held", 12, IN_APP, holdout_percent=50)
    tally = simulate(Catalog([held]), OPTIONS).campaigns["held"]
    # the holdout is drawn before the channel: anonymous visitors are held out like everyone else
    assert tally.holdout > 0 and tally.wanted + tally.holdout + tally.unreachable == tally.in_audience
    assert 0.35 < tally.holdout / tally.in_audience < 0.65


def test_the_shipped_campaigns_simulate_with_every_level_reported() -> None:
    report = simulate(load_campaign_dir(CAMPAIGNS), OPTIONS)
    assert set(report.by_level()) == {"L1", "L2", "L3", "L4"}
    # the policy's all-channel weekly budget, in the first week (the last also counts what was deferred
    # or delayed past the end: more than 7 days of sends)
    assert max(weeks[0] for weeks in report.sent_per_user_week.values()) <= 6
    l4 = report.campaigns["order-thank-you"]
    assert l4.fired > 0 and l4.in_audience == l4.fired  # one intent per Order Completed


def test_a_message_capped_on_its_channel_goes_out_on_the_next_one() -> None:
    policy = DeliveryPolicy.model_validate(
        {
            "caps": {"campaign": {"per_day": 5}, "channels": {"in_app": {"per_day": 1}}},
            "quiet_hours": {"enabled": False},
        }
    )
    deal = daily("deal", 12, {**IN_APP, "email": {"subject": "Deal", "html": "<p>Deal</p>"}})
    shopper = Profile(user_id="u-1", traits={"email": "a@example.com", "consent": {"email": True}})
    delivery = SimulatedDelivery(policy)
    noon = datetime(2026, 3, 2, 12, tzinfo=UTC)
    decided = [
        delivery.deliver(
            DeliveryJob.for_occurrence("deal", f"2026-03-02T12:0{n}:00Z", "u-1"), deal, shopper, noon
        )
        for n in range(3)
    ]
    assert [(d.status, d.channel) for d in decided] == [
        ("sent", "in_app"),
        ("sent", "email"),
        ("sent", "email"),
    ]
    again = delivery.deliver(
        DeliveryJob.for_occurrence("deal", "2026-03-02T12:00:00Z", "u-1"), deal, shopper, noon
    )
    assert (again.status, again.channel) == ("duplicate", "in_app")  # the send key was decided already


def test_the_replay_folds_a_visitor_into_the_shopper_at_login_as_ingest_does() -> None:
    from payloads import identify, track

    from nudge.profile_replay import ProfileReplay
    from shared.events.contract import parse_detail

    def logged_out(message_id: str, name: str, at: str, **properties: object) -> object:
        detail = {k: v for k, v in track("", name, message_id, at, **properties).items() if k != "userId"}
        return parse_detail({**detail, "anonymousId": "dev-1"})

    replay = ProfileReplay()
    replay.add(logged_out("v1", "Product Viewed", "2026-11-02T07:00:00Z", category="shoes"))
    assert replay.profile("anon:dev-1") is not None  # folded before the login, as ingest may have
    replay.add(logged_out("a1", "Product Added", "2026-11-02T07:05:00Z", product_id="boots"))
    replay.add(parse_detail({**identify("u1", "login", at="2026-11-02T07:10:00Z"), "anonymousId": "dev-1"}))
    replay.add(logged_out("v2", "Product Viewed", "2026-11-02T07:20:00Z", category="shoes"))

    shopper = replay.profile("u1")
    assert shopper is not None and shopper.counts == {
        "Product Viewed": {"2026-11-02": 2},
        "Product Added": {"2026-11-02": 1},
        "identify": {"2026-11-02": 1},
    }
    assert shopper.cart is not None and replay.profile("anon:dev-1") is shopper
    assert [p.user_id for p in replay.everyone()] == ["u1"]
