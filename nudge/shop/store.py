"""A seeded synthetic e-commerce store: shoppers, a catalog and a fortnight of Segment-Spec events.

``nudge demo`` needs traffic that looks like a real shop's so that campaigns, audiences and scores
have something to chew on: evening peaks in each shopper's own time zone, favourite categories,
carts abandoned far more often than bought, and shoppers who come back hours later and buy what
they left (so an abandoned-cart message sometimes has to be cancelled). Everything is drawn from
``random.Random`` instances seeded from the config, so one seed always yields byte-identical
events; each shopper draws from their own stream, so a smaller store is a prefix of a bigger one.
Some products go on sale or sell out on fixed days (:mod:`nudge.shop.pricing`).

Here the store's days are merged into one timeline; when each shopper visits is
:mod:`nudge.shop.visits`, what they do in a visit :mod:`nudge.shop.funnel`, and the calls their
devices send :mod:`nudge.shop.calls`."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from nudge.shop.calls import device_context
from nudge.shop.catalog import Event, Product, Shelves, build_catalog, product_properties
from nudge.shop.defects import DEFECTS
from nudge.shop.pricing import PriceBook
from nudge.shop.randomness import iso, uuid4_from
from nudge.shop.shoppers import Shopper, make_shopper
from nudge.shop.visits import ShopperRun


@dataclass(frozen=True)
class StoreConfig:
    users: int = 2000
    days: int = 14
    seed: int = 7
    start: datetime = datetime(2026, 11, 1, tzinfo=UTC)
    # (i, n): only every n-th shopper from the i-th on. Each shopper draws from their own stream, so
    # the n shards' shoppers and events are exactly the whole store's, split.
    shard: tuple[int, int] = (0, 1)

    def __post_init__(self) -> None:
        if not 0 <= self.shard[0] < self.shard[1]:
            raise ValueError("StoreConfig.shard must be (i, n) with 0 <= i < n")
        if self.start.tzinfo is None:
            raise ValueError("StoreConfig.start must be timezone-aware")
        if self.users < 0 or self.days < 1:
            raise ValueError("StoreConfig needs users >= 0 and days >= 1")

    @property
    def end(self) -> datetime:
        return self.start.astimezone(UTC) + timedelta(days=self.days)


class SyntheticStore:
    """Shoppers and a catalog, plus the events they would send over ``config.days`` days."""

    def __init__(self, config: StoreConfig) -> None:
        self.config = config
        self.catalog: list[Product] = build_catalog()
        shard, shards = config.shard
        self.shoppers: list[Shopper] = [
            make_shopper(config.seed, n) for n in range(1, config.users + 1) if (n - 1) % shards == shard
        ]
        self.shelves = Shelves(self.catalog, PriceBook(config.start.astimezone(UTC)))

    def events(self, push_endpoints: Mapping[str, str] | None = None) -> Iterator[dict[str, Any]]:
        """All events of the simulation in timestamp order (ascending). Each is a Segment-Spec payload
        dict (what an app would send as the EventBridge ``detail``)."""
        endpoints = push_endpoints or {}
        config = self.config
        timeline: list[tuple[datetime, int, int, Event]] = []
        for index, shopper in enumerate(self.shoppers):
            run = ShopperRun(
                shopper,
                self.shelves,
                endpoints.get(shopper.user_id),
                seed=config.seed,
                start=config.start,
                end=config.end,
            )
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
                "context": device_context(shopper, "web"),
            }
            broken.append(DEFECTS[i % len(DEFECTS)](event))
        return broken
