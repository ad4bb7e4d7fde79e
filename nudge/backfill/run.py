"""An import's run: history bodies through :func:`shared.ingest.ingest.ingest_batch`, the function live
traffic goes through, with the BACKFILL time policy (no age limit) and the import's trusted source.

Nothing here puts an event on the bus, so no rule sees it: no L4 trigger fires, no delivery job,
schedule or message is made. Goal events are attributed as at ingest (to messages already sent, once
per event), refunds netted; rejected records are counted by reason instead of parked in the stack's
dead-letter queue.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from nudge.backfill.formats import IMPORT_SOURCE
from shared.core.clock import Clock
from shared.events.contract import BACKFILL
from shared.events.traits import TraitPolicy
from shared.ingest.conversions import Attributor
from shared.ingest.ingest import QueueRecord, ingest_batch
from shared.privacy.erasure import Erasures
from shared.profiles.ports import ProfileStore

BATCH = 1000  # lines folded together: a shopper's events in one batch cost one profile write
MAX_ATTEMPTS = 3  # a record whose profile kept changing is tried again, then counted as failed
IMPORT_TRAITS = TraitPolicy(frozenset({IMPORT_SOURCE}))
_TIME = re.compile(r"\d{4}-\d\d-\d\d[T ][\d:.]+(?:[+-]\d\d:\d\d|Z)?")
_NUMBER = re.compile(r"\b\d+\b")


@dataclass(frozen=True)
class BackfillPorts:
    """What an import writes to: the stack's profiles (and, for attribution, its send log and
    conversions), its erasure markers, and the clock that bounds the events' times."""

    profiles: ProfileStore
    clock: Clock
    attributor: Attributor | None = None
    erasures: Erasures | None = None


@dataclass
class ImportSummary:
    read: int = 0
    applied: int = 0
    duplicates: int = 0
    profiles_written: int = 0
    conversions: int = 0
    erased: int = 0
    failed: int = 0
    dropped_traits: int = 0
    rejected: Counter[str] = field(default_factory=Counter)  # reason (values left out) → records
    first_rejected: dict[str, int] = field(default_factory=dict)  # reason → its first record's number
    timed_by: Counter[str] = field(default_factory=Counter)

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())


class _Rejects:
    """The dead-letter port of an import: reasons are counted, nothing is parked."""

    def __init__(self) -> None:
        self.parked: list[str] = []

    def park(self, body: str, reason: str, source: str) -> None:
        self.parked.append(reason)


def reason_kind(reason: str) -> str:
    """A rejection reason without the values that differ per record (times, positions, sizes)."""
    return _NUMBER.sub("N", _TIME.sub("<time>", reason))[:200]


def _batches(bodies: Iterable[str], size: int) -> Iterator[list[str]]:
    found = iter(bodies)
    while batch := list(islice(found, size)):
        yield batch


def import_history(
    bodies: Iterable[str],
    ports: BackfillPorts,
    *,
    batch_size: int = BATCH,
    progress: Callable[[int], Any] | None = None,
) -> ImportSummary:
    """Fold every body into the profiles, ``batch_size`` at a time; ``progress(records done)``."""
    summary = ImportSummary()
    for batch in _batches(bodies, batch_size):
        first = summary.read + 1
        records = [QueueRecord(f"record-{first + i}", body) for i, body in enumerate(batch)]
        summary.read += len(records)
        for attempt in range(MAX_ATTEMPTS):
            rejects = _Rejects()
            outcome = ingest_batch(
                records,
                ports.profiles,
                rejects,
                ports.clock,
                ports.attributor,
                traits=IMPORT_TRAITS,
                erasures=ports.erasures,
                policy=BACKFILL,
            )
            _add(summary, outcome)
            failed = set(outcome.failed_record_ids)
            records = [r for r in records if r.record_id in failed]
            if not records:
                break
            if attempt == MAX_ATTEMPTS - 1:
                summary.failed += len(records)
        if progress is not None:
            progress(summary.read)
    return summary


def _add(summary: ImportSummary, outcome: Any) -> None:
    summary.applied += outcome.events_applied
    summary.duplicates += outcome.duplicates
    summary.profiles_written += outcome.profiles_written
    summary.conversions += len(outcome.conversions)
    summary.erased += outcome.erased
    summary.dropped_traits += len(outcome.dropped_traits)
    summary.timed_by.update(outcome.timed_by)
    for record_id, reason in outcome.rejected:
        kind = reason_kind(reason)
        summary.rejected[kind] += 1
        summary.first_rejected.setdefault(kind, int(record_id.removeprefix("record-")))
