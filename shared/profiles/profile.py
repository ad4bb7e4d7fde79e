"""Shopper profiles: traits (L1), behavioural aggregates (L2), scores (L3) and live state (L4).

Folding events into a profile is pure: :func:`fold_events` takes a profile and a user's events
from one batch and returns the new profile. The ingest handler reads every profile of a batch in
one request and writes each changed profile once, so the hot path costs one write per user per
batch, with the event ids recorded in the same write that updates the aggregates."""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SerializationInfo, field_serializer, field_validator

from shared.core.vocabulary import Channel
from shared.events.traits import (
    MAX_TRAITS,
    MAX_TRAITS_BYTES,
    RESERVED_TRAITS,
    SCORE_ATTRIBUTES,
    clip,
    consent_of,
)

__all__ = [  # what other modules read from here, though it is defined in shared.events.traits
    "MAX_TRAITS",
    "MAX_TRAITS_BYTES",
    "RESERVED_TRAITS",
    "clip",
    "consent_of",
]

# Day buckets serve rolling windows up to a month; older days fold into month buckets ("2026-10"),
# so an active shopper's item stays a few KB (DynamoDB bills writes per KB).
DAY_BUCKETS_KEPT = 35
MONTH_BUCKETS_KEPT = 13
# Duplicates arrive within minutes of the original (SQS / EventBridge retries); 48-bit fingerprints
# of the shopper's last 48 events catch them in 288 bytes of the profile item (raw bytes: random
# digests do not compress, and text would cost a third more). Together with the compressed
# aggregates this keeps a typical profile under 1 KB, one write unit per batch.
RECENT_EVENTS = 48
FINGERPRINT_LENGTH = 6
# Orders (the goal events the profile counts) are de-duplicated for as long as they count in its order
# windows: each keeps its fingerprint and UTC day (2 bytes) for ORDER_DAYS_KEPT days, 500 at most —
# a replay after 48 other events would otherwise count twice. A typical buyer's costs a few dozen bytes.
ORDER_EVENT = "Order Completed"
# Segment's V2 Ecommerce events that take an order's money back (shared/profiles/orders.py); remembered
# as long as orders are, so that a replayed refund is not taken back twice.
REFUND_EVENT = "Order Refunded"
CANCEL_EVENT = "Order Cancelled"
MONEY_EVENTS = frozenset({ORDER_EVENT, REFUND_EVENT, CANCEL_EVENT})
# What a refund or a cancellation is netted against: each order's UTC day and the value it still counts
# for, by a fingerprint of its ``order_id``, while its day is in the order windows (the latest 200).
MAX_LINKED_ORDERS = 200
GOAL_ENTRY_LENGTH = FINGERPRINT_LENGTH + 2
MAX_GOAL_EVENTS = 500
MAX_BEHAVIOURS = 200
MAX_CART_ITEMS = 50
MAX_CATEGORIES = 100
MAX_BEHAVIOUR_NAME_BYTES = 16 * 1024
MAX_PRODUCTS_PER_EVENT = 100
CART_TEXT_BYTES = {"sku": 128, "name": 256, "category": 128, "brand": 128, "image_url": 512, "url": 512}
PROFILE_ITEM_BOUND = 300_000
OTHER_BEHAVIOUR = "(other)"
# L3 inputs kept by ingest. Engagement is counted per UTC hour of day (the shopper's time zone may be
# learnt later; the scorer shifts the histogram into it); a full bin halves them all, which also lets
# old habits fade. Category affinity decays exponentially: [browse, purchase] weight per category,
# both expressed as of ``affinity_at``, so the fold is order-independent and costs no extra write.
ENGAGEMENT_TYPES = frozenset({"track", "page", "screen"})
ENGAGEMENT_BIN_CAP = 10_000
AFFINITY_HALF_LIFE_DAYS = 30.0
AFFINITY_FLOOR = 0.01
BROWSE_WEIGHTS = {"Product Viewed": 1.0, "Product Added": 2.0}
# Activity windows for the audience language (see :class:`Activity`).
ORDER_DAYS_KEPT = 400
MAX_ORDER_DAYS = 120
CATEGORY_DAYS_KEPT = DAY_BUCKETS_KEPT
# Category windows are kept for the browse, cart and purchase events only: every other event with
# a category would add its own day map to every item for rules nobody writes.
CATEGORY_EVENTS = ("Product Viewed", "Product Added", "Order Completed")
MAX_CATEGORIES_PER_EVENT = 20
# Product views for real-time triggers ("the same product viewed 3 times in 24 hours").
VIEWS_KEPT = timedelta(hours=48)
MAX_VIEWED_PRODUCTS = 10
MAX_VIEWS_PER_PRODUCT = 5
# Anonymous ids seen with this shopper's user id (identify, or tracks after logging in), so that erasure
# finds the ``anon:`` profiles of their pre-login visits; recorded in the profile write ingest makes
# anyway. The most recent ones (a shopper uses a handful of devices and browsers).
MAX_LINKED_ANONYMOUS_IDS = 10


class CartItem(BaseModel):
    model_config = ConfigDict(extra="ignore")

    product_id: str
    sku: str | None = None
    name: str | None = None
    category: str | None = None
    brand: str | None = None
    price: Decimal | None = None
    quantity: int = 1
    image_url: str | None = None
    url: str | None = None


class Cart(BaseModel):
    cart_id: str | None = None
    items: list[CartItem] = Field(default_factory=list)
    updated_at: datetime
    checkout_started_at: datetime | None = None

    @property
    def value(self) -> Decimal:
        return sum(((i.price or Decimal(0)) * i.quantity for i in self.items), Decimal(0))


class Activity(BaseModel):
    """What the audience language reads beyond the day buckets: recency, money and category windows.

    * ``last``: Unix time in minutes of the latest event of each name (``last("Product Viewed") within 3d``).
    * ``orders``: per UTC day, ``[orders, revenue]`` for 400 days (``sum(revenue, 90d)``,
      ``count("Order Completed", 180d)``); at most 120 order days, the oldest dropped first.
    * ``categories``: for ``CATEGORY_EVENTS``, per ``category`` (of the event, or of an order's
      products), per UTC day, for 35 days (``count("Product Viewed", 7d, category == shoes)``);
      at most 20 categories per event.

    Every map is bounded so a profile stays around one write unit. Stored as one compressed binary
    attribute (see :meth:`Profile._pack_activity`), so it costs a few dozen bytes, not a few hundred.
    """

    model_config = ConfigDict(extra="ignore")

    last: dict[str, int] = Field(default_factory=dict)
    orders: dict[str, tuple[int, Decimal]] = Field(default_factory=dict)
    categories: dict[str, dict[str, dict[str, int]]] = Field(default_factory=dict)
    viewed: dict[str, list[int]] = Field(
        default_factory=dict,
        description="Product id → minutes of its latest views (48 h, 10 products, 5 views each): "
        "what a browse-abandonment trigger counts.",
    )
    placed: dict[str, tuple[str, Decimal, bool]] = Field(
        default_factory=dict,
        description="Order key (a fingerprint of its order_id) → [UTC day, value it still counts for, "
        "cancelled]: what a refund or a cancellation takes back from (400 days, 200 orders).",
    )

    products: dict[str, tuple[int, int, str]] = Field(
        default_factory=dict,
        description="Product id → [UTC day number, viewed 1 | carted 2 | bought 4, category] of the "
        "shopper's latest 20 products of 180 days: what recommendations are made of "
        "(shared/profiles/products.py).",
    )
    indexed: dict[str, int] = Field(
        default_factory=dict,
        description="Product id → UTC day number of the interest item ingest last wrote for this shopper "
        "(the catalog triggers' index): one write a shopper, product and day (shared/profiles/products.py).",
    )

    def is_empty(self) -> bool:
        return not (
            self.last
            or self.orders
            or self.categories
            or self.viewed
            or self.placed
            or self.products
            or self.indexed
        )

    def views_of(self, product_id: str, since: datetime, until: datetime) -> int:
        """Views of ``product_id`` from ``since`` to ``until`` (minute precision, last 48 hours)."""
        first, last = int(since.timestamp() // 60), int(until.timestamp() // 60)
        return sum(1 for m in self.viewed.get(product_id, []) if first <= m <= last)


class Profile(BaseModel):
    """One shopper. ``version`` guards the read-modify-write against concurrent writers.

    ``activity`` dumps as zlib-compressed JSON bytes in Python mode (what the DynamoDB adapter
    stores, as a binary attribute) and as a plain object in JSON mode (snapshots, the CLI).
    """

    user_id: str
    traits: dict[str, Any] = Field(default_factory=dict)
    counts: dict[str, dict[str, int]] = Field(default_factory=dict)
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    orders: int = 0
    revenue: Decimal = Decimal(0)
    last_order_at: datetime | None = None
    first_order_at: datetime | None = None
    category_views: dict[str, int] = Field(default_factory=dict)
    category_purchases: dict[str, int] = Field(default_factory=dict)
    cart: Cart | None = None
    activity: Activity = Field(default_factory=Activity)
    engagement_hours: list[int] = Field(default_factory=list)
    category_affinity: dict[str, list[float]] = Field(default_factory=dict)
    affinity_at: datetime | None = None
    scores: dict[str, Any] = Field(default_factory=dict)
    anonymous_ids: list[str] = Field(default_factory=list)
    linked_to: str | None = Field(
        default=None,
        description="On an ``anon:`` profile whose visitor logged in: the shopper its later events go to "
        "(the most recent login); its history has moved to the first one (shared/profiles/merge.py).",
    )
    linked_at: datetime | None = None
    seen_events: bytes = b""
    goal_events: bytes = b""
    version: int = 0

    @field_validator("activity", mode="before")
    @classmethod
    def _unpack_activity(cls, value: Any) -> Any:
        if isinstance(value, bytes | bytearray):
            return json.loads(zlib.decompress(bytes(value))) if value else {}
        return value

    @field_serializer("activity")
    def _pack_activity(self, activity: Activity, info: SerializationInfo) -> Any:
        if info.mode_is_json():
            return activity.model_dump(mode="json")
        if activity.is_empty():
            return b""
        packed = json.dumps(activity.model_dump(mode="json"), separators=(",", ":")).encode()
        return zlib.compress(packed, level=6)

    def has_seen(self, message_id: str) -> bool:
        return _seen(self.seen_events, fingerprint(message_id))

    def remembers_order(self, message_id: str) -> bool:
        """Whether the order ``message_id`` was counted and still counts (see MAX_GOAL_EVENTS)."""
        return _seen(self.goal_events, fingerprint(message_id), GOAL_ENTRY_LENGTH)

    def count(self, behaviour: str, days: int, now: datetime) -> int:
        """Events named ``behaviour`` in the ``days`` calendar days (UTC) up to ``now``."""
        first = (now - timedelta(days=days - 1)).date().isoformat()
        last = now.date().isoformat()
        return sum(
            n for day, n in self.counts.get(behaviour, {}).items() if len(day) == 10 and first <= day <= last
        )

    def count_in_category(
        self, behaviour: str, categories: Iterable[str], days: int, now: datetime, *, exclude: bool = False
    ) -> int:
        """``behaviour`` events whose ``category`` is (``exclude``: is not) one of ``categories``
        (case-insensitive), in the ``days`` calendar days (UTC) up to ``now``; 35 days at most."""
        first, last = _window(days, now)
        wanted = {c.casefold() for c in categories}
        return sum(
            n
            for category, buckets in self.activity.categories.get(behaviour, {}).items()
            if (category.casefold() in wanted) != exclude
            for day, n in buckets.items()
            if first <= day <= last
        )

    def orders_in(self, days: int, now: datetime) -> tuple[int, Decimal]:
        """Orders and revenue in the ``days`` calendar days (UTC) up to ``now`` (up to 400 days back)."""
        first, last = _window(days, now)
        orders, revenue = 0, Decimal(0)
        for day, (n, amount) in self.activity.orders.items():
            if first <= day <= last:
                orders += n
                revenue += amount
        return orders, revenue

    def last_at(self, behaviour: str) -> datetime | None:
        """When the shopper last did ``behaviour`` (profiles written before this was kept: orders only)."""
        minutes = self.activity.last.get(behaviour)
        if minutes is not None:
            return datetime.fromtimestamp(minutes * 60, UTC)
        if behaviour == "Order Completed":
            return self.last_order_at
        return None


def _window(days: int, now: datetime) -> tuple[str, str]:
    return (now - timedelta(days=days - 1)).date().isoformat(), now.date().isoformat()


def fingerprint(message_id: str) -> bytes:
    """A short, stable stand-in for an event id (collisions: ~1 in 10^12 per pair of events)."""
    return hashlib.blake2b(message_id.encode(), digest_size=FINGERPRINT_LENGTH).digest()


def _seen(fingerprints: bytes, candidate: bytes, stride: int = FINGERPRINT_LENGTH) -> bool:
    """Whether the fingerprint ``candidate`` starts one of the entries of ``fingerprints``, ``stride``
    bytes each: bytes.find, then only a match at an entry's start counts (a fingerprint may straddle two
    entries by chance). Twenty times cheaper than comparing the entries one by one (docs/performance.md)."""
    at = fingerprints.find(candidate)
    while at >= 0:
        if at % stride == 0:
            return True
        at = fingerprints.find(candidate, at + 1)
    return False


def product_of(properties: Mapping[str, Any]) -> Any:
    """The product an event is about: Segment's ``product_id``, else its ``sku`` (as sent)."""
    return properties.get("product_id") or properties.get("sku")


def age_from(traits: Mapping[str, Any], now: datetime) -> int | None:
    """Age in whole years from Segment's ``birthday`` (ISO date) or a ``birth_year`` trait."""
    birthday = traits.get("birthday")
    if isinstance(birthday, str):
        try:
            born = datetime.fromisoformat(birthday.replace("Z", "+00:00")).date()
        except ValueError:
            born = None
        if born is not None:
            today = now.date()
            return today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    year = traits.get("birth_year")
    if isinstance(year, int) and 1900 < year <= now.year:
        return now.year - year
    return None


def audience_view(profile: Profile, now: datetime) -> dict[str, Any]:
    """The flat attribute map that audience rules and templates read."""
    traits = profile.traits
    consent = consent_of(traits)
    view: dict[str, Any] = {
        k: v for k, v in traits.items() if not isinstance(v, dict | list) and k not in RESERVED_TRAITS
    }
    view.update(
        {
            "consent.email": bool(consent.get(Channel.EMAIL, False)),
            "consent.push": bool(consent.get(Channel.PUSH, False)),
            "consent.in_app": bool(consent.get(Channel.IN_APP, True)),
            "orders": profile.orders,
            "revenue": float(profile.revenue),
            "days_since_last_order": (now - profile.last_order_at).days if profile.last_order_at else None,
            "days_since_last_seen": (now - profile.last_seen).days if profile.last_seen else None,
            "cart_value": float(profile.cart.value) if profile.cart else 0.0,
            "cart_items": sum(i.quantity for i in profile.cart.items) if profile.cart else 0,
            "top_category": max(profile.category_views, key=profile.category_views.__getitem__)
            if profile.category_views
            else None,
        }
    )
    if not isinstance(view.get("age"), int | float):
        view["age"] = age_from(traits, now)
    rfm = profile.scores.get("rfm")
    if isinstance(rfm, dict):
        view["rfm.segment"] = rfm.get("segment")
        for part in ("r", "f", "m"):
            view[f"rfm.{part}"] = rfm.get(part)
    for score in SCORE_ATTRIBUTES:
        if score in profile.scores:
            view[score] = profile.scores[score]
    best = profile.scores.get("best_send_hour")
    if isinstance(best, int | float):
        view["at_best_send_hour"] = _local_hour(traits.get("timezone"), now) == int(best)
    return view


def _local_hour(timezone: Any, now: datetime) -> int:
    """The hour of ``now`` on the shopper's clock (UTC when their time zone is unknown)."""
    if isinstance(timezone, str):
        try:
            return now.astimezone(ZoneInfo(timezone)).hour
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return now.astimezone(UTC).hour
