"""How the demo's shoppers answer the messages they get: a model of the world, not of Nudge.

The synthetic store's own behaviour (visits, carts, orders) is generated up front and knows
nothing of messages, so without this the demo could only ever measure zero uplift. Here each
message a channel accepted may, with a probability set per level, lead to:

- SES events for an email: delivered, perhaps opened, perhaps clicked (put on the default bus as
  SES would, so the feedback function folds them into the send log);
- a read of an in-app message through the inbox HTTP API;
- an extra ``Order Completed`` within the conversion window: the message's true effect, which an
  experiment's variant may multiply (``variant_lift``: the known truth the variant table should find);
- for a review request (``review_lift``: the post-purchase journey's), a ``Product Reviewed`` instead:
  the store's shoppers review some orders unasked (``nudge.shop.funnel.P_REVIEW``), a request adds this.

Withheld shoppers get none of this, so the report's uplift should recover the levels' effects
(roughly; they are sampled). Push has no receipts, as with SNS.
"""

from __future__ import annotations

import heapq
import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from nudge.local.ports import SentMessage
from nudge.local.runtime import LocalRuntime
from nudge.local.ses_events import ses_event, tagged_mail
from nudge.shop.calls import order_call, review_call
from nudge.shop.randomness import iso
from nudge.shop.shoppers import Shopper
from nudge.shop.store import SyntheticStore
from shared.core.vocabulary import Channel, Level
from shared.journeys.engine import send_step_of


@dataclass(frozen=True)
class ResponseModel:
    """Probabilities per message; the conversion lift is the chance a message causes an order."""

    email_delivered: float = 0.97
    email_open: dict[str, float] = field(
        default_factory=lambda: {Level.L1: 0.18, Level.L2: 0.28, Level.L3: 0.3, Level.L4: 0.42}
    )
    click_given_open: float = 0.3
    inbox_read: float = 0.55
    conversion_lift: dict[str, float] = field(
        default_factory=lambda: {Level.L1: 0.01, Level.L2: 0.04, Level.L3: 0.05, Level.L4: 0.12}
    )
    max_delay_hours: float = 36.0
    # "campaign:variant" -> a multiplier of the level's conversion lift for the shoppers sent that variant:
    # the known truth of the shipped experiments (docs/experiments.md), the better variant 1.5 times
    variant_lift: dict[str, float] = field(
        default_factory=lambda: {"cart-recovery:still-yours": 1.5, "browse-abandon:picked-for-you": 1.5}
    )
    # "journey:send step" -> the chance its message causes a review (instead of an order) within days
    review_lift: dict[str, float] = field(default_factory=lambda: {"post-purchase:review-request": 0.2})
    max_review_delay_hours: float = 96.0


@dataclass(order=True)
class _Reaction:
    at: datetime
    order: int
    kind: str = field(compare=False)  # "ses" | "read" | "order" | "review"
    payload: Any = field(compare=False)


class Responder:
    def __init__(
        self, store: SyntheticStore, runtime: LocalRuntime, seed: int, model: ResponseModel | None = None
    ) -> None:
        self.store, self.runtime = store, runtime
        self.model = model or ResponseModel()
        self.rng = random.Random(seed * 7919 + 17)
        self._shoppers: dict[str, Shopper] = {s.user_id: s for s in store.shoppers}
        self._queue: list[_Reaction] = []
        self._seen = 0
        self._counter = 0
        self.counts: Counter[str] = Counter()

    def _later(self, at: datetime, low_minutes: float, high_minutes: float) -> datetime:
        return at + timedelta(minutes=self.rng.uniform(low_minutes, high_minutes))

    def _push(self, at: datetime, kind: str, payload: Any) -> None:
        self._counter += 1
        heapq.heappush(self._queue, _Reaction(at, self._counter, kind, payload))

    def observe(self) -> None:
        """Plan the reactions to the sends made since the last call."""
        for message in self.runtime.sent[self._seen :]:
            self._react(message)
        self._seen = len(self.runtime.sent)

    def _react(self, message: SentMessage) -> None:
        campaign = self.runtime.catalog.get(message.campaign_id)
        shopper = self._shoppers.get(message.user_id)
        if campaign is None or shopper is None:
            return
        level, model, rng = campaign.level, self.model, self.rng
        if message.channel == Channel.EMAIL and rng.random() < model.email_delivered:
            delivered = self._later(message.at, 0.2, 3)
            self._push(delivered, "ses", _ses_event("Delivery", message, delivered))
            if rng.random() < model.email_open.get(level, 0.0):
                opened = self._later(delivered, 5, 12 * 60)
                self._push(opened, "ses", _ses_event("Open", message, opened))
                if rng.random() < model.click_given_open:
                    clicked = self._later(opened, 0.2, 5)
                    self._push(clicked, "ses", _ses_event("Click", message, clicked))
        if message.channel == Channel.IN_APP and rng.random() < model.inbox_read:
            self._push(self._later(message.at, 10, 24 * 60), "read", (message.user_id, message.provider_id))
        review_lift = model.review_lift.get(f"{campaign.id}:{_journey_step(campaign, message.send_key)}")
        if review_lift is not None:
            if rng.random() < review_lift:
                at = self._later(message.at, 30, model.max_review_delay_hours * 60)
                self._push(at, "review", review_call(shopper, at, rng, rng.choice(self.store.catalog)))
        elif rng.random() < model.conversion_lift.get(level, 0.0) * self._variant_lift(campaign, message):
            at = self._later(message.at, 15, model.max_delay_hours * 60)
            self._push(at, "order", order_call(shopper, at, rng, self.store.catalog))

    def _variant_lift(self, campaign: Any, message: SentMessage) -> float:
        """The true multiplier of the variant the shopper was sent (read from the send log's decision)."""
        has_variants = any(getattr(step, "variants", None) for step in campaign.flow.steps)
        if not has_variants or not self.model.variant_lift:
            return 1.0
        entry = self.runtime.send_log.get(message.user_id, message.send_key)
        variant = entry.variant if entry is not None else None
        return self.model.variant_lift.get(f"{campaign.id}:{variant}", 1.0)

    def due_orders_and_apply(self, until: datetime) -> list[dict[str, Any]]:
        """Apply the SES events and inbox reads due before ``until``; return the orders and reviews to
        publish."""
        orders = []
        while self._queue and self._queue[0].at < until:
            reaction = heapq.heappop(self._queue)
            self.counts[reaction.kind] += 1
            if reaction.kind == "ses":
                self.runtime.publish_aws_event(reaction.payload)
            elif reaction.kind == "read":
                user_id, message_key = reaction.payload
                self.runtime.http("POST", f"/inbox/{message_key}/read", user_id=user_id)
            else:
                orders.append(reaction.payload)
        return orders


def _journey_step(campaign: Any, send_key: str) -> str | None:
    """A journey message's send step, from its send key (``shared.journeys.engine.send_key``)."""
    return send_step_of(send_key) if campaign.is_journey else None


def _ses_event(kind: str, message: SentMessage, at: datetime) -> dict[str, Any]:
    section: dict[str, Any] = {"timestamp": iso(at)}
    if kind == "Click":
        section["link"] = "https://shop.example.com/"
    mail = tagged_mail(
        message.user_id,
        message.campaign_id,
        message.provider_id,
        message.send_key,
        timestamp=iso(message.at),
    )
    detail: dict[str, Any] = {kind.lower(): section}  # SES's section of the event, named by its kind
    return ses_event(kind, mail, time=iso(at), event_id=str(uuid.uuid4()), **detail)
