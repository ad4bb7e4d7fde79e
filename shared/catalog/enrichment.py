"""The catalog at send time: which products a message shows, and items enriched with them.

A message reads the catalog once (one BatchGetItem, at most :data:`MAX_PRODUCTS_PER_MESSAGE` ids) for
the products of its cart, of its triggering event (``product_id``, an order's ``products``) and the
ones its templates name as ``product("p-17")`` (a literal id). Each cart or event item then carries
the product's ``current_price``, ``in_stock``, ``stock`` and, where the item had none, its
``image_url``; ``product(id)`` returns the product (empty for one the catalog does not have, or one
not named literally or by the cart or event: those render as empty, like any missing value).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from shared.catalog.product import MAX_ID_CHARS, Product

MAX_PRODUCTS_PER_MESSAGE = 100  # one BatchGetItem
_LITERAL = re.compile(rf"""product\(\s*(["'])([^"'\\]{{1,{MAX_ID_CHARS}}})\1\s*\)""")


def named_products(sources: Iterable[str | None]) -> list[str]:
    """The ids templates name literally, as ``product("p-17")``, in order of first use."""
    found: dict[str, None] = {}
    for source in sources:
        for match in _LITERAL.finditer(source or ""):
            found.setdefault(match.group(2), None)
    return list(found)


def _item_id(item: Any) -> str | None:
    if not isinstance(item, Mapping):
        return None
    value = item.get("product_id") or item.get("sku")
    return str(value)[:MAX_ID_CHARS] if isinstance(value, str | int) and not isinstance(value, bool) else None


def event_items(event: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The items of an event: itself when it names a product, and its ``products``."""
    lines = event.get("products")
    found = lines if isinstance(lines, list) else []
    return [event, *(line for line in found if isinstance(line, Mapping))]


def wanted_products(
    cart_items: Iterable[Mapping[str, Any]], event: Mapping[str, Any], named: Iterable[str]
) -> list[str]:
    """The ids a message reads from the catalog: named ones first, then the event's, then the cart's."""
    found: dict[str, None] = dict.fromkeys(named)
    for item in [*event_items(event), *cart_items]:
        product_id = _item_id(item)
        if product_id:
            found.setdefault(product_id, None)
    return list(found)[:MAX_PRODUCTS_PER_MESSAGE]


def enriched(item: Mapping[str, Any], products: Mapping[str, Product]) -> dict[str, Any]:
    """``item`` with its product's current price, stock and (if it had none) image."""
    product = products.get(_item_id(item) or "")
    if product is None:
        return dict(item)
    now = {"current_price": product.price, "in_stock": product.in_stock, "stock": product.stock}
    image = item.get("image_url") or product.image_url
    return {**item, **now, **({"image_url": image} if image else {})}


def enriched_event(event: Mapping[str, Any], products: Mapping[str, Product]) -> dict[str, Any]:
    """The event, itself and each of its ``products`` enriched."""
    found = enriched(event, products)
    lines = event.get("products")
    if isinstance(lines, list):
        found["products"] = [
            enriched(line, products) if isinstance(line, Mapping) else line for line in lines
        ]
    return found


def product_lookup(products: Mapping[str, Product]) -> Callable[[Any], dict[str, Any]]:
    """The ``product(id)`` templates call."""
    views = {product_id: p.template_view() for product_id, p in products.items()}

    def product(product_id: Any) -> dict[str, Any]:
        return dict(views.get(str(product_id), {}))

    return product
