"""The shop's prices and stock over its days: a few products go on sale, a few sell out and come back.

The catalog Nudge keeps from the events (docs/catalog.md) then sees price drops and restocks, so the
catalog campaigns (price-drop, back-in-stock) have changes to announce in the demo. Fixed, like the
catalog: the same products change on the same days in every run.

- every :data:`SALE_EVERY`-th product is :data:`SALE_PERCENT` % off :data:`SALE_DAYS` days a week,
  from day 2, 3, 4 or 5 (its number decides which) and every 7 days after: a price drop a week;
- every :data:`SOLD_OUT_EVERY`-th product is out of stock :data:`SOLD_OUT_DAYS` days a week from day
  1, 2 or 3 (its events say ``stock: 0``), then back (``stock: 25``): a restock a week; other
  products' events carry no stock, as most shops' events do not.

The shelves (:class:`nudge.shop.catalog.Shelves`) show each product so priced from the moment a visit
starts: a view, a cart line and an order's lines and totals all carry the price of their visit.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Final, Protocol, TypeVar


class Shown(Protocol):
    """A shop's product as far as its price and stock go (nudge.shop.catalog.Product)."""

    @property
    def product_id(self) -> str: ...
    @property
    def price(self) -> float: ...


P = TypeVar("P", bound=Shown)

SALE_EVERY: Final = 15
SALE_PERCENT: Final = 20
SALE_DAYS: Final = 3
WEEK_DAYS: Final = 7
SOLD_OUT_EVERY: Final = 23
SOLD_OUT_DAYS: Final = 2
RESTOCKED: Final = 25


def _number(product_id: Any) -> int | None:
    """``p-0042`` → 42 (the shop's own ids; anything else has no schedule)."""
    if not isinstance(product_id, str) or not product_id.startswith("p-"):
        return None
    digits = product_id[2:]
    return int(digits) if digits.isdigit() else None


class PriceBook:
    """What a product costs, and whether it is in stock, at a moment of the store's days."""

    def __init__(self, start: datetime) -> None:
        self.start = start

    def _day(self, at: datetime) -> int:
        return (at - self.start) // timedelta(days=1)

    def on_sale(self, number: int, at: datetime) -> bool:
        """On sale :data:`SALE_DAYS` days a week, from a weekday its number decides."""
        first = 2 + (number // SALE_EVERY) % 4
        return number % SALE_EVERY == 0 and (self._day(at) - first) % WEEK_DAYS < SALE_DAYS

    def stock(self, number: int, at: datetime) -> int | None:
        """0 while sold out (:data:`SOLD_OUT_DAYS` days a week), then :data:`RESTOCKED`; None for a
        product that never sells out (and before its first sell-out)."""
        if number % SOLD_OUT_EVERY != 0:
            return None
        first = 1 + (number // SOLD_OUT_EVERY) % 3
        day = self._day(at)
        if day < first:
            return None
        return 0 if (day - first) % WEEK_DAYS < SOLD_OUT_DAYS else RESTOCKED

    def priced(self, product: P, at: datetime) -> P:
        """``product`` as the shop shows it at ``at``: its price, and its stock if it sells out."""
        number = _number(product.product_id)
        if number is None:
            return product
        price = product.price
        if self.on_sale(number, at):
            price = round(price * (100 - SALE_PERCENT) / 100, 2)
        stock = self.stock(number, at)
        if price == product.price and stock is None:
            return product
        return replace(product, price=price, stock=stock)  # type: ignore[type-var]
