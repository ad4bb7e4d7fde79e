"""What audience rules may name: the profile's attributes and their kinds, the events that can be counted,
the operators, window limits, and a shop's own additions (``_vocabulary.yaml``)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from shared.core.vocabulary import EMAIL_TRAIT

if TYPE_CHECKING:
    pass


# attribute -> what it is (shown by the CLI and in validation errors). A description starting with
# "number", "flag" or "text" also types the attribute, so ``age > adult`` is an error.
ATTRIBUTES: Mapping[str, str] = {
    "age": "number (trait): age in years, from 'age', 'birthday' or 'birth_year'",
    "gender": "text (trait)",
    "country": "text (trait): ISO 3166-1 alpha-2 code",
    "city": "text (trait)",
    "language": "text (trait): ISO 639-1 code",
    "timezone": "text (trait): IANA time zone",
    EMAIL_TRAIT: "text (trait)",
    "first_name": "text (trait)",
    "last_name": "text (trait)",
    "phone": "text (trait)",
    "consent.email": "flag (trait): opted in to email",
    "consent.push": "flag (trait): opted in to push",
    "consent.in_app": "flag (trait): opted in to in-app messages (true unless opted out)",
    "orders": "number (aggregate): orders ever",
    "revenue": "number (aggregate): revenue ever",
    "days_since_last_order": "number (aggregate)",
    "days_since_last_seen": "number (aggregate)",
    "cart_value": "number (aggregate): value of the open cart",
    "cart_items": "number (aggregate): items in the open cart",
    "top_category": "text (aggregate): most viewed category",
    "rfm.segment": "text (score, predictions): champions, loyal, potential_loyalist, new, promising, "
    "need_attention, about_to_sleep, at_risk, cant_lose, hibernating, lost",
    "purchase_propensity": "number (score, predictions): probability of an order in the next 30 days",
    "churn_risk": "number (score, predictions): 0 (engaged) to 1 (gone)",
    "rfm.r": "number (score, predictions): recency quintile 1-5, 5 = most recent",
    "rfm.f": "number (score, predictions): frequency quintile 1-5, 5 = most orders",
    "rfm.m": "number (score, predictions): monetary quintile 1-5, 5 = highest average order value",
    "expected_orders": "number (score, predictions): expected orders in the next 90 days",
    "probability_alive": "number (score, predictions): BG/NBD probability the buyer is still active",
    "best_send_hour": "number (score, predictions): local hour 0-23 at which the shopper engages most",
    "at_best_send_hour": "flag (score, predictions): true during the shopper's best local send hour",
    "favourite_category": "text (score, predictions): category with the most recency-weighted interest",
    "next_category": "text (score, predictions): category the shopper's recent browsing leans to",
}

# The Segment e-commerce spec's event names (v2) and the common mobile/lifecycle ones. A shop's own
# names are declared in campaigns/_vocabulary.yaml.
EVENTS: frozenset[str] = frozenset(
    {
        "Products Searched",
        "Product List Viewed",
        "Product List Filtered",
        "Promotion Viewed",
        "Promotion Clicked",
        "Product Clicked",
        "Product Viewed",
        "Product Added",
        "Product Removed",
        "Cart Viewed",
        "Checkout Started",
        "Checkout Step Viewed",
        "Checkout Step Completed",
        "Payment Info Entered",
        "Order Completed",
        "Order Updated",
        "Order Refunded",
        "Order Cancelled",
        "Coupon Entered",
        "Coupon Applied",
        "Coupon Denied",
        "Coupon Removed",
        "Product Added to Wishlist",
        "Product Removed from Wishlist",
        "Wishlist Product Added to Cart",
        "Product Shared",
        "Cart Shared",
        "Product Reviewed",
        "Application Installed",
        "Application Opened",
        "Application Backgrounded",
        "Application Updated",
        "Signed Up",
        "Signed In",
        "Signed Out",
        "Page Viewed",
        "Screen Viewed",
    }
)

Kind = Literal["number", "flag", "text", "any"]
OPERATORS = ("==", "!=", ">=", "<=", ">", "<", "not in", "in", "between", "exists", "missing")
RECENCY_OPERATORS = ("within", "older_than", "exists", "missing")
FILTER_PROPERTIES = ("category",)
CATEGORY_EVENTS = (
    "Product Viewed",
    "Product Added",
    "Order Completed",
)  # shared.profiles.profile.CATEGORY_EVENTS
SUM_MEASURES = ("revenue",)
DAY_WINDOW_LIMIT = 35  # the profile's day buckets (shared.profiles.profile.DAY_BUCKETS_KEPT)
ORDER_WINDOW_LIMIT = 365  # the profile's order days (shared.profiles.profile.ORDER_DAYS_KEPT, with margin)
ORDER_EVENT = "Order Completed"


class AudienceRuleError(ValueError):
    """A rule that cannot be parsed or names an attribute or event Nudge does not know."""


def kind_of(description: str) -> Kind:
    first = description.split(maxsplit=1)[0].rstrip(":,;") if description else ""
    return first if first in ("number", "flag", "text") else "any"  # type: ignore[return-value]


@dataclass(frozen=True)
class Vocabulary:
    """The attributes and event names rules may use: the built-in ones plus the shop's own."""

    attributes: Mapping[str, str] = field(default_factory=lambda: dict(ATTRIBUTES))
    events: frozenset[str] = EVENTS

    def extended(self, traits: Mapping[str, str], events: Iterable[str]) -> Vocabulary:
        return Vocabulary({**self.attributes, **traits}, self.events | frozenset(events))

    def check_attribute(self, name: str) -> Kind:
        if name not in self.attributes:
            raise AudienceRuleError(f"unknown attribute {name!r}{_suggest(name, self.attributes)}")
        return kind_of(self.attributes[name])

    def check_event(self, name: str) -> None:
        if name not in self.events:
            raise AudienceRuleError(
                f"unknown event {name!r}{_suggest(name, self.events)}; "
                "declare your own event names in campaigns/_vocabulary.yaml"
            )


def default_vocabulary() -> Vocabulary:
    """Built when asked, so names other modules add to ``ATTRIBUTES`` at import are included."""
    return Vocabulary(dict(ATTRIBUTES), EVENTS)


def _suggest(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


# -- values and durations --------------------------------------------------------------------------
AUDIENCE_UNITS = "mhdw"  # the tokenizer's duration: at most five digits, then one of these


# The language's own words: never an attribute or a bare value.
KEYWORDS = frozenset(
    {"and", "or", "not", "in", "between", "exists", "missing", "within", "older_than", "true", "false"}
)
