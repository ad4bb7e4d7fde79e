"""The small interfaces domain code talks to; adapters in ``shared/adapters`` implement them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from shared.erasure import KeptRecord
from shared.guards import Ledger, SentRecord, Suppression
from shared.profile import Profile


class ProfileStore(Protocol):
    def get(self, user_id: str) -> Profile | None: ...

    def get_many(self, user_ids: Sequence[str]) -> dict[str, Profile]: ...

    def get_many_with_kept(
        self, user_ids: Sequence[str], kept_keys: Sequence[str]
    ) -> tuple[dict[str, Profile], dict[str, KeptRecord]]:
        """Profiles and the kept records (erasure markers, suppressions) ``kept_keys`` name, read
        together: one request per 100 keys in all."""
        ...

    def save(self, profile: Profile) -> bool:
        """Write ``profile`` if nobody else wrote since it was read (its ``version``); True if written."""
        ...

    def scan_segment(
        self, segment: int, total_segments: int, start_key: Mapping[str, Any] | None, limit: int
    ) -> tuple[list[Profile], Mapping[str, Any] | None]: ...


class WorkQueue(Protocol):
    def send_many(self, bodies: Sequence[str]) -> None: ...


class DeadLetters(Protocol):
    def park(self, body: str, reason: str, source: str) -> None:
        """Keep a message that cannot be processed, with the reason, for inspection and redrive."""
        ...


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


class LedgerStore(Protocol):
    def get_many(self, user_ids: Sequence[str]) -> dict[str, Ledger]:
        """Ledgers by user id; a shopper never messaged has none."""
        ...

    def get(self, user_id: str) -> Ledger | None: ...

    def get_many_with_kept(
        self, user_ids: Sequence[str], kept_keys: Sequence[str]
    ) -> tuple[dict[str, Ledger], dict[str, KeptRecord]]:
        """Ledgers and the kept records ``kept_keys`` name, read together."""
        ...

    def record_send(self, ledger: Ledger, record: SentRecord, keep: Sequence[SentRecord]) -> bool:
        """Write ``keep + [record]`` if the ledger is still at ``ledger.version``; False if it moved."""
        ...

    def release(self, user_id: str, send_key: str) -> None:
        """Give back the slot of a send that failed for good."""
        ...

    def suppress(
        self, user_id: str, channel: str, suppression: Suppression, *, existing_only: bool = False
    ) -> bool:
        """Suppress ``channel`` (``existing_only``: only on a ledger that exists); True if written."""
        ...


class Deferrals(Protocol):
    def defer(self, user_id: str, job_key: str, body: str, at: datetime, *, flexible: bool = True) -> bool:
        """Put ``body`` on the work queue at ``at``, once per ``job_key``; False if it already was.
        ``flexible``: within a window after ``at`` (spreads a crowd), else at ``at``."""
        ...


@dataclass(frozen=True)
class ShopperFootprint:
    """What erasure reads before it deletes: the anonymous ids seen with the shopper, their traits
    (addresses) and the channels they are suppressed on (channel → reason)."""

    user_id: str
    anonymous_ids: Sequence[str]
    traits: Mapping[str, Any]
    suppressed: Mapping[str, str]


class UserData(Protocol):
    """Where a shopper's data lives, for erasure."""

    def footprint(self, user_id: str) -> ShopperFootprint: ...

    def erase(self, user_id: str) -> dict[str, int]:
        """Delete everything stored about ``user_id``; returns items deleted per store."""
        ...


class ProfileScores(Protocol):
    def write_scores(self, user_id: str, scores: Mapping[str, Any], read_version: int) -> bool:
        """Set ``scores`` and bump ``version`` if the profile is still at ``read_version``; True if written.
        Nothing else in the item changes, so a concurrent ingest write is never overwritten."""
        ...


class ModelRegistry(Protocol):
    """Published model artefacts (JSON, newest version last), the label-free fits of scoring runs,
    and each scoring run's census."""

    def latest(self) -> str | None:
        """The newest trained artefact."""
        ...

    def get(self, version: str) -> str | None:
        """A trained artefact or a label-free fit, by version."""
        ...

    def publish_label_free(self, version: str, body: str) -> None: ...

    def put_census(self, run_id: str, segment: int, sketch: Mapping[str, Any]) -> None: ...

    def complete_census(self, run_id: str, segment: int, total_segments: int) -> bool:
        """Record that ``segment`` is done; True for exactly one caller: the one that completes the run."""
        ...

    def census(self, run_id: str) -> list[dict[str, Any]]: ...


class DecisionHistory(Protocol):
    def entries_since(self, user_id: str, since: datetime) -> list[dict[str, Any]]:
        """The send-log decisions for ``user_id`` at or after ``since``, in time order."""
        ...


class ConversionStore(Protocol):
    def record(self, conversions: Sequence[Any]) -> list[Any]:
        """Write the conversions not yet recorded (keyed per goal event and campaign); the new ones."""
        ...


class Engagement(Protocol):
    def engagement(
        self,
        user_id: str,
        provider_message_id: str,
        event: str,
        at: datetime,
        send_key: str | None = None,
        dropped: tuple[str, str] | None = None,
    ) -> bool:
        """Fold a delivery, open or click into the sent message's entry; False for an unknown message.

        ``send_key`` names the entry (one conditional write); without it the shopper's entries are
        searched. ``dropped`` (status, reason): the provider dropped the message instead of sending it.
        """
        ...
