"""The guard decisions at their edges: caps at exactly the limit, the shopper's day around their own
midnight, the rolling week and the throttle at their exact ends, quiet hours at 21:00, 08:00 and
across DST, and which sends each cap counts (its own channel, its own campaign, never in-app)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.campaigns.policy import DEFAULT_POLICY, Caps, DeliveryPolicy, Limits, QuietHours, Reserve
from shared.delivery.guards import Candidate, cap_reason, quiet_until, shopper_zone
from shared.profiles.ledger import SentRecord, prune

NOW = datetime(2026, 11, 4, 12, 0, tzinfo=UTC)  # a Wednesday
UTC_ZONE = ZoneInfo("UTC")
JAKARTA = ZoneInfo("Asia/Jakarta")  # UTC+7, no DST
NEW_YORK = ZoneInfo("America/New_York")
WIDE = Limits(per_day=100, per_week=500)
NO_RESERVE = Reserve(L4=0, L3=0, L2=0)


def policy(
    all_channels: Limits = WIDE,
    channels: dict[str, Limits] | None = None,
    campaign: Limits = WIDE,
    reserve: Reserve = NO_RESERVE,
) -> DeliveryPolicy:
    caps = Caps(all_channels=all_channels, channels=channels or {}, campaign=campaign)  # type: ignore[arg-type]
    return DeliveryPolicy(caps=caps, reserve=reserve)


def send(at: datetime, channel: str = "email", campaign: str = "other") -> SentRecord:
    return SentRecord(at, channel, campaign, "L1", f"{campaign}#{channel}#{at.isoformat()}")


def offer(
    channel: str = "email", campaign: str = "sale", level: str = "L1", throttle: timedelta | None = None
) -> Candidate:
    return Candidate(channel, campaign, level, 50, f"{campaign}#new", throttle=throttle)


# -- the shopper's calendar day ---------------------------------------------------------------------


def test_a_send_late_last_night_in_jakarta_does_not_use_todays_cap_though_utc_says_it_is_today() -> None:
    now = datetime(2026, 11, 4, 18, 0, tzinfo=UTC)  # 01:00 on the 5th in Jakarta, still the 4th in UTC
    last_night = send(datetime(2026, 11, 4, 16, 0, tzinfo=UTC))  # 23:00 on the 4th in Jakarta
    one_a_day = policy(all_channels=Limits(per_day=1, per_week=10))
    assert cap_reason([last_night], offer(), one_a_day, now, JAKARTA) is None
    assert cap_reason([last_night], offer(), one_a_day, now, UTC_ZONE) == "all_channels.per_day"


def test_a_send_after_midnight_in_jakarta_uses_todays_cap_though_utc_says_it_was_yesterday() -> None:
    now = datetime(2026, 11, 4, 23, 30, tzinfo=UTC)  # 06:30 on the 5th in Jakarta
    after_midnight = send(datetime(2026, 11, 4, 17, 30, tzinfo=UTC))  # 00:30 on the 5th in Jakarta
    one_a_day = policy(all_channels=Limits(per_day=1, per_week=10))
    assert cap_reason([after_midnight], offer(), one_a_day, now, JAKARTA) == "all_channels.per_day"


@given(
    now_minute=st.integers(min_value=0, max_value=7 * 60 - 1),
    sent_minutes_before=st.integers(min_value=1, max_value=12 * 60),
)
def test_between_midnight_and_seven_in_jakarta_the_day_cap_counts_only_the_jakarta_day(
    now_minute: int, sent_minutes_before: int
) -> None:
    # Jakarta 00:00-07:00 is 17:00-24:00 UTC of the day before: the two calendars disagree.
    now = datetime(2026, 11, 5, tzinfo=JAKARTA) + timedelta(minutes=now_minute)
    at = now - timedelta(minutes=sent_minutes_before)
    one_a_day = policy(all_channels=Limits(per_day=1, per_week=10))
    same_local_day = at.astimezone(JAKARTA).date() == now.astimezone(JAKARTA).date()
    expected = "all_channels.per_day" if same_local_day else None
    assert cap_reason([send(at)], offer(), one_a_day, now.astimezone(UTC), JAKARTA) == expected


@given(minute=st.integers(min_value=0, max_value=3 * 24 * 60 - 1))
def test_across_new_yorks_dst_change_the_day_cap_counts_the_local_calendar_day(minute: int) -> None:
    # 2026-11-01 02:00 EDT falls back to 01:00 EST; the day has 25 hours.
    now = datetime(2026, 10, 31, 4, 0, tzinfo=UTC) + timedelta(minutes=minute)
    morning = datetime.combine(now.astimezone(NEW_YORK).date(), time(0, 30), tzinfo=NEW_YORK)
    one_a_day = policy(all_channels=Limits(per_day=1, per_week=10))
    earlier_today = [send(morning.astimezone(UTC))] if morning < now else []
    yesterday_late = [send((morning - timedelta(hours=1)).astimezone(UTC))]
    assert cap_reason(yesterday_late, offer(), one_a_day, now, NEW_YORK) is None
    expected = "all_channels.per_day" if earlier_today else None
    assert cap_reason(earlier_today, offer(), one_a_day, now, NEW_YORK) == expected


# -- caps at exactly their limit ------------------------------------------------------------------


@given(limit=st.integers(min_value=1, max_value=6), sent_today=st.integers(min_value=0, max_value=8))
def test_the_day_cap_allows_exactly_its_limit(limit: int, sent_today: int) -> None:
    history = [send(NOW - timedelta(minutes=10 * (i + 1)), campaign=f"c{i}") for i in range(sent_today)]
    capped = cap_reason(
        history, offer(), policy(all_channels=Limits(per_day=limit, per_week=50)), NOW, UTC_ZONE
    )
    assert capped == ("all_channels.per_day" if sent_today >= limit else None)


@given(limit=st.integers(min_value=1, max_value=6), sent_this_week=st.integers(min_value=0, max_value=8))
def test_the_week_cap_allows_exactly_its_limit_counting_every_day_of_the_week(
    limit: int, sent_this_week: int
) -> None:
    # One send a day on each of the previous days (none today), so only the weekly count can cap.
    history = [send(NOW - timedelta(hours=20 * (i + 1)), campaign=f"c{i}") for i in range(sent_this_week)]
    capped = cap_reason(
        history, offer(), policy(all_channels=Limits(per_day=1, per_week=limit)), NOW, UTC_ZONE
    )
    assert capped == ("all_channels.per_week" if sent_this_week >= limit else None)


def test_the_email_cap_at_its_weekly_limit_refuses_the_next_email_and_not_one_before() -> None:
    four_a_week = policy(channels={"email": Limits(per_day=4, per_week=4)})
    three = [send(NOW - timedelta(days=d), campaign=f"c{d}") for d in (1, 2, 3)]
    assert cap_reason(three, offer(), four_a_week, NOW, UTC_ZONE) is None
    four = [*three, send(NOW - timedelta(days=4), campaign="c4")]
    assert cap_reason(four, offer(), four_a_week, NOW, UTC_ZONE) == "channel.email.per_week"


def test_a_send_exactly_seven_days_old_has_left_the_rolling_week() -> None:
    one_a_week = policy(all_channels=Limits(per_day=1, per_week=1))
    assert cap_reason([send(NOW - timedelta(days=7))], offer(), one_a_week, NOW, UTC_ZONE) is None
    a_second_younger = send(NOW - timedelta(days=7) + timedelta(seconds=1))
    assert cap_reason([a_second_younger], offer(), one_a_week, NOW, UTC_ZONE) == "all_channels.per_week"


def test_a_send_at_the_very_instant_of_the_decision_counts() -> None:
    one_a_day = policy(all_channels=Limits(per_day=1, per_week=10))
    assert cap_reason([send(NOW)], offer(), one_a_day, NOW, UTC_ZONE) == "all_channels.per_day"


# -- which sends each cap counts ------------------------------------------------------------------


def test_the_email_cap_counts_only_emails() -> None:
    one_email_a_day = policy(channels={"email": Limits(per_day=1, per_week=7)})
    pushes = [send(NOW - timedelta(hours=h), "push", f"c{h}") for h in (1, 2, 3)]
    assert cap_reason(pushes, offer("email"), one_email_a_day, NOW, UTC_ZONE) is None
    an_email = [send(NOW - timedelta(hours=1), "email", "c9")]
    assert cap_reason(an_email, offer("email"), one_email_a_day, NOW, UTC_ZONE) == "channel.email.per_day"


def test_the_campaign_cap_counts_only_the_campaigns_own_sends() -> None:
    once_a_day = policy(campaign=Limits(per_day=1, per_week=2))
    others = [send(NOW - timedelta(hours=h), campaign=f"c{h}") for h in (1, 2)]
    assert cap_reason(others, offer(campaign="sale"), once_a_day, NOW, UTC_ZONE) is None
    mine = [send(NOW - timedelta(hours=1), campaign="sale")]
    assert cap_reason(mine, offer(campaign="sale"), once_a_day, NOW, UTC_ZONE) == "campaign.per_day"


def test_in_app_sends_in_the_ledger_use_neither_the_all_channel_cap_nor_the_reserve() -> None:
    in_app = [send(NOW - timedelta(hours=h), "in_app", f"c{h}") for h in (1, 2, 3, 30, 50)]
    one_a_day = policy(all_channels=Limits(per_day=1, per_week=10))
    assert cap_reason(in_app, offer("email"), one_a_day, NOW, UTC_ZONE) is None
    # 6 a week, 3 reserved above L1: two emails leave L1 its third slot, whatever in-app did.
    reserved = policy(all_channels=Limits(per_day=6, per_week=6), reserve=Reserve(L4=2, L3=1))
    emails = [send(NOW - timedelta(days=d), campaign=f"e{d}") for d in (1, 2)]
    assert cap_reason([*emails, *in_app], offer("email"), reserved, NOW, UTC_ZONE) is None
    assert (
        cap_reason([*emails, send(NOW - timedelta(days=3))], offer("email"), reserved, NOW, UTC_ZONE)
        == "reserved_for_higher_value"
    )


# -- the throttle of a real-time trigger ----------------------------------------------------------


def test_a_trigger_is_throttled_only_by_its_own_campaigns_sends() -> None:
    daily = timedelta(hours=24)
    others = [send(NOW - timedelta(hours=1), campaign="weekend-sale")]
    assert (
        cap_reason(others, offer(campaign="abandoned-cart", throttle=daily), policy(), NOW, UTC_ZONE) is None
    )
    mine = [send(NOW - timedelta(hours=23), campaign="abandoned-cart")]
    assert (
        cap_reason(mine, offer(campaign="abandoned-cart", throttle=daily), policy(), NOW, UTC_ZONE)
        == "throttle"
    )


def test_a_trigger_may_fire_again_exactly_one_throttle_after_its_last_send() -> None:
    daily = timedelta(hours=24)
    cart = offer(campaign="abandoned-cart", throttle=daily)
    assert cap_reason([send(NOW - daily, campaign="abandoned-cart")], cart, policy(), NOW, UTC_ZONE) is None
    a_second_inside = send(NOW - daily + timedelta(seconds=1), campaign="abandoned-cart")
    assert cap_reason([a_second_inside], cart, policy(), NOW, UTC_ZONE) == "throttle"


# -- the shopper's time zone ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["UTC/", "", "/etc/localtime", "../etc/passwd", "Asia/Jakarta ", "Mars/Olympus"]
)
def test_a_malformed_time_zone_trait_falls_back_to_the_policy_default(name: str) -> None:
    berlin = DeliveryPolicy(default_timezone="Europe/Berlin")
    assert shopper_zone({"timezone": name}, berlin) == ZoneInfo("Europe/Berlin")


def test_a_non_text_time_zone_trait_falls_back_to_the_policy_default() -> None:
    assert shopper_zone({"timezone": 7}, DEFAULT_POLICY) == ZoneInfo("UTC")


def test_prune_drops_a_send_exactly_seven_days_old() -> None:
    week_old = send(NOW - timedelta(days=7))
    younger = send(NOW - timedelta(days=7) + timedelta(seconds=1))
    assert prune([week_old, younger], NOW) == [younger]


# -- quiet hours at their edges ------------------------------------------------------------------


def test_quiet_hours_begin_at_exactly_twenty_one_local() -> None:
    nine_pm = datetime(2026, 11, 4, 14, 0, tzinfo=UTC)  # 21:00 in Jakarta
    assert quiet_until(nine_pm, JAKARTA, "email", DEFAULT_POLICY) == datetime(2026, 11, 5, 1, 0, tzinfo=UTC)
    a_second_before = nine_pm - timedelta(seconds=1)
    assert quiet_until(a_second_before, JAKARTA, "email", DEFAULT_POLICY) is None


def test_quiet_hours_are_over_at_exactly_eight_local() -> None:
    eight_am = datetime(2026, 11, 5, 1, 0, tzinfo=UTC)  # 08:00 in Jakarta
    assert quiet_until(eight_am, JAKARTA, "push", DEFAULT_POLICY) is None
    a_second_before = eight_am - timedelta(seconds=1)
    assert quiet_until(a_second_before, JAKARTA, "push", DEFAULT_POLICY) == eight_am


def test_daytime_quiet_hours_are_over_at_exactly_their_end() -> None:
    lunch = DeliveryPolicy(quiet_hours=QuietHours(start="12:00", end="14:00"))
    two_pm = datetime(2026, 11, 4, 14, 0, tzinfo=UTC)
    assert quiet_until(two_pm, UTC_ZONE, "email", lunch) is None
    assert quiet_until(two_pm - timedelta(seconds=1), UTC_ZONE, "email", lunch) == two_pm


def test_disabled_quiet_hours_defer_nothing() -> None:
    off = DeliveryPolicy(quiet_hours=QuietHours(enabled=False))
    assert quiet_until(datetime(2026, 11, 4, 23, 0, tzinfo=UTC), UTC_ZONE, "email", off) is None


@given(minute=st.integers(min_value=0, max_value=4 * 24 * 60 - 1), spring=st.booleans())
def test_quiet_hours_always_end_at_eight_local_across_dst_changes(minute: int, spring: bool) -> None:
    # New York's 2026 DST changes: 8 March (springs forward) and 1 November (falls back).
    start = datetime(2026, 3, 6, 12, tzinfo=UTC) if spring else datetime(2026, 10, 30, 12, tzinfo=UTC)
    now = start + timedelta(minutes=minute)
    local = now.astimezone(NEW_YORK)
    until = quiet_until(now, NEW_YORK, "email", DEFAULT_POLICY)
    if time(8) <= local.time() < time(21):
        assert until is None
        return
    assert until is not None
    ends = until.astimezone(NEW_YORK)
    assert (ends.hour, ends.minute) == (8, 0)
    expected_day = local.date() + timedelta(days=1) if local.time() >= time(21) else local.date()
    assert ends.date() == expected_day
    assert timedelta(0) < until - now <= timedelta(hours=12)
