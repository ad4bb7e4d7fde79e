"""What a shopper does in one visit: down the shop's funnel from browsing their favourite categories to
a cart and a checkout, or back for a cart they left.

The cart survives across visits until an order empties it; a visit that filled it or tried to pay
for it and left it full abandoned it (what an abandoned-cart campaign reacts to). Every draw comes
from the shopper's own stream, in the order the visit happens, so a seed replays it exactly.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from nudge.shop.calls import Analytics, primary_device, review_call
from nudge.shop.catalog import (
    CATEGORIES,
    CURRENCY,
    CUSTOM_EVENTS,
    Product,
    Shelves,
    order_line,
    product_properties,
)
from nudge.shop.randomness import Weighted, uuid4_from
from nudge.shop.shoppers import PERSONA_BY_NAME, REGION_BY_COUNTRY, Shopper

_FREE_SHIPPING_FROM = 50.0
_SHIPPING_FEE = 4.99
_P_ANONYMOUS_START = 0.08  # sessions that begin logged out (pre-login browsing)
_P_LEAVE_AFTER_LOGIN = 0.3  # of the logged-out visitors who log in at checkout, those who go no further
_P_CUSTOM_EVENT = 0.03
_P_LIST_VIEW = 0.35
_P_HOME_PAGE = 0.30
_P_SECOND_ADD = 0.25
_P_REMOVE = 0.12
_P_COMEBACK_COMPLETES = 0.8
_STALE_CART_CHECKOUT = 0.06  # relative to a cart filled in the same visit
# Of the orders, those whose shopper reviews a product of it unasked, once it has arrived: 2 to 5 days
# of delivery, then 0 to 9 days until they get round to it (a review request makes it likelier:
# nudge/local/responses.py).
P_REVIEW = 0.05
_REVIEW_AFTER_DAYS = (2.0, 14.0)


@dataclass
class Cart:
    """The shopper's open cart; it survives across sessions until an order empties it."""

    cart_id: str
    lines: dict[str, int] = field(default_factory=dict)  # product_id -> quantity, in insertion order
    order_id: str | None = None  # fixed at the first checkout so retries keep the same order


class Funnel:
    """One shopper in the shop, visit after visit: their favourite categories, their cart, their orders;
    each visit's calls go to ``analytics``."""

    def __init__(
        self,
        shopper: Shopper,
        shelves: Shelves,
        analytics: Analytics,
        rng: random.Random,
        *,
        seed: int,
        push_endpoint: str | None,
    ) -> None:
        self.shopper = shopper
        self.shelves = shelves
        self.analytics = analytics
        self.rng = rng
        self.seed = seed
        self.push_endpoint = push_endpoint
        self.persona = PERSONA_BY_NAME[shopper.persona]
        self.region = REGION_BY_COUNTRY[shopper.country]
        self.identified = False
        self.orders = 0
        self.cart: Cart | None = None
        self.anonymous_ids: dict[str, str] = {}
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

    def still_open(self, cart_id: str) -> bool:
        """Whether the cart ``cart_id`` is the shopper's and still holds something."""
        return self.cart is not None and self.cart.cart_id == cart_id and bool(self.cart.lines)

    def visit(self, at: datetime, *, comeback: bool) -> tuple[bool, datetime]:
        """Send one visit's calls from ``at``; returns (abandoned a cart just now, end time).

        Only a visit that filled or tried to pay for the cart counts as abandoning it: that is what
        an abandoned-cart campaign reacts to, and what brings a shopper back hours later."""
        rng, analytics = self.rng, self.analytics
        analytics.clock = at
        self.shelves.at = at  # the visit's prices (nudge/shop/pricing.py)
        analytics.device = self._device()
        analytics.anonymous_id = None
        analytics.logged_out = False
        if rng.random() < _P_ANONYMOUS_START:
            analytics.anonymous_id = self.anonymous_ids.setdefault(analytics.device, uuid4_from(rng))
            # A returning shopper browses and fills the cart logged out, and logs in at checkout.
            analytics.logged_out = self.identified
            for _ in range(rng.randint(1, 2)):
                if rng.random() < 0.5:
                    analytics.page("Home", "/", anonymous=True)
                else:
                    analytics.track("Product Viewed", product_properties(self._browse()), anonymous=True)
                analytics.wait(10, 120)
        if not self.identified:
            self.identified = True
            analytics.identify(self.seed, self.push_endpoint)
            analytics.wait(2, 20)
        if comeback:
            self._return_to_cart()
            touched_cart = False  # one comeback per abandonment
        else:
            touched_cart = self._browse_and_buy()
        return touched_cart and self.cart is not None and bool(self.cart.lines), analytics.clock

    def _device(self) -> str:
        if self.shopper.push_platform is not None and self.rng.random() < 0.7:
            return primary_device(self.shopper)
        return "web"

    def _return_to_cart(self) -> None:
        """The shopper comes back for what they left; most of them pay this time."""
        assert self.cart is not None
        rng, analytics = self.rng, self.analytics
        if rng.random() < 0.5:
            analytics.page("Cart", "/cart")
            analytics.wait(10, 90)
        if rng.random() < 0.6:
            product = self.shelves.product(rng.choice(list(self.cart.lines)))
            analytics.track("Product Viewed", product_properties(product))
            analytics.wait(15, 150)
        self._checkout(complete_probability=_P_COMEBACK_COMPLETES)

    def _browse_and_buy(self) -> bool:
        """A browsing visit down the funnel; returns whether it added to the cart or started checkout."""
        rng, persona, analytics = self.rng, self.persona, self.analytics
        if rng.random() < _P_HOME_PAGE:
            analytics.page("Home", "/")
            analytics.wait(5, 60)
        viewed: list[Product] = []
        custom_at = rng.randrange(8) if rng.random() < _P_CUSTOM_EVENT else -1
        for step in range(rng.randint(*persona.views)):
            if rng.random() < _P_LIST_VIEW / 2:
                self._list_view()
            product = self._browse()
            viewed.append(product)
            analytics.track("Product Viewed", product_properties(product))
            analytics.wait(15, 180)
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
        return self.rng.choice(self.shelves.products_in(category))

    def _list_view(self) -> None:
        category = self.favourite_category(self.rng)
        shown = self.rng.sample(self.shelves.products_in(category), 6)
        self.analytics.track(
            "Product List Viewed",
            {
                "list_id": f"category-{category}",
                "category": category,
                "products": [{**order_line(p, 1), "position": i + 1} for i, p in enumerate(shown)],
            },
        )
        self.analytics.wait(10, 90)

    def _add(self, product: Product) -> None:
        if self.cart is None:
            self.cart = Cart(cart_id=f"cart-{uuid4_from(self.rng)[:13]}")
        quantity = 2 if product.price < 20 and self.rng.random() < 0.3 else 1
        self.cart.lines[product.product_id] = self.cart.lines.get(product.product_id, 0) + quantity
        self.analytics.track("Product Added", {"cart_id": self.cart.cart_id, **order_line(product, quantity)})
        self.analytics.wait(10, 120)

    def _remove(self, product_id: str) -> None:
        assert self.cart is not None
        quantity = self.cart.lines.pop(product_id)
        product = self.shelves.product(product_id)
        self.analytics.track(
            "Product Removed", {"cart_id": self.cart.cart_id, **order_line(product, quantity)}
        )
        self.analytics.wait(10, 90)

    def _custom_event(self, product: Product) -> None:
        name = self.rng.choice(CUSTOM_EVENTS)
        properties: dict[str, Any] = {"product_id": product.product_id, "sku": product.sku}
        if name == "Coupon Applied":
            properties = {"coupon_id": f"SAVE{self.rng.choice((5, 10, 15))}"}
            if self.cart is not None:
                properties["cart_id"] = self.cart.cart_id
        elif name == "Store Locator Opened":
            properties = {"city": self.shopper.city}
        self.analytics.track(name, properties)
        self.analytics.wait(5, 60)

    def _checkout(self, complete_probability: float) -> None:
        assert self.cart is not None
        cart, rng = self.cart, self.rng
        if self.analytics.logged_out:  # the login wall at checkout: some leave right after it
            self.analytics.logged_out = False
            self.analytics.identify(self.seed, self.push_endpoint)
            self.analytics.wait(5, 40)
            if rng.random() < _P_LEAVE_AFTER_LOGIN:
                return
        if cart.order_id is None:
            cart.order_id = f"o-{uuid4_from(rng)[:18]}"
        checkout_id = f"co-{uuid4_from(rng)[:13]}"
        lines = [order_line(self.shelves.product(pid), qty) for pid, qty in cart.lines.items()]
        subtotal = round(sum(line["price"] * line["quantity"] for line in lines), 2)
        shipping = 0.0 if subtotal >= _FREE_SHIPPING_FROM else _SHIPPING_FEE
        tax = round(subtotal * self.region.tax_rate, 2)
        total = round(subtotal + shipping + tax, 2)
        money = {"subtotal": subtotal, "shipping": shipping, "tax": tax, "total": total, "currency": CURRENCY}
        self.analytics.track(
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
        self.analytics.wait(40, 300)
        if rng.random() >= complete_probability:
            return
        self.analytics.track(
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
        self._maybe_review(cart.order_id, list(cart.lines))
        self.analytics.wait(5, 30)
        self.cart = None
        self.orders += 1

    def _maybe_review(self, order_id: str, product_ids: list[str]) -> None:
        """With :data:`P_REVIEW`, a ``Product Reviewed`` call days after the order. Drawn from a stream of
        the order's own, so the shopper's visits are the same with reviews as without."""
        review = random.Random(f"nudge-store/{self.seed}/review/{order_id}")
        if review.random() >= P_REVIEW:
            return
        at = self.analytics.clock + timedelta(days=review.uniform(*_REVIEW_AFTER_DAYS))
        product = self.shelves.product(review.choice(product_ids))
        self.analytics.calls.append((at, review_call(self.shopper, at, review, product, order_id)))
