"""What delivery writes to and sends through: the send log, channels, one-time schedules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class SendLogEntry:
    user_id: str
    send_key: str
    campaign_id: str
    level: str
    channel: str | None
    status: str
    reason: str | None = None
    provider_message_id: str | None = None
    at: str = ""
    occurrence: str = ""
    group: str | None = None  # "treated" or "withheld" once the holdout was decided (for uplift)


class SendLog(Protocol):
    def claim(self, entry: SendLogEntry) -> SendLogEntry | None:
        """Record the intent to send. None when the send key is ours now (never claimed, or its last
        attempt failed); otherwise the entry that holds it: a decision, or a claim with no outcome."""
        ...

    def complete(self, entry: SendLogEntry) -> None: ...

    def complete_many(self, entries: Sequence[SendLogEntry]) -> None:
        """Record the outcomes of sends already claimed (one request per 25)."""
        ...

    def record(self, entry: SendLogEntry) -> None:
        """Log a decision not to send (no reachable channel, unknown user, ...) once per send key."""
        ...


class MessageChannel(Protocol):
    def send(self, message: Any, recipient: Mapping[str, Any]) -> str:
        """Deliver a rendered message; return the provider's message id."""
        ...


class Deferrals(Protocol):
    def defer(self, user_id: str, job_key: str, body: str, at: datetime, *, flexible: bool = True) -> bool:
        """Put ``body`` on the work queue at ``at``, once per ``job_key``; False if it already was.
        ``flexible``: within a window after ``at`` (spreads a crowd), else at ``at``."""
        ...
