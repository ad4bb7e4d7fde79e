"""What a message is made with for one shopper: the context its templates see (``template_context``:
the shopper, their cart, the triggering event, the campaign, the unsubscribe link, ``product(id)``,
``recommendations(n)``),
the products it shows (``products_for``: one catalog read, shared/catalog/enrichment.py) and how email
links to the unsubscribe endpoint (``Unsubscribe``). The deliverer and ``nudge preview`` both use it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.campaigns.jobs import DeliveryJob
from shared.campaigns.model import Campaign
from shared.catalog.enrichment import (
    enriched,
    enriched_event,
    named_products,
    product_lookup,
    wanted_products,
)
from shared.catalog.ports import ProductCatalog
from shared.catalog.product import Product
from shared.core.vocabulary import Channel
from shared.delivery.links import LinkSigner, UnsubscribeRequest
from shared.profiles.profile import Profile, audience_view

__all__ = ["Unsubscribe", "products_for", "template_context"]
# What in a template shows the catalog (``product(id)``, what an item is enriched with): a message
# whose templates name none of these reads no product.
_PRODUCT_WORDS = ("product(", "current_price", "stock", "image_url", "recommendations(")
# ``recommendations(n)``: the shopper's recommended products (scores.recommendations, written by the
# daily scoring run), those the catalog has and not out of stock, at most this many.
MAX_RECOMMENDATIONS_SHOWN = 10


def template_context(
    campaign: Campaign,
    profile: Profile,
    job: DeliveryJob,
    now: datetime,
    unsubscribe_url: str | None = None,
    products: Mapping[str, Product] | None = None,
) -> dict[str, Any]:
    view = audience_view(profile, now)
    user = {**{k.replace(".", "_"): v for k, v in view.items()}, "user_id": profile.user_id}
    cart = profile.cart.model_dump(mode="json") if profile.cart else None
    event = job.trigger.properties if job.trigger else {}
    if products:
        event = enriched_event(event, products)
        if cart is not None:
            cart["items"] = [enriched(item, products) for item in cart["items"]]
    return {
        "user": user,
        "cart": cart,
        "event": event,
        "campaign": {"id": campaign.id, "name": campaign.name},
        "unsubscribe_url": unsubscribe_url or "",
        "product": product_lookup(products or {}),
        "recommendations": recommendations_lookup(recommended_ids(profile), products or {}),
    }


def recommended_ids(profile: Profile) -> list[str]:
    """The product ids the scoring run recommends to the shopper, best first (at most the shown bound)."""
    ids = profile.scores.get("recommendations")
    return [str(p) for p in ids[:MAX_RECOMMENDATIONS_SHOWN]] if isinstance(ids, list) else []


def recommendations_lookup(
    ids: list[str], products: Mapping[str, Product]
) -> Callable[..., list[dict[str, Any]]]:
    """The ``recommendations(n)`` templates call: the first ``n`` (3 by default, 10 at most) of the
    recommended products the catalog has, out-of-stock ones left out; an empty list without a catalog."""

    def recommendations(n: int = 3) -> list[dict[str, Any]]:
        wanted = max(0, min(int(n), MAX_RECOMMENDATIONS_SHOWN))
        shown = [products[p] for p in ids if p in products and products[p].in_stock is not False]
        return [p.template_view() for p in shown[:wanted]]

    return recommendations


# The templated fields of every channel's content (read by name: dumping the content models would
# build their deferred schemas in a Lambda, tests/infra/test_cold_start_bench.py).
_TEMPLATE_FIELDS = ("subject", "html", "text", "title", "body", "deep_link", "cta_label", "cta_url")


def template_sources(campaign: Campaign) -> list[str]:
    """Every template of the campaign's channels."""
    contents = [campaign.channels.content(channel) for channel in Channel]
    found = (getattr(c, name, None) for c in contents if c is not None for name in _TEMPLATE_FIELDS)
    return [v for v in found if isinstance(v, str)]


def products_for(
    campaign: Campaign, profile: Profile, job: DeliveryJob, catalog: ProductCatalog | None
) -> dict[str, Product]:
    """The catalog's products the message shows: one read, none when its templates show no product."""
    sources = template_sources(campaign)
    if catalog is None or not any(word in s for s in sources for word in _PRODUCT_WORDS):
        return {}
    cart = [i.model_dump() for i in profile.cart.items] if profile.cart else []
    named = named_products(sources)
    if any("recommendations(" in s for s in sources):
        named += [p for p in recommended_ids(profile) if p not in named]
    wanted = wanted_products(cart, job.trigger.properties if job.trigger else {}, named)
    return catalog.get_many(wanted) if wanted else {}


@dataclass(frozen=True)
class Unsubscribe:
    """How email links to the unsubscribe endpoint (absent: no link, e.g. in benchmarks)."""

    signer: LinkSigner
    base_url: str

    def url(self, user_id: str, channel: str, campaign_id: str) -> str:
        return self.signer.url(self.base_url, UnsubscribeRequest(user_id, channel, campaign_id))
