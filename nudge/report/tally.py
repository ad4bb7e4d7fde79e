"""Sends, engagement and last-touch conversions per campaign, level, channel and day.

Every decision counts towards its campaign and the total, and its level when it has one; a send
also towards its channel and its day. Withheld decisions count as ``withheld`` only; the other
decisions (skipped, capped, ...) only in the per-status counts.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nudge.report.model import Row
from shared.core.vocabulary import Channel, DecisionStatus, Level


def _per_day() -> dict[str, dict[str, int]]:
    return defaultdict(lambda: dict.fromkeys(Level, 0))


@dataclass
class Tally:
    campaigns: dict[str, Row] = field(default_factory=lambda: defaultdict(Row))
    levels: dict[str, Row] = field(default_factory=lambda: {level: Row() for level in Level})
    channels: dict[str, Row] = field(default_factory=lambda: {channel: Row() for channel in Channel})
    total: Row = field(default_factory=Row)
    sent_per_user: Counter[str] = field(default_factory=Counter)
    daily_sends: dict[str, dict[str, int]] = field(default_factory=_per_day)  # day -> level -> sends
    daily_conversions: dict[str, dict[str, int]] = field(default_factory=_per_day)  # attributed
    statuses: Counter[str] = field(default_factory=Counter)  # a skip counted under its reason

    def _rows(self, campaign: str, level: str) -> list[Row]:
        rows = [self.campaigns[campaign], self.total]
        if level in self.levels:
            rows.append(self.levels[level])
        return rows

    def count_decision(self, at: datetime, item: Mapping[str, Any]) -> None:
        campaign, level, status = str(item["campaign_id"]), str(item.get("level", "")), str(item["status"])
        self.statuses[
            status if status != DecisionStatus.SKIPPED else f"skipped: {item.get('reason', '?')}"
        ] += 1
        rows = self._rows(campaign, level)
        if status == DecisionStatus.WITHHELD_HOLDOUT:
            for row in rows:
                row.withheld += 1
            return
        if status == DecisionStatus.SENT:
            self._count_send(at, item, level, rows)

    def _count_send(self, at: datetime, item: Mapping[str, Any], level: str, rows: list[Row]) -> None:
        channel = str(item.get("channel") or "")
        if channel in self.channels:
            rows.append(self.channels[channel])
        self.sent_per_user[str(item["user_id"])] += 1
        if level in tuple(Level):
            self.daily_sends[at.date().isoformat()][level] += 1
        # Push and in-app have no delivery receipt here: accepted by SNS / written to the inbox counts.
        delivered = bool(item.get("delivered_at")) or channel in (Channel.PUSH, Channel.IN_APP)
        clicked = bool(item.get("clicked_at"))
        opened = bool(item.get("opened_at")) or clicked
        for row in rows:
            row.sent += 1
            row.delivered += delivered
            row.opened += opened
            row.clicked += clicked

    def count_conversion(self, at: datetime, item: Mapping[str, Any]) -> None:
        """An attributed conversion counts for the message's campaign, level, channel and day."""
        if not item.get("attributed"):
            return
        level, channel = str(item.get("level", "")), str(item.get("channel") or "")
        rows = self._rows(str(item["campaign_id"]), level)
        if level in self.levels:
            self.daily_conversions[at.date().isoformat()][level] += 1
        if channel in self.channels:
            rows.append(self.channels[channel])
        for row in rows:
            row.conversions += 1
            row.revenue += float(item.get("revenue") or 0)

    def level_mix(self) -> dict[str, float]:
        """Each level's share of the sends."""
        sends = sum(self.levels[level].sent for level in Level)
        return {level: (self.levels[level].sent / sends if sends else 0.0) for level in Level}
