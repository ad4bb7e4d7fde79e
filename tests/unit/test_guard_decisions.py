"""The pure guard decisions: caps in the shopper's day and rolling week, the ranked reserve,
quiet hours across midnight and DST, and deterministic holdout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.campaigns.policy import DEFAULT_POLICY, Caps, DeliveryPolicy, Limits, QuietHours, Reserve
from shared.delivery.guards import Candidate, cap_reason, in_holdout, quiet_until, shopper_zone
from shared.profiles.ledger import SentRecord, prune

NOW = datetime(2026, 11, 4, 12, 0, tzinfo=UTC)  # a Wednesday
UTC_ZONE = ZoneInfo("UTC")


def sent(hours_ago: float, channel: str = "email", campaign: str = "c1", level: str = "L1") -> SentRecord:
    at = NOW - timedelta(hours=hours_ago)
    return SentRecord(at, channel, campaign, level, f"{campaign}#{at.isoformat()}")


def candidate(
    channel: str = "email", campaign: str = "c2", level: str = "L1", priority: int = 50
) -> Candidate:
    return Candidate(channel, campaign, level, priority, f"{campaign}#new")


LOOSE = Caps(
    all_channels=Limits(per_day=10, per_week=50),
    channels={"email": Limits(per_day=10, per_week=50)},
    campaign=Limits(per_day=10, per_week=50),
)


def test_nothing_sent_means_nothing_capped() -> None:
    assert cap_reason([], candidate(), DEFAULT_POLICY, NOW, UTC_ZONE) is None


def test_the_daily_all_channel_cap_counts_the_shoppers_calendar_day() -> None:
    policy = DeliveryPolicy(caps=LOOSE.model_copy(update={"all_channels": Limits(per_day=2, per_week=50)}))
    history = [sent(1, "push"), sent(2, "email", "c3")]
    assert cap_reason(history, candidate(), policy, NOW, UTC_ZONE) == "all_channels.per_day"
    # 13 hours ago was yesterday in UTC, but still today in Jakarta (UTC+7): 23:00 vs 19:00 local.
    yesterday_utc = [sent(1, "push"), sent(13, "email", "c3")]
    assert cap_reason(yesterday_utc, candidate(), policy, NOW, UTC_ZONE) is None
    assert (
        cap_reason(yesterday_utc, candidate(), policy, NOW, ZoneInfo("Asia/Jakarta"))
        == "all_channels.per_day"
    )


def test_the_weekly_cap_is_a_rolling_seven_days() -> None:
    policy = DeliveryPolicy(
        caps=LOOSE.model_copy(update={"all_channels": Limits(per_day=3, per_week=3)}),
        reserve=Reserve(L4=0, L3=0),
    )
    inside = [sent(24 * d, campaign=f"c{d}") for d in (1, 3, 6.9)]
    assert cap_reason(inside, candidate(), policy, NOW, UTC_ZONE) == "all_channels.per_week"
    one_fell_out = [sent(24 * d, campaign=f"c{d}") for d in (1, 3, 7.1)]
    assert cap_reason(one_fell_out, candidate(), policy, NOW, UTC_ZONE) is None


def test_channel_and_campaign_caps_count_only_their_own_sends() -> None:
    policy = DeliveryPolicy(
        caps=LOOSE.model_copy(
            update={
                "channels": {"email": Limits(per_day=1), "push": Limits(per_day=5)},
                "campaign": Limits(per_week=1),
            }
        )
    )
    assert (
        cap_reason([sent(1, "email", "c9")], candidate("email"), policy, NOW, UTC_ZONE)
        == "channel.email.per_day"
    )
    assert cap_reason([sent(1, "email", "c9")], candidate("push"), policy, NOW, UTC_ZONE) is None
    assert (
        cap_reason([sent(30, "push", "c2")], candidate("push", "c2"), policy, NOW, UTC_ZONE)
        == "campaign.per_week"
    )


def test_a_campaigns_own_caps_replace_the_default() -> None:
    policy = DeliveryPolicy(caps=LOOSE.model_copy(update={"campaign": Limits(per_week=1)}))
    roomy = Candidate("email", "c2", "L1", 50, "c2#new", campaign_caps=Limits(per_week=3))
    assert cap_reason([sent(30, campaign="c2")], roomy, policy, NOW, UTC_ZONE) is None


def test_the_reserve_keeps_the_last_weekly_slots_for_higher_value_messages() -> None:
    # 6 a week, 2 reserved for L4 and 1 for L3: L1 may use 3 slots, L3 4, L4 all 6.
    policy = DeliveryPolicy(caps=LOOSE.model_copy(update={"all_channels": Limits(per_day=6, per_week=6)}))
    three = [sent(24 * d, campaign=f"c{d}") for d in (1, 2, 3)]
    assert cap_reason(three, candidate(level="L1"), policy, NOW, UTC_ZONE) == "reserved_for_higher_value"
    assert cap_reason(three, candidate(level="L2"), policy, NOW, UTC_ZONE) == "reserved_for_higher_value"
    assert cap_reason(three, candidate(level="L3"), policy, NOW, UTC_ZONE) is None
    four = [*three, sent(100, campaign="c4")]
    assert cap_reason(four, candidate(level="L3"), policy, NOW, UTC_ZONE) == "reserved_for_higher_value"
    assert cap_reason(four, candidate(level="L4"), policy, NOW, UTC_ZONE) is None
    # a high-priority L2 campaign ranks as L3
    assert cap_reason(three, candidate(level="L2", priority=95), policy, NOW, UTC_ZONE) is None
    six = [*four, sent(101, campaign="c5"), sent(102, campaign="c6")]
    assert cap_reason(six, candidate(level="L4"), policy, NOW, UTC_ZONE) == "all_channels.per_week"


def test_in_app_does_not_use_the_all_channel_budget_by_default() -> None:
    policy = DeliveryPolicy(caps=LOOSE.model_copy(update={"all_channels": Limits(per_day=1)}))
    assert cap_reason([sent(1)], candidate("in_app"), policy, NOW, UTC_ZONE) is None
    counted = DeliveryPolicy(caps=policy.caps.model_copy(update={"count_in_app": True}))
    assert cap_reason([sent(1)], candidate("in_app"), counted, NOW, UTC_ZONE) == "all_channels.per_day"


def test_a_retried_send_does_not_count_against_itself() -> None:
    policy = DeliveryPolicy(caps=LOOSE.model_copy(update={"all_channels": Limits(per_day=1)}))
    mine = SentRecord(NOW - timedelta(minutes=1), "email", "c2", "L1", "c2#new")
    assert cap_reason([mine], candidate(), policy, NOW, UTC_ZONE) is None


def test_prune_keeps_the_last_seven_days_in_time_order() -> None:
    kept = prune([sent(1), sent(24 * 8), sent(50)], NOW)
    assert [round((NOW - r.at).total_seconds() / 3600) for r in kept] == [50, 1]


def test_quiet_hours_defer_to_their_end_in_the_shoppers_zone() -> None:
    jakarta = ZoneInfo("Asia/Jakarta")
    at_22 = datetime(2026, 11, 4, 15, 0, tzinfo=UTC)  # 22:00 in Jakarta
    assert quiet_until(at_22, jakarta, "email", DEFAULT_POLICY) == datetime(2026, 11, 5, 1, 0, tzinfo=UTC)
    at_3 = datetime(2026, 11, 4, 20, 0, tzinfo=UTC)  # 03:00 the next day in Jakarta
    assert quiet_until(at_3, jakarta, "push", DEFAULT_POLICY) == datetime(2026, 11, 5, 1, 0, tzinfo=UTC)
    assert quiet_until(datetime(2026, 11, 4, 5, 0, tzinfo=UTC), jakarta, "email", DEFAULT_POLICY) is None


def test_in_app_messages_are_exempt_from_quiet_hours() -> None:
    at_22 = datetime(2026, 11, 4, 22, 0, tzinfo=UTC)
    assert quiet_until(at_22, UTC_ZONE, "in_app", DEFAULT_POLICY) is None
    assert quiet_until(at_22, UTC_ZONE, "email", DEFAULT_POLICY) is not None


def test_quiet_hours_end_at_local_eight_across_a_dst_change() -> None:
    new_york = ZoneInfo("America/New_York")
    # 2026-11-01 is the end of DST in New York: 23:00 EDT on Oct 31 → 08:00 EST on Nov 1 (13:00 UTC).
    evening = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
    assert quiet_until(evening, new_york, "email", DEFAULT_POLICY) == datetime(2026, 11, 1, 13, 0, tzinfo=UTC)


def test_daytime_quiet_hours_are_supported() -> None:
    policy = DeliveryPolicy(quiet_hours=QuietHours(start="12:00", end="14:00"))
    assert quiet_until(NOW, UTC_ZONE, "email", policy) == NOW + timedelta(hours=2)
    assert quiet_until(NOW - timedelta(hours=1), UTC_ZONE, "email", policy) is None


def test_the_shoppers_zone_falls_back_to_the_policy_default() -> None:
    assert shopper_zone({"timezone": "Asia/Jakarta"}, DEFAULT_POLICY) == ZoneInfo("Asia/Jakarta")
    assert shopper_zone({"timezone": "Mars/Olympus"}, DEFAULT_POLICY) == ZoneInfo("UTC")
    assert shopper_zone({}, DeliveryPolicy(default_timezone="Europe/Berlin")) == ZoneInfo("Europe/Berlin")


def test_a_policy_that_reserves_the_whole_week_is_refused() -> None:
    with pytest.raises(ValueError, match="L1 campaigns could never send"):
        DeliveryPolicy(caps=Caps(all_channels=Limits(per_day=1, per_week=3)), reserve=Reserve(L4=2, L3=1))


def test_holdout_is_deterministic_and_close_to_its_percentage() -> None:
    users = [f"user-{i}" for i in range(20_000)]
    held = [u for u in users if in_holdout("spring-sale", u, 10)]
    # The draw is a fixed function of campaign and shopper (sha256, first 8 bytes, 10 000 buckets):
    # these exact groups are what running campaigns' reports were computed with.
    assert held[:4] == ["user-1", "user-2", "user-12", "user-34"]
    assert len(held) == 2006
    # the buckets at the edge of 10%: 999 is in, 1000 is not (user-10974 and user-1865 draw them)
    assert in_holdout("spring-sale", "user-10974", 10) is True
    assert in_holdout("spring-sale", "user-1865", 10) is False
    assert in_holdout("spring-sale", "user-1865", 10.01) is True
    assert not any(in_holdout("spring-sale", u, 0) for u in users[:1000])
    # Another campaign draws another group.
    other = {u for u in users if in_holdout("autumn-sale", u, 10)}
    assert len(other & set(held)) < len(held) * 0.2


@given(
    st.lists(st.floats(min_value=0, max_value=24 * 10), max_size=30),
    st.sampled_from(["L1", "L2", "L3", "L4"]),
)
def test_a_send_the_caps_allow_never_exceeds_any_limit(hours_ago: list[float], level: str) -> None:
    history = [
        sent(h, campaign=f"c{i % 3}", channel=("email", "push")[i % 2]) for i, h in enumerate(hours_ago)
    ]
    new = candidate("email", "c1", level)
    if cap_reason(history, new, DEFAULT_POLICY, NOW, UTC_ZONE) is not None:
        return
    after = [*prune(history, NOW), SentRecord(NOW, "email", "c1", level, "c1#new")]
    week = [r for r in after if r.channel != "in_app"]
    day = [r for r in week if r.at.date() == NOW.date()]
    caps = DEFAULT_POLICY.caps
    assert len(week) <= (caps.all_channels.per_week or 10**9)
    assert len(day) <= (caps.all_channels.per_day or 10**9)
    assert sum(1 for r in week if r.channel == "email") <= (caps.channels["email"].per_week or 10**9)
    assert sum(1 for r in day if r.campaign_id == "c1") <= (caps.campaign.per_day or 10**9)
