"""The order of delivery's checks (shared.delivery.decision.decide): pure, on a job, a campaign, a
profile, a contact ledger, the policy and an instant; the deliverer and ``nudge simulate`` both call it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fakes import one_time

from shared.campaigns.jobs import DeliveryJob
from shared.campaigns.model import Campaign
from shared.campaigns.policy import DeliveryPolicy
from shared.delivery.decision import Decision, decide
from shared.delivery.guards import in_holdout
from shared.profiles.ledger import Ledger, SentRecord
from shared.profiles.profile import Profile

NOON = datetime(2026, 11, 4, 12, tzinfo=UTC)  # a Wednesday; quiet hours are 21:00-08:00 UTC
NIGHT = datetime(2026, 11, 4, 23, tzinfo=UTC)
POLICY = DeliveryPolicy.model_validate(
    {
        "caps": {
            "all_channels": {"per_day": 5, "per_week": 20},
            "channels": {"email": {"per_day": 1}},
            "campaign": {"per_day": 2, "per_week": 10},
        }
    }
)


def campaign(*channels: str, **changes: Any) -> Campaign:
    """The spring sale at noon on the 4th, on ``channels`` (in that order), each with a greeting."""
    return one_time("spring-sale", channels, at="2026-11-04T12:00:00", name="Spring sale", **changes)


def shopper(user_id: str = "u1") -> Profile:
    traits = {
        "email": f"{user_id}@example.com",
        "push_endpoint": f"arn:aws:sns:endpoint/{user_id}",
        "consent": {"email": True, "push": True},
    }
    return Profile(user_id=user_id, traits=traits)


def job(user_id: str = "u1", occurrence: str = "2026-11-04T12:00:00Z") -> DeliveryJob:
    return DeliveryJob.for_occurrence("spring-sale", occurrence, user_id)


def sent(channel: str, campaign_id: str = "other", at: datetime = NOON - timedelta(hours=1)) -> SentRecord:
    return SentRecord(at, channel, campaign_id, "L1", f"{campaign_id}#{channel}#{at.isoformat()}")


def decided(
    on: Campaign, profile: Profile | None, ledger: Ledger | None = None, now: datetime = NOON, **job_of: Any
) -> Decision:
    user_id = profile.user_id if profile else "u1"
    return decide(job(user_id, **job_of), on, profile, ledger or Ledger(user_id), POLICY, now)


HELD = next(f"u{n}" for n in range(1000) if in_holdout("spring-sale", f"u{n}", 50))
TREATED = next(f"u{n}" for n in range(1000) if not in_holdout("spring-sale", f"u{n}", 50))


def test_a_shopper_with_no_profile_is_skipped_before_anything_else() -> None:
    assert decided(campaign("email"), None) == Decision("skipped", "unknown_user")


def test_an_ended_campaign_is_skipped_before_the_holdout_is_drawn() -> None:
    ended = campaign("email", end="2026-11-01T00:00:00Z", holdout_percent=50)
    assert decided(ended, shopper(HELD)) == Decision("skipped", "campaign_inactive")


def test_the_holdout_is_drawn_before_the_channel_and_reads_no_ledger() -> None:
    held = campaign("email", holdout_percent=50)
    read: list[str] = []

    def ledger() -> Ledger:
        read.append("ledger")
        return Ledger(HELD)

    decision = decide(job(HELD), held, shopper(HELD), ledger, POLICY, NIGHT)
    assert decision == Decision("withheld_holdout", "holdout 50%", group="withheld")
    assert read == []  # a withheld shopper's ledger is never read
    held_visitor = next(f"anon:v{n}" for n in range(1000) if in_holdout("spring-sale", f"anon:v{n}", 50))
    visitor = Profile(user_id=held_visitor)
    assert (
        decide(job(held_visitor), held, visitor, Ledger(held_visitor), POLICY, NOON).status
        == "withheld_holdout"
    )


def test_an_anonymous_visitor_in_the_treated_group_is_skipped_after_the_holdout() -> None:
    visitor = Profile(user_id="anon:v1")
    decision = decided(campaign("email", "in_app"), visitor)
    assert decision == Decision("skipped", "anonymous", group="treated")


def test_quiet_hours_defer_on_the_first_reachable_channel_before_the_caps() -> None:
    full = Ledger(
        "u1", (sent("email", "spring-sale"), sent("email", "spring-sale", NOON - timedelta(hours=2)))
    )
    decision = decided(campaign("email", "in_app"), shopper(), full, now=NIGHT)
    until = datetime(2026, 11, 5, 8, tzinfo=UTC)
    assert decision == Decision(
        "deferred_quiet_hours", f"until {until.isoformat()}", "email", "treated", defer_until=until
    )


def test_a_channels_own_cap_hands_the_message_to_the_next_channel() -> None:
    decision = decided(campaign("email", "in_app"), shopper(), Ledger("u1", (sent("email"),)))
    assert decision == Decision("sent", None, "in_app", "treated", channels=("email", "in_app"))


def test_only_a_channels_own_cap_falls_back_any_other_cap_decides_on_the_first_channel() -> None:
    two = (sent("in_app", "spring-sale"), sent("in_app", "spring-sale", NOON - timedelta(hours=2)))
    decision = decided(campaign("email", "in_app"), shopper(), Ledger("u1", two))
    assert decision == Decision(
        "capped", "campaign.per_day", "email", "treated", channels=("email", "in_app")
    )


def test_the_fallback_skips_channels_inside_quiet_hours() -> None:
    late = NIGHT.replace(hour=7)  # 07:00 UTC: in_app is exempt, push waits, email's cap is used
    emailed = Ledger("u1", (sent("email", at=late - timedelta(hours=1)),))
    decision = decided(campaign("in_app", "push", "email"), shopper(), emailed, now=late)
    assert (decision.status, decision.channel, decision.channels) == ("sent", "in_app", ("in_app",))


def test_a_send_already_in_the_ledger_is_a_retry_not_capped() -> None:
    retry = job()
    recorded = Ledger("u1", (sent("email"), SentRecord(NOON, "email", "spring-sale", "L1", retry.send_key)))
    decision = decide(retry, campaign("email"), shopper(), recorded, POLICY, NOON)
    assert (decision.status, decision.channel) == ("sent", "email")
