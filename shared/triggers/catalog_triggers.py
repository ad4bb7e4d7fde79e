"""Catalog triggers (L4): a price drop or a restock messages the shoppers interested in the product.

The catalog announces its changes (shared/catalog/announcements.py); each catalog campaign's rule takes
the ones its trigger wants (a price drop of at least its ``min_percent``, a restock) and invokes the
trigger function, which reads the product's interested shoppers from the index (one Query, newest
interest first, at most :data:`MAX_INTERESTED`: shared/catalog/interest.py) and enqueues one delivery
job per shopper whose latest view or cart of the product is within the trigger's window before the
change, ten a SendMessageBatch. No profile is read here: delivery's guards decide as for any L4 job
(caps, holdout, consent, quiet hours, throttle, and the campaign's audience on the current profile).

An announcement must carry the catalog's seal (shared/catalog/announcements.py): one that does not is
rejected and parked with the reason, and nobody is messaged. A job's send key is (campaign, change,
shopper), the change being the product and its change time:
the same change announced twice, or the same rule invocation delivered twice, makes the same jobs,
which delivery sends once. Requests per change: 1 Query + ⌈shoppers / 10⌉ SendMessageBatch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.campaigns.jobs import DeliveryJob, TriggerContext
from shared.campaigns.loader import Catalog
from shared.campaigns.model import Campaign
from shared.catalog.announcements import SEAL, Announcements, CatalogChangeKind, CatalogEvent, Publish
from shared.catalog.interest import MAX_INTERESTED, Interest, InterestIndex
from shared.core.clock import Clock
from shared.core.errors import EventRejected, PermanentDeliveryError
from shared.core.keys import HmacKey
from shared.core.queues import WorkQueue
from shared.events.patterns import matches


def catalog_campaigns(campaigns: Iterable[Campaign]) -> list[Campaign]:
    """The enabled campaigns with a catalog trigger."""
    return [c for c in campaigns if c.enabled and c.trigger is not None and c.trigger.catalog is not None]


def announcements_for(campaigns: Iterable[Campaign], publish: Publish, key: HmacKey) -> Announcements | None:
    """What the catalog must announce for ``campaigns``, sealed with ``key`` (None: no catalog campaign,
    nothing)."""
    triggers = [c.trigger for c in catalog_campaigns(campaigns) if c.trigger is not None]
    drops = [t.drop_percent for t in triggers if t.catalog == CatalogChangeKind.PRICE_DROP]
    restocks = any(t.catalog == CatalogChangeKind.BACK_IN_STOCK for t in triggers)
    if not drops and not restocks:
        return None
    return Announcements(publish, min(drops) if drops else None, restocks, key)


def catalog_job(campaign: Campaign, change: CatalogEvent, interest: Interest) -> DeliveryJob:
    """The job of one interested shopper: keyed on (campaign, change, shopper), or on (campaign,
    shopper) for a campaign sent once per shopper ever."""
    assert campaign.trigger is not None
    occurrence = "once" if campaign.trigger.once_per_user else change.change_key
    return DeliveryJob(
        send_key=f"{campaign.id}#{occurrence}#{interest.user_id}",
        campaign_id=campaign.id,
        user_id=interest.user_id,
        occurrence=change.changed_at.isoformat(),
        trigger=TriggerContext(
            event=change.kind.detail_type,
            message_id=change.change_key,
            timestamp=change.changed_at,
            properties=change.detail(),
        ),
    )


def interested_jobs(campaign: Campaign, change: CatalogEvent, index: InterestIndex) -> list[DeliveryJob]:
    """One job per shopper who viewed or carted the product within the window before the change."""
    assert campaign.trigger is not None
    since = change.changed_at - campaign.trigger.interest_window
    interested = index.interested(change.product_id, since, change.changed_at, MAX_INTERESTED)
    return [catalog_job(campaign, change, interest) for interest in interested]


def fanned_out(
    campaign: Campaign, envelope: Mapping[str, Any], now: datetime, index: InterestIndex, key: HmacKey
) -> tuple[str, list[DeliveryJob]]:
    """A catalog campaign's jobs for one announced change (the trigger function's decision, and ``nudge
    simulate``'s): none when its rule's pattern does not take the event (``not_matching``) or it is not
    active at ``now`` (``inactive``), else ``enqueued`` with one job per interested shopper. An
    announcement not sealed with ``key`` (shared/catalog/announcements.py) is rejected, with the reason,
    before any shopper is read."""
    assert campaign.trigger is not None
    if not matches(campaign.trigger.event_pattern(), envelope):
        return "not_matching", []
    if not campaign.is_active(now):
        return "inactive", []
    detail = envelope.get("detail")
    detail = detail if isinstance(detail, Mapping) else {}
    try:
        change = CatalogEvent.from_detail(detail)
    except (KeyError, TypeError, ValueError, ArithmeticError) as error:
        raise EventRejected(f"detail: not a catalog change ({type(error).__name__}: {error})") from None
    problem = change.seal_problem(key, detail.get(SEAL))
    if problem is not None:
        raise EventRejected(f"detail.{SEAL}: {problem}, so no shopper is messaged")
    return "enqueued", interested_jobs(campaign, change, index)


@dataclass(frozen=True)
class FanOutOutcome:
    status: str  # "enqueued" | "inactive" | "not_matching"
    jobs: int = 0


@dataclass
class CatalogFanOut:
    """What the trigger function does with a catalog campaign's event."""

    catalog: Catalog
    interest: InterestIndex
    delivery_queue: WorkQueue
    clock: Clock
    key: HmacKey  # the seal announcements must carry

    def handle(self, campaign_id: str, envelope: Mapping[str, Any]) -> FanOutOutcome:
        campaign = self.catalog.get(campaign_id)
        if campaign is None or campaign.trigger is None or campaign.trigger.catalog is None:
            raise PermanentDeliveryError(f"unknown catalog campaign {campaign_id!r}")
        status, jobs = fanned_out(campaign, envelope, self.clock.now(), self.interest, self.key)
        if jobs:
            self.delivery_queue.send_many([job.model_dump_json() for job in jobs])
        return FanOutOutcome(status, len(jobs))
