"""The catalog campaigns in ``nudge simulate``: the catalog and the interest index as ingest keeps them,
replayed from the store's events, and the jobs a price drop or a restock makes.

The decisions are production's: the catalog is folded by ``shared.catalog.updates.apply_updates``,
the changes worth announcing are ``shared.catalog.announcements.catalog_events``' (with the live
campaigns' smallest threshold: ``announcements_for``), each campaign's jobs for a change are the trigger
function's, ``shared.triggers.catalog_triggers.fanned_out`` (its rule's pattern, active or not, the
window, the bound, the send keys). An event's own interest is indexed after its change is
fanned out, as ingest announces before it writes, and at most once per shopper, product and UTC day
(the day's first view or cart), as ingest writes it.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from shared.campaigns.jobs import DeliveryJob
from shared.campaigns.loader import Catalog
from shared.campaigns.model import Campaign
from shared.catalog.announcements import catalog_events
from shared.catalog.interest import Interest, interests_of
from shared.catalog.product import Product, products_in
from shared.catalog.updates import apply_updates
from shared.core.identity import is_anonymous
from shared.core.keys import HmacKey
from shared.events.contract import SegmentEvent
from shared.events.sources import INTERNAL_EVENT_SOURCE
from shared.profiles.products import day_number
from shared.triggers.catalog_triggers import announcements_for, catalog_campaigns, fanned_out


class SimulatedCatalog:
    """The products and the interest in them, in memory (a ``ProductCatalog`` and an ``InterestIndex``)."""

    def __init__(self, catalog: Catalog) -> None:
        self.campaigns = catalog_campaigns(catalog)
        self.key = HmacKey(secrets.token_bytes(32))  # seals the announcements, as the stack's key does
        wanted = announcements_for(self.campaigns, lambda events: [], self.key)
        self.min_percent = wanted.min_percent if wanted else None
        self.restocks = wanted.restocks if wanted else False
        self.keeps_interest = bool(self.campaigns)  # as ingest: only where a catalog campaign reads it
        self.products: dict[str, Product] = {}
        self.interest: dict[str, dict[str, datetime]] = defaultdict(dict)  # product → shopper → item's time

    def get_many(self, product_ids: Sequence[str]) -> dict[str, Product]:
        return {i: self.products[i] for i in product_ids if i in self.products}

    def put_many(self, products: Sequence[Product], interests: Sequence[Interest] = ()) -> None:
        self.products.update((p.product_id, p) for p in products)
        for interest in interests:
            self.interest[interest.product_id][interest.user_id] = interest.at

    def interested(self, product_id: str, since: datetime, until: datetime, limit: int) -> list[Interest]:
        found = [
            Interest(user_id, product_id, at)
            for user_id, at in self.interest.get(product_id, {}).items()
            if since <= at < until
        ]
        return sorted(found, key=lambda i: (i.at, i.user_id), reverse=True)[:limit]

    def add(self, event: SegmentEvent, user_id: str) -> list[tuple[Campaign, list[DeliveryJob]]]:
        """Fold ``event`` (of ``user_id``, once logins are followed) in; each campaign a change it made
        fires, with its jobs (for a campaign active at the event's time)."""
        fired: list[tuple[Campaign, list[DeliveryJob]]] = []
        updates = list(products_in(event))
        if updates:
            changes = apply_updates(self, updates)
            for change in catalog_events(changes, self.min_percent, self.restocks):
                envelope: dict[str, Any] = {
                    "source": INTERNAL_EVENT_SOURCE,
                    "detail-type": change.kind.detail_type,
                    "detail": change.sealed_detail(self.key),
                }
                for campaign in self.campaigns:
                    status, jobs = fanned_out(campaign, envelope, event.timestamp, self, self.key)
                    if status == "enqueued":
                        fired.append((campaign, jobs))
        if not is_anonymous(user_id):  # once per shopper, product and UTC day, as ingest's marks allow
            for interest in interests_of(user_id, [event]):
                known = self.interest[interest.product_id].get(user_id)
                if known is None or day_number(known) < day_number(interest.at):
                    self.put_many([], [interest])
        return fired
