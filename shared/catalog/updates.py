"""Keeping the catalog current: updates applied in event-time order, last writer wins by event time.

A batch of updates (an ingest batch's products, a feed's rows) costs one read per 100 products it
names and one write per 25 products it changes: :func:`apply_updates` folds each product's updates in
event-time order onto what is stored, so an update no newer than the stored product (a duplicate, an
event that arrives after a newer one) changes nothing, and a product's fields an update does not
carry (an order line's url, an event's stock) keep their stored values.

Ingest's interest index (shared/catalog/interest.py) rides in the same BatchWriteItem requests.

Two writers folding the same product at the same moment (two ingest invocations) both read, then
both write: the later write wins by arrival for that moment, and the product's next update puts
event-time order back (BatchWriteItem takes no condition; a conditional write per product would cost
a request per product instead of one per 25).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, runtime_checkable

from shared.catalog.interest import Interest, write_order
from shared.catalog.ports import ProductCatalog
from shared.catalog.product import Product


def drop_percent(old: Decimal | None, new: Decimal | None) -> Decimal | None:
    """How many percent cheaper ``new`` is than ``old``, to the hundredth (None: not cheaper, or unpriced)."""
    if old is None or new is None or old <= 0 or new >= old:
        return None
    return ((old - new) * 100 / old).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class CatalogChange:
    """A product as it was (None: new to the catalog) and as it is after an update."""

    before: Product | None
    after: Product

    @property
    def price_drop_percent(self) -> Decimal | None:
        """How many percent cheaper the product became (None when it did not, or was unpriced)."""
        return drop_percent(self.before.price if self.before else None, self.after.price)

    @property
    def restocked(self) -> bool:
        """The product was out of stock and is in stock again."""
        return self.before is not None and self.before.in_stock is False and self.after.in_stock is True


def merged(stored: Product | None, update: Product) -> Product | None:
    """``stored`` after ``update``, or None when the update changes nothing (it is no newer)."""
    if stored is None:
        return update
    if update.updated_at <= stored.updated_at:
        return None
    carried = {k: v for k, v in update.__dict__.items() if v is not None}
    if update.in_stock is not None and update.stock is None:
        carried["stock"] = None  # "in stock" without a count: a stored count is no longer known
    return stored.model_copy(update=carried)


@runtime_checkable
class AnnouncingCatalog(Protocol):
    """A catalog that tells the catalog campaigns about its changes (shared/catalog/announcements.py)."""

    def announce(self, changes: Sequence[CatalogChange]) -> None: ...


def apply_updates(
    catalog: ProductCatalog, updates: Iterable[Product], interests: Sequence[Interest] = ()
) -> list[CatalogChange]:
    """Fold ``updates`` onto the stored catalog and write the products they change (see the module
    docstring for the cost), with the shoppers' ``interests`` in the same requests; the changes, in
    product id order. A catalog that announces is told the changes before they are written (ingest's,
    the feed's: every path that changes the catalog), so a refused announcement leaves it unwritten."""
    by_product: dict[str, list[Product]] = defaultdict(list)
    for update in updates:
        by_product[update.product_id].append(update)
    if not by_product:
        if interests:  # a login's visitor interest, in a batch without products (shared/ingest/products.py)
            catalog.put_many([], write_order(interests))
        return []
    stored = catalog.get_many(sorted(by_product))
    changes = []
    for product_id in sorted(by_product):
        before = current = stored.get(product_id)
        for update in sorted(by_product[product_id], key=lambda u: u.updated_at):
            current = merged(current, update) or current
        if current is not None and current is not before:
            changes.append(CatalogChange(before, current))
    if changes and isinstance(catalog, AnnouncingCatalog):
        catalog.announce(changes)
    if changes or interests:
        catalog.put_many([c.after for c in changes], write_order(interests))
    return changes
