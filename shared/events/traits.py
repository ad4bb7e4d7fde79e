"""Identify traits: how they are named and bounded, and which a publisher may set.

Two rules protect what Nudge computes and where it sends (docs/security.md, "Event publishers"):

* **Reserved names.** Scores and aggregates (everything the scorer writes, RFM, predictions, and the
  audience view's aggregates) are Nudge's: a trait with such a name is dropped, whoever sends it, so
  no identify call can put a non-buyer among the champions.
* **Contact points** (email, phone, push endpoint, consent) decide where messages go: they are taken
  only from event sources the deployer trusts (``TRUSTED_EVENT_SOURCES``; the app's own
  ``nudge.app`` by default). Events from other sources keep their behaviour data and other traits.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from shared.core.vocabulary import EMAIL_TRAIT, Channel
from shared.events.countries import country_code
from shared.events.sources import APP_EVENT_SOURCE

if TYPE_CHECKING:
    from shared.events.contract import SegmentEvent

MAX_TRAITS = 100
MAX_TRAIT_LENGTH = 2048
# Byte bounds (UTF-8) on everything a sender controls, so that the largest possible profile item stays
# far below DynamoDB's 400 KB (shared.profiles.profile.PROFILE_ITEM_BOUND,
# tests/integration/test_payload_limits.py):
# lists and maps are bounded in entries above, and each entry's text here. Longer text is cut at a
# character boundary; a trait nested deeper than MAX_TRAIT_DEPTH or larger than MAX_TRAIT_BYTES once
# encoded is not kept, and traits beyond MAX_TRAITS_BYTES in all are not kept either.
MAX_KEY_BYTES = 128
MAX_TRAIT_BYTES = MAX_TRAIT_LENGTH
MAX_TRAITS_BYTES = 64 * 1024
MAX_TRAIT_DEPTH = 4
# DynamoDB's number type: 38 significant digits, magnitudes from 1e-130 to 1e126.
MAX_NUMBER = Decimal("1e38")


def clip(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` of UTF-8, at a character boundary."""
    if len(text) * 4 <= max_bytes:
        return text
    return text.encode("utf-8", "ignore")[:max_bytes].decode("utf-8", "ignore")


def _bounded(value: Any, depth: int = 0) -> Any:
    """A trait value DynamoDB can store and that stays small (None: not kept)."""
    if isinstance(value, str):
        return clip(value, MAX_TRAIT_BYTES)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        magnitude = abs(Decimal(value))
        return value if magnitude == 0 or Decimal("1e-100") < magnitude < MAX_NUMBER else None
    if depth >= MAX_TRAIT_DEPTH:
        return None
    if isinstance(value, dict):
        items = list(value.items())[:MAX_TRAITS]
        kept = {clip(str(k), MAX_KEY_BYTES): _bounded(v, depth + 1) for k, v in items}
        return {k: v for k, v in kept.items() if v is not None}
    if isinstance(value, list):
        return [v for v in (_bounded(v, depth + 1) for v in value[:MAX_TRAITS]) if v is not None]
    return None


def _encoded_size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, default=str).encode("utf-8", "ignore"))


def within_budget(traits: Mapping[str, Any]) -> dict[str, Any]:
    """Traits in order, leaving out any too large on its own or past the total budget."""
    kept: dict[str, Any] = {}
    total = 0
    for key, value in list(traits.items())[:MAX_TRAITS]:
        size = _encoded_size(value) + len(key.encode("utf-8", "ignore"))
        if isinstance(value, dict | list) and size > MAX_TRAIT_BYTES + MAX_KEY_BYTES:
            continue
        if total + size > MAX_TRAITS_BYTES:
            continue
        kept[key] = value
        total += size
    return kept


_TRAIT_ALIASES = {"firstName": "first_name", "lastName": "last_name", "push_endpoint_arn": "push_endpoint"}
CONSENT_CHANNELS = tuple(Channel)


def trait_name(key: str) -> str:
    """The name a raw identify trait is kept under (Segment's spellings mapped; ``email_opt_in`` and
    the other flat opt-ins fold into ``consent``)."""
    name = _TRAIT_ALIASES.get(key, key)
    return "consent" if name in {f"{c}_opt_in" for c in CONSENT_CHANNELS} else name


def normalize_traits(event: SegmentEvent) -> dict[str, Any]:
    """An identify's traits (its ``context.traits`` included), mapped onto the names audiences and
    templates use; its ``context`` fills the time zone and language they do not give."""
    return _normalized(event.traits, event.context)


def context_traits(event: SegmentEvent) -> dict[str, Any]:
    """What a track, page or screen call says about the shopper, normalized as an identify's traits: its
    ``context.traits`` (the device's last identify), and its ``context``'s time zone and language."""
    return _normalized(event.context_traits, event.context)


def context_fills(context: Mapping[str, Any]) -> tuple[str, ...]:
    """The traits a ``context`` without ``traits`` fills (what :func:`context_traits` returns then): the
    time zone and the language, each when the context gives it as text."""
    return tuple(name for name, key in _CONTEXT_FILLS if isinstance(context.get(key), str))


_CONTEXT_FILLS = (("timezone", "timezone"), ("language", "locale"))


def _normalized(raw: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """Segment's reserved traits, mapped onto the names audiences and templates use: ``address.country``
    and ``address.city`` (a top-level trait wins), a country as its ISO 3166-1 alpha-2 code with the
    value as sent in ``country_raw``, the flat opt-ins folded into ``consent``; every value bounded."""
    traits: dict[str, Any] = {}
    for key, value in raw.items():
        traits[clip(_TRAIT_ALIASES.get(key, key), MAX_KEY_BYTES)] = value
    address = raw.get("address")
    if isinstance(address, dict):
        for part in ("country", "city"):
            if address.get(part):
                traits.setdefault(part, address[part])
    if isinstance(traits.get("country"), str):
        traits["country_raw"] = traits["country"]
        traits["country"] = country_code(traits["country"])
    if "timezone" not in traits and isinstance(context.get("timezone"), str):
        traits["timezone"] = context["timezone"]
    if "language" not in traits and isinstance(context.get("locale"), str):
        traits["language"] = context["locale"].split("-")[0].lower()
    consent = dict(consent_of(traits))
    for channel in CONSENT_CHANNELS:
        flat = traits.pop(f"{channel}_opt_in", None)
        if isinstance(flat, bool):
            consent[channel] = flat
    if consent:
        traits["consent"] = {k: bool(v) for k, v in consent.items() if k in CONSENT_CHANNELS}
    bounded = {k: _bounded(v) for k, v in traits.items()}
    return {k: v for k, v in bounded.items() if v is not None}


def consent_of(traits: Mapping[str, Any]) -> Mapping[str, Any]:
    """The per-channel opt-ins a shopper gave (an empty mapping when none were given)."""
    consent = traits.get("consent")
    return consent if isinstance(consent, dict) else {}


# What the scorer writes in a profile's ``scores`` (shared/predictions/scoring.py): each score is an
# audience attribute of the same name, except ``rfm``, whose parts are RFM_ATTRIBUTES.
SCORE_ATTRIBUTES = (
    "purchase_propensity",
    "churn_risk",
    "expected_orders",
    "probability_alive",
    "best_send_hour",
    "favourite_category",
    "next_category",
)
RFM_ATTRIBUTES = ("rfm.segment", "rfm.r", "rfm.f", "rfm.m")
# What the view computes from aggregates (never from a trait of the same name).
AGGREGATE_ATTRIBUTES = (
    "consent.email",
    "consent.push",
    "consent.in_app",
    "orders",
    "revenue",
    "days_since_last_order",
    "days_since_last_seen",
    "cart_value",
    "cart_items",
    "top_category",
    "at_best_send_hour",
)
# The scorer's bookkeeping in ``scores`` (shared/predictions/scoring.py), beside the scores above.
SCORER_METADATA = (
    "model_version",
    "model_kind",
    "provenance",
    "scored_at",
    "horizon_days",
    "recommendations",
)


def _reserved_names() -> frozenset[str]:
    names = {"scores", "rfm", *RFM_ATTRIBUTES, *SCORE_ATTRIBUTES, *AGGREGATE_ATTRIBUTES, *SCORER_METADATA}
    return frozenset(names | {n.replace(".", "_") for n in names})  # templates read "rfm_segment"


# Names Nudge computes (the scorer's output and the view's aggregates): a trait may not take one, or a
# publisher could fake a score (tests/security/test_reserved_traits.py holds this to the scorer).
RESERVED_TRAITS = _reserved_names()


# Where messages go: only a trusted source may set these (after trait_name's mapping).
CONTACT_TRAITS = frozenset({EMAIL_TRAIT, "phone", "push_endpoint", "consent"})
MAX_SOURCE_SHOWN = 64


@dataclass(frozen=True)
class TraitPolicy:
    """Which identify traits an event keeps, given the EventBridge ``source`` it was published with."""

    trusted_sources: frozenset[str] = field(default_factory=lambda: frozenset({APP_EVENT_SOURCE}))

    def screen(self, event: SegmentEvent, source: str | None) -> tuple[SegmentEvent, list[str]]:
        """``event`` without the traits its publisher may not set (in ``traits`` and in
        ``context.traits``), and one reason per trait dropped."""
        if not event.traits and not event.context_traits:
            return event, []
        trusted = source in self.trusted_sources
        traits, reasons = self._kept(event.traits, "detail.traits", trusted, source)
        in_context, dropped = self._kept(event.context_traits, "detail.context.traits", trusted, source)
        reasons += dropped
        if not reasons:
            return event, []
        update: dict[str, Any] = {"traits": traits}
        if event.context_traits:
            update["context"] = {**event.context, "traits": in_context}
        return event.model_copy(update=update), reasons

    def _kept(
        self, traits: Mapping[str, Any], where: str, trusted: bool, source: str | None
    ) -> tuple[dict[str, Any], list[str]]:
        kept: dict[str, Any] = {}
        reasons: list[str] = []
        for key, value in traits.items():
            name = trait_name(key)
            if name in RESERVED_TRAITS:
                reasons.append(f"{where}.{key}: a name Nudge computes (reserved); dropped")
            elif name in CONTACT_TRAITS and not trusted:
                shown = repr(str(source)[:MAX_SOURCE_SHOWN])
                reasons.append(
                    f"{where}.{key}: a contact point, and {shown} is not a trusted source; dropped"
                )
            else:
                kept[key] = value
        return kept, reasons
