"""Which send-log items are decisions and which conversions count, from ``since`` on, with their instants."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from shared.core.vocabulary import DecisionStatus
from shared.measurement.attribution import CANCELLED_FIELD

# Decisions that are not a campaign's final word on a send key (logged beside it, or in flight).
NOT_DECISIONS = frozenset(
    {
        DecisionStatus.DEFERRED_QUIET_HOURS,
        DecisionStatus.DEFERRED_SEND_TIME,
        DecisionStatus.DUPLICATE,
        DecisionStatus.CLAIMED,
    }
)

Dated = list[tuple[datetime, Mapping[str, Any]]]


def moment(item: Mapping[str, Any], name: str = "at") -> datetime | None:
    """The item's ``name`` as an aware instant (UTC if it has no zone); None if missing or unreadable."""
    value = item.get(name)
    if not value:
        return None
    try:
        read = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return read if read.tzinfo else read.replace(tzinfo=UTC)


def read_decisions(messages: Iterable[Mapping[str, Any]], since: datetime | None) -> Dated:
    """Each campaign's final word on a send key, decided at or after ``since``, with its instant."""
    decisions: Dated = []
    for item in messages:
        at = moment(item)
        if at is None or (since is not None and at < since) or item.get("status") in NOT_DECISIONS:
            continue
        decisions.append((at, item))
    return decisions


def read_conversions(conversions: Iterable[Mapping[str, Any]], since: datetime | None) -> Dated:
    """Conversions whose decision was taken at or after ``since``, with the instant they converted; a
    cancelled order's are not (its refunds are already net in the others' ``revenue``)."""
    converted: Dated = []
    for item in conversions:
        at = moment(item, "converted_at")
        decided = moment(item, "decided_at")
        too_early = since is not None and decided is not None and decided < since
        if at is None or decided is None or too_early or item.get(CANCELLED_FIELD):
            continue
        converted.append((at, item))
    return converted
