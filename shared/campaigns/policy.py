"""The delivery policy: how often a shopper may be messaged, when, and which messages win the budget.

One policy serves a deployment. It lives beside the campaigns in ``campaigns/_policy.yaml`` (files
starting with ``_`` are not campaigns), is bundled with them (``shared/campaigns/bundle.py``) and is
read by delivery, the simulator and the docs. A campaign can tighten its own cap with ``caps:``.

The defaults follow the research behind Nudge: senders that message more than a handful of times a
week see results collapse, so the global budget is 6 messages per rolling 7 days and 2 per day, with
part of the weekly budget reserved for higher-value messages (see :class:`Reserve`).
"""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.core.vocabulary import Channel, Level

ChannelName = Channel  # the name shared.delivery.deliverer still uses
LEVEL_RANK: dict[str, int] = {level: level.rank for level in Level}
POLICY_FILE = "_policy.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limits(_Strict):
    """At most ``per_day`` (the shopper's calendar day) and ``per_week`` (rolling 7 days)."""

    per_day: int | None = Field(default=None, ge=0, le=100)
    per_week: int | None = Field(default=None, ge=0, le=500)

    @model_validator(mode="after")
    def _day_within_week(self) -> Limits:
        if self.per_day is not None and self.per_week is not None and self.per_day > self.per_week:
            raise ValueError(f"per_day ({self.per_day}) cannot exceed per_week ({self.per_week})")
        return self


def _channel_defaults() -> dict[Channel, Limits]:
    return {
        Channel.EMAIL: Limits(per_day=1, per_week=4),
        Channel.PUSH: Limits(per_day=2, per_week=5),
        Channel.IN_APP: Limits(per_day=3, per_week=10),
    }


def _exempt_defaults() -> list[Channel]:
    return [Channel.IN_APP]


class Caps(_Strict):
    """Frequency caps: across all channels, per channel, and per campaign (a campaign may override)."""

    all_channels: Limits = Limits(per_day=2, per_week=6)
    channels: dict[Channel, Limits] = Field(default_factory=_channel_defaults)
    campaign: Limits = Field(
        default=Limits(per_day=1, per_week=2),
        description="Default cap for each campaign; a campaign's own 'caps' replaces it.",
    )
    count_in_app: bool = Field(
        default=False,
        description="Whether in-app messages count against the all-channel budget (they interrupt nobody).",
    )


class Reserve(_Strict):
    """Part of the all-channel weekly budget kept for higher-value messages.

    A message may take a weekly slot only if the slots left afterwards still cover what is reserved
    for the levels above its own. With the defaults (6 a week, 2 reserved for L4, 1 for L3), L1 and
    L2 blasts can use 3 slots, L3 can use 4 and real-time L4 messages all 6, so batch campaigns can
    never starve the triggers that answer a shopper's own intent. ``priority_boost`` lets a
    campaign with that priority or more rank one level higher.
    """

    L4: int = Field(default=2, ge=0)
    L3: int = Field(default=1, ge=0)
    L2: int = Field(default=0, ge=0)
    priority_boost: int = Field(default=90, ge=0, le=101)

    def above(self, level: str, priority: int) -> int:
        """Slots reserved for the levels ranked above a message of ``level`` and ``priority``."""
        rank = LEVEL_RANK[level] + (1 if priority >= self.priority_boost else 0)
        reserved = {2: self.L2, 3: self.L3, 4: self.L4}
        return sum(n for r, n in reserved.items() if r > rank)


class QuietHours(_Strict):
    """No email or push between ``start`` and ``end`` in the shopper's time zone; they are deferred."""

    start: time = time(21, 0)
    end: time = time(8, 0)
    exempt_channels: list[Channel] = Field(default_factory=_exempt_defaults)
    enabled: bool = True

    @field_validator("start", "end", mode="before")
    @classmethod
    def _clock_time(cls, value: Any) -> Any:
        if isinstance(value, str) and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d(:00)?", value):
            raise ValueError(f"{value!r} is not a 24-hour HH:MM time")
        if isinstance(value, int):  # YAML reads 21:00 as the sexagesimal integer 1260
            return time(value // 60, value % 60)
        return value


class DeliveryPolicy(_Strict):
    caps: Caps = Caps()
    reserve: Reserve = Reserve()
    quiet_hours: QuietHours = QuietHours()
    default_timezone: str = Field(default="UTC", description="For shoppers without a 'timezone' trait.")
    global_control_percent: float = Field(
        default=0,
        ge=0,
        le=20,
        description="Share of shoppers who get no marketing message at all (the program's control group; "
        "campaigns marked 'transactional' still reach them). Hashed per shopper: the same every time.",
    )

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _reserve_fits(self) -> DeliveryPolicy:
        week = self.caps.all_channels.per_week
        reserved = self.reserve.L4 + self.reserve.L3 + self.reserve.L2
        if week is not None and reserved >= week:
            raise ValueError(
                f"reserve: {reserved} weekly slots reserved but the all-channel budget is {week} a week; "
                "L1 campaigns could never send"
            )
        return self

    def campaign_limits(self, override: Limits | None) -> Limits:
        return override if override is not None else self.caps.campaign


DEFAULT_POLICY = DeliveryPolicy()


def load_policy(directory: Path) -> DeliveryPolicy:
    """``directory/_policy.yaml`` if present, else the defaults. Errors name the file and line."""
    from shared.campaigns.yaml_lines import CampaignFileError, validate_yaml_file

    path = directory / POLICY_FILE
    if not path.exists():
        return DEFAULT_POLICY
    policy = validate_yaml_file(path, DeliveryPolicy)
    if not isinstance(policy, DeliveryPolicy):  # pragma: no cover - validate_yaml_file returns the model
        raise CampaignFileError([f"{path}:1: not a delivery policy"])
    return policy
