"""One batch of delivery jobs (one receive from the delivery queue): the reads made once for all of its
shoppers before the first job, and the outcomes recorded in one request after the last.

Two reads: the profiles, then (the kept records are found by the profiles' addresses) the contact
ledgers, what erasure kept and the send log's entries for the batch's send keys, in one BatchGetItem.
Each send is still claimed with its own conditional write of the ledger before the provider is
called (:mod:`shared.delivery.claims`); only what can wait for the batch is batched. A failed read
leaves each job to read its own; a failed outcome record falls back to one request per outcome, and
what still is not recorded is handed back to be parked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from shared.core.vocabulary import DecisionStatus
from shared.delivery.ports import DeliveryLedgers, SendLog, SendLogEntry
from shared.experiments.store import SENT, LiveWeights, add_counts
from shared.privacy.erasure import Erasures
from shared.profiles.kept import KeptRecord
from shared.profiles.ledger import Ledger
from shared.profiles.ports import ProfileStore
from shared.profiles.profile import Profile
from shared.work.failures import reason_of

__all__ = ["BatchOutcomes", "BatchReads", "kept_keys", "read_batch", "record_outcomes"]


@dataclass(frozen=True)
class BatchReads:
    """What a batch read up front for its shoppers (``user_ids``): profiles, contact ledgers (kept up
    to date with the sends it records), what erasure kept about them, and the send log's entries of
    its ``send_keys`` (kept up to date with what it logs)."""

    user_ids: frozenset[str]
    profiles: dict[str, Profile]
    ledgers: dict[str, Ledger]
    kept: dict[str, KeptRecord]
    send_keys: frozenset[tuple[str, str]] = frozenset()  # (user id, send key)
    entries: dict[tuple[str, str], SendLogEntry] = field(default_factory=dict)


def kept_keys(erasures: Erasures, user_id: str, profile: Profile | None) -> list[str]:
    """The keys of what erasure may have kept about the shopper (marker, suppressed contact points)."""
    return erasures.keys_for(user_id, profile.traits if profile else None)


def read_batch(
    jobs: Sequence[tuple[str, str]],
    profiles: ProfileStore,
    ledgers: DeliveryLedgers,
    erasures: Erasures | None,
) -> BatchReads:
    """One profile read, then one read of the ledgers, kept records and send-log entries, for the
    batch's jobs ((user id, send key) pairs)."""
    user_ids = list(dict.fromkeys(u for u, _ in jobs))
    pairs = list(dict.fromkeys(jobs))
    if not user_ids:
        return BatchReads(frozenset(), {}, {}, {})
    found = profiles.get_many(user_ids)
    # The erasure markers and kept suppressions come in the ledgers' request.
    keys = [k for u in user_ids for k in kept_keys(erasures, u, found.get(u))] if erasures else []
    contacts, kept, entries = ledgers.read_for_delivery(user_ids, keys, pairs)
    return BatchReads(frozenset(user_ids), found, contacts, kept, frozenset(pairs), entries)


@dataclass
class BatchOutcomes:
    """Outcomes a batch could not record, each with the error: their jobs are to be parked."""

    unrecorded: list[tuple[SendLogEntry, str]] = field(default_factory=list)
    uncounted: str | None = None  # why the batch's sends per variant were not added to their experiments

    def park_reasons(self) -> dict[str, str]:
        """Send key → why its job is parked (a sent message's provider id is kept in the reason)."""
        return {
            entry.send_key: f"{entry.status} at {entry.at}"
            + (f" (provider id {entry.provider_message_id})" if entry.provider_message_id else "")
            + f", but the outcome was not recorded: {error}"
            for entry, error in self.unrecorded
        }


def record_outcomes(
    send_log: SendLog,
    entries: Sequence[SendLogEntry],
    outcomes: BatchOutcomes | None = None,
    experiments: LiveWeights | None = None,
) -> list[tuple[SendLogEntry, str]]:
    """Record a batch's outcomes in one request; if that fails, each on its own: a send cannot be
    made again, so its record is worth a second request. Returns those still not recorded.

    Then the recorded sends of a variant are added to their experiments' counts (one request per
    experiment in the batch); a count that fails is lost, not retried (``outcomes.uncounted``): it
    delays a decision, and retrying the batch would send nothing and count nothing."""
    try:
        send_log.complete_many(entries)
        unrecorded = []
    except Exception:  # one request for the batch: none of them was written
        unrecorded = _record_each(send_log, entries)
    if experiments is not None:
        missed = {id(entry) for entry, _ in unrecorded}
        sent = [e for e in entries if e.status == DecisionStatus.SENT and id(e) not in missed]
        try:
            first = min((e.at for e in sent if e.variant), default="")  # ISO instants: ordered as text
            at = datetime.fromisoformat(first) if first else None
            add_counts(experiments.store, SENT, ((e.experiment, e.variant) for e in sent), at)
        except Exception as error:
            if outcomes is not None:
                outcomes.uncounted = reason_of(error)
    return unrecorded


def _record_each(send_log: SendLog, entries: Sequence[SendLogEntry]) -> list[tuple[SendLogEntry, str]]:
    unrecorded = []
    for entry in entries:
        try:
            send_log.complete(entry)
        except Exception as error:
            unrecorded.append((entry, reason_of(error)))
    return unrecorded
