"""What ``nudge preview`` shows of the catalog: the products a message would carry, from the catalog
the previewed store's events make (as ingest would have kept it: shared/catalog/updates.py)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from shared.catalog.product import Product, products_in
from shared.catalog.updates import merged
from shared.events.contract import SegmentEvent


class EventCatalog:
    """The catalog the events make, in event-time order (read only)."""

    keeps_interest = False

    def __init__(self, events: Iterable[SegmentEvent]) -> None:
        self.products: dict[str, Product] = {}
        for update in sorted((p for e in events for p in products_in(e)), key=lambda p: p.updated_at):
            self.products[update.product_id] = (
                merged(self.products.get(update.product_id), update) or self.products[update.product_id]
            )

    def get_many(self, product_ids: Sequence[str]) -> dict[str, Product]:
        return {i: self.products[i] for i in product_ids if i in self.products}

    def put_many(self, products: Sequence[Product], interests: Sequence[Any] = ()) -> None:
        raise NotImplementedError("a preview writes nothing")


def described(products: Iterable[Product]) -> str:
    """``p-17 (49.99 USD, in stock), p-9 (5.00, out of stock)``, or ``none``."""
    shown = []
    for p in products:
        stock = {True: ", in stock", False: ", out of stock", None: ""}[p.in_stock]
        price = f"{p.price} {p.currency or ''}".strip() if p.price is not None else "no price"
        shown.append(f"{p.product_id} ({price}{stock})")
    return ", ".join(shown) or "none"
