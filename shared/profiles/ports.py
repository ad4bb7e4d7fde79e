"""The stores a shopper's state lives in: profiles, their scores, and the contact ledger."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from shared.profiles.kept import KeptRecord
from shared.profiles.ledger import Ledger, SentRecord, Suppression
from shared.profiles.profile import Profile


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

    def save_linked(self, profile: Profile, links: Sequence[Profile]) -> bool:
        """Write ``profile`` and anonymous visitors' links (shared/profiles/merge.py) all or none, each
        at the version it was read at; True if written."""
        ...

    def scan_segment(
        self, segment: int, total_segments: int, start_key: Mapping[str, Any] | None, limit: int
    ) -> tuple[list[Profile], Mapping[str, Any] | None]: ...


class LedgerStore(Protocol):
    def get_many(self, user_ids: Sequence[str]) -> dict[str, Ledger]:
        """Ledgers by user id; a shopper never messaged has none."""
        ...

    def get(self, user_id: str) -> Ledger | None: ...

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


class ProfileScores(Protocol):
    def write_scores(self, user_id: str, scores: Mapping[str, Any], read_version: int) -> bool:
        """Set ``scores`` and bump ``version`` if the profile is still at ``read_version``; True if written.
        Nothing else in the item changes, so a concurrent ingest write is never overwritten."""
        ...
