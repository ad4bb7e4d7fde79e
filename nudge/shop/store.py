"""A seeded synthetic e-commerce store: shoppers, a catalog and a fortnight of Segment-Spec events.

``nudge demo`` needs traffic that looks like a real shop's so that campaigns, audiences and scores
have something to chew on: evening peaks in each shopper's own time zone, favourite categories,
carts abandoned far more often than bought, and shoppers who come back hours later and buy what
they left (so an abandoned-cart message sometimes has to be cancelled). Everything is drawn from
``random.Random`` instances seeded from the config, so one seed always yields byte-identical
events; each shopper draws from their own stream, so a smaller store is a prefix of a bigger one."""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from nudge.shop.catalog import (
    CATEGORIES,
    CURRENCY,
    CUSTOM_EVENTS,
    SHOP_URL,
    Event,
    Product,
    build_catalog,
    order_line,
    product_properties,
)
from nudge.shop.defects import DEFECTS
from nudge.shop.randomness import Weighted, iso, uuid4_from
from nudge.shop.shoppers import PERSONA_BY_NAME, REGION_BY_COUNTRY, Shopper, make_shopper
from shared.core.vocabulary import EMAIL_TRAIT, Channel

_MIN_SESSION_GAP = timedelta(minutes=45)  # > the 30-minute inactivity rule analytics tools use
_FREE_SHIPPING_FROM = 50.0
_SHIPPING_FEE = 4.99
_P_ANONYMOUS_START = 0.08  # sessions that begin logged out (pre-login browsing)
_P_CUSTOM_EVENT = 0.03
_P_LIST_VIEW = 0.35
_P_HOME_PAGE = 0.30
_P_SECOND_ADD = 0.25
_P_REMOVE = 0.12
_P_COMEBACK_COMPLETES = 0.8
_STALE_CART_CHECKOUT = 0.06  # relative to a cart filled in the same visit
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


@dataclass(frozen=True)
class StoreConfig:
    users: int = 2000
    days: int = 14
    seed: int = 7
    start: datetime = datetime(2026, 11, 1, tzinfo=UTC)

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("StoreConfig.start must be timezone-aware")
        if self.users < 0 or self.days < 1:
            raise ValueError("StoreConfig needs users >= 0 and days >= 1")

    @property
    def end(self) -> datetime:
        return self.start.astimezone(UTC) + timedelta(days=self.days)


_LOCAL_HOUR: Final = Weighted([(h, w) for h, w in enumerate(_HOUR_WEIGHTS)])


class SyntheticStore:
    """Shoppers and a catalog, plus the events they would send over ``config.days`` days."""

    def __init__(self, config: StoreConfig) -> None:
        self.config = config
        self.catalog: list[Product] = build_catalog()
        self.shoppers: list[Shopper] = [make_shopper(config.seed, n) for n in range(1, config.users + 1)]
        self._products_by_id = {p.product_id: p for p in self.catalog}
        self._by_category: dict[str, list[Product]] = {c: [] for c in CATEGORIES}
        for product in self.catalog:
            self._by_category[product.category].append(product)

    def product(self, product_id: str) -> Product:
        return self._products_by_id[product_id]

    def products_in(self, category: str) -> list[Product]:
        return self._by_category[category]

    def context(self, shopper: Shopper, device: str) -> dict[str, Any]:
        """The Segment ``context`` an SDK on the shopper's device would attach."""
        number = int(shopper.user_id.rsplit("-", 1)[1])
        network = "203.0.113" if number % 2 else "198.51.100"  # RFC 5737 documentation ranges
        return {
            "timezone": shopper.timezone,
            "locale": shopper.locale,
            "device": {"type": device},
            "ip": f"{network}.{1 + number % 254}",
        }

    def order_event(
        self, shopper: Shopper, at: datetime, rng: random.Random, products: Sequence[Product] = ()
    ) -> dict[str, Any]:
        """An ``Order Completed`` call for ``shopper`` at ``at`` (one to three catalogue products)."""
        chosen = list(products) or rng.sample(self.catalog, k=rng.randint(1, 3))
        lines = [order_line(p, rng.randint(1, 2)) for p in chosen]
        subtotal = round(sum(line["price"] * line["quantity"] for line in lines), 2)
        return {
            "type": "track",
            "event": "Order Completed",
            "userId": shopper.user_id,
            "messageId": uuid4_from(rng),
            "timestamp": iso(at),
            "context": self.context(shopper, self.primary_device(shopper)),
            "properties": {
                "order_id": f"o-{uuid4_from(rng)[:18]}",
                "revenue": subtotal,
                "subtotal": subtotal,
                "total": subtotal,
                "currency": CURRENCY,
                "products": lines,
            },
        }

    def primary_device(self, shopper: Shopper) -> str:
        return {"APNS": "ios", "GCM": "android"}.get(shopper.push_platform or "", "web")

    def identify_event(
        self,
        shopper: Shopper,
        at: datetime,
        push_endpoint_arn: str | None,
        *,
        anonymous_id: str | None = None,
        device: str | None = None,
    ) -> dict[str, Any]:
        """The identify call a shopper's first login sends; the push endpoint only when they have push."""
        traits: dict[str, Any] = {
            "firstName": shopper.first_name,
            "lastName": shopper.last_name,
            EMAIL_TRAIT: shopper.email,
            "age": shopper.age,
            "gender": shopper.gender,
            "address": {"country": shopper.country, "city": shopper.city},
            "language": shopper.language,
            "timezone": shopper.timezone,
            "consent": {
                Channel.EMAIL: shopper.email_opt_in,
                Channel.PUSH: shopper.push_opt_in,
                Channel.IN_APP: True,
            },
        }
        if push_endpoint_arn and shopper.push_platform is not None:
            traits["push_endpoint"] = push_endpoint_arn
        moment = at.astimezone(UTC)
        id_stream = random.Random(f"nudge-store/{self.config.seed}/identify/{shopper.user_id}/{iso(moment)}")
        event: dict[str, Any] = {"type": "identify", "userId": shopper.user_id}
        if anonymous_id is not None:
            event["anonymousId"] = anonymous_id
        event.update(
            {
                "messageId": uuid4_from(id_stream),
                "timestamp": iso(moment),
                "traits": traits,
                "context": self.context(shopper, device or self.primary_device(shopper)),
            }
        )
        return event

    def events(self, push_endpoints: Mapping[str, str] | None = None) -> Iterator[dict[str, Any]]:
        """All events of the simulation in timestamp order (ascending). Each is a Segment-Spec payload
        dict (what an app would send as the EventBridge ``detail``)."""
        endpoints = push_endpoints or {}
        timeline: list[tuple[datetime, int, int, Event]] = []
        for index, shopper in enumerate(self.shoppers):
            run = _ShopperRun(self, shopper, endpoints.get(shopper.user_id))
            timeline.extend((at, index, seq, event) for seq, (at, event) in enumerate(run.simulate()))
        timeline.sort()  # (time, shopper, sequence) is unique, so the dicts are never compared
        for *_, event in timeline:
            yield event

    def malformed_events(self, n: int) -> list[dict[str, Any]]:
        """``n`` payloads each broken in one way the ingest must reject; ``_why`` names the defect."""
        rng = random.Random(f"nudge-store/{self.config.seed}/malformed")
        broken: list[Event] = []
        for i in range(n):
            shopper = (
                self.shoppers[rng.randrange(len(self.shoppers))]
                if self.shoppers
                else make_shopper(self.config.seed, 1)
            )
            at = self.config.end - timedelta(seconds=1 + rng.randrange(self.config.days * 86400 - 1))
            event: Event = {
                "type": "track",
                "event": "Product Viewed",
                "userId": shopper.user_id,
                "messageId": uuid4_from(rng),
                "timestamp": iso(at),
                "properties": product_properties(rng.choice(self.catalog)),
                "context": self.context(shopper, "web"),
            }
            broken.append(DEFECTS[i % len(DEFECTS)](event))
        return broken


@dataclass
class _Cart:
    """The shopper's open cart; it survives across sessions until an order empties it."""

    cart_id: str
    lines: dict[str, int] = field(default_factory=dict)  # product_id -> quantity, in insertion order
    order_id: str | None = None  # fixed at the first checkout so retries keep the same order


class _ShopperRun:
    """One shopper's fortnight: planned daily visits, plus comebacks that abandoned carts trigger."""

    def __init__(self, store: SyntheticStore, shopper: Shopper, push_endpoint: str | None) -> None:
        self.store = store
        self.shopper = shopper
        self.persona = PERSONA_BY_NAME[shopper.persona]
        self.region = REGION_BY_COUNTRY[shopper.country]
        self.push_endpoint = push_endpoint
        self.rng = random.Random(f"nudge-store/{store.config.seed}/events/{shopper.user_id}")
        self.zone = ZoneInfo(shopper.timezone)
        self.start = store.config.start.astimezone(UTC)
        self.end = store.config.end
        self.out: list[tuple[datetime, Event]] = []
        self.identified = False
        self.orders = 0
        self.cart: _Cart | None = None
        self.anonymous_ids: dict[str, str] = {}
        self.clock = self.start
        self.device = "web"
        self.session_anonymous_id: str | None = None
        rng = self.rng
        favourites = rng.sample(CATEGORIES, 2)
        # Most views land in one or two favourite categories.
        self.favourite_category = Weighted(
            [
                (
                    c,
                    0.55
                    if c == favourites[0]
                    else 0.25
                    if c == favourites[1] and rng.random() < 0.7
                    else 0.03,
                )
                for c in CATEGORIES
            ]
        )
        self.context = store.context(shopper, "web")

    # -- planning ---------------------------------------------------------------------------------

    def _visit_times(self) -> list[datetime]:
        """Daily session starts at weighted local hours, converted to UTC, inside the window."""
        times: list[datetime] = []
        day = self.start.astimezone(self.zone).date()
        last_day = (self.end - timedelta(microseconds=1)).astimezone(self.zone).date()
        while day <= last_day:
            boost = _SALE_DAYS.get((day.month, day.day), 1.0)
            if self.rng.random() < self.persona.daily_visit * boost:
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

    def simulate(self) -> list[tuple[datetime, Event]]:
        queue: list[tuple[datetime, int, str]] = [(t, i, "") for i, t in enumerate(self._visit_times())]
        heapq.heapify(queue)
        seq = len(queue)
        last_end: datetime | None = None
        while queue:
            at, _, comeback_cart = heapq.heappop(queue)
            if at >= self.end:
                break
            if comeback_cart and not self._still_open(comeback_cart):
                continue  # the cart was bought or emptied in between: nothing to come back for
            if last_end is not None and at < last_end + _MIN_SESSION_GAP:
                if not comeback_cart:
                    continue  # already shopping then
                later = last_end + _MIN_SESSION_GAP + self._seconds(60, 1800)
                heapq.heappush(queue, (later, seq, comeback_cart))
                seq += 1
                continue
            if not comeback_cart and self._done_shopping():
                continue
            abandoned, last_end = self._session(at, comeback=bool(comeback_cart))
            if abandoned and self.cart is not None and self.rng.random() < self.persona.comeback:
                later = self._comeback_time(last_end)
                heapq.heappush(queue, (later, seq, self.cart.cart_id))
                seq += 1
        kept = [(at, event) for at, event in self.out if at < self.end]
        if not any(event["type"] == "identify" for _, event in kept):
            at = self.start + self._seconds(0, 3600)
            kept.insert(0, (at, self.store.identify_event(self.shopper, at, self.push_endpoint)))
        return kept

    def _still_open(self, cart_id: str) -> bool:
        return self.cart is not None and self.cart.cart_id == cart_id and bool(self.cart.lines)

    def _done_shopping(self) -> bool:
        """One-timers rarely come back once they have bought."""
        return self.persona.name == "one_timer" and self.orders > 0 and self.rng.random() < 0.85

    def _comeback_time(self, after: datetime) -> datetime:
        """Hours later, but not in the middle of the shopper's night."""
        later = after + self._seconds(90 * 60, 26 * 3600)
        local_hour = later.astimezone(self.zone).hour
        if local_hour < 7:
            later += timedelta(hours=7 - local_hour)
        return later

    # -- one session ------------------------------------------------------------------------------

    def _seconds(self, low: int, high: int) -> timedelta:
        """A uniform pause in whole milliseconds (the wire precision)."""
        return timedelta(milliseconds=int(1000 * (low + (high - low) * self.rng.random())))

    def _device(self) -> str:
        if self.shopper.push_platform is not None and self.rng.random() < 0.7:
            return self.store.primary_device(self.shopper)
        return "web"

    def _session(self, at: datetime, *, comeback: bool) -> tuple[bool, datetime]:
        """Emit one visit's events from ``at``; returns (abandoned a cart just now, end time).

        Only a visit that filled or tried to pay for the cart counts as abandoning it: that is what
        an abandoned-cart campaign reacts to, and what brings a shopper back hours later."""
        rng = self.rng
        self.clock = at
        self.device = self._device()
        self.session_anonymous_id = None
        if rng.random() < _P_ANONYMOUS_START:
            self.session_anonymous_id = self.anonymous_ids.setdefault(self.device, uuid4_from(rng))
            for _ in range(rng.randint(1, 2)):
                if rng.random() < 0.5:
                    self._page("Home", "/", anonymous=True)
                else:
                    self._track("Product Viewed", product_properties(self._browse()), anonymous=True)
                self._tick(10, 120)
        if not self.identified:
            self.identified = True
            self.out.append(
                (
                    self.clock,
                    self.store.identify_event(
                        self.shopper,
                        self.clock,
                        self.push_endpoint,
                        anonymous_id=self.session_anonymous_id,
                        device=self.device,
                    ),
                )
            )
            self._tick(2, 20)
        if comeback:
            self._return_to_cart()
            touched_cart = False  # one comeback per abandonment
        else:
            touched_cart = self._browse_and_buy()
        return touched_cart and self.cart is not None and bool(self.cart.lines), self.clock

    def _return_to_cart(self) -> None:
        """The shopper comes back for what they left; most of them pay this time."""
        assert self.cart is not None
        rng = self.rng
        if rng.random() < 0.5:
            self._page("Cart", "/cart")
            self._tick(10, 90)
        if rng.random() < 0.6:
            product = self.store.product(rng.choice(list(self.cart.lines)))
            self._track("Product Viewed", product_properties(product))
            self._tick(15, 150)
        self._checkout(complete_probability=_P_COMEBACK_COMPLETES)

    def _browse_and_buy(self) -> bool:
        """A browsing visit down the funnel; returns whether it added to the cart or started checkout."""
        rng, persona = self.rng, self.persona
        if rng.random() < _P_HOME_PAGE:
            self._page("Home", "/")
            self._tick(5, 60)
        viewed: list[Product] = []
        custom_at = rng.randrange(8) if rng.random() < _P_CUSTOM_EVENT else -1
        for step in range(rng.randint(*persona.views)):
            if rng.random() < _P_LIST_VIEW / 2:
                self._list_view()
            product = self._browse()
            viewed.append(product)
            self._track("Product Viewed", product_properties(product))
            self._tick(15, 180)
            if step == custom_at:
                self._custom_event(product)
        added = False
        if rng.random() < persona.add:
            added = True
            self._add(rng.choice(viewed))
            if rng.random() < _P_SECOND_ADD:
                self._add(rng.choice(viewed))
            if self.cart is not None and rng.random() < _P_REMOVE:
                self._remove(rng.choice(list(self.cart.lines)))
        if custom_at >= len(viewed):
            self._custom_event(viewed[-1])
        if self.cart is None or not self.cart.lines:
            return added
        # A cart left from an earlier visit is sometimes checked out without adding anything new.
        checkout = persona.checkout if added else persona.checkout * _STALE_CART_CHECKOUT
        if rng.random() < checkout:
            self._checkout(complete_probability=persona.complete)
            return True
        return added

    def _browse(self) -> Product:
        category = self.favourite_category(self.rng)
        return self.rng.choice(self.store.products_in(category))

    def _list_view(self) -> None:
        category = self.favourite_category(self.rng)
        shown = self.rng.sample(self.store.products_in(category), 6)
        self._track(
            "Product List Viewed",
            {
                "list_id": f"category-{category}",
                "category": category,
                "products": [{**order_line(p, 1), "position": i + 1} for i, p in enumerate(shown)],
            },
        )
        self._tick(10, 90)

    def _add(self, product: Product) -> None:
        if self.cart is None:
            self.cart = _Cart(cart_id=f"cart-{uuid4_from(self.rng)[:13]}")
        quantity = 2 if product.price < 20 and self.rng.random() < 0.3 else 1
        self.cart.lines[product.product_id] = self.cart.lines.get(product.product_id, 0) + quantity
        self._track("Product Added", {"cart_id": self.cart.cart_id, **order_line(product, quantity)})
        self._tick(10, 120)

    def _remove(self, product_id: str) -> None:
        assert self.cart is not None
        quantity = self.cart.lines.pop(product_id)
        product = self.store.product(product_id)
        self._track("Product Removed", {"cart_id": self.cart.cart_id, **order_line(product, quantity)})
        self._tick(10, 90)

    def _custom_event(self, product: Product) -> None:
        name = self.rng.choice(CUSTOM_EVENTS)
        properties: dict[str, Any] = {"product_id": product.product_id, "sku": product.sku}
        if name == "Coupon Applied":
            properties = {"coupon_id": f"SAVE{self.rng.choice((5, 10, 15))}"}
            if self.cart is not None:
                properties["cart_id"] = self.cart.cart_id
        elif name == "Store Locator Opened":
            properties = {"city": self.shopper.city}
        self._track(name, properties)
        self._tick(5, 60)

    def _checkout(self, complete_probability: float) -> None:
        assert self.cart is not None
        cart, rng = self.cart, self.rng
        if cart.order_id is None:
            cart.order_id = f"o-{uuid4_from(rng)[:18]}"
        checkout_id = f"co-{uuid4_from(rng)[:13]}"
        lines = [order_line(self.store.product(pid), qty) for pid, qty in cart.lines.items()]
        subtotal = round(sum(line["price"] * line["quantity"] for line in lines), 2)
        shipping = 0.0 if subtotal >= _FREE_SHIPPING_FROM else _SHIPPING_FEE
        tax = round(subtotal * self.region.tax_rate, 2)
        total = round(subtotal + shipping + tax, 2)
        money = {"subtotal": subtotal, "shipping": shipping, "tax": tax, "total": total, "currency": CURRENCY}
        self._track(
            "Checkout Started",
            {
                "order_id": cart.order_id,
                "checkout_id": checkout_id,
                "cart_id": cart.cart_id,
                "value": subtotal,
                "revenue": subtotal,
                **money,
                "products": lines,
            },
        )
        self._tick(40, 300)
        if rng.random() >= complete_probability:
            return
        self._track(
            "Order Completed",
            {
                "order_id": cart.order_id,
                "checkout_id": checkout_id,
                "cart_id": cart.cart_id,
                "revenue": subtotal,
                "discount": 0.0,
                **money,
                "products": lines,
            },
        )
        self._tick(5, 30)
        self.cart = None
        self.orders += 1

    # -- emitting ---------------------------------------------------------------------------------

    def _tick(self, low: int, high: int) -> None:
        self.clock += self._seconds(low, high)

    def _envelope(self, kind: str, anonymous: bool) -> Event:
        event: Event = {"type": kind}
        if not anonymous:
            event["userId"] = self.shopper.user_id
        if self.session_anonymous_id is not None:
            event["anonymousId"] = self.session_anonymous_id
        return event

    def _finish(self, event: Event) -> None:
        event["messageId"] = uuid4_from(self.rng)
        event["timestamp"] = iso(self.clock)
        event["context"] = {**self.context, "device": {"type": self.device}}
        self.out.append((self.clock, event))

    def _track(self, name: str, properties: dict[str, Any], *, anonymous: bool = False) -> None:
        event = self._envelope("track", anonymous)
        event["event"] = name
        event["properties"] = properties
        self._finish(event)

    def _page(self, name: str, path: str, *, anonymous: bool = False) -> None:
        event = self._envelope("page", anonymous)
        event["name"] = name
        event["properties"] = {
            "name": name,
            "path": path,
            "url": f"{SHOP_URL}{path}",
            "title": f"{name} | Shop",
        }
        self._finish(event)
