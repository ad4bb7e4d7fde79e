"""An event export (Segment-Spec payloads, one JSON object per line) as profiles at chosen moments.

Profiles are built by the same :func:`shared.profiles.fold.fold_events` that ingest runs, in batches the
size ingest sees, so features computed offline are the features the scorer computes in Lambda.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from shared.core.errors import EventRejected
from shared.events.contract import SegmentEvent, parse_detail
from shared.profiles.fold import fold_events
from shared.profiles.profile import Profile

FOLD_BATCH = 100  # ingest's batch size: the duplicate window behaves as it does in production
ORDER_EVENT = "Order Completed"
Progress = Callable[[int], None]


@dataclass
class EventHistory:
    events_by_user: dict[str, list[SegmentEvent]] = field(default_factory=dict)
    rejected: int = 0
    read: int = 0

    @classmethod
    def from_payloads(
        cls, payloads: Iterable[Any], until: datetime | None = None, progress: Progress | None = None
    ) -> EventHistory:
        """Keep the valid events up to ``until`` (inclusive); count what could not be parsed."""
        history = cls()
        by_user = history.events_by_user
        for payload in payloads:
            history.read += 1
            if progress is not None and history.read % 10_000 == 0:
                progress(history.read)
            try:
                event = parse_detail(payload)
            except EventRejected:
                history.rejected += 1
                continue
            if until is not None and event.timestamp > until:
                continue
            by_user.setdefault(event.profile_id, []).append(event)
        for events in by_user.values():
            events.sort(key=lambda e: e.timestamp)
        return history

    @classmethod
    def from_jsonl(
        cls, path: Path, until: datetime | None = None, progress: Progress | None = None
    ) -> EventHistory:
        return cls.from_payloads(_read_jsonl(path), until, progress)

    @property
    def events(self) -> int:
        return sum(len(v) for v in self.events_by_user.values())

    def first_event_at(self) -> datetime | None:
        return min((events[0].timestamp for events in self.events_by_user.values() if events), default=None)

    def profiles_at(self, moments: Sequence[datetime]) -> list[dict[str, Profile]]:
        """One snapshot per moment (ascending): each shopper's profile from their events up to it."""
        ordered = sorted(moments)
        snapshots: list[dict[str, Profile]] = [{} for _ in ordered]
        for user_id, events in self.events_by_user.items():
            times = [e.timestamp for e in events]
            profile = Profile(user_id=user_id)
            done = 0
            last = len(ordered) - 1
            for index, moment in enumerate(ordered):
                upto = bisect_right(times, moment)
                changed = done < upto
                while done < upto:
                    fold_events(profile, events[done : min(upto, done + FOLD_BATCH)], in_place=True)
                    done = min(upto, done + FOLD_BATCH)
                if done:
                    # Later moments keep folding into ``profile``: an earlier snapshot needs its own copy.
                    snapshot = profile if index == last else profile.model_copy(deep=True)
                    snapshots[index][user_id] = (
                        snapshot if changed or index == 0 else snapshots[index - 1][user_id]
                    )
        return [snapshots[ordered.index(m)] for m in moments]

    def orders_between(self, start: datetime, end: datetime) -> dict[str, list[SegmentEvent]]:
        """Each shopper's distinct orders with start < timestamp <= end."""
        found: dict[str, list[SegmentEvent]] = {}
        for user_id, events in self.events_by_user.items():
            seen: set[str] = set()
            for event in events:
                is_order = start < event.timestamp <= end and event.behaviour_name == ORDER_EVENT
                if is_order and event.message_id not in seen:
                    seen.add(event.message_id)
                    found.setdefault(user_id, []).append(event)
        return found

    def events_between(self, start: datetime, end: datetime) -> dict[str, list[SegmentEvent]]:
        return {
            user_id: selected
            for user_id, events in self.events_by_user.items()
            if (selected := [e for e in events if start < e.timestamp <= end])
        }


def _read_jsonl(path: Path) -> Iterator[Any]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    yield None
