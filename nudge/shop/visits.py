"""When a shopper visits: one shopper's run through the store's days, as planned daily visits at weighted
local hours (a lunch bump, an evening peak, busier sale days) plus the comebacks an abandoned cart
brings hours later, never closer than a session gap and never in the middle of the shopper's night.
Each visit itself is :class:`nudge.shop.funnel.Funnel`'s."""

from __future__ import annotations

import heapq
import random
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from nudge.shop.calls import Analytics, identify_call
from nudge.shop.catalog import Event, Shelves
from nudge.shop.funnel import Funnel
from nudge.shop.randomness import Weighted, pause
from nudge.shop.shoppers import Shopper

_MIN_SESSION_GAP = timedelta(minutes=45)  # > the 30-minute inactivity rule analytics tools use
_SALE_DAYS: Final[Mapping[tuple[int, int], float]] = {(11, 11): 1.8, (12, 12): 1.6}  # 11.11 and 12.12
# Relative likelihood of starting a session at each local hour: a lunch bump and an evening peak.
_HOUR_WEIGHTS: Final = (
    1.0,
    0.5,
    0.3,
    0.2,
    0.2,
    0.4,
    1.0,
    2.0,
    3.0,
    3.0,
    3.0,
    3.5,
    4.5,
    4.0,
    3.0,
    3.0,
    3.5,
    4.5,
    6.0,
    8.0,
    9.0,
    8.0,
    5.0,
    2.5,
)
_LOCAL_HOUR: Final = Weighted([(h, w) for h, w in enumerate(_HOUR_WEIGHTS)])


class ShopperRun:
    """One shopper's days in the store from ``start`` to ``end``: planned daily visits, plus comebacks
    that abandoned carts trigger. Draws from the shopper's own stream (the store's ``seed`` and the
    shopper's id), so a shopper's run does not depend on who else shops."""

    def __init__(
        self,
        shopper: Shopper,
        shelves: Shelves,
        push_endpoint: str | None,
        *,
        seed: int,
        start: datetime,
        end: datetime,
    ) -> None:
        self.shopper = shopper
        self.seed = seed
        self.push_endpoint = push_endpoint
        self.rng = random.Random(f"nudge-store/{seed}/events/{shopper.user_id}")
        self.zone = ZoneInfo(shopper.timezone)
        self.start = start.astimezone(UTC)
        self.end = end
        self.analytics = Analytics(shopper, self.rng, self.start)
        self.funnel = Funnel(
            shopper, shelves, self.analytics, self.rng, seed=seed, push_endpoint=push_endpoint
        )

    def simulate(self) -> list[tuple[datetime, Event]]:
        """The shopper's calls before ``end``, each with its moment; at least the identify call."""
        queue: list[tuple[datetime, int, str]] = [(t, i, "") for i, t in enumerate(self._visit_times())]
        heapq.heapify(queue)
        seq = len(queue)
        last_end: datetime | None = None
        while queue:
            at, _, comeback_cart = heapq.heappop(queue)
            if at >= self.end:
                break
            if comeback_cart and not self.funnel.still_open(comeback_cart):
                continue  # the cart was bought or emptied in between: nothing to come back for
            if last_end is not None and at < last_end + _MIN_SESSION_GAP:
                if not comeback_cart:
                    continue  # already shopping then
                later = last_end + _MIN_SESSION_GAP + pause(self.rng, 60, 1800)
                heapq.heappush(queue, (later, seq, comeback_cart))
                seq += 1
                continue
            if not comeback_cart and self._done_shopping():
                continue
            abandoned, last_end = self.funnel.visit(at, comeback=bool(comeback_cart))
            cart = self.funnel.cart
            if abandoned and cart is not None and self.rng.random() < self.funnel.persona.comeback:
                later = self._comeback_time(last_end)
                heapq.heappush(queue, (later, seq, cart.cart_id))
                seq += 1
        kept = [(at, event) for at, event in self.analytics.calls if at < self.end]
        if not any(event["type"] == "identify" for _, event in kept):
            at = self.start + pause(self.rng, 0, 3600)
            kept.insert(0, (at, identify_call(self.seed, self.shopper, at, self.push_endpoint)))
        return kept

    def _visit_times(self) -> list[datetime]:
        """Daily session starts at weighted local hours, converted to UTC, inside the window."""
        times: list[datetime] = []
        day = self.start.astimezone(self.zone).date()
        last_day = (self.end - timedelta(microseconds=1)).astimezone(self.zone).date()
        while day <= last_day:
            boost = _SALE_DAYS.get((day.month, day.day), 1.0)
            if self.rng.random() < self.funnel.persona.daily_visit * boost:
                times.append(self._local_moment(day))
            day += timedelta(days=1)
        return [t for t in times if self.start <= t < self.end]

    def _local_moment(self, day: date) -> datetime:
        hour = _LOCAL_HOUR(self.rng)
        local = datetime(
            day.year,
            day.month,
            day.day,
            hour,
            self.rng.randrange(60),
            self.rng.randrange(60),
            self.rng.randrange(1000) * 1000,
            tzinfo=self.zone,
        )
        return local.astimezone(UTC)

    def _done_shopping(self) -> bool:
        """One-timers rarely come back once they have bought."""
        return self.funnel.persona.name == "one_timer" and self.funnel.orders > 0 and self.rng.random() < 0.85

    def _comeback_time(self, after: datetime) -> datetime:
        """Hours later, but not in the middle of the shopper's night."""
        later = after + pause(self.rng, 90 * 60, 26 * 3600)
        local_hour = later.astimezone(self.zone).hour
        if local_hour < 7:
            later += timedelta(hours=7 - local_hour)
        return later
