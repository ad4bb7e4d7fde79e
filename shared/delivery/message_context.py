"""What a message is made with for one shopper: the context its templates see (``template_context``:
the shopper, their cart, the triggering event, the campaign, the unsubscribe link) and how email links
to the unsubscribe endpoint (``Unsubscribe``). The deliverer and ``nudge preview`` both use it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.campaigns.jobs import DeliveryJob
from shared.campaigns.model import Campaign
from shared.delivery.links import LinkSigner, UnsubscribeRequest
from shared.profiles.profile import Profile, audience_view

__all__ = ["Unsubscribe", "template_context"]


def template_context(
    campaign: Campaign, profile: Profile, job: DeliveryJob, now: datetime, unsubscribe_url: str | None = None
) -> dict[str, Any]:
    view = audience_view(profile, now)
    user = {**{k.replace(".", "_"): v for k, v in view.items()}, "user_id": profile.user_id}
    cart = profile.cart.model_dump(mode="json") if profile.cart else None
    return {
        "user": user,
        "cart": cart,
        "event": job.trigger.properties if job.trigger else {},
        "campaign": {"id": campaign.id, "name": campaign.name},
        "unsubscribe_url": unsubscribe_url or "",
    }


@dataclass(frozen=True)
class Unsubscribe:
    """How email links to the unsubscribe endpoint (absent: no link, e.g. in benchmarks)."""

    signer: LinkSigner
    base_url: str

    def url(self, user_id: str, channel: str, campaign_id: str) -> str:
        return self.signer.url(self.base_url, UnsubscribeRequest(user_id, channel, campaign_id))
