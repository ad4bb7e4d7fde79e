"""Who is interested in a product: the index a catalog campaign's fan-out reads (docs/catalog.md, triggers).

A shopper who views or carts a product shows interest in it. Ingest writes one index item per
(shopper, product) with the time of the latest such event of its batch, expiring (DynamoDB TTL)
:data:`INTEREST_DAYS` after it: the longest interest window a catalog trigger may have; at most once
per UTC day (the profile's marks, shared/ingest/products.py), so the item's time lags the shopper's
latest interest by less than a day. The items
ride in the BatchWriteItem requests ingest makes for the catalog anyway (25 items a request, both
tables together), so a batch whose products change pays nothing more until its catalog and interest
items pass 25; an event whose shopper and product already have an item in the batch adds no item.

The fan-out reads a product's interested shoppers by one Query on the ``by-product`` index, newest
interest first, at most :data:`MAX_INTERESTED` of them: beyond the bound the newest interest wins and
the older shoppers are not messaged. What is stored is not bounded per product (the TTL bounds it in
time); what one change reads and messages is.

Only shoppers are indexed: an anonymous visitor has no address. A visitor's events that follow their
login (in the same batch, or by the link ingest keeps) are indexed under the shopper; interest a
visitor showed in earlier batches, before logging in, moves to the shopper at that login, timed at the
start of its UTC day (shared/ingest/products.py, ``visitor_interest``). The items are keyed by shopper
first, so erasure deletes them with the shopper's other rows (topology.SHOPPER_TABLES).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from shared.catalog.product import PRODUCT_EVENTS, product_id_in

if TYPE_CHECKING:
    from shared.events.contract import SegmentEvent

INTEREST_DAYS = 30  # the longest window a catalog trigger may look back (and the items' TTL)
DEFAULT_WINDOW = "30d"
MAX_INTERESTED = 1000  # shoppers one change may message: the Query's Limit


@dataclass(frozen=True, order=True)
class Interest:
    """A shopper's latest view or cart of a product (of a batch), as the index keeps it."""

    user_id: str
    product_id: str
    at: datetime

    @property
    def expires_at(self) -> datetime:
        return self.at + timedelta(days=INTEREST_DAYS)


def interests_of(user_id: str, events: Iterable[SegmentEvent]) -> list[Interest]:
    """The interest ``user_id``'s events show: per product viewed or carted, the latest event's time."""
    latest: dict[str, datetime] = {}
    for event in events:
        if event.type != "track" or event.event not in PRODUCT_EVENTS:
            continue
        product_id = product_id_in(event.properties)
        if product_id is None:
            continue
        known = latest.get(product_id)
        if known is None or event.timestamp > known:
            latest[product_id] = event.timestamp
    return [Interest(user_id, product, at) for product, at in sorted(latest.items())]


class InterestIndex(Protocol):
    def interested(self, product_id: str, since: datetime, until: datetime, limit: int) -> list[Interest]:
        """The shoppers whose latest interest in ``product_id`` is from ``since`` to before ``until``,
        newest first, at most ``limit`` (one Query; the index is eventually consistent)."""
        ...


def write_order(interests: Sequence[Interest]) -> list[Interest]:
    """One item per (shopper, product): the latest interest (a batch may name a pair twice)."""
    latest: dict[tuple[str, str], Interest] = {}
    for interest in interests:
        key = (interest.user_id, interest.product_id)
        if key not in latest or interest.at > latest[key].at:
            latest[key] = interest
    return [latest[k] for k in sorted(latest)]
