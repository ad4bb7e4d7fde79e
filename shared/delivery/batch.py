"""One batch of delivery jobs (one receive from the delivery queue): the reads made once for all of its
shoppers before the first job, and the outcomes recorded in one request after the last.

Each send is still claimed with its own conditional write before the provider is called
(:mod:`shared.delivery.deliverer`); only what can wait for the batch is batched. A failed read
leaves each job to read its own; a failed outcome record falls back to one request per outcome, and
what still is not recorded is handed back to be parked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from shared.delivery.ports import SendLog, SendLogEntry
from shared.privacy.erasure import Erasures
from shared.profiles.kept import KeptRecord
from shared.profiles.ledger import Ledger
from shared.profiles.ports import LedgerStore, ProfileStore
from shared.profiles.profile import Profile
from shared.work.failures import reason_of

__all__ = ["BatchOutcomes", "BatchReads", "kept_keys", "read_batch", "record_outcomes"]


@dataclass(frozen=True)
class BatchReads:
    """What a batch read up front for its shoppers (``user_ids``): profiles, contact ledgers (kept up
    to date with the sends it records) and what erasure kept about them."""

    user_ids: frozenset[str]
    profiles: dict[str, Profile]
    ledgers: dict[str, Ledger]
    kept: dict[str, KeptRecord]


def kept_keys(erasures: Erasures, user_id: str, profile: Profile | None) -> list[str]:
    """The keys of what erasure may have kept about the shopper (marker, suppressed contact points)."""
    return erasures.keys_for(user_id, profile.traits if profile else None)


def read_batch(
    user_ids: Sequence[str], profiles: ProfileStore, ledgers: LedgerStore, erasures: Erasures | None
) -> BatchReads:
    """One profile read and one ledger read for the batch's shoppers (``user_ids``: no repeats)."""
    found = profiles.get_many(user_ids) if user_ids else {}
    if erasures is not None and user_ids:
        # The erasure markers and kept suppressions come in the ledgers' request.
        keys = [k for u in user_ids for k in kept_keys(erasures, u, found.get(u))]
        contacts, kept = ledgers.get_many_with_kept(user_ids, keys)
    else:
        contacts, kept = (ledgers.get_many(user_ids) if user_ids else {}), {}
    return BatchReads(frozenset(user_ids), found, contacts, kept)


@dataclass
class BatchOutcomes:
    """Outcomes a batch could not record, each with the error: their jobs are to be parked."""

    unrecorded: list[tuple[SendLogEntry, str]] = field(default_factory=list)

    def park_reasons(self) -> dict[str, str]:
        """Send key → why its job is parked (a sent message's provider id is kept in the reason)."""
        return {
            entry.send_key: f"{entry.status} at {entry.at}"
            + (f" (provider id {entry.provider_message_id})" if entry.provider_message_id else "")
            + f", but the outcome was not recorded: {error}"
            for entry, error in self.unrecorded
        }


def record_outcomes(send_log: SendLog, entries: Sequence[SendLogEntry]) -> list[tuple[SendLogEntry, str]]:
    """Record a batch's outcomes in one request; if that fails, each on its own: a send cannot be
    made again, so its record is worth a second request. Returns those still not recorded."""
    try:
        send_log.complete_many(entries)
    except Exception:  # one request for the batch: none of them was written
        return _record_each(send_log, entries)
    return []


def _record_each(send_log: SendLog, entries: Sequence[SendLogEntry]) -> list[tuple[SendLogEntry, str]]:
    unrecorded = []
    for entry in entries:
        try:
            send_log.complete(entry)
        except Exception as error:
            unrecorded.append((entry, reason_of(error)))
    return unrecorded
