"""A variant's own send time (docs/experiments.md, "A variant's send time"): when `delay`, `at` and
`best_hour` send, across time zones and DST changes (fixed instants), the decision that defers a job to
it and keeps its variant, the guards made again at the send time, and the file errors that name it."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.campaigns.jobs import DeliveryJob, TriggerContext
from shared.campaigns.model import Campaign
from shared.campaigns.policy import DeliveryPolicy
from shared.campaigns.variants import SendTime
from shared.core.vocabulary import DecisionStatus
from shared.delivery.decision import decide, deferred_job, variant_send_time
from shared.experiments.assignment import assign_variant
from shared.experiments.send_time import next_wall_clock, planned_send, step_moment
from shared.profiles.ledger import Ledger
from shared.profiles.profile import Profile

JAKARTA, NEW_YORK, LONDON = ZoneInfo("Asia/Jakarta"), ZoneInfo("America/New_York"), ZoneInfo("Europe/London")
EVENT = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # 15:00 in Jakarta, a Monday
EMAIL = {"email": {"subject": "Hello", "html": "<p>Hi</p>"}}


def at(clock: str) -> SendTime:
    return SendTime(at=clock)


def test_a_delay_sends_that_long_after_the_steps_moment() -> None:
    planned = planned_send(SendTime(delay="2h"), EVENT, JAKARTA)
    assert (planned.at, planned.how) == (EVENT + timedelta(hours=2), "delay 2h")


def test_at_is_the_next_time_of_day_on_the_shoppers_clock() -> None:
    # 15:00 in Jakarta (UTC+7): 19:00 is today, 09:00 tomorrow, 15:00 now itself
    assert planned_send(at("19:00"), EVENT, JAKARTA).at == datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
    assert planned_send(at("09:00"), EVENT, JAKARTA).at == datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
    assert planned_send(at("15:00"), EVENT, JAKARTA).at == EVENT
    assert planned_send(at("19:00"), EVENT, JAKARTA).how == "at 19:00 Asia/Jakarta"
    # the same moment in New York is 03:00 (UTC-5 since November 1st): 19:00 is today, 00:00 UTC
    assert planned_send(at("19:00"), EVENT, NEW_YORK).at == datetime(2026, 11, 3, 0, 0, tzinfo=UTC)


def test_at_keeps_the_wall_clock_across_the_autumn_dst_change() -> None:
    # 19:30 on Saturday October 31st in New York (EDT, UTC-4); clocks go back on Sunday at 02:00
    saturday_evening = datetime(2026, 10, 31, 23, 30, tzinfo=UTC)
    sunday = planned_send(at("19:00"), saturday_evening, NEW_YORK).at
    assert sunday == datetime(2026, 11, 2, 0, 0, tzinfo=UTC)  # 19:00 EST, not 23:00 UTC (19:00 EDT)
    # London's change is a week earlier: 08:00 on Sunday October 25th is GMT again
    assert planned_send(at("08:00"), datetime(2026, 10, 24, 12, tzinfo=UTC), LONDON).at == datetime(
        2026, 10, 25, 8, 0, tzinfo=UTC
    )
    # 01:30 happens twice that night: the first one (EDT), or the second (EST) for a moment between them
    assert next_wall_clock(datetime(2026, 11, 1, 4, 0, tzinfo=UTC), time(1, 30), NEW_YORK) == datetime(
        2026, 11, 1, 5, 30, tzinfo=UTC
    )
    between = datetime(2026, 11, 1, 5, 45, tzinfo=UTC)  # 01:45 EDT; 01:30 EST is 45 minutes on
    assert next_wall_clock(between, time(1, 30), NEW_YORK) == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
    assert next_wall_clock(between, time(1, 50), NEW_YORK) == datetime(2026, 11, 1, 5, 50, tzinfo=UTC)


def test_a_time_the_spring_dst_change_skips_falls_an_hour_later() -> None:
    # March 8th 2026 in New York: 02:00 EST becomes 03:00 EDT, so 02:30 never shows on the clock
    midnight = datetime(2026, 3, 8, 5, 0, tzinfo=UTC)  # 00:00 EST
    skipped = next_wall_clock(midnight, time(2, 30), NEW_YORK)
    assert skipped == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    assert skipped.astimezone(NEW_YORK).time() == time(3, 30)


@given(
    moment=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
    ),
    zone=st.sampled_from([JAKARTA, NEW_YORK, LONDON, ZoneInfo("Australia/Lord_Howe"), ZoneInfo("UTC")]),
    hour=st.integers(0, 23),
    minute=st.sampled_from([0, 15, 30, 45]),
)
def test_at_is_never_before_the_moment_and_is_the_first_such_wall_clock_time(
    moment: datetime, zone: ZoneInfo, hour: int, minute: int
) -> None:
    planned = next_wall_clock(moment, time(hour, minute), zone)
    assert moment <= planned < moment + timedelta(hours=26)
    local = planned.astimezone(zone)
    # the clock reads the time asked for, or (a time a DST change skipped) within the hour after it
    asked = datetime.combine(local.date(), time(hour, minute))
    assert timedelta(0) <= local.replace(tzinfo=None) - asked <= timedelta(hours=1)
    # and no earlier instant at or after the moment reads it
    earlier = planned - timedelta(days=1)
    assert earlier < moment or earlier.astimezone(zone).time() != time(hour, minute)


def test_best_hour_is_the_next_start_of_the_scored_hour_and_the_moment_itself_unscored() -> None:
    scored = planned_send("best_hour", EVENT, JAKARTA, 20)
    assert (scored.at, scored.how) == (
        datetime(2026, 11, 2, 13, 0, tzinfo=UTC),
        "best hour 20:00 Asia/Jakarta",
    )
    assert planned_send("best_hour", EVENT, JAKARTA, 9.0).at == datetime(2026, 11, 3, 2, 0, tzinfo=UTC)
    for unscored in (None, "19", 24, -1, True):
        planned = planned_send("best_hour", EVENT, JAKARTA, unscored)
        assert (planned.at, planned.how) == (EVENT, "best hour: not scored yet, at the step's moment")


def test_the_steps_moment_is_when_the_job_became_due() -> None:
    trigger = TriggerContext(event="Product Added", message_id="m-1", timestamp=EVENT)
    job = DeliveryJob.for_trigger("cart", "u-1", trigger)
    later = EVENT + timedelta(hours=5)
    assert step_moment(job, later) == EVENT  # the triggering event
    delayed = job.model_copy(update={"not_before": EVENT + timedelta(hours=1)})
    assert step_moment(delayed, later) == EVENT + timedelta(hours=1)  # a trigger delay's (or holdback's) end
    assert step_moment(job.model_copy(update={"step": "email"}), later) == later  # a journey step: on arrival
    batch = DeliveryJob.for_occurrence("sale", "2026-11-07T03:00:00Z", "u-1")
    assert step_moment(batch, later) == datetime(2026, 11, 7, 3, tzinfo=UTC)


# -- the decision -------------------------------------------------------------------------------------


def variant_campaign(second: dict[str, Any]) -> Campaign:
    return Campaign.model_validate(
        {
            "id": "cart",
            "name": "Cart",
            "level": "L4",
            "trigger": {"event": "Product Added"},
            "channels": EMAIL,
            "variants": [{"id": "at-once"}, {"id": "later", **second}],
        }
    )


def shopper(user_id: str, **scores: Any) -> Profile:
    traits = {"email": f"{user_id}@example.com", "timezone": "Asia/Jakarta", "consent": {"email": True}}
    return Profile(user_id=user_id, traits=traits, scores=scores)


def drawing(campaign: Campaign, variant: str) -> str:
    """A shopper who draws ``variant`` by the file's (equal) weights."""
    experiment = campaign.experiment_id(None)
    return next(
        u
        for u in (f"u-{i}" for i in range(200))
        if assign_variant(experiment, u, {"at-once": 1, "later": 1}) == variant
    )


POLICY = DeliveryPolicy.model_validate({"quiet_hours": {"enabled": True, "start": "21:00", "end": "08:00"}})


def job_for(user_id: str) -> DeliveryJob:
    return DeliveryJob.for_trigger(
        "cart", user_id, TriggerContext(event="Product Added", message_id="m", timestamp=EVENT)
    )


def test_a_variant_with_a_delay_is_deferred_to_it_and_sent_then_with_the_variant_it_drew() -> None:
    campaign = variant_campaign({"send_time": {"delay": "2h"}})
    user = drawing(campaign, "later")
    job = job_for(user)

    waiting = decide(job, campaign, shopper(user), Ledger(user), POLICY, EVENT)

    due = EVENT + timedelta(hours=2)
    assert (waiting.status, waiting.variant, waiting.defer_until, waiting.send_at) == (
        DecisionStatus.DEFERRED_SEND_TIME,
        "later",
        due,
        due,
    )
    assert waiting.reason == f"variant later: delay 2h, until {due.isoformat()}"
    back = deferred_job(job, waiting)
    assert (back.not_before, back.variant, back.send_at) == (due, "later", due)
    # the bandit moved every shopper to the other variant meanwhile: the job keeps the one it drew
    sent = decide(back, campaign, shopper(user), Ledger(user), POLICY, due, {"at-once": 1.0, "later": 0.0})
    assert (sent.status, sent.variant, sent.send_at, sent.channel) == (
        DecisionStatus.SENT,
        "later",
        due,
        "email",
    )
    # a copy of the job that comes early is deferred to the same instant
    early = decide(back, campaign, shopper(user), Ledger(user), POLICY, due - timedelta(minutes=1))
    assert (early.status, early.defer_until) == (DecisionStatus.DEFERRED_SEND_TIME, due)


def test_a_variant_without_a_send_time_and_one_whose_time_has_come_send_at_once() -> None:
    campaign = variant_campaign({"send_time": {"at": "15:00"}})  # 15:00 in Jakarta is the event's moment
    for variant in ("at-once", "later"):
        user = drawing(campaign, variant)
        decision = decide(job_for(user), campaign, shopper(user), Ledger(user), POLICY, EVENT)
        assert (decision.status, decision.variant) == (DecisionStatus.SENT, variant)
        assert decision.send_at == (EVENT if variant == "later" else None)


def test_at_the_send_time_the_guards_decide_again_quiet_hours_keeping_the_planned_time() -> None:
    campaign = variant_campaign({"send_time": {"at": "23:00"}})  # inside the quiet hours (21:00-08:00)
    user = drawing(campaign, "later")
    job = job_for(user)
    waiting = decide(job, campaign, shopper(user), Ledger(user), POLICY, EVENT)
    due = datetime(2026, 11, 2, 16, 0, tzinfo=UTC)  # 23:00 in Jakarta
    assert (waiting.status, waiting.defer_until) == (DecisionStatus.DEFERRED_SEND_TIME, due)

    quiet = decide(deferred_job(job, waiting), campaign, shopper(user), Ledger(user), POLICY, due)
    morning = datetime(2026, 11, 3, 1, 0, tzinfo=UTC)  # 08:00 in Jakarta
    assert (quiet.status, quiet.defer_until, quiet.send_at) == (
        DecisionStatus.DEFERRED_QUIET_HOURS,
        morning,
        due,
    )
    after_quiet = deferred_job(deferred_job(job, waiting), quiet)
    assert (after_quiet.variant, after_quiet.send_at, after_quiet.not_before) == ("later", due, morning)
    sent = decide(after_quiet, campaign, shopper(user), Ledger(user), POLICY, morning)
    assert (sent.status, sent.variant) == (DecisionStatus.SENT, "later")  # not 23:00 again


def test_consent_withdrawn_before_the_send_time_is_decided_then() -> None:
    campaign = variant_campaign({"send_time": {"delay": "2h"}})
    user = drawing(campaign, "later")
    waiting = decide(job_for(user), campaign, shopper(user), Ledger(user), POLICY, EVENT)
    withdrawn = shopper(user)
    withdrawn = withdrawn.model_copy(update={"traits": {**withdrawn.traits, "consent": {"email": False}}})
    due = EVENT + timedelta(hours=2)
    decision = decide(deferred_job(job_for(user), waiting), campaign, withdrawn, Ledger(user), POLICY, due)
    assert (decision.status, decision.variant) == (DecisionStatus.NO_CONSENT, "later")


def test_best_hour_uses_the_shoppers_score_and_sends_at_once_unscored() -> None:
    campaign = variant_campaign({"send_time": "best_hour"})
    user = drawing(campaign, "later")
    scored = variant_send_time(
        campaign, "later", job_for(user), shopper(user, best_send_hour=20), POLICY, EVENT
    )
    assert scored is not None and scored.at == datetime(2026, 11, 2, 13, 0, tzinfo=UTC)
    decision = decide(job_for(user), campaign, shopper(user), Ledger(user), POLICY, EVENT)
    assert (decision.status, decision.send_at) == (DecisionStatus.SENT, EVENT)
    assert variant_send_time(campaign, "at-once", job_for(user), shopper(user), POLICY, EVENT) is None


# -- the file -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("send_time", "message"),
    [
        ({"at": "25:00"}, "variant 'later': send_time: at '25:00' is not a time of day like 19:00"),
        ({"at": "7pm"}, "variant 'later': send_time: at '7pm' is not a time of day like 19:00"),
        ({"at": "19:60"}, "variant 'later': send_time: at '19:60' is not a time of day"),
        ({"delay": "366d"}, "variant 'later': send_time: delay 366d is longer than 365d"),
        ({"delay": "2h", "at": "19:00"}, "variant 'later': send_time: give exactly one of 'delay' and 'at'"),
        ({}, "variant 'later': send_time: give exactly one of 'delay' and 'at'"),
    ],
)
def test_a_send_time_that_cannot_run_is_refused_naming_the_variant(
    send_time: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=f"the campaign: {message}"):
        variant_campaign({"send_time": send_time})


def test_a_journey_steps_variant_send_time_error_names_the_step() -> None:
    with pytest.raises(ValidationError, match="step 'mail': variant 'b': send_time: at '24:00'"):
        Campaign.model_validate(
            {
                "id": "cart",
                "name": "Cart",
                "level": "L4",
                "trigger": {"event": "Product Added"},
                "steps": [
                    {
                        "id": "mail",
                        "type": "send",
                        "channels": EMAIL,
                        "variants": [{"id": "a"}, {"id": "b", "send_time": {"at": "24:00"}}],
                    }
                ],
            }
        )


def test_the_longest_delay_and_the_last_minute_of_the_day_are_accepted() -> None:
    assert variant_campaign({"send_time": {"delay": "365d"}}).variants is not None
    assert variant_campaign({"send_time": {"at": "23:59"}}).variants is not None
    assert variant_campaign({"send_time": {"at": "00:00"}}).variants is not None


def test_the_simulator_takes_delivery_s_decision_and_brings_the_job_back_with_its_variant() -> None:
    from nudge.simulate import SimulatedDelivery

    campaign = variant_campaign({"send_time": {"delay": "2h"}})
    user = drawing(campaign, "later")
    simulated = SimulatedDelivery(POLICY)
    waiting = simulated.deliver(job_for(user), campaign, shopper(user), EVENT)
    assert waiting == decide(job_for(user), campaign, shopper(user), Ledger(user), POLICY, EVENT)
    due = EVENT + timedelta(hours=2)
    sent = simulated.deliver(
        deferred_job(job_for(user), waiting), campaign, shopper(user), due, {"at-once": 1.0}
    )
    assert (sent.status, sent.variant, sent.send_at) == (DecisionStatus.SENT, "later", due)
