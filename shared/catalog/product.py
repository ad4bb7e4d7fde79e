"""A product as the catalog keeps it, with its bounds, and the products an event tells about.

Every field is bounded so one catalog item stays under 3 KB (ids and sku 128 characters, name 200,
category 100, urls 1,024, currency 3): a feed row over a bound is refused with the field named
(:func:`problems_of`), an event's value over a bound is clipped or dropped (the event is already
accepted; the catalog takes what it can of it). Urls are http(s) only: they end up in emails' links.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shared.core.money import amount_of

# deliver shows products and loads no event contract (tests/unit/test_event_path_imports.py)
if TYPE_CHECKING:
    from shared.events.contract import SegmentEvent

MAX_ID_CHARS = 128
MAX_NAME_CHARS = 200
MAX_CATEGORY_CHARS = 100
MAX_URL_CHARS = 1024
MAX_STOCK = 1_000_000_000
# The events whose products update the catalog: one product in the properties, or an order's lines.
PRODUCT_EVENTS = ("Product Viewed", "Product Added")
ORDER_EVENTS = ("Order Completed",)
MAX_PRODUCTS_PER_EVENT = 100  # an order's first 100 lines (the profile folds as many)
_URL = re.compile(r"https?://[^\s\x00-\x1f\x7f]+", re.IGNORECASE)
_CURRENCY = re.compile(r"[A-Z]{3}")


class Product(BaseModel):
    """One product now. ``updated_at`` is the event time (or feed time) of the newest update applied:
    an update no newer than it changes nothing (last writer wins by event time, not arrival)."""

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

    product_id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    sku: str | None = Field(default=None, max_length=MAX_ID_CHARS)
    name: str | None = Field(default=None, max_length=MAX_NAME_CHARS)
    price: Decimal | None = Field(default=None, ge=0, le=Decimal("1e9"))
    currency: str | None = None
    category: str | None = Field(default=None, max_length=MAX_CATEGORY_CHARS)
    image_url: str | None = Field(default=None, max_length=MAX_URL_CHARS)
    url: str | None = Field(default=None, max_length=MAX_URL_CHARS)
    in_stock: bool | None = None
    stock: int | None = Field(default=None, ge=0, le=MAX_STOCK)
    updated_at: datetime

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, value: str | None) -> str | None:
        if value is not None and not _CURRENCY.fullmatch(value.upper()):
            raise ValueError("an ISO 4217 code of three letters, e.g. USD")
        return value.upper() if value is not None else None

    @field_validator("image_url", "url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not _URL.fullmatch(value):
            raise ValueError("an http(s) URL")
        return value

    @field_validator("updated_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("a time with its zone, e.g. 2026-12-01T08:00:00Z")
        return value

    @model_validator(mode="after")
    def _stock_says_in_stock(self) -> Product:
        if self.stock is not None and self.in_stock is None:
            object.__setattr__(self, "in_stock", self.stock > 0)
        return self

    def template_view(self) -> dict[str, Any]:
        """What ``{{ product("p-17") }}`` shows a template (no internal fields)."""
        return self.model_dump()


def problems_of(row: Mapping[str, Any]) -> tuple[Product | None, list[tuple[str, str]]]:
    """A feed row as a product, or the (field, problem) pairs that refuse it."""
    try:
        return Product.model_validate(dict(row)), []
    except ValidationError as error:
        return None, [(".".join(str(p) for p in e["loc"]) or "row", e["msg"]) for e in error.errors()]


def _text(value: Any, limit: int) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    return text[:limit] or None


def _url(value: Any) -> str | None:
    return value if isinstance(value, str) and len(value) <= MAX_URL_CHARS and _URL.fullmatch(value) else None


def _stock(properties: Mapping[str, Any]) -> tuple[bool | None, int | None]:
    stock = properties.get("stock")
    if isinstance(stock, int) and not isinstance(stock, bool) and 0 <= stock <= MAX_STOCK:
        return stock > 0, stock
    in_stock = properties.get("in_stock")
    return (in_stock, None) if isinstance(in_stock, bool) else (None, None)


def product_id_in(properties: Mapping[str, Any], sku: str | None = None) -> str | None:
    """The id of the product ``properties`` tell about: its ``product_id``, else its ``sku`` (``sku``:
    already read)."""
    return _text(properties.get("product_id"), MAX_ID_CHARS) or (
        sku if sku is not None else _text(properties.get("sku"), MAX_ID_CHARS)
    )


def product_from(properties: Mapping[str, Any], at: datetime, currency: Any = None) -> Product | None:
    """What one product's properties in an event say about it at ``at`` (None without an id). Values
    the catalog cannot keep are dropped, text over its bound is clipped."""
    sku = _text(properties.get("sku"), MAX_ID_CHARS)
    product_id = product_id_in(properties, sku)
    if product_id is None:
        return None
    code = properties.get("currency", currency)
    in_stock, stock = _stock(properties)
    return Product.model_construct(
        product_id=product_id,
        sku=sku,
        name=_text(properties.get("name"), MAX_NAME_CHARS),
        price=amount_of(properties.get("price")),
        currency=code.upper() if isinstance(code, str) and _CURRENCY.fullmatch(code.upper()) else None,
        category=_text(properties.get("category"), MAX_CATEGORY_CHARS),
        image_url=_url(properties.get("image_url")),
        url=_url(properties.get("url")),
        in_stock=in_stock,
        stock=stock,
        updated_at=at,
    )


def products_in(event: SegmentEvent) -> Iterator[Product]:
    """The products ``event`` tells about: a viewed or carted product, an order's lines."""
    if event.type != "track":
        return
    properties = event.properties
    if event.event in PRODUCT_EVENTS:
        found = product_from(properties, event.timestamp)
        if found is not None:
            yield found
    elif event.event in ORDER_EVENTS:
        lines = properties.get("products")
        for line in lines[:MAX_PRODUCTS_PER_EVENT] if isinstance(lines, list) else []:
            if isinstance(line, Mapping):
                found = product_from(line, event.timestamp, properties.get("currency"))
                if found is not None:
                    yield found
