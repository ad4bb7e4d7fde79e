"""Ingest's catalog step: the products a batch's events tell about, folded into the catalog, and the
shoppers' interest in them (the index catalog campaigns read, shared/catalog/interest.py).

It costs one BatchGetItem per 100 distinct products of the batch and one BatchWriteItem per 25 it
changes (shared/catalog/updates.py), whatever the number of events: a batch of 100 product events
adds at most 1 + 4 requests, 0.05 per event, and usually 2 (a batch names fewer than 25 products).
The interest items ride in the same BatchWriteItem requests (25 items of both tables a request).
If the catalog cannot be read or written, the records that carried products fail and SQS redelivers
them: their profile folds are duplicates then (events are folded once by message id), their products
are applied again and their interest is written then (the profile write that follows a failed one
carries no mark, :func:`indexed_days`).

An interest item is written at most once per shopper, product and UTC day (the profile's marks,
shared/profiles/products.py): the shopper's later views that day add no item, so the item's time is the
first batch's of the day and lags their latest interest by less than a day (docs/catalog.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from shared.catalog.interest import INTEREST_DAYS, Interest, interests_of
from shared.catalog.ports import ProductCatalog
from shared.catalog.product import PRODUCT_EVENTS, Product, products_in
from shared.catalog.updates import CatalogChange, apply_updates
from shared.core.identity import anonymous_profile_id, is_anonymous
from shared.events.contract import SegmentEvent
from shared.profiles.kept import KeptRecord
from shared.profiles.merge import logins
from shared.profiles.products import CARTED, VIEWED, day_number, indexed_since
from shared.profiles.profile import Profile, product_of

DAY_SECONDS = 86400


def product_updates(events: Sequence[tuple[str, SegmentEvent]]) -> list[tuple[str, Product]]:
    """(record id, product) for every product the events (with their records' ids) tell about."""
    return [(record_id, product) for record_id, event in events for product in products_in(event)]


def interest_events(
    by_user: Mapping[str, Sequence[tuple[str, SegmentEvent]]],
    current: Mapping[str, Profile],
    kept: Mapping[str, KeptRecord],
    keys: Mapping[str, str],
    entered: Mapping[str, datetime],
) -> dict[str, list[SegmentEvent]]:
    """Each shopper's events (with their records' ids) that show new interest: none of a day whose item
    ingest wrote already (the profile's mark, ``Activity.indexed``: once per shopper, product and UTC day;
    a duplicate of an indexed event is one), none of a day before the profile's latest touch of the
    product (a late event: the index holds a newer one), none predating their erasure (``kept``: the
    markers by ``keys``). A view the same day as the latest touch is written unless it is marked: the
    touch may be the visitor's the shopper was merged with at login, or a purchase, neither of which is
    in the index. An event the profile folded, whose item was not written (the catalog write failed and
    the record is redelivered), is written: it has no mark."""
    found = {}
    for user_id, items in by_user.items():
        marker, profile = kept.get(keys.get(user_id, "")), current.get(user_id)
        latest = profile.activity.products if profile is not None else {}
        indexed = profile.activity.indexed if profile is not None else {}
        found[user_id] = [
            e
            for record_id, e in items
            if e.event in PRODUCT_EVENTS
            and (marker is None or not marker.erased_since(entered[record_id]))
            and not indexed_since(indexed, str(product_of(e.properties)), e.timestamp)
            and latest.get(str(product_of(e.properties)), (0,))[0] <= day_number(e.timestamp)
        ]
    return found


def batch_interests(by_user: Mapping[str, Sequence[SegmentEvent]]) -> list[Interest]:
    """The interest the batch's shoppers show (``by_user``: their events once logins are followed, none
    predating their erasure); an anonymous visitor's are left out."""
    return [
        interest
        for user_id, events in by_user.items()
        if not is_anonymous(user_id)
        for interest in interests_of(user_id, events)
    ]


def indexed_days(interests: Sequence[Interest]) -> dict[str, dict[str, int]]:
    """Per shopper, the products whose interest items were written, with the items' UTC day: the marks the
    shoppers' profile writes then carry (``Activity.indexed``)."""
    marks: dict[str, dict[str, int]] = {}
    for interest in interests:
        marks.setdefault(interest.user_id, {})[interest.product_id] = day_number(interest.at)
    return marks


@dataclass(frozen=True)
class CatalogStep:
    """What the batch's catalog step did: the changes, and the interest items written (per shopper,
    product → the item's UTC day: the marks the profile writes then carry); or the error that kept them
    from the catalog, with the records that carried products (they fail, SQS redelivers them)."""

    changes: list[CatalogChange] = field(default_factory=list)
    indexed: dict[str, dict[str, int]] = field(default_factory=dict)
    error: str | None = None
    carried: frozenset[str] = frozenset()


def catalog_step(
    catalog: ProductCatalog,
    events: Sequence[tuple[str, SegmentEvent]],
    interested: Mapping[str, Sequence[SegmentEvent]],
    moved: Sequence[Interest] = (),
) -> CatalogStep:
    """Fold the products ``events`` (with their records' ids) tell about into the catalog, and the
    interest ``interested`` shows (:func:`interest_events`) and the interest logins ``moved`` from
    visitors (:func:`visitor_interest`) into the index, in the same requests."""
    updates = product_updates(events)
    interests = [*batch_interests(interested), *moved]
    if not updates and not interests:
        return CatalogStep()
    try:
        changes = apply_updates(catalog, [p for _, p in updates], interests)
    except Exception as error:
        reason = f"updating the catalog: {type(error).__name__}: {error}"
        moving = {i.user_id for i in moved}
        carried = {r for r, _ in updates} | {r for r, e in events if e.profile_id in moving}
        return CatalogStep(error=reason, carried=frozenset(carried))
    return CatalogStep(changes, indexed_days(interests))


def visitor_interest(
    by_user: Mapping[str, Sequence[SegmentEvent]],
    current: Mapping[str, Profile],
    erased: Mapping[str, bool],
) -> list[Interest]:
    """The interest an anonymous visitor showed before logging in, moved to the shopper whose login in
    ``by_user`` (each shopper's events, once logins are followed) absorbs the visitor's history now
    (``current``: the profiles as read; a visitor moved at an earlier login holds no history): each
    product they viewed or carted within the index's days, at the start of its UTC day (the recent
    products keep the day only), unless the shopper's own touch of it is as recent, or marked. None for
    a shopper with an erasure marker (``erased``)."""
    found = []
    for user_id, events in by_user.items():
        if is_anonymous(user_id) or erased.get(user_id):
            continue
        shopper = current.get(user_id)
        own = shopper.activity.products if shopper is not None else {}
        marks = shopper.activity.indexed if shopper is not None else {}
        for anonymous_id, at in logins(events).items():
            visitor = current.get(anonymous_profile_id(anonymous_id))
            if visitor is None:  # a visitor moved at an earlier login keeps a link and no history
                continue
            for product, (day, actions, _) in visitor.activity.products.items():
                when = datetime.fromtimestamp(day * DAY_SECONDS, UTC)
                if (
                    actions & (VIEWED | CARTED)
                    and at - when < timedelta(days=INTEREST_DAYS)
                    and own.get(product, (-1,))[0] < day
                    and marks.get(product, -1) < day
                ):
                    found.append(Interest(user_id, product, when))
    return found
