"""A shopper's contact ledger: what was sent in the last 7 days (for caps) and which channels are
suppressed (unsubscribes, bounces, complaints), with why."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

WEEK = timedelta(days=7)


@dataclass(frozen=True)
class SentRecord:
    """One message that counts against the caps (kept in the ledger for 7 days)."""

    at: datetime
    channel: str
    campaign_id: str
    level: str
    send_key: str

    def to_json(self) -> list[str]:
        return [
            self.at.astimezone(UTC).isoformat(),
            self.channel,
            self.campaign_id,
            self.level,
            self.send_key,
        ]

    @classmethod
    def from_json(cls, row: list[str]) -> SentRecord:
        at, channel, campaign_id, level, send_key = row
        return cls(datetime.fromisoformat(at), channel, campaign_id, level, send_key)


def prune(history: Iterable[SentRecord], now: datetime) -> list[SentRecord]:
    """The records still inside the longest cap window (7 days), oldest first."""
    return sorted((r for r in history if r.at > now - WEEK), key=lambda r: r.at)


@dataclass(frozen=True)
class Suppression:
    """A channel the shopper must not be sent on: unsubscribed, bounced or complained."""

    reason: str  # "unsubscribed" | "bounced" | "complained"
    at: str
    source: str = ""


@dataclass(frozen=True)
class Ledger:
    """A shopper's contact ledger: recent sends (for the caps) and suppressed channels.

    ``version`` is what the conditional write checks: two deliveries for the same shopper cannot
    both pass the caps on the same ledger.
    """

    user_id: str
    sends: tuple[SentRecord, ...] = ()
    suppressed: Mapping[str, Suppression] | None = None
    version: int = 0

    def suppression(self, channel: str) -> Suppression | None:
        return (self.suppressed or {}).get(channel)

    def has_send(self, send_key: str) -> bool:
        return any(r.send_key == send_key for r in self.sends)
