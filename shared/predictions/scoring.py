"""Scores for one profile: what the scorer writes to ``profile.scores`` and ``nudge score`` prints.

Population statistics (RFM quintile edges, the local-hour engagement profile) are computed over
the whole base first — a :class:`PopulationSketch` per scan segment, merged — and passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from shared.predictions.categories import favourite_category, next_category
from shared.predictions.features import buyer_summary, rfm_values
from shared.predictions.label_free import BuyerSample
from shared.predictions.rfm import RfmEdges, RfmSketch, segment_of
from shared.predictions.send_hour import HOURS, best_hour, local_histogram, normalised, utc_offset_hours
from shared.profiles.profile import Profile
from shared.recommendations.cooccurrence import ItemModel, ItemSketch
from shared.recommendations.ranking import recommend

PRECISION = 4
# Scores are rewritten only when they move materially (or are a week old, or from another model):
# most shoppers' scores drift by fractions of a percent a day, and every write costs a write unit.
REFRESH_DAYS = 7
PROBABILITY_STEP = 0.01
EXPECTED_ORDERS_STEP = 0.05
_EXACT = (
    "best_send_hour",
    "favourite_category",
    "next_category",
    "horizon_days",
    "model_kind",
    "provenance",
)
# Recommendations drift every day as other shoppers buy (the best sellers swap places, neighbours
# reorder): rewriting everyone's for that would cost a write per shopper per day. They count as moved
# when one of the stored first RECOMMENDATIONS_COMPARED (what a message usually shows) is no longer
# recommended at all, or one side has none; a recommended product the shopper has bought since always
# counts (:func:`shared.recommendations.ranking.shows_bought`). The weekly refresh rewrites the rest.
RECOMMENDATIONS_COMPARED = 3
DEFAULT_RFM_WINDOW_DAYS = 365


class ScoringModel(Protocol):
    """A trained model (:class:`shared.predictions.model.LoadedModel`) or a label-free fit
    (:class:`shared.predictions.label_free.LabelFreeModel`): what the scorer needs of either."""

    @property
    def kind(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def propensity_horizon_days(self) -> int: ...

    @property
    def horizon_days(self) -> int: ...

    @property
    def rfm_window_days(self) -> int: ...

    @property
    def rfm_edges(self) -> RfmEdges: ...

    @property
    def population_hours(self) -> list[float]: ...

    def scored(self, profile: Profile, as_of: datetime) -> dict[str, tuple[float, str]]:
        """purchase_propensity, horizon_order, expected_orders, probability_alive — each with the
        name of the model that produced it; a score the model cannot give is absent."""
        ...


_PROBABILITIES = ("purchase_propensity", "churn_risk", "probability_alive")


@dataclass
class PopulationSketch:
    """What one scan segment contributes to the base-wide statistics. Only shoppers whose time zone
    is known shape the population's local-hour profile (each counts once, whatever their volume).
    The buyer sample and the first activity serve the label-free fallback (how long the shop's
    history is, and what BG/NBD is fitted on)."""

    rfm: RfmSketch = field(default_factory=RfmSketch)
    local_hours: list[float] = field(default_factory=lambda: [0.0] * HOURS)
    profiles: int = 0
    buyers: BuyerSample = field(default_factory=BuyerSample)
    first_activity: datetime | None = None
    items: ItemSketch = field(default_factory=ItemSketch)

    def add(self, profile: Profile, as_of: datetime, rfm_window_days: int) -> None:
        self.profiles += 1
        self.items.add(profile.activity.products)
        first = min((t for t in (profile.first_seen, profile.first_order_at) if t is not None), default=None)
        if first is not None and (self.first_activity is None or first < self.first_activity):
            self.first_activity = first
        summary = buyer_summary(profile, as_of)
        if summary is not None:
            self.buyers.add(profile.user_id, summary)
        values = rfm_values(profile, as_of, rfm_window_days)
        if values is not None:
            self.rfm.add(values.recency_days, values.frequency, values.monetary)
        zone = _timezone(profile)
        if zone is not None and sum(profile.engagement_hours) > 0:
            offset = utc_offset_hours(zone, as_of)
            for h, share in enumerate(normalised(local_histogram(profile.engagement_hours, offset))):
                self.local_hours[h] += share

    def merge(self, other: PopulationSketch) -> None:
        self.rfm.merge(other.rfm)
        self.local_hours = [a + b for a, b in zip(self.local_hours, other.local_hours, strict=True)]
        self.profiles += other.profiles
        self.buyers.merge(other.buyers)
        self.items.merge(other.items)
        if other.first_activity is not None and (
            self.first_activity is None or other.first_activity < self.first_activity
        ):
            self.first_activity = other.first_activity

    def history_days(self, as_of: datetime) -> int | None:
        """Whole days between the first event of any profile and ``as_of`` (None for an empty base)."""
        return None if self.first_activity is None else max(0, (as_of - self.first_activity).days)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rfm": self.rfm.to_dict(),
            "hours": [round(v, 4) for v in self.local_hours],
            "n": self.profiles,
            "buyers": self.buyers.to_dict(),
            "first": self.first_activity.isoformat() if self.first_activity else None,
            "items": self.items.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PopulationSketch:
        hours = [float(v) for v in data.get("hours", [])]
        return cls(
            RfmSketch.from_dict(data.get("rfm", {})),
            hours if len(hours) == HOURS else [0.0] * HOURS,
            int(data.get("n", 0)),
            BuyerSample.from_dict(data.get("buyers") or {}),
            datetime.fromisoformat(data["first"]) if data.get("first") else None,
            ItemSketch.from_dict(data.get("items") or {}),
        )


@dataclass(frozen=True)
class Population:
    rfm_edges: RfmEdges
    local_hours: list[float]

    @classmethod
    def from_sketch(cls, sketch: PopulationSketch, fallback: ScoringModel | None) -> Population:
        """The base's statistics; a trained artefact's (from training) when the base has none yet."""
        edges = sketch.rfm.edges() if sketch.rfm.buyers or fallback is None else fallback.rfm_edges
        hours = (
            sketch.local_hours
            if sum(sketch.local_hours) > 0 or fallback is None
            else fallback.population_hours
        )
        return cls(edges, list(hours))

    def to_dict(self) -> dict[str, Any]:
        return {"rfm_edges": self.rfm_edges.to_dict(), "hours": [round(v, 4) for v in self.local_hours]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Population:
        return cls(RfmEdges.from_dict(data.get("rfm_edges", {})), [float(v) for v in data.get("hours", [])])


def _timezone(profile: Profile) -> str | None:
    zone = profile.traits.get("timezone")
    return zone if isinstance(zone, str) else None


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, PRECISION)


def _scored(predicted: tuple[float, str]) -> tuple[float | None, str]:
    value, source = predicted
    return _rounded(value), source


def score_profile(
    profile: Profile,
    model: ScoringModel,
    population: Population,
    as_of: datetime,
    items: ItemModel | None = None,
) -> dict[str, Any]:
    """The ``scores`` map of one profile (keys absent when unknown, e.g. RFM for a non-buyer).
    ``model_kind`` says whether a trained model or the label-free fallback scored it, and
    ``provenance`` which model produced each score. With the run's item model, ``recommendations``:
    the shopper's top product ids, best first (absent when there are none)."""
    scores: dict[str, Any] = {
        "model_version": model.version,
        "model_kind": model.kind,
        "scored_at": as_of.isoformat(timespec="seconds"),
        "horizon_days": model.horizon_days,
    }
    provenance: dict[str, str] = {}
    values = rfm_values(profile, as_of, model.rfm_window_days)
    if values is not None:
        provenance["rfm"] = "quintiles"
        r, f, m = population.rfm_edges.scores(values.recency_days, values.frequency, values.monetary)
        scores["rfm"] = {
            "r": r,
            "f": f,
            "m": m,
            "segment": segment_of(r, f, m),
            "recency_days": values.recency_days,
            "frequency": values.frequency,
            "monetary": values.monetary,
        }
    predicted = model.scored(profile, as_of)
    # one literal key per score: tests/security/test_reserved_traits.py reads them from this source
    if "purchase_propensity" in predicted:
        scores["purchase_propensity"], provenance["purchase_propensity"] = _scored(
            predicted["purchase_propensity"]
        )
    if "expected_orders" in predicted:
        scores["expected_orders"], provenance["expected_orders"] = _scored(predicted["expected_orders"])
    if "probability_alive" in predicted:
        scores["probability_alive"], provenance["probability_alive"] = _scored(predicted["probability_alive"])
    if values is not None and "horizon_order" in predicted:
        ordering, source = predicted["horizon_order"]
        scores["churn_risk"], provenance["churn_risk"] = _scored((1.0 - ordering, source))
    scores["provenance"] = provenance
    offset = utc_offset_hours(_timezone(profile), as_of)
    hour = best_hour(local_histogram(profile.engagement_hours, offset), population.local_hours)
    if hour is not None:
        scores["best_send_hour"] = hour
    favourite, upcoming = (
        favourite_category(profile.category_affinity),
        next_category(profile.category_affinity),
    )
    if favourite is not None:
        scores["favourite_category"] = favourite
    if upcoming is not None:
        scores["next_category"] = upcoming
    products, affinity = profile.activity.products, profile.category_affinity
    recommended = [] if items is None else recommend(products, affinity, items)
    if recommended:
        scores["recommendations"] = recommended
    return scores


def scores_changed(old: dict[str, Any], new: dict[str, Any], as_of: datetime) -> bool:
    """Whether ``new`` differs enough from the stored ``old`` to be worth a write."""
    if not old:
        return True
    try:
        age_days = (as_of - datetime.fromisoformat(str(old.get("scored_at")))).days
    except ValueError:
        return True
    if age_days >= REFRESH_DAYS:
        return True
    if any(old.get(k) != new.get(k) for k in _EXACT):
        return True
    before, after = old.get("recommendations") or [], new.get("recommendations") or []
    if bool(before) != bool(after) or not set(before[:RECOMMENDATIONS_COMPARED]) <= set(after):
        return True
    # A new trained model rewrites everyone; a label-free fit is redone every run, so there only
    # the scores themselves moving counts (``model_version`` then names the fit that wrote them).
    if new.get("model_kind") != "label-free" and old.get("model_version") != new.get("model_version"):
        return True
    old_rfm, new_rfm = old.get("rfm") or {}, new.get("rfm") or {}
    if any(old_rfm.get(k) != new_rfm.get(k) for k in ("segment", "r", "f", "m")):
        return True
    for key, step in (
        *((k, PROBABILITY_STEP) for k in _PROBABILITIES),
        ("expected_orders", EXPECTED_ORDERS_STEP),
    ):
        before, after = old.get(key), new.get(key)
        if (before is None) != (after is None):
            return True
        if before is not None and after is not None and abs(float(before) - float(after)) >= step:
            return True
    return False
