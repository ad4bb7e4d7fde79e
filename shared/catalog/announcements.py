"""The catalog's changes that catalog campaigns act on, put on the bus as Nudge's internal events.

Where the catalog changes (:func:`shared.catalog.updates.apply_updates`: ingest's products, the feed,
from the CLI or from S3), a price drop of at least the smallest ``min_percent`` of the live price-drop
campaigns becomes a ``Catalog Price Dropped`` event, and a restock (out of stock, then in) a ``Catalog
Back In Stock`` event, when a back-in-stock campaign is live: source :data:`INTERNAL_EVENT_SOURCE`,
with the product, its old and new price and the change's time (the update's event or feed time). Each
catalog campaign's rule (shared/deployment/invocations.py) takes the ones its trigger wants.

They are announced before the catalog is written: if PutEvents keeps refusing one (after the
publisher's retries), nothing is written and the caller fails (ingest: the records that carried
products are redelivered and the change is found again; the feed: the load stops with the error).
An announced change whose write then fails is announced again: the fan-out's send keys are derived
from (campaign, product, change time, shopper), so the shopper is messaged once.

Each announcement is **sealed**: its detail carries ``signature``, an HMAC with the stack's signing key
(shared/core/keys.py) over what the fan-out acts on (the product, the change's kind and time, the
prices, the currency, what a message shows). Whoever may put ``nudge.internal`` on the bus without the
key cannot make a catalog campaign message anyone: the fan-out parks an unsealed, altered or foreign
announcement with the reason (shared/triggers/catalog_triggers.py; docs/security.md). The drop's
percent, a number the rules filter on, is not signed as text (EventBridge may write ``20.0`` as
``20``): the fan-out requires it to be the drop the sealed prices make.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from shared.catalog.updates import CatalogChange, drop_percent
from shared.core.keys import HmacKey
from shared.events.sources import INTERNAL_EVENT_SOURCE

__all__ = ["INTERNAL_EVENT_SOURCE", "Announcements", "CatalogChangeKind", "CatalogEvent", "catalog_events"]


class CatalogChangeKind(StrEnum):
    """What a catalog trigger waits for (``trigger: {catalog: price_drop}``)."""

    PRICE_DROP = "price_drop"
    BACK_IN_STOCK = "back_in_stock"

    @property
    def detail_type(self) -> str:
        return DETAIL_TYPES[self]


SHOWN = ("name", "image_url", "url")
SEAL = "signature"  # the detail's field that holds the seal
SEAL_USE = "catalog-change"  # what the signing key signs here (shared/core/keys.py)
DETAIL_TYPES = {
    CatalogChangeKind.PRICE_DROP: "Catalog Price Dropped",
    CatalogChangeKind.BACK_IN_STOCK: "Catalog Back In Stock",
}


@dataclass(frozen=True)
class CatalogEvent:
    """One announced change: the event's ``detail``, and what the fan-out reads back from it."""

    kind: CatalogChangeKind
    product_id: str
    changed_at: datetime
    old_price: Decimal | None = None
    new_price: Decimal | None = None
    currency: str | None = None
    drop_percent: Decimal | None = None
    shown: tuple[tuple[str, str], ...] = ()  # what a message shows of the product: name, image_url, url

    @property
    def change_key(self) -> str:
        """The change, for send keys: the same change announced twice has the same key."""
        return f"{self.kind}:{self.product_id}@{self.changed_at.isoformat()}"

    def sealed_fields(self) -> list[Any]:
        """What the seal covers, as text that survives JSON and EventBridge unchanged."""
        prices = [str(p) if p is not None else None for p in (self.old_price, self.new_price)]
        when = self.changed_at.isoformat()
        return [SEAL_USE, str(self.kind), self.product_id, when, *prices, self.currency, dict(self.shown)]

    def sealed_detail(self, key: HmacKey) -> dict[str, Any]:
        """:meth:`detail` with its seal."""
        return {**self.detail(), SEAL: key.sign(self.sealed_fields())}

    def seal_problem(self, key: HmacKey, seal: object) -> str | None:
        """Why the announcement this was read from is not the stack's own (None: it is): the seal does
        not match the fields, or a price drop's percent is not the one its prices make."""
        if not key.matches(self.sealed_fields(), seal):
            return "not sealed with this stack's catalog key (forged, altered, or another stack's)"
        if self.kind == CatalogChangeKind.PRICE_DROP:
            made = drop_percent(self.old_price, self.new_price)
            if made is None or self.drop_percent != made:
                return f"drop_percent {self.drop_percent} is not the drop its sealed prices make ({made})"
        return None

    def detail(self) -> dict[str, Any]:
        detail: dict[str, Any] = {
            "catalog": str(self.kind),
            "product_id": self.product_id,
            "changed_at": self.changed_at.isoformat(),
        }
        for name in ("old_price", "new_price", "currency"):
            if getattr(self, name) is not None:
                detail[name] = str(getattr(self, name))
        detail.update(self.shown)
        if self.drop_percent is not None:
            detail["drop_percent"] = float(self.drop_percent)  # a number: the rule's numeric filter
        return detail

    @classmethod
    def from_detail(cls, detail: Mapping[str, Any]) -> CatalogEvent:
        """Read back :meth:`detail` (ValueError/KeyError/TypeError on anything else)."""

        def amount(name: str) -> Decimal | None:
            value = detail.get(name)
            return Decimal(str(value)) if value is not None else None

        changed_at = datetime.fromisoformat(str(detail["changed_at"]))
        if changed_at.tzinfo is None:
            raise ValueError("changed_at: a time with its zone")
        product_id = detail["product_id"]
        if not isinstance(product_id, str) or not product_id:
            raise ValueError("product_id: a product's id")
        currency = detail.get("currency")
        shown = tuple((k, detail[k]) for k in SHOWN if isinstance(detail.get(k), str))
        return cls(
            CatalogChangeKind(detail["catalog"]),
            product_id,
            changed_at,
            amount("old_price"),
            amount("new_price"),
            currency if isinstance(currency, str) else None,
            amount("drop_percent"),
            shown,
        )


def catalog_events(
    changes: Iterable[CatalogChange], min_percent: Decimal | None, restocks: bool
) -> list[CatalogEvent]:
    """The changes worth announcing: price drops of at least ``min_percent`` (None: none is), restocks
    when ``restocks``."""
    found = []
    for change in changes:
        after = change.after
        shown = tuple((k, getattr(after, k)) for k in SHOWN if getattr(after, k) is not None)
        drop = change.price_drop_percent
        if min_percent is not None and drop is not None and drop >= min_percent:
            assert change.before is not None  # a drop has a price before
            found.append(
                CatalogEvent(
                    CatalogChangeKind.PRICE_DROP,
                    after.product_id,
                    after.updated_at,
                    change.before.price,
                    after.price,
                    after.currency,
                    drop,
                    shown,
                )
            )
        if restocks and change.restocked:
            found.append(
                CatalogEvent(
                    CatalogChangeKind.BACK_IN_STOCK,
                    after.product_id,
                    after.updated_at,
                    new_price=after.price,
                    currency=after.currency,
                    shown=shown,
                )
            )
    return found


# Puts (detail type, detail) pairs on the bus, ten a PutEvents call; returns the ones still refused.
Publish = Callable[[Sequence[tuple[str, dict[str, Any]]]], list[dict[str, Any]]]


class AnnouncementFailed(RuntimeError):
    """PutEvents kept refusing a catalog event: the catalog is not written, the caller retries."""


@dataclass(frozen=True)
class Announcements:
    """What the live catalog campaigns want announced, and where to put it."""

    publish: Publish
    min_percent: Decimal | None  # the smallest min_percent of the price-drop campaigns (None: no such)
    restocks: bool  # a back-in-stock campaign is live
    key: HmacKey  # seals each announcement

    def announce(self, changes: Sequence[CatalogChange]) -> list[CatalogEvent]:
        """Put the changes worth announcing on the bus (raises :class:`AnnouncementFailed`)."""
        events = catalog_events(changes, self.min_percent, self.restocks)
        if events:
            refused = self.publish([(e.kind.detail_type, e.sealed_detail(self.key)) for e in events])
            if refused:
                raise AnnouncementFailed(f"PutEvents kept refusing {len(refused)} catalog events")
        return events
