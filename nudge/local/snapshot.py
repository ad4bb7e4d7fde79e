"""Profiles for the campaign CLI: the local synthetic store, or a snapshot file.

``nudge audience``, ``nudge preview`` and ``nudge simulate`` need shoppers to evaluate. The *local
store* is the seeded synthetic store that ``nudge demo`` runs (same seed, same shoppers), folded
into profiles by the same pure function ingest uses, without moto: a 2,000-shopper fortnight takes
a few seconds. A *snapshot* is a JSONL file with one profile per line (``nudge snapshot`` writes
one); a single profile can also be given as a JSON file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.core.identity import is_anonymous
from shared.events.contract import SegmentEvent, parse_detail
from shared.profiles.fold import fold_events
from shared.profiles.profile import Profile

Progress = Callable[[str], None]


def push_endpoint_for(user_id: str, platform: str) -> str:
    """The SNS endpoint ARN the demo's app backend would register (never called here)."""
    return f"arn:aws:sns:us-east-1:123456789012:endpoint/{platform}/nudge-shop-{platform.lower()}/{user_id}"


@dataclass
class ProfileSource:
    """Profiles as of ``taken_at``, and (for the local store) the events that built them."""

    profiles: dict[str, Profile]
    taken_at: datetime
    description: str
    events: list[SegmentEvent] = field(default_factory=list)

    def shoppers(self) -> list[Profile]:
        """Identified shoppers (anonymous visitors cannot be messaged by a batch campaign's id alone)."""
        return [p for uid, p in self.profiles.items() if not is_anonymous(uid)]


def store_events(users: int, days: int, seed: int) -> tuple[list[SegmentEvent], datetime, datetime]:
    """The synthetic store's events (parsed), its start and its end."""
    from nudge.shop.store import StoreConfig, SyntheticStore

    store = SyntheticStore(StoreConfig(users=users, days=days, seed=seed))
    endpoints = {
        s.user_id: push_endpoint_for(s.user_id, s.push_platform) for s in store.shoppers if s.push_platform
    }
    parsed = [parse_detail(e) for e in store.events(push_endpoints=endpoints)]
    return parsed, store.config.start, store.config.end


def fold_by_user(
    events: Iterable[SegmentEvent], profiles: dict[str, Profile] | None = None
) -> dict[str, Profile]:
    """Fold events into profiles, one fold per user (as ingest does per batch)."""
    profiles = profiles if profiles is not None else {}
    by_user: dict[str, list[SegmentEvent]] = {}
    for event in events:
        by_user.setdefault(event.profile_id, []).append(event)
    for user_id, own in by_user.items():
        current = profiles.get(user_id) or Profile(user_id=user_id)
        profiles[user_id] = fold_events(current, own, in_place=True).profile
    return profiles


def local_store(users: int = 2000, days: int = 14, seed: int = 7) -> ProfileSource:
    events, _start, end = store_events(users, days, seed)
    return ProfileSource(
        fold_by_user(events),
        end,
        f"local store: {users} shoppers, {days} days, seed {seed}",
        events,
    )


def read_profiles(path: Path, taken_at: datetime | None = None) -> ProfileSource:
    """A JSONL snapshot (one profile per line) or a JSON file holding one profile."""
    text = path.read_text()
    rows: Iterator[Any]
    if path.suffix == ".json":
        loaded = json.loads(text)
        rows = iter(loaded if isinstance(loaded, list) else [loaded])
    else:
        rows = (json.loads(line) for line in text.splitlines() if line.strip())
    profiles: dict[str, Profile] = {}
    for number, row in enumerate(rows, start=1):
        try:
            profile = Profile.model_validate(row)
        except ValueError as error:
            raise ValueError(f"{path}:{number}: not a profile: {error}") from None
        profiles[profile.user_id] = profile
    newest = max((p.last_seen for p in profiles.values() if p.last_seen), default=None)
    return ProfileSource(profiles, taken_at or newest or datetime.now(UTC), f"snapshot {path}")


def write_profiles(profiles: Iterable[Profile], path: Path) -> int:
    count = 0
    with path.open("w") as out:
        for profile in profiles:
            out.write(profile.model_dump_json(exclude={"seen_events", "goal_events", "version"}) + "\n")
            count += 1
    return count
