"""What the models see of a shopper, computed from the profile aggregates alone.

The same function serves training (profiles folded from an event export up to a cut date), the
offline ``nudge score`` and the scorer Lambda, so the features a model was trained on are exactly
the ones it is scored on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from shared.profiles.profile import Profile

ORDER_EVENT = "Order Completed"
VIEW_EVENT = "Product Viewed"
ADD_EVENT = "Product Added"
DAY_SECONDS = 86400.0

# Inputs of the discriminative models, in order (all log1p-transformed counts or spans, or flags).
# Tenure itself (days since the first order or visit) is left out on purpose: it only grows, so a
# model trained on an earlier origin would meet values it never saw; it enters through the
# stationary ratios (recency_ratio = t_x / T, purchase rate = repeat orders per 30 days of tenure).
MODEL_FEATURES = (
    "has_ordered",
    "log_orders",
    "log_repeat_orders",
    "log_orders_30d",
    "log_orders_90d",
    "log_recency_days",
    "recency_ratio",
    "log_purchase_rate",
    "log_average_order_value",
    "log_views_7d",
    "log_views_30d",
    "log_adds_30d",
    "log_active_days_30d",
    "log_days_since_last_seen",
    "cart_open",
    "log_cart_value",
)


def days_between(later: datetime, earlier: datetime) -> float:
    return max(0.0, (later - earlier).total_seconds() / DAY_SECONDS)


def count_since(profile: Profile, behaviour: str, since: date, until: date) -> int:
    """Events named ``behaviour`` on days ``since`` … ``until``; day buckets are exact, older month
    buckets (beyond 35 days) count when the month overlaps the window."""
    return _count(profile, behaviour, since.isoformat(), until.isoformat())


def _count(profile: Profile, behaviour: str, first: str, last: str) -> int:
    total = 0
    for key, n in profile.counts.get(behaviour, {}).items():
        if len(key) == 10:
            if first <= key <= last:
                total += n
        elif first[:7] <= key <= last[:7]:
            total += n
    return total


def active_days(profile: Profile, since: date, until: date) -> int:
    return _active_days(profile, since.isoformat(), until.isoformat())


def _active_days(profile: Profile, first: str, last: str) -> int:
    return len(
        {
            day
            for buckets in profile.counts.values()
            for day in buckets
            if len(day) == 10 and first <= day <= last
        }
    )


@dataclass(frozen=True)
class BuyerSummary:
    """BG/NBD's view of a buyer: repeat orders x, t_x and T in days."""

    repeat_orders: int
    t_x: float
    age: float


def buyer_summary(profile: Profile, as_of: datetime) -> BuyerSummary | None:
    if profile.orders <= 0 or profile.last_order_at is None:
        return None
    first = profile.first_order_at or profile.first_seen or profile.last_order_at
    return BuyerSummary(
        repeat_orders=profile.orders - 1,
        t_x=days_between(profile.last_order_at, first),
        age=days_between(as_of, first),
    )


@lru_cache(maxsize=64)
def _window_starts(today: date) -> dict[int, str]:
    return {days: (today - timedelta(days=days - 1)).isoformat() for days in (7, 30, 90)}


def model_features(profile: Profile, as_of: datetime) -> dict[str, float]:
    today = as_of.date()
    last = today.isoformat()
    starts = _window_starts(today)
    orders = profile.orders
    summary = buyer_summary(profile, as_of)
    recency = days_between(as_of, profile.last_order_at) if profile.last_order_at else 0.0
    age = summary.age if summary else 0.0
    repeat = summary.repeat_orders if summary else 0
    aov = float(profile.revenue) / orders if orders else 0.0
    cart_value = float(profile.cart.value) if profile.cart else 0.0

    return {
        "has_ordered": 1.0 if orders else 0.0,
        "log_orders": math.log1p(orders),
        "log_repeat_orders": math.log1p(repeat),
        "log_orders_30d": math.log1p(_count(profile, ORDER_EVENT, starts[30], last)),
        "log_orders_90d": math.log1p(_count(profile, ORDER_EVENT, starts[90], last)),
        "log_recency_days": math.log1p(recency),
        "recency_ratio": (summary.t_x / age) if summary and age > 0 else 0.0,
        "log_purchase_rate": math.log1p(30.0 * repeat / (age + 1.0)),
        "log_average_order_value": math.log1p(max(aov, 0.0)),
        "log_views_7d": math.log1p(_count(profile, VIEW_EVENT, starts[7], last)),
        "log_views_30d": math.log1p(_count(profile, VIEW_EVENT, starts[30], last)),
        "log_adds_30d": math.log1p(_count(profile, ADD_EVENT, starts[30], last)),
        "log_active_days_30d": math.log1p(_active_days(profile, starts[30], last)),
        "log_days_since_last_seen": math.log1p(days_between(as_of, profile.last_seen))
        if profile.last_seen
        else 0.0,
        "cart_open": 1.0 if cart_value > 0 else 0.0,
        "log_cart_value": math.log1p(max(cart_value, 0.0)),
    }


@dataclass(frozen=True)
class RfmValues:
    recency_days: int
    frequency: int
    monetary: float


def rfm_values(profile: Profile, as_of: datetime, window_days: int) -> RfmValues | None:
    """Recency (whole days since the last order), frequency (orders in the window) and monetary
    (average order value, lifetime), for shoppers with an order inside the window; else None."""
    if profile.orders <= 0 or profile.last_order_at is None:
        return None
    recency = int(days_between(as_of, profile.last_order_at))
    if recency >= window_days:
        return None
    today = as_of.date()
    frequency = count_since(profile, ORDER_EVENT, today - timedelta(days=window_days - 1), today)
    frequency = max(1, min(frequency, profile.orders))
    return RfmValues(recency, frequency, round(float(profile.revenue) / profile.orders, 2))
