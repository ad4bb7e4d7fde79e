"""The pure decisions of the delivery guards: frequency caps, the ranked budget, quiet hours, holdout.

Nothing here does I/O. Delivery applies these to the shopper's contact ledger (what was sent in the
last 7 days) inside a conditional write, so the decision and the record of it are one atomic step;
the simulator applies the same functions to simulated weeks, so a pre-deploy check and production
agree on what a cap means."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.campaigns.policy import DeliveryPolicy, Limits
from shared.core.vocabulary import Channel
from shared.profiles.ledger import WEEK, SentRecord

HOLDOUT_BUCKETS = 10_000


@dataclass(frozen=True)
class Candidate:
    """A message about to be sent."""

    channel: str
    campaign_id: str
    level: str
    priority: int
    send_key: str
    campaign_caps: Limits | None = None
    throttle: timedelta | None = None  # an L4 trigger's "at most once per ..." for this campaign


def shopper_zone(traits: Mapping[str, Any], policy: DeliveryPolicy) -> ZoneInfo:
    """The shopper's time zone (the ``timezone`` trait), else the policy's default."""
    name = traits.get("timezone")
    if isinstance(name, str) and name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo(policy.default_timezone)


def _counts_toward_all(channel: str, policy: DeliveryPolicy) -> bool:
    return channel != Channel.IN_APP or policy.caps.count_in_app


def cap_reason(
    history: Iterable[SentRecord],
    candidate: Candidate,
    policy: DeliveryPolicy,
    now: datetime,
    zone: ZoneInfo,
) -> str | None:
    """Which cap ``candidate`` would break (e.g. ``all_channels.per_week``), or None if it may go.

    Day caps count the shopper's calendar day in ``zone``; week caps count the rolling 7 days up to
    ``now``. The all-channel weekly cap also keeps :class:`~shared.campaigns.policy.Reserve` slots free for
    higher-ranked messages (reason ``reserved_for_higher_value``).
    """
    today = now.astimezone(zone).date()
    week_start = now - WEEK
    recent = [r for r in history if week_start < r.at <= now and r.send_key != candidate.send_key]
    day = [r for r in recent if r.at.astimezone(zone).date() == today]

    def over(limits: Limits, scope: str, keep: Any) -> str | None:
        if limits.per_day is not None and sum(1 for r in day if keep(r)) >= limits.per_day:
            return f"{scope}.per_day"
        if limits.per_week is not None and sum(1 for r in recent if keep(r)) >= limits.per_week:
            return f"{scope}.per_week"
        return None

    if candidate.throttle is not None and any(
        r.campaign_id == candidate.campaign_id and r.at > now - candidate.throttle for r in recent
    ):
        return "throttle"
    caps = policy.caps
    if _counts_toward_all(candidate.channel, policy):
        reason = over(caps.all_channels, "all_channels", lambda r: _counts_toward_all(r.channel, policy))
        if reason:
            return reason
        week_limit = caps.all_channels.per_week
        if week_limit is not None:
            used = sum(1 for r in recent if _counts_toward_all(r.channel, policy))
            if used + 1 > week_limit - policy.reserve.above(candidate.level, candidate.priority):
                return "reserved_for_higher_value"
    channel_limits = caps.channels.get(candidate.channel)  # type: ignore[call-overload]
    if channel_limits is not None:
        reason = over(
            channel_limits, f"channel.{candidate.channel}", lambda r: r.channel == candidate.channel
        )
        if reason:
            return reason
    return over(
        policy.campaign_limits(candidate.campaign_caps),
        "campaign",
        lambda r: r.campaign_id == candidate.campaign_id,
    )


def quiet_until(now: datetime, zone: ZoneInfo, channel: str, policy: DeliveryPolicy) -> datetime | None:
    """If ``now`` falls in the shopper's quiet hours for ``channel``, when they end (UTC); else None."""
    quiet = policy.quiet_hours
    if not quiet.enabled or channel in quiet.exempt_channels or quiet.start == quiet.end:
        return None
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    overnight = quiet.start > quiet.end
    inside = (clock >= quiet.start or clock < quiet.end) if overnight else (quiet.start <= clock < quiet.end)
    if not inside:
        return None
    end_day = local.date()
    if overnight and clock >= quiet.start:
        end_day += timedelta(days=1)
    # Wall-clock arithmetic in the zone, so a DST change on the night still ends at 08:00 local.
    end = datetime.combine(end_day, quiet.end, tzinfo=zone)
    return end.astimezone(UTC)


def in_holdout(campaign_id: str, user_id: str, percent: float) -> bool:
    """Deterministic holdout: the same shopper is always in (or out of) a campaign's control group."""
    if percent <= 0:
        return False
    digest = hashlib.sha256(f"holdout:{campaign_id}:{user_id}".encode()).digest()
    bucket = int.from_bytes(digest[:8], "big") % HOLDOUT_BUCKETS
    return bucket < percent * HOLDOUT_BUCKETS / 100
