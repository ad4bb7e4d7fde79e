"""The shopper's recent products: what the recommendations are made of.

Ingest keeps, per product the shopper viewed, carted or bought, the UTC day of the latest of them,
what was done with it (a bit each: viewed, carted, bought) and its category, in the profile write it
makes anyway. The latest ``MAX_RECENT_PRODUCTS`` products of the last ``PRODUCT_DAYS_KEPT`` days are
kept: about 20 bytes each before compression, a few hundred bytes for the busiest shopper.

Beside them, the products whose interest item (the catalog triggers' index, shared/catalog/interest.py)
ingest wrote for the shopper, with the UTC day of the item's time (``Activity.indexed``): ingest writes a
(shopper, product) item at most once a day. A mark is set only for an item written under this shopper's
id, by the profile write that follows it; a mark that is missing (never set, pruned, erased) costs one
write again, never an item. Marks of the newest two days are kept, at most ``MAX_INDEXED_PRODUCTS``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from shared.events.traits import clip

MAX_RECENT_PRODUCTS = 20
MAX_INDEXED_PRODUCTS = 30
PRODUCT_DAYS_KEPT = 180
VIEWED, CARTED, BOUGHT = 1, 2, 4
PRODUCT_ACTIONS = {"Product Viewed": VIEWED, "Product Added": CARTED, "Order Completed": BOUGHT}
MAX_PRODUCT_ID_BYTES = 64
MAX_CATEGORY_BYTES = 64

RecentProducts = dict[str, tuple[int, int, str]]


def day_number(at: datetime) -> int:
    return int(at.timestamp() // 86400)


def _product_id(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value)
    return text if text and len(text.encode()) <= MAX_PRODUCT_ID_BYTES else None  # longer: not an id


def _lines(name: str, props: Mapping[str, Any], max_lines: int) -> list[Mapping[str, Any]]:
    if name != "Order Completed":
        return [props]
    products = props.get("products")
    return [p for p in products[:max_lines] if isinstance(p, Mapping)] if isinstance(products, list) else []


def note_products(
    recent: RecentProducts, name: str, props: Mapping[str, Any], at: datetime, max_lines: int
) -> None:
    """Fold one event's products (the viewed or carted one, an order's lines) into ``recent``."""
    action = PRODUCT_ACTIONS.get(name)
    if action is None:
        return
    day = day_number(at)
    for line in _lines(name, props, max_lines):
        product = _product_id(line.get("product_id") or line.get("sku"))
        if product is None:
            continue
        category = line.get("category")
        known_day, actions, known_category = recent.pop(product, (day, 0, ""))
        kept_category = clip(category, MAX_CATEGORY_BYTES) if isinstance(category, str) else known_category
        recent[product] = (max(day, known_day), actions | action, kept_category)  # re-inserted: the latest
    prune_products(recent, at)


def prune_products(recent: RecentProducts, newest: datetime) -> None:
    """Drop products last touched more than PRODUCT_DAYS_KEPT days before ``newest``; keep the latest."""
    horizon = day_number(newest - timedelta(days=PRODUCT_DAYS_KEPT))
    latest = sorted(
        (p for p, entry in recent.items() if entry[0] > horizon),
        key=lambda p: recent[p][0],  # stable: among one day's products, the later-inserted stay
    )[-MAX_RECENT_PRODUCTS:]
    kept = {p: recent[p] for p in latest}
    recent.clear()
    recent.update(kept)


def absorb_products(into: RecentProducts, other: Mapping[str, tuple[int, int, str]]) -> None:
    """An anonymous visitor's products joined to the shopper's (identity merge), the latest kept."""
    for product, (day, actions, category) in other.items():
        known_day, known_actions, known_category = into.get(product, (day, 0, ""))
        into[product] = (max(day, known_day), actions | known_actions, known_category or category)
    latest = sorted(into, key=lambda p: into[p][0])[-MAX_RECENT_PRODUCTS:]
    kept = {p: into[p] for p in latest}
    into.clear()
    into.update(kept)


def bought(recent: Mapping[str, Sequence[Any]]) -> set[str]:
    return {p for p, entry in recent.items() if int(entry[1]) & BOUGHT}


def indexed_since(indexed: Mapping[str, int], product_id: str, at: datetime) -> bool:
    """Whether ingest wrote the shopper's interest item of ``product_id`` on ``at``'s UTC day or later."""
    return indexed.get(product_id, -1) >= day_number(at)


def note_indexed(indexed: dict[str, int], written: Mapping[str, int]) -> None:
    """Mark the products whose interest items were written for the shopper (product → the items' UTC day);
    keep the marks of the newest two days, at most MAX_INDEXED_PRODUCTS (the latest written)."""
    for product, day in written.items():
        known = indexed.pop(product, day)  # re-inserted: the latest written
        indexed[product] = max(day, known)
    newest = max(indexed.values(), default=0)
    latest = sorted((p for p, day in indexed.items() if day >= newest - 1), key=lambda p: indexed[p])
    kept = {p: indexed[p] for p in latest[-MAX_INDEXED_PRODUCTS:]}
    indexed.clear()
    indexed.update(kept)
