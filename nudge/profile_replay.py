"""``nudge simulate``'s profiles: the store's events folded as ingest folds them, when a campaign needs a
profile (``shared.profiles.fold``), with a visitor's history moved to the shopper at login
(``shared.profiles.merge``)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from shared.core.identity import anonymous_profile_id
from shared.events.contract import SegmentEvent
from shared.profiles.fold import fold_events
from shared.profiles.merge import absorb, linked_anonymous_id
from shared.profiles.profile import Profile


@dataclass
class ProfileReplay:
    """Profiles as of a moving instant: events are folded when a campaign needs the profile."""

    profiles: dict[str, Profile] = field(default_factory=dict)
    pending: dict[str, list[SegmentEvent]] = field(default_factory=lambda: defaultdict(list))
    links: dict[str, str] = field(default_factory=dict)  # anon: id -> the shopper of its latest login

    def add(self, event: SegmentEvent) -> None:
        """As ingest folds it: a login moves the visitor's history to the shopper once, and later
        logged-out events of the device follow the most recent login (shared/profiles/merge.py)."""
        anonymous_id = linked_anonymous_id(event)
        if anonymous_id is not None:
            self._link(anonymous_profile_id(anonymous_id), event.profile_id)
        self.pending[self.follow(event.profile_id)].append(event)

    def _link(self, visitor: str, user_id: str) -> None:
        if visitor not in self.links:
            self.pending[user_id].extend(self.pending.pop(visitor, []))
            folded = self.profiles.pop(visitor, None)
            if folded is not None:
                self.profiles[user_id] = absorb(
                    self.profiles.get(user_id) or Profile(user_id=user_id), folded
                )
        self.links[visitor] = user_id

    def follow(self, user_id: str) -> str:
        """The profile ``user_id``'s events and jobs go to: the shopper a visitor logged in as."""
        return self.links.get(user_id, user_id)

    def profile(self, user_id: str) -> Profile | None:
        user_id = self.follow(user_id)
        waiting = self.pending.pop(user_id, None)
        if waiting:
            current = self.profiles.get(user_id) or Profile(user_id=user_id)
            self.profiles[user_id] = fold_events(current, waiting, in_place=True).profile
        return self.profiles.get(user_id)

    def everyone(self) -> list[Profile]:
        for user_id in list(self.pending):
            self.profile(user_id)
        return list(self.profiles.values())
