"""What the stores keep about an erased shopper (a keyed hash, when, suppressions), read with the
profile or the ledger in the same request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class KeptRecord:
    """What Nudge keeps about an id or an address once the shopper is erased: its keyed hash, when the
    erasure happened (ids only) and the channels it must not be sent on, with why."""

    key: str
    erased_at: str | None = None
    suppressed: Mapping[str, str] = field(default_factory=dict)

    def erased_since(self, moment: datetime | str | None) -> bool:
        """Whether something from ``moment`` predates the erasure (None: of unknown age, so it may)."""
        if self.erased_at is None:
            return False
        if moment is None:
            return True
        when = moment if isinstance(moment, datetime) else _parse(moment)
        return when is None or when <= _parse(self.erased_at)  # type: ignore[operator]


def _parse(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
