"""The right to erasure: everything Nudge stores about one shopper, removed by one call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from shared.ports import UserData


class PendingJobs(Protocol):
    def cancel_for_user(self, user_id: str) -> int: ...


@dataclass(frozen=True)
class ErasureReport:
    user_id: str
    deleted: dict[str, int]
    cancelled_schedules: int

    @property
    def total(self) -> int:
        return sum(self.deleted.values()) + self.cancelled_schedules


def erase_user(user_id: str, data: UserData, pending: PendingJobs | None) -> ErasureReport:
    """Delete the profile, contact ledger, inbox and send log of ``user_id`` and any deferred jobs.

    Deferred jobs go first, so none can fire after the data is gone and log a decision again.
    """
    if not user_id:
        raise ValueError("erase needs a user id")
    cancelled = pending.cancel_for_user(user_id) if pending is not None else 0
    return ErasureReport(user_id, data.erase(user_id), cancelled)
