"""Conversion attribution: which campaigns a goal event (an order) counts for, and which message earned it.

The rules (docs/measurement.md):

- A campaign's goal is an event and a window (``conversion:`` in its file; default
  ``Order Completed`` within 72 h of the message).
- **Outcome, for uplift.** A goal event at T counts for a campaign when the shopper had a decision
  of that campaign in its treated or withheld group at D with D < T <= D + window. Both groups are
  followed the same way, so the withheld group measures what would have happened anyway. The
  global control group (no marketing at all) is followed too, for the program's uplift.
- **Revenue, by last touch.** Of the messages actually *sent* whose window covers T, the latest
  one is credited with the event's revenue (``attributed``); ties on time go to the larger send
  key so the choice is deterministic. Other campaigns' outcomes are still recorded (they count
  for their uplift) but carry no credited revenue, so revenue is never counted twice.
- **Exactly once per goal event.** Each (goal event, campaign) record is keyed on the event's
  ``messageId``; a redelivered event writes nothing new.
- **Net of refunds.** A conversion keeps its order's ``order_id``. An ``Order Refunded`` naming that
  order takes its amount (``revenue``, ``total`` or ``value``; the whole order without one) back from
  each of the order's conversions, never more than the conversion still counts; an ``Order Cancelled``
  takes back all that is left and marks the conversion ``cancelled``. ``revenue`` is then the net,
  ``gross_revenue`` what the order brought in, and ``refunds`` each refund's event id and amount, so a
  redelivered refund is taken back once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.campaigns.loader import Catalog
from shared.core.money import order_value
from shared.core.vocabulary import DecisionStatus

if TYPE_CHECKING:
    from shared.events.contract import SegmentEvent

TREATED = "treated"
WITHHELD = "withheld"
GLOBAL_CONTROL = "global_control"  # the program's control group: followed for the program's uplift
GROUPS = (TREATED, WITHHELD, GLOBAL_CONTROL)
RETENTION = timedelta(days=400)  # conversions are kept for 13 months of year-on-year reporting


# The conversion item's field set when its order was cancelled (the report then leaves it out).
CANCELLED_FIELD = "cancelled"


@dataclass(frozen=True)
class Decision:
    """One send-log decision in a holdout group: what attribution needs of it."""

    campaign_id: str
    level: str
    group: str
    at: datetime
    send_key: str
    status: str
    channel: str | None = None
    variant: str | None = None  # the experiment's variant the shopper was sent, and its experiment
    experiment: str | None = None

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> Decision | None:
        group = entry.get("group")
        if group not in GROUPS or not entry.get("at"):
            return None
        try:
            at = datetime.fromisoformat(str(entry["at"]))
        except ValueError:
            return None
        return cls(
            campaign_id=str(entry.get("campaign_id", "")),
            level=str(entry.get("level", "")),
            group=str(group),
            at=at,
            send_key=str(entry.get("send_key", "")),
            status=str(entry.get("status", "")),
            channel=entry.get("channel") or None,
            variant=entry.get("variant") or None,
            experiment=entry.get("experiment") or None,
        )


@dataclass(frozen=True)
class Conversion:
    """A goal event counted for one campaign."""

    user_id: str
    goal_event_id: str
    campaign_id: str
    level: str
    group: str
    decided_at: datetime
    converted_at: datetime
    send_key: str
    revenue: float  # the goal event's revenue (for revenue per recipient in uplift)
    attributed: bool  # this campaign's message is the last touch: the revenue is credited to it
    channel: str | None = None
    order_id: str | None = None  # what a refund or a cancellation of the order names
    variant: str | None = None  # credited to a send of an experiment's variant: which, and the experiment
    experiment: str | None = None

    @property
    def key(self) -> str:
        return f"{self.goal_event_id}#{self.campaign_id}"

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "user_id": self.user_id,
            "conversion_key": self.key,
            "goal_event_id": self.goal_event_id,
            "campaign_id": self.campaign_id,
            "level": self.level,
            "group": self.group,
            "decided_at": self.decided_at.isoformat(),
            "converted_at": self.converted_at.isoformat(),
            "send_key": self.send_key,
            "revenue": self.revenue,
            "attributed": self.attributed,
            "expires_at": int((self.converted_at + RETENTION).timestamp()),
        }
        if self.channel:
            item["channel"] = self.channel
        if self.order_id is not None:
            item["order_id"] = self.order_id
        if self.variant and self.experiment:
            item["variant"], item["experiment"] = self.variant, self.experiment
        return item


def revenue_of(properties: Mapping[str, Any]) -> float:
    """The goal event's value (shared.core.money.order_value, the profile's rule too); 0 when none is
    usable."""
    return float(order_value(properties))


def goal_events(catalog: Catalog) -> frozenset[str]:
    """The event names that are some campaign's goal: only these cost ingest a send-log read."""
    return frozenset(c.conversion.event for c in catalog)


def longest_window(catalog: Catalog) -> timedelta:
    return timedelta(hours=max((c.conversion.window_hours for c in catalog), default=0))


def attribute(
    event: SegmentEvent, user_id: str, decisions: Iterable[Decision], catalog: Catalog
) -> list[Conversion]:
    """The conversions ``event`` makes, one per campaign whose goal and window it meets."""
    converted_at = event.timestamp
    latest: dict[str, Decision] = {}
    last_sent: Decision | None = None
    for decision in decisions:
        campaign = catalog.get(decision.campaign_id)
        if campaign is None or campaign.conversion.event != event.behaviour_name:
            continue
        window = timedelta(hours=campaign.conversion.window_hours)
        # Strictly before: a message the goal event itself triggered (a thank-you) did not cause it.
        if not decision.at < converted_at <= decision.at + window:
            continue
        known = latest.get(decision.campaign_id)
        if known is None or _later(decision, known):
            latest[decision.campaign_id] = decision
        if decision.status == DecisionStatus.SENT and (last_sent is None or _later(decision, last_sent)):
            last_sent = decision
    revenue = revenue_of(event.properties)
    order_id = order_id_of(event.properties)
    conversions = []
    for campaign_id, decision in sorted(latest.items()):
        attributed = last_sent is not None and last_sent.campaign_id == campaign_id
        credited = last_sent if attributed and last_sent is not None else decision
        sent = credited.status == DecisionStatus.SENT
        conversions.append(
            Conversion(
                user_id=user_id,
                goal_event_id=event.message_id,
                campaign_id=campaign_id,
                level=credited.level,
                group=credited.group,
                decided_at=credited.at,
                converted_at=converted_at,
                send_key=credited.send_key,
                revenue=revenue,
                attributed=attributed,
                channel=credited.channel if sent else None,
                order_id=order_id,
                variant=credited.variant if sent else None,
                experiment=credited.experiment if sent else None,
            )
        )
    return conversions


REFUND_EVENT = "Order Refunded"
CANCEL_EVENT = "Order Cancelled"


def order_id_of(properties: Mapping[str, Any]) -> str | None:
    """An event's ``order_id`` as text (None without a usable one)."""
    order_id = properties.get("order_id")
    if order_id is None or isinstance(order_id, bool | dict | list) or order_id == "":
        return None
    return str(order_id)


@dataclass(frozen=True)
class OrderRefund:
    """A refund (``amount``; None: the whole order) or a cancellation of the order ``order_id``, as the
    event ``refund_id`` sent it."""

    order_id: str
    refund_id: str
    amount: float | None
    cancels: bool

    def applied_to(self, item: Mapping[str, Any]) -> dict[str, Any] | None:
        """The fields of the conversion ``item`` once this refund is taken back from it (None: it was
        already, or the conversion was cancelled)."""
        refunds = dict(item.get("refunds") or {})
        if self.refund_id in refunds or item.get(CANCELLED_FIELD):
            return None
        left = float(item.get("revenue") or 0)
        taken = left if self.cancels or self.amount is None else min(self.amount, left)
        refunds[self.refund_id] = round(taken, 2)
        changed: dict[str, Any] = {
            "revenue": round(left - taken, 2),
            "gross_revenue": float(item.get("gross_revenue", left)),
            "refunds": refunds,
        }
        if self.cancels:
            changed[CANCELLED_FIELD] = True
        return changed


def refunds_in(events: Iterable[SegmentEvent]) -> list[OrderRefund]:
    """The refunds and cancellations among ``events`` that name an order, in the order given."""
    found = []
    for event in events:
        name = event.behaviour_name
        order_id = order_id_of(event.properties)
        if name not in (REFUND_EVENT, CANCEL_EVENT) or order_id is None:
            continue
        cancels = name == CANCEL_EVENT  # all that is left, whatever amount it names
        amount = None if cancels else float(order_value(event.properties)) or None
        found.append(OrderRefund(order_id, event.message_id, amount, cancels))
    return found


def _later(a: Decision, b: Decision) -> bool:
    return (a.at, a.send_key) > (b.at, b.send_key)


def decisions_of(entries: Sequence[Mapping[str, Any]]) -> list[Decision]:
    return [d for d in (Decision.from_entry(e) for e in entries) if d is not None]
