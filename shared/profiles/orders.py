"""An order's money over its life: placed (``Order Completed``), refunded (``Order Refunded``, in part or
in whole) and cancelled (``Order Cancelled``), as Segment's V2 Ecommerce spec sends them.

Revenue is net of refunds: a refund or a cancellation names its order by ``order_id`` and takes back
from that order only, on the order's own day in the order windows, never more than the order still
counts for. A refund's amount is its ``revenue``, ``total`` or ``value`` (shared.core.money.order_value);
without one it is the whole order. A cancelled order no longer counts as an order; a refunded one
does (the shopper ordered). An order Nudge never saw (before the history it holds, or older than the
order windows) is not netted: its refund is counted as behaviour only.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from shared.core.money import CENT, order_value
from shared.profiles.profile import (
    MAX_LINKED_ORDERS,
    ORDER_DAYS_KEPT,
    ORDER_EVENT,
    Activity,
    Profile,
    fingerprint,
)


def order_key(properties: Mapping[str, Any]) -> str | None:
    """The key an order is remembered by: a fingerprint of its ``order_id`` (None without one)."""
    order_id = properties.get("order_id")
    if order_id is None or isinstance(order_id, bool | dict | list) or order_id == "":
        return None
    return fingerprint(str(order_id)).hex()


def link_order(activity: Activity, properties: Mapping[str, Any], at: datetime, value: Decimal) -> None:
    """Remember a placed order's day and value, for the refunds and cancellations that name it."""
    key = order_key(properties)
    if key is None or key in activity.placed:
        return
    activity.placed[key] = (at.date().isoformat(), value, False)


def prune_placed(activity: Activity, newest: datetime) -> None:
    """Forget orders whose day has left the order windows, then all but the latest MAX_LINKED_ORDERS."""
    horizon = (newest - timedelta(days=ORDER_DAYS_KEPT)).date().isoformat()
    kept = sorted(((d, k) for k, (d, _, _) in activity.placed.items() if d > horizon))[-MAX_LINKED_ORDERS:]
    activity.placed = {k: activity.placed[k] for _, k in kept}


def order_refunded(profile: Profile, properties: Mapping[str, Any], at: datetime) -> None:
    """Take the refund's amount back from its order (all the order still counts for, at most)."""
    _take_back(profile, properties, cancel=False)


def order_cancelled(profile: Profile, properties: Mapping[str, Any], at: datetime) -> None:
    """The order no longer counts: one order fewer on its day (in the order windows and the day's
    ``Order Completed`` count), and all it still counted for taken back."""
    _take_back(profile, properties, cancel=True)


def _take_back(profile: Profile, properties: Mapping[str, Any], *, cancel: bool) -> None:
    activity = profile.activity
    key = order_key(properties)
    if key is None or key not in activity.placed:
        return
    day, left, cancelled = activity.placed[key]
    if cancelled:
        return
    asked = order_value(properties)
    amount = left if cancel or not asked else min(asked, left)
    activity.placed[key] = (day, left - amount, cancel)
    profile.revenue = max(profile.revenue - amount, Decimal(0)).quantize(CENT)
    if cancel:
        profile.orders = max(profile.orders - 1, 0)
        _uncount(profile.counts.get(ORDER_EVENT, {}), day)
    if day in activity.orders:
        orders, revenue = activity.orders[day]
        activity.orders[day] = (orders - cancel, max(revenue - amount, Decimal(0)).quantize(CENT))
        if activity.orders[day][0] <= 0:
            del activity.orders[day]


def _uncount(buckets: dict[str, int], day: str) -> None:
    """One ``Order Completed`` fewer on ``day`` (or in its month, once the day was folded into it), so
    that ``count("Order Completed", 7d)`` agrees with the order windows."""
    for key in (day, day[:7]):
        if buckets.get(key, 0) > 0:
            buckets[key] -= 1
            if not buckets[key]:
                del buckets[key]
            return
