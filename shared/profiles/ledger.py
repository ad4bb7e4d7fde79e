"""A shopper's contact ledger: what was sent recently (the caps count the last 7 days; delivery keeps
its records longer, as the claims of their send keys) and which channels are suppressed
(unsubscribes, bounces, complaints), with why."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

WEEK = timedelta(days=7)


@dataclass(frozen=True)
class SentRecord:
    """One message that counts against the caps, and the claim of its send key: delivery writes it
    before the provider call (``at`` the claim's time, ``claim`` a token naming that claim among the
    key's attempts) and keeps it past the caps' 7 days."""

    at: datetime
    channel: str
    campaign_id: str
    level: str
    send_key: str
    claim: str = ""

    def to_json(self) -> list[str]:
        row = [self.at.astimezone(UTC).isoformat(), self.channel, self.campaign_id, self.level, self.send_key]
        return [*row, self.claim] if self.claim else row

    @classmethod
    def from_json(cls, row: list[str]) -> SentRecord:
        at, channel, campaign_id, level, send_key, *claim = row
        return cls(datetime.fromisoformat(at), channel, campaign_id, level, send_key, *claim[:1])


def prune(history: Iterable[SentRecord], now: datetime, keep: timedelta = WEEK) -> list[SentRecord]:
    """The records younger than ``keep`` (by default the longest cap window, 7 days), oldest first."""
    return sorted((r for r in history if r.at > now - keep), key=lambda r: r.at)


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
        return self.send(send_key) is not None

    def send(self, send_key: str) -> SentRecord | None:
        """The record (the claim) of ``send_key``, if the ledger holds one."""
        return next((r for r in self.sends if r.send_key == send_key), None)

    def without(self, send_key: str) -> Ledger:
        """The ledger as if ``send_key`` had never been claimed (same version)."""
        return replace(self, sends=tuple(r for r in self.sends if r.send_key != send_key))
