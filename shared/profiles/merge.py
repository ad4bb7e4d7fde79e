"""Identity: an anonymous visitor's history folded into the known shopper's profile, and the link left behind.

An event carrying both ``anonymousId`` and ``userId`` (an identify, a track after logging in) or an
``alias`` (``previousId`` → ``userId``) links the anonymous id to the shopper. The rules:

* History moves once: the ``anon:`` profile's counts, windows, views, cart, times and orders are folded
  into the first shopper it is linked to, and the ``anon:`` item becomes a *link* (no history,
  ``linked_to``/``linked_at``). Ingest writes both in one transaction conditioned on both versions, so a
  duplicate, a retry or a racing batch folds it exactly once.
* Later events with only that anonymous id land on the shopper of the most recent login (a shared
  device: the next shopper to log in on it takes the link, not the history that already moved).
* One shopper, many devices: each anonymous id is linked and folded on its own.

Pure: ingest (shared/ingest/ingest.py) reads and writes; :func:`plan_links` decides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from shared.core.identity import anonymous_profile_id
from shared.core.money import CENT
from shared.events.contract import SegmentEvent
from shared.profiles.fold import _behaviour_key, _bump, decay_factor
from shared.profiles.products import absorb_products
from shared.profiles.profile import (
    AFFINITY_FLOOR,
    ENGAGEMENT_BIN_CAP,
    MAX_BEHAVIOURS,
    MAX_CATEGORIES,
    MAX_CATEGORIES_PER_EVENT,
    MAX_LINKED_ANONYMOUS_IDS,
    MAX_VIEWED_PRODUCTS,
    MAX_VIEWS_PER_PRODUCT,
    Activity,
    Profile,
)


def linked_anonymous_id(event: SegmentEvent) -> str | None:
    """The anonymous id an event links to its shopper: an alias's ``previousId`` (else its
    ``anonymousId``), or the ``anonymousId`` of any call that also carries a ``userId``."""
    if not event.user_id:
        return None
    if event.type == "alias":
        previous = (event.model_extra or {}).get("previousId")
        if isinstance(previous, str | int) and not isinstance(previous, bool) and str(previous):
            return None if str(previous) == event.user_id else str(previous)
    return event.anonymous_id


def logins(events: Iterable[SegmentEvent]) -> dict[str, datetime]:
    """Each anonymous id the events link, with the time of the latest event linking it."""
    latest: dict[str, datetime] = {}
    for event in events:
        anonymous_id = linked_anonymous_id(event)
        if anonymous_id is not None and (
            anonymous_id not in latest or event.timestamp > latest[anonymous_id]
        ):
            latest[anonymous_id] = event.timestamp
    return latest


@dataclass(frozen=True)
class LinkPlan:
    """What one write of ``profile`` carries: the profile with the anonymous histories folded in, and
    the ``anon:`` items to write with it (links, each conditioned on the version it was read at)."""

    profile: Profile
    links: tuple[Profile, ...]
    absorbed: tuple[str, ...] = ()  # the anonymous ids whose history this write moves


def plan_links(
    user_id: str,
    profile: Profile | None,
    events: Iterable[SegmentEvent],
    stored: Mapping[str, Profile | None],
) -> LinkPlan:
    """Fold into ``profile`` (``user_id``'s, None for a new shopper) the history of every anonymous id
    ``events`` link that has not moved yet (``stored``: the ``anon:`` profiles as read), and the links
    to write: a new one (history moved, or none to move), or an existing one taken over by a newer login
    of another shopper (a shared device). A link already pointing at ``user_id`` costs no write."""
    base = profile or Profile(user_id=user_id)
    links: list[Profile] = []
    absorbed: list[str] = []
    for anonymous_id, at in sorted(logins(events).items()):
        key = anonymous_profile_id(anonymous_id)
        anonymous = stored.get(key)
        if anonymous is not None and anonymous.linked_to is not None:
            newer = anonymous.linked_at is None or at > anonymous.linked_at
            if anonymous.linked_to != user_id and newer:
                links.append(anonymous.model_copy(update={"linked_to": user_id, "linked_at": at}))
            continue
        if anonymous is not None:
            base = absorb(base, anonymous)
            absorbed.append(anonymous_id)
        version = anonymous.version if anonymous is not None else 0
        links.append(Profile(user_id=key, linked_to=user_id, linked_at=at, version=version))
        if anonymous_id not in base.anonymous_ids:
            base.anonymous_ids = [*base.anonymous_ids, anonymous_id][-MAX_LINKED_ANONYMOUS_IDS:]
    return LinkPlan(base, tuple(links), tuple(absorbed))


def absorb(known: Profile, anonymous: Profile) -> Profile:
    """``known`` with ``anonymous``'s history folded in (a copy). Counts, orders and windows add up;
    first/last times widen; the more recently updated cart is the shopper's cart; traits the known
    profile lacks are filled, never overwritten; the duplicate fingerprints of both are kept."""
    merged = known.model_copy(deep=True)
    for name, buckets in anonymous.counts.items():
        key = _behaviour_key(merged, name)
        target = merged.counts.setdefault(key, {})
        for bucket, n in buckets.items():
            target[bucket] = target.get(bucket, 0) + n
    merged.first_seen = _earliest(merged.first_seen, anonymous.first_seen)
    merged.last_seen = _latest(merged.last_seen, anonymous.last_seen)
    merged.orders += anonymous.orders
    merged.revenue = (merged.revenue + anonymous.revenue).quantize(CENT)
    merged.first_order_at = _earliest(merged.first_order_at, anonymous.first_order_at)
    merged.last_order_at = _latest(merged.last_order_at, anonymous.last_order_at)
    for category, n in anonymous.category_views.items():
        _bump(merged.category_views, category, n, MAX_CATEGORIES)
    for category, n in anonymous.category_purchases.items():
        _bump(merged.category_purchases, category, n, MAX_CATEGORIES)
    if anonymous.cart is not None and (
        merged.cart is None or anonymous.cart.updated_at > merged.cart.updated_at
    ):
        merged.cart = anonymous.cart.model_copy(deep=True)
    _absorb_activity(merged.activity, anonymous.activity)
    _absorb_engagement(merged, anonymous.engagement_hours)
    _absorb_affinity(merged, anonymous)
    merged.traits = {**anonymous.traits, **merged.traits}
    merged.seen_events = anonymous.seen_events + merged.seen_events
    merged.goal_events = anonymous.goal_events + merged.goal_events
    return merged


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return min(a, b) if a is not None and b is not None else a or b


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return max(a, b) if a is not None and b is not None else a or b


def _absorb_activity(into: Activity, other: Activity) -> None:
    for name, minutes in other.last.items():
        if name in into.last or len(into.last) < MAX_BEHAVIOURS:
            into.last[name] = max(into.last.get(name, minutes), minutes)
    for day, (orders, revenue) in other.orders.items():
        known_orders, known_revenue = into.orders.get(day, (0, Decimal(0)))
        into.orders[day] = (known_orders + orders, (known_revenue + revenue).quantize(CENT))
    for name, per_category in other.categories.items():
        per_event = into.categories.setdefault(name, {})
        for category, days in per_category.items():
            if category in per_event or len(per_event) < MAX_CATEGORIES_PER_EVENT:
                buckets = per_event.setdefault(category, {})
                for day, n in days.items():
                    buckets[day] = buckets.get(day, 0) + n
    for product, times in other.viewed.items():
        into.viewed[product] = sorted([*into.viewed.get(product, []), *times])[-MAX_VIEWS_PER_PRODUCT:]
    while len(into.viewed) > MAX_VIEWED_PRODUCTS:
        oldest = min(into.viewed, key=lambda p: into.viewed[p][-1])
        del into.viewed[oldest]
    into.placed = {**other.placed, **into.placed}
    absorb_products(into.products, other.products)


def _absorb_engagement(profile: Profile, hours: list[int]) -> None:
    if len(hours) != 24:
        return
    known = profile.engagement_hours if len(profile.engagement_hours) == 24 else [0] * 24
    summed = [a + b for a, b in zip(known, hours, strict=True)]
    while max(summed) > ENGAGEMENT_BIN_CAP:
        summed = [n // 2 for n in summed]
    profile.engagement_hours = summed


def _absorb_affinity(profile: Profile, other: Profile) -> None:
    """Both affinities expressed as of the later ``affinity_at``, then added."""
    if other.affinity_at is None:
        return
    reference = _latest(profile.affinity_at, other.affinity_at)
    assert reference is not None

    def as_of(affinity: Mapping[str, list[float]], at: datetime | None) -> dict[str, list[float]]:
        factor = decay_factor((reference - at).total_seconds() / 86400) if at is not None else 1.0
        return {c: [b * factor, p * factor] for c, (b, p) in affinity.items()}

    summed = as_of(profile.category_affinity, profile.affinity_at)
    for category, (b, p) in as_of(other.category_affinity, other.affinity_at).items():
        if category in summed or len(summed) < MAX_CATEGORIES:
            known_b, known_p = summed.get(category, [0.0, 0.0])
            summed[category] = [known_b + b, known_p + p]
    profile.category_affinity = {
        c: [round(b, 3), round(p, 3)] for c, (b, p) in summed.items() if b + p >= AFFINITY_FLOOR
    }
    profile.affinity_at = reference
