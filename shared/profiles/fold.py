"""Folding events into a profile, exactly once: duplicates by fingerprint, late events never moving
"last" times backwards, windows pruned (days into months), bounded sizes. Ingest and the simulator
both fold with ``fold_events``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from shared.core.money import CENT, amount_of, order_value
from shared.events.contract import SegmentEvent
from shared.events.traits import (
    MAX_KEY_BYTES,
    MAX_TRAIT_BYTES,
    clip,
    context_fills,
    context_traits,
    normalize_traits,
    within_budget,
)
from shared.profiles.orders import link_order, order_cancelled, order_refunded, prune_placed
from shared.profiles.products import note_products, prune_products
from shared.profiles.profile import (
    AFFINITY_FLOOR,
    AFFINITY_HALF_LIFE_DAYS,
    BROWSE_WEIGHTS,
    CART_TEXT_BYTES,
    CATEGORY_DAYS_KEPT,
    CATEGORY_EVENTS,
    DAY_BUCKETS_KEPT,
    ENGAGEMENT_BIN_CAP,
    ENGAGEMENT_TYPES,
    FINGERPRINT_LENGTH,
    GOAL_ENTRY_LENGTH,
    MAX_BEHAVIOUR_NAME_BYTES,
    MAX_BEHAVIOURS,
    MAX_CART_ITEMS,
    MAX_CATEGORIES,
    MAX_CATEGORIES_PER_EVENT,
    MAX_GOAL_EVENTS,
    MAX_LINKED_ANONYMOUS_IDS,
    MAX_ORDER_DAYS,
    MAX_PRODUCTS_PER_EVENT,
    MAX_VIEWED_PRODUCTS,
    MAX_VIEWS_PER_PRODUCT,
    MONEY_EVENTS,
    MONTH_BUCKETS_KEPT,
    ORDER_DAYS_KEPT,
    ORDER_EVENT,
    OTHER_BEHAVIOUR,
    RECENT_EVENTS,
    VIEWS_KEPT,
    Activity,
    Cart,
    CartItem,
    Profile,
    _seen,
    fingerprint,
    product_of,
)


def _day_number(at: datetime) -> int:
    return int(at.timestamp() // 86400)


def _goals_kept(goals: bytes, newest: datetime) -> bytes:
    """The order entries still inside the order windows, the latest MAX_GOAL_EVENTS of them."""
    horizon = _day_number(newest - timedelta(days=ORDER_DAYS_KEPT))
    entries = [goals[i : i + GOAL_ENTRY_LENGTH] for i in range(0, len(goals), GOAL_ENTRY_LENGTH)]
    kept = [e for e in entries if int.from_bytes(e[FINGERPRINT_LENGTH:], "big") > horizon]
    kept.sort(key=lambda e: e[FINGERPRINT_LENGTH:])
    return b"".join(kept[-MAX_GOAL_EVENTS:])


@dataclass(frozen=True)
class FoldResult:
    profile: Profile
    applied: int
    duplicates: int


def _bump(counter: dict[str, int], key: str, by: int, limit: int) -> None:
    if key in counter or len(counter) < limit:
        counter[key] = counter.get(key, 0) + by


def _units(value: Any) -> int | None:
    """A product's quantity: a whole number from 1 to 9,999 (None when it is not one)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 10_000 else None


def _cart_item(properties: Mapping[str, Any]) -> CartItem | None:
    product_id = product_of(properties)
    if not product_id:
        return None
    return CartItem(
        product_id=_product_key(product_id),
        price=amount_of(properties.get("price")),
        quantity=_units(properties.get("quantity", 1)) or 1,
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


def _link_anonymous_id(profile: Profile, event: SegmentEvent) -> None:
    anonymous_id = event.anonymous_id
    if not event.user_id or not anonymous_id or anonymous_id in profile.anonymous_ids:
        return
    profile.anonymous_ids = [*profile.anonymous_ids, anonymous_id][-MAX_LINKED_ANONYMOUS_IDS:]


def _behaviour_key(profile: Profile, name: str) -> str:
    """The name an event is counted under: its own, or OTHER_BEHAVIOUR once the counts are full."""
    if name not in profile.counts and (
        len(profile.counts) >= MAX_BEHAVIOURS
        or sum(len(n.encode()) for n in profile.counts) + len(name.encode()) > MAX_BEHAVIOUR_NAME_BYTES
    ):
        return OTHER_BEHAVIOUR
    return name


def _apply(profile: Profile, event: SegmentEvent) -> None:
    at = event.timestamp
    _link_anonymous_id(profile, event)
    profile.first_seen = min(profile.first_seen or at, at)
    profile.last_seen = max(profile.last_seen or at, at)
    if event.type in ENGAGEMENT_TYPES:
        _engage(profile, at)
    name = _behaviour_key(profile, event.behaviour_name)
    profile.counts.setdefault(name, {})
    _bump(profile.counts[name], at.date().isoformat(), 1, limit=10_000)
    if event.type == "identify":
        _identify(profile, event)
        return
    _learn_from_context(profile, event)
    props = event.properties
    category = props.get("category")
    if name in BROWSE_WEIGHTS and isinstance(category, str):
        _touch_category(profile, category, at, BROWSE_WEIGHTS[name], 0.0)
    fold_track = _TRACK_FOLDS.get(name)
    if fold_track is not None:
        fold_track(profile, props, at)
    _note_activity(profile.activity, name, props, at)


def _identify(profile: Profile, event: SegmentEvent) -> None:
    """Traits merge over the known ones (consent per channel), within the traits' byte budget."""
    merged = {**profile.traits, **normalize_traits(event)}
    if "consent" in profile.traits and "consent" in merged:
        merged["consent"] = {**profile.traits["consent"], **merged["consent"]}
    profile.traits = within_budget(merged)


def _learn_from_context(profile: Profile, event: SegmentEvent) -> None:
    """A track, page or screen call's ``context.traits``, time zone and locale fill the traits the
    profile does not have yet; they never overwrite one (the device repeats its last identify, which a
    newer identify from elsewhere may have changed)."""
    if not event.context_traits and all(name in profile.traits for name in context_fills(event.context)):
        return  # only a time zone and a language to learn, and the profile has those (most tracks)
    missing = {k: v for k, v in context_traits(event).items() if k not in profile.traits}
    if missing:
        profile.traits = within_budget({**profile.traits, **missing})


def _product_viewed(profile: Profile, props: Mapping[str, Any], at: datetime) -> None:
    category = props.get("category")
    if isinstance(category, str):
        _bump(profile.category_views, clip(category, MAX_KEY_BYTES), 1, MAX_CATEGORIES)


def _product_added(profile: Profile, props: Mapping[str, Any], at: datetime) -> None:
    item = _cart_item(props)
    if item is None:
        return
    cart = profile.cart or Cart(cart_id=_str(props.get("cart_id"), MAX_KEY_BYTES), updated_at=at)
    existing = next((i for i in cart.items if i.product_id == item.product_id), None)
    if existing is not None:
        existing.quantity += item.quantity
    elif len(cart.items) < MAX_CART_ITEMS:
        cart.items.append(item)
    cart.updated_at = at
    profile.cart = cart


def _product_removed(profile: Profile, props: Mapping[str, Any], at: datetime) -> None:
    """Its ``quantity`` comes off the product's line (the whole line without one, or when as many or
    more are removed than the line holds)."""
    cart = profile.cart
    if cart is None:
        return
    product_id = _product_key(product_of(props) or "")
    removed = _units(props.get("quantity"))
    for item in cart.items:
        if item.product_id == product_id and removed is not None and removed < item.quantity:
            item.quantity -= removed
            removed = None
            product_id = ""  # the line stays
    cart.items = [i for i in cart.items if i.product_id != product_id]
    cart.updated_at = at
    if not cart.items:
        profile.cart = None


def _checkout_started(profile: Profile, props: Mapping[str, Any], at: datetime) -> None:
    if profile.cart is not None:
        profile.cart.checkout_started_at = at


def _order_completed(profile: Profile, props: Mapping[str, Any], at: datetime) -> None:
    """Orders and revenue, first and last order, what was bought by category; the cart it closed."""
    profile.orders += 1
    amount = order_value(props)
    profile.revenue = (profile.revenue + amount).quantize(CENT)
    link_order(profile.activity, props, at, amount)
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


# What a track event does to the profile beyond its count, by event name (none: only the count and the
# activity windows).
_TRACK_FOLDS: Mapping[str, Callable[[Profile, Mapping[str, Any], datetime], None]] = {
    "Product Viewed": _product_viewed,
    "Product Added": _product_added,
    "Wishlist Product Added to Cart": _product_added,
    "Product Removed": _product_removed,
    "Checkout Started": _checkout_started,
    ORDER_EVENT: _order_completed,
    "Order Refunded": order_refunded,
    "Order Cancelled": order_cancelled,
}


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
        amount = order_value(props)
        orders, revenue = activity.orders.get(day, (0, Decimal(0)))
        activity.orders[day] = (orders + 1, (revenue + amount).quantize(CENT))
    note_products(activity.products, name, props, at, MAX_PRODUCTS_PER_EVENT)
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
    prune_placed(activity, newest)
    prune_products(activity.products, newest)


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
    seen, goals = folded.seen_events, folded.goal_events
    applied = duplicates = 0
    for event in sorted(events, key=lambda e: e.timestamp):
        mark = fingerprint(event.message_id)
        is_order = event.behaviour_name in MONEY_EVENTS  # remembered as long as orders count
        if _seen(seen, mark) or (is_order and _seen(goals, mark, GOAL_ENTRY_LENGTH)):
            duplicates += 1
            continue
        seen += mark
        if is_order:
            goals += mark + _day_number(event.timestamp).to_bytes(2, "big")
        _apply(folded, event)
        applied += 1
    if applied:
        folded.seen_events = seen[-RECENT_EVENTS * FINGERPRINT_LENGTH :]
        folded.goal_events = _goals_kept(goals, folded.last_seen or datetime.now(UTC))
        _prune(folded, folded.last_seen or datetime.now(UTC))
        _prune_activity(folded.activity, folded.last_seen or datetime.now(UTC))
    return FoldResult(folded, applied, duplicates)
