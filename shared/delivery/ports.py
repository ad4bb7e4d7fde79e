"""What delivery writes to and sends through: the send log, channels, one-time schedules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from shared.profiles.kept import KeptRecord
from shared.profiles.ledger import Ledger
from shared.profiles.ports import LedgerStore


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
    variant: str | None = None  # the experiment's variant the shopper drew (docs/experiments.md)
    experiment: str | None = None  # the experiment it was drawn for (``campaign:step``)
    send_at: str | None = None  # the variant's own planned send time (ISO), if it has one
    claim: str | None = None  # a failed attempt's: the token of the claim it failed under
    products: tuple[str, ...] | None = None  # a sent message's catalog products (docs/catalog.md)


class SendLog(Protocol):
    """Each job's decision and each send's outcome, one entry per send key. The claim of a send key
    is not here: it is the shopper's ledger record (:mod:`shared.delivery.claims`)."""

    def get(self, user_id: str, send_key: str) -> SendLogEntry | None: ...

    def complete(self, entry: SendLogEntry) -> None:
        """Record the outcome of a claimed send (overwrites)."""
        ...

    def complete_many(self, entries: Sequence[SendLogEntry]) -> None:
        """Record the outcomes of claimed sends (one request per 25)."""
        ...

    def record(self, entry: SendLogEntry) -> SendLogEntry | None:
        """Log ``entry`` unless the send key has an outcome already (a failed attempt's does not
        count): None if written, else the entry that holds the key."""
        ...


class DeliveryLedgers(LedgerStore, Protocol):
    """The contact ledgers as delivery reads them: with what erasure kept and the send log's entries."""

    def read_for_delivery(
        self, user_ids: Sequence[str], kept_keys: Sequence[str], send_keys: Sequence[tuple[str, str]]
    ) -> tuple[dict[str, Ledger], dict[str, KeptRecord], dict[tuple[str, str], SendLogEntry]]:
        """Ledgers by user id, kept records by key, and the entries of ``send_keys`` ((user id, send
        key) pairs) by pair, read together: one request per 100 keys in all."""
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
