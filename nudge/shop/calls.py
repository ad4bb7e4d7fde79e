"""The Segment calls a shopper's devices send: the ``context`` the SDK attaches, the identify call of a
first login, an order, a product review, and :class:`Analytics`, the SDK through one shopper's run,
which stamps each track and page call with the shopper's ids, the moment, the device and the context."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from nudge.shop.catalog import CURRENCY, SHOP_URL, Event, Product, order_line
from nudge.shop.randomness import iso, pause, uuid4_from
from nudge.shop.shoppers import Shopper
from shared.core.vocabulary import EMAIL_TRAIT, Channel


def device_context(shopper: Shopper, device: str) -> dict[str, Any]:
    """The Segment ``context`` an SDK on the shopper's device would attach."""
    number = int(shopper.user_id.rsplit("-", 1)[1])
    network = "203.0.113" if number % 2 else "198.51.100"  # RFC 5737 documentation ranges
    return {
        "timezone": shopper.timezone,
        "locale": shopper.locale,
        "device": {"type": device},
        "ip": f"{network}.{1 + number % 254}",
    }


def primary_device(shopper: Shopper) -> str:
    """The device a shopper mostly uses: their phone when they have the app, else the web."""
    return {"APNS": "ios", "GCM": "android"}.get(shopper.push_platform or "", "web")


def identify_call(
    seed: int,
    shopper: Shopper,
    at: datetime,
    push_endpoint_arn: str | None,
    *,
    anonymous_id: str | None = None,
    device: str | None = None,
) -> dict[str, Any]:
    """The identify call a shopper's first login sends; the push endpoint only when they have push.
    Its id is drawn from a stream of its own (the store's ``seed``, the shopper, the moment)."""
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
    id_stream = random.Random(f"nudge-store/{seed}/identify/{shopper.user_id}/{iso(moment)}")
    event: dict[str, Any] = {"type": "identify", "userId": shopper.user_id}
    if anonymous_id is not None:
        event["anonymousId"] = anonymous_id
    event.update(
        {
            "messageId": uuid4_from(id_stream),
            "timestamp": iso(moment),
            "traits": traits,
            "context": device_context(shopper, device or primary_device(shopper)),
        }
    )
    return event


def order_call(
    shopper: Shopper,
    at: datetime,
    rng: random.Random,
    catalog: Sequence[Product],
    products: Sequence[Product] = (),
) -> dict[str, Any]:
    """An ``Order Completed`` call for ``shopper`` at ``at``: ``products``, or one to three drawn
    from ``catalog``."""
    chosen = list(products) or rng.sample(catalog, k=rng.randint(1, 3))
    lines = [order_line(p, rng.randint(1, 2)) for p in chosen]
    subtotal = round(sum(line["price"] * line["quantity"] for line in lines), 2)
    return {
        "type": "track",
        "event": "Order Completed",
        "userId": shopper.user_id,
        "messageId": uuid4_from(rng),
        "timestamp": iso(at),
        "context": device_context(shopper, primary_device(shopper)),
        "properties": {
            "order_id": f"o-{uuid4_from(rng)[:18]}",
            "revenue": subtotal,
            "subtotal": subtotal,
            "total": subtotal,
            "currency": CURRENCY,
            "products": lines,
        },
    }


def review_call(
    shopper: Shopper, at: datetime, rng: random.Random, product: Product, order_id: str | None = None
) -> dict[str, Any]:
    """A ``Product Reviewed`` call for ``shopper`` at ``at``: a rating of ``product`` (mostly good ones),
    of the order ``order_id`` when it is known. Its ids are drawn from ``rng``."""
    properties: dict[str, Any] = {
        "product_id": product.product_id,
        "sku": product.sku,
        "review_id": f"r-{uuid4_from(rng)[:13]}",
        "rating": rng.choices((5, 4, 3, 2, 1), weights=(50, 28, 12, 5, 5))[0],
    }
    if order_id is not None:
        properties["order_id"] = order_id
    return {
        "type": "track",
        "event": "Product Reviewed",
        "userId": shopper.user_id,
        "messageId": uuid4_from(rng),
        "timestamp": iso(at),
        "context": device_context(shopper, primary_device(shopper)),
        "properties": properties,
    }


class Analytics:
    """The Segment SDK (``analytics``) on a shopper's devices through a run: the calls it sent, in order,
    each with the moment it was sent.

    :attr:`clock` is the moment of the next call (:meth:`wait` moves it on), :attr:`device` the
    device in use, :attr:`anonymous_id` the id of a visit that began logged out (:attr:`logged_out` while
    it still is). Message ids are drawn
    from the shopper's stream ``rng``."""

    def __init__(self, shopper: Shopper, rng: random.Random, start: datetime) -> None:
        self.shopper = shopper
        self.rng = rng
        self.calls: list[tuple[datetime, Event]] = []
        self.clock = start
        self.device = "web"
        self.anonymous_id: str | None = None
        self.logged_out = False  # the visit's calls carry only the anonymous id until the shopper logs in
        self.context = device_context(shopper, "web")

    def wait(self, low: int, high: int) -> None:
        """The shopper takes ``low`` to ``high`` seconds before the next call."""
        self.clock += pause(self.rng, low, high)

    def track(self, name: str, properties: dict[str, Any], *, anonymous: bool = False) -> None:
        event = self._envelope("track", anonymous)
        event["event"] = name
        event["properties"] = properties
        self._send(event)

    def page(self, name: str, path: str, *, anonymous: bool = False) -> None:
        event = self._envelope("page", anonymous)
        event["name"] = name
        event["properties"] = {
            "name": name,
            "path": path,
            "url": f"{SHOP_URL}{path}",
            "title": f"{name} | Shop",
        }
        self._send(event)

    def identify(self, seed: int, push_endpoint: str | None) -> None:
        """The identify call of the shopper's first login, now, from the device in use."""
        self.calls.append(
            (
                self.clock,
                identify_call(
                    seed,
                    self.shopper,
                    self.clock,
                    push_endpoint,
                    anonymous_id=self.anonymous_id,
                    device=self.device,
                ),
            )
        )

    def _envelope(self, kind: str, anonymous: bool) -> Event:
        event: Event = {"type": kind}
        if not (anonymous or self.logged_out):
            event["userId"] = self.shopper.user_id
        if self.anonymous_id is not None:
            event["anonymousId"] = self.anonymous_id
        return event

    def _send(self, event: Event) -> None:
        event["messageId"] = uuid4_from(self.rng)
        event["timestamp"] = iso(self.clock)
        event["context"] = {**self.context, "device": {"type": self.device}}
        self.calls.append((self.clock, event))
