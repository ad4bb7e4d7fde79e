"""Shopper profiles: traits (L1), behavioural aggregates (L2), scores (L3) and live state (L4).

Folding events into a profile is pure: :func:`fold_events` takes a profile and a user's events
from one batch and returns the new profile. The ingest handler reads every profile of a batch in
one request and writes each changed profile once, so the hot path costs one write per user per
batch, with the event ids recorded in the same write that updates the aggregates.
"""

from __future__ import annotations

import hashlib
import json
import math
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SerializationInfo, field_serializer, field_validator

from shared.events import SegmentEvent

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
MAX_BEHAVIOURS = 200
MAX_TRAITS = 100
MAX_TRAIT_LENGTH = 2048
MAX_CART_ITEMS = 50
MAX_CATEGORIES = 100
# Byte bounds (UTF-8) on everything a sender controls, so that the largest possible profile item stays
# far below DynamoDB's 400 KB (see PROFILE_ITEM_BOUND and tests/integration/test_payload_limits.py):
# lists and maps are bounded in entries above, and each entry's text here. Longer text is cut at a
# character boundary; a trait nested deeper than MAX_TRAIT_DEPTH or larger than MAX_TRAIT_BYTES once
# encoded is not kept, and traits beyond MAX_TRAITS_BYTES in all are not kept either.
MAX_KEY_BYTES = 128
MAX_TRAIT_BYTES = MAX_TRAIT_LENGTH
MAX_TRAITS_BYTES = 64 * 1024
MAX_TRAIT_DEPTH = 4
MAX_BEHAVIOUR_NAME_BYTES = 16 * 1024
MAX_PRODUCTS_PER_EVENT = 100
CART_TEXT_BYTES = {"sku": 128, "name": 256, "category": 128, "brand": 128, "image_url": 512, "url": 512}
# DynamoDB's number type: 38 significant digits, magnitudes from 1e-130 to 1e126.
MAX_NUMBER = Decimal("1e38")
MAX_MONEY = Decimal("1e12")
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
CENT = Decimal("0.01")
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

    def is_empty(self) -> bool:
        return not (self.last or self.orders or self.categories or self.viewed)

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
    seen_events: bytes = b""
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


def _seen(fingerprints: bytes, candidate: bytes) -> bool:
    return any(
        fingerprints[i : i + FINGERPRINT_LENGTH] == candidate
        for i in range(0, len(fingerprints), FINGERPRINT_LENGTH)
    )


@dataclass(frozen=True)
class FoldResult:
    profile: Profile
    applied: int
    duplicates: int


def _money(value: Any) -> Decimal | None:
    """An amount in cents, or None for what is not one (text, NaN, beyond a trillion)."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return None
    try:
        amount = Decimal(str(value)[:64])
    except (InvalidOperation, ValueError):
        return None
    if not amount.is_finite() or abs(amount) >= MAX_MONEY:
        return None
    return amount.quantize(CENT)


def clip(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` of UTF-8, at a character boundary."""
    if len(text) * 4 <= max_bytes:
        return text
    return text.encode("utf-8", "ignore")[:max_bytes].decode("utf-8", "ignore")


def _bounded(value: Any, depth: int = 0) -> Any:
    """A trait value DynamoDB can store and that stays small (None: not kept)."""
    if isinstance(value, str):
        return clip(value, MAX_TRAIT_BYTES)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        magnitude = abs(Decimal(value))
        return value if magnitude == 0 or Decimal("1e-100") < magnitude < MAX_NUMBER else None
    if depth >= MAX_TRAIT_DEPTH:
        return None
    if isinstance(value, dict):
        items = list(value.items())[:MAX_TRAITS]
        kept = {clip(str(k), MAX_KEY_BYTES): _bounded(v, depth + 1) for k, v in items}
        return {k: v for k, v in kept.items() if v is not None}
    if isinstance(value, list):
        return [v for v in (_bounded(v, depth + 1) for v in value[:MAX_TRAITS]) if v is not None]
    return None


def _encoded_size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, default=str).encode("utf-8", "ignore"))


def _within_budget(traits: Mapping[str, Any]) -> dict[str, Any]:
    """Traits in order, leaving out any too large on its own or past the total budget."""
    kept: dict[str, Any] = {}
    total = 0
    for key, value in list(traits.items())[:MAX_TRAITS]:
        size = _encoded_size(value) + len(key.encode("utf-8", "ignore"))
        if isinstance(value, dict | list) and size > MAX_TRAIT_BYTES + MAX_KEY_BYTES:
            continue
        if total + size > MAX_TRAITS_BYTES:
            continue
        kept[key] = value
        total += size
    return kept


_TRAIT_ALIASES = {"firstName": "first_name", "lastName": "last_name", "push_endpoint_arn": "push_endpoint"}


def normalize_traits(event: SegmentEvent) -> dict[str, Any]:
    """Segment's reserved traits, mapped onto the names audiences and templates use."""
    raw = dict(event.traits)
    traits: dict[str, Any] = {}
    for key, value in raw.items():
        traits[clip(_TRAIT_ALIASES.get(key, key), MAX_KEY_BYTES)] = value
    address = raw.get("address")
    if isinstance(address, dict):
        for part in ("country", "city"):
            if address.get(part):
                traits.setdefault(part, address[part])
    if isinstance(traits.get("country"), str):
        traits["country"] = traits["country"].upper()
    context = event.context
    if "timezone" not in traits and isinstance(context.get("timezone"), str):
        traits["timezone"] = context["timezone"]
    if "language" not in traits and isinstance(context.get("locale"), str):
        traits["language"] = context["locale"].split("-")[0].lower()
    consent = dict(consent_of(traits))
    for channel in ("email", "push", "in_app"):
        flat = traits.pop(f"{channel}_opt_in", None)
        if isinstance(flat, bool):
            consent[channel] = flat
    if consent:
        traits["consent"] = {k: bool(v) for k, v in consent.items() if k in {"email", "push", "in_app"}}
    bounded = {k: _bounded(v) for k, v in traits.items()}
    return {k: v for k, v in bounded.items() if v is not None}


def consent_of(traits: Mapping[str, Any]) -> Mapping[str, Any]:
    """The per-channel opt-ins a shopper gave (an empty mapping when none were given)."""
    consent = traits.get("consent")
    return consent if isinstance(consent, dict) else {}


def _bump(counter: dict[str, int], key: str, by: int, limit: int) -> None:
    if key in counter or len(counter) < limit:
        counter[key] = counter.get(key, 0) + by


def product_of(properties: Mapping[str, Any]) -> Any:
    """The product an event is about: Segment's ``product_id``, else its ``sku`` (as sent)."""
    return properties.get("product_id") or properties.get("sku")


def _cart_item(properties: Mapping[str, Any]) -> CartItem | None:
    product_id = product_of(properties)
    if not product_id:
        return None
    quantity = properties.get("quantity", 1)
    return CartItem(
        product_id=_product_key(product_id),
        price=_money(properties.get("price")),
        quantity=quantity if isinstance(quantity, int) and 0 < quantity < 10_000 else 1,
        **{name: _str(properties.get(name), limit) for name, limit in CART_TEXT_BYTES.items()},
    )


def _product_key(product_id: Any) -> str:
    return clip(str(product_id), MAX_KEY_BYTES)


def _str(value: Any, max_bytes: int = MAX_TRAIT_BYTES) -> str | None:
    return clip(str(value), max_bytes) if value is not None else None


def _engage(profile: Profile, at: datetime) -> None:
    hours = profile.engagement_hours if len(profile.engagement_hours) == 24 else [0] * 24
    hour = at.astimezone(UTC).hour
    hours[hour] += 1
    if hours[hour] > ENGAGEMENT_BIN_CAP:
        hours = [n // 2 for n in hours]
    profile.engagement_hours = hours


def decay_factor(days: float) -> float:
    """How much a category signal ``days`` old still weighs (exponential, AFFINITY_HALF_LIFE_DAYS)."""
    return 0.5 ** (days / AFFINITY_HALF_LIFE_DAYS)


def _touch_category(profile: Profile, category: str, at: datetime, browse: float, purchase: float) -> None:
    category = clip(category, MAX_KEY_BYTES)
    reference = profile.affinity_at
    if reference is None or at > reference:
        if reference is not None:
            factor = decay_factor((at - reference).total_seconds() / 86400)
            profile.category_affinity = {
                c: [round(b * factor, 3), round(p * factor, 3)]
                for c, (b, p) in profile.category_affinity.items()
                if (b + p) * factor >= AFFINITY_FLOOR
            }
        profile.affinity_at = reference = at
    weight = decay_factor((reference - at).total_seconds() / 86400)
    if category not in profile.category_affinity and len(profile.category_affinity) >= MAX_CATEGORIES:
        return
    b, p = profile.category_affinity.get(category, [0.0, 0.0])
    profile.category_affinity[category] = [round(b + browse * weight, 3), round(p + purchase * weight, 3)]


def _apply(profile: Profile, event: SegmentEvent) -> None:
    at = event.timestamp
    profile.first_seen = min(profile.first_seen or at, at)
    profile.last_seen = max(profile.last_seen or at, at)
    if event.type in ENGAGEMENT_TYPES:
        _engage(profile, at)
    name = event.behaviour_name
    if name not in profile.counts and (
        len(profile.counts) >= MAX_BEHAVIOURS
        or sum(len(n.encode()) for n in profile.counts) + len(name.encode()) > MAX_BEHAVIOUR_NAME_BYTES
    ):
        name = OTHER_BEHAVIOUR
    profile.counts.setdefault(name, {})
    _bump(profile.counts[name], at.date().isoformat(), 1, limit=10_000)
    if event.type == "identify":
        merged = {**profile.traits, **normalize_traits(event)}
        if "consent" in profile.traits and "consent" in merged:
            merged["consent"] = {**profile.traits["consent"], **merged["consent"]}
        profile.traits = _within_budget(merged)
        return
    props = event.properties
    category = props.get("category")
    if name in BROWSE_WEIGHTS and isinstance(category, str):
        _touch_category(profile, category, at, BROWSE_WEIGHTS[name], 0.0)
    if name == "Product Viewed" and isinstance(category, str):
        _bump(profile.category_views, clip(category, MAX_KEY_BYTES), 1, MAX_CATEGORIES)
    elif name == "Product Added":
        item = _cart_item(props)
        if item is not None:
            cart = profile.cart or Cart(cart_id=_str(props.get("cart_id"), MAX_KEY_BYTES), updated_at=at)
            existing = next((i for i in cart.items if i.product_id == item.product_id), None)
            if existing is not None:
                existing.quantity += item.quantity
            elif len(cart.items) < MAX_CART_ITEMS:
                cart.items.append(item)
            cart.updated_at = at
            profile.cart = cart
    elif name == "Product Removed" and profile.cart is not None:
        product_id = _product_key(product_of(props) or "")
        profile.cart.items = [i for i in profile.cart.items if i.product_id != product_id]
        profile.cart.updated_at = at
        if not profile.cart.items:
            profile.cart = None
    elif name == "Checkout Started" and profile.cart is not None:
        profile.cart.checkout_started_at = at
    elif name == "Order Completed":
        profile.orders += 1
        amount = _money(props.get("revenue")) or _money(props.get("total")) or Decimal(0)
        profile.revenue = (profile.revenue + amount).quantize(CENT)
        profile.last_order_at = max(profile.last_order_at or at, at)
        profile.first_order_at = min(profile.first_order_at or at, at)
        for product in _products(props):
            if isinstance(product, dict) and isinstance(product.get("category"), str):
                quantity = product.get("quantity", 1)
                units = quantity if isinstance(quantity, int) and 0 < quantity < 10_000 else 1
                category = clip(product["category"], MAX_KEY_BYTES)
                _bump(profile.category_purchases, category, units, MAX_CATEGORIES)
                _touch_category(profile, product["category"], at, 0.0, float(units))
        if profile.cart is not None and profile.cart.updated_at <= at:
            profile.cart = None
    _note_activity(profile.activity, name, props, at)


def _products(props: Mapping[str, Any]) -> list[Any]:
    """An order's ``products``, the first MAX_PRODUCTS_PER_EVENT of them."""
    products = props.get("products")
    return products[:MAX_PRODUCTS_PER_EVENT] if isinstance(products, list) else []


def _note_activity(activity: Activity, name: str, props: Mapping[str, Any], at: datetime) -> None:
    """Fold one track event into the windows the audience language reads (all maps bounded)."""
    minutes = int(at.timestamp() // 60)
    if name in activity.last or len(activity.last) < MAX_BEHAVIOURS:
        activity.last[name] = max(activity.last.get(name, minutes), minutes)
    day = at.date().isoformat()
    category = props.get("category")
    categories = {clip(category, MAX_KEY_BYTES)} if isinstance(category, str) else set()
    for product in _products(props):
        if isinstance(product, dict) and isinstance(product.get("category"), str):
            categories.add(clip(product["category"], MAX_KEY_BYTES))
    if categories and name in CATEGORY_EVENTS:
        per_event = activity.categories.setdefault(name, {})
        for category in sorted(categories):
            if category in per_event or len(per_event) < MAX_CATEGORIES_PER_EVENT:
                _bump(per_event.setdefault(category, {}), day, 1, limit=10_000)
    if name == "Order Completed":
        amount = _money(props.get("revenue")) or _money(props.get("total")) or Decimal(0)
        orders, revenue = activity.orders.get(day, (0, Decimal(0)))
        activity.orders[day] = (orders + 1, (revenue + amount).quantize(CENT))
    product_id = product_of(props)
    if name == "Product Viewed" and isinstance(product_id, str | int) and not isinstance(product_id, bool):
        key = _product_key(product_id)
        views = activity.viewed.pop(key, [])  # re-inserted last: most recent product
        activity.viewed[key] = sorted([*views, minutes])[-MAX_VIEWS_PER_PRODUCT:]
        while len(activity.viewed) > MAX_VIEWED_PRODUCTS:
            oldest = min(activity.viewed, key=lambda p: activity.viewed[p][-1])
            del activity.viewed[oldest]


def _prune_activity(activity: Activity, newest: datetime) -> None:
    """Drop category days older than 35 days and order days older than 400 (or beyond 120 of them)."""
    category_horizon = (newest - timedelta(days=CATEGORY_DAYS_KEPT)).date().isoformat()
    for name in list(activity.categories):
        per_event = activity.categories[name]
        for category in list(per_event):
            kept = {d: n for d, n in per_event[category].items() if d > category_horizon}
            if kept:
                per_event[category] = kept
            else:
                del per_event[category]
        if not per_event:
            del activity.categories[name]
    view_horizon = int((newest - VIEWS_KEPT).timestamp() // 60)
    recent = {p: [m for m in times if m > view_horizon] for p, times in activity.viewed.items()}
    activity.viewed = {p: times for p, times in recent.items() if times}
    order_horizon = (newest - timedelta(days=ORDER_DAYS_KEPT)).date().isoformat()
    kept_days = sorted(d for d in activity.orders if d > order_horizon)[-MAX_ORDER_DAYS:]
    activity.orders = {d: activity.orders[d] for d in kept_days}


def _prune(profile: Profile, newest: datetime) -> None:
    """Fold day buckets older than a month into month buckets; drop months older than a year."""
    day_horizon = (newest - timedelta(days=DAY_BUCKETS_KEPT)).date().isoformat()
    month_horizon = (newest - timedelta(days=31 * MONTH_BUCKETS_KEPT)).date().isoformat()[:7]
    for name in list(profile.counts):
        buckets: dict[str, int] = {}
        for key, n in profile.counts[name].items():
            if len(key) == 10 and key <= day_horizon:
                key = key[:7]
            if key[:7] >= month_horizon:
                buckets[key] = buckets.get(key, 0) + n
        if buckets:
            profile.counts[name] = buckets
        else:
            del profile.counts[name]


def fold_events(profile: Profile, events: Iterable[SegmentEvent], *, in_place: bool = False) -> FoldResult:
    """Apply one batch's events (any order, possibly duplicated) to a copy of ``profile`` (or to
    ``profile`` itself with ``in_place``, for a caller that owns it, e.g. the simulator)."""
    folded = profile if in_place else profile.model_copy(deep=True)
    seen = folded.seen_events
    applied = duplicates = 0
    for event in sorted(events, key=lambda e: e.timestamp):
        mark = fingerprint(event.message_id)
        if _seen(seen, mark):
            duplicates += 1
            continue
        seen += mark
        _apply(folded, event)
        applied += 1
    if applied:
        folded.seen_events = seen[-RECENT_EVENTS * FINGERPRINT_LENGTH :]
        _prune(folded, folded.last_seen or datetime.now(UTC))
        _prune_activity(folded.activity, folded.last_seen or datetime.now(UTC))
    return FoldResult(folded, applied, duplicates)


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
    view: dict[str, Any] = {k: v for k, v in traits.items() if not isinstance(v, dict | list)}
    view.update(
        {
            "consent.email": bool(consent.get("email", False)),
            "consent.push": bool(consent.get("push", False)),
            "consent.in_app": bool(consent.get("in_app", True)),
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


SCORE_ATTRIBUTES = (
    "purchase_propensity",
    "churn_risk",
    "expected_orders",
    "probability_alive",
    "best_send_hour",
    "favourite_category",
    "next_category",
)


def _local_hour(timezone: Any, now: datetime) -> int:
    """The hour of ``now`` on the shopper's clock (UTC when their time zone is unknown)."""
    if isinstance(timezone, str):
        try:
            return now.astimezone(ZoneInfo(timezone)).hour
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return now.astimezone(UTC).hour
