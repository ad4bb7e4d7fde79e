"""The right to erasure: everything Nudge stores about one shopper, removed by one call, and kept
removed (see ``shared.privacy.erasure`` for the marker that ingest, delivery and feedback honour).

In order: the shopper's pending one-time schedules are cancelled (none can fire a job afterwards);
what must outlive the data is kept, hashed (the erasure markers and the suppressions); the rows of
the shopper and of the anonymous profiles seen with them are deleted; and their messages are purged
from the dead-letter queues. The marker is written before anything is deleted, so a copy of an
event or job that arrives in between is already recognised as predating the erasure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from shared.core.identity import anonymous_profile_id, reserved_id_problem
from shared.core.vocabulary import EMAIL_TRAIT
from shared.privacy.erasure import Erasures, mentions, records_for_erasure
from shared.privacy.ports import UserData

# Traits whose values are looked for in parked messages besides the ids (a shopper's events carry them).
CONTACT_TRAITS = (EMAIL_TRAIT, "phone", "push_endpoint")


class PendingJobs(Protocol):
    def cancel_for_user(self, user_id: str) -> int: ...


class PurgeResult(Protocol):
    @property
    def deleted(self) -> int: ...

    @property
    def complete(self) -> bool:
        """False when the queue held more than one scan reads."""
        ...


class DeadLetterPurge(Protocol):
    def purge(self, matches: Callable[[str], bool]) -> PurgeResult:
        """Delete the messages for which ``matches(body)`` is true; leave the others in place."""
        ...


@dataclass(frozen=True)
class ErasureReport:
    user_id: str
    deleted: dict[str, int]
    cancelled_schedules: int
    anonymous_profiles: int = 0
    dead_letters_purged: dict[str, int] = field(default_factory=dict)
    dead_letters_unscanned: list[str] = field(default_factory=list)  # queues too full to scan whole
    records_kept: int = 0

    @property
    def total(self) -> int:
        return sum(self.deleted.values()) + self.cancelled_schedules


def erase_user(
    user_id: str,
    data: UserData,
    pending: PendingJobs | None,
    erasures: Erasures | None = None,
    dead_letters: Mapping[str, DeadLetterPurge] | None = None,
    now: datetime | None = None,
) -> ErasureReport:
    """Erase ``user_id`` and the anonymous profiles seen with them; keep the marker and suppressions.

    Without ``erasures`` (no privacy table) only the rows are deleted; without ``dead_letters`` the
    dead-letter queues are left as they are.
    """
    if not user_id:
        raise ValueError("erase needs a user id")
    problem = reserved_id_problem(user_id)
    if problem is not None:
        raise ValueError(f"cannot erase {problem}")
    footprint = data.footprint(user_id)
    anonymous = [anonymous_profile_id(a) for a in footprint.anonymous_ids]
    profiles = [user_id, *anonymous]
    cancelled = sum(pending.cancel_for_user(p) for p in profiles) if pending is not None else 0
    kept = 0
    if erasures is not None:
        if now is None:
            raise ValueError("erasure with kept records needs the time of the erasure")
        records = records_for_erasure(
            erasures.pseudonyms, user_id, anonymous, footprint.traits, footprint.suppressed, now
        )
        erasures.records.keep(records)
        kept = len(records)
    deleted = data.erase(user_id)
    for profile_id in anonymous:
        for store, count in data.erase(profile_id).items():
            deleted[store] += count
    purged: dict[str, int] = {}
    unscanned: list[str] = []
    if dead_letters:
        ids = [*profiles, *footprint.anonymous_ids]
        addresses = [
            str(footprint.traits[t]) for t in CONTACT_TRAITS if isinstance(footprint.traits.get(t), str)
        ]

        def about_the_shopper(body: str) -> bool:
            return mentions(body, ids, addresses)

        for key, queue in dead_letters.items():
            outcome = queue.purge(about_the_shopper)
            if outcome.deleted:
                purged[key] = outcome.deleted
            if not outcome.complete:
                unscanned.append(key)
    return ErasureReport(user_id, deleted, cancelled, len(anonymous), purged, unscanned, kept)
