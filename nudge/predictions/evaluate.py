"""Time-based holdout evaluation: the models side by side, on the synthetic store and on CDNOW.

For each dataset: the models are trained on events up to the cut date only (BG/NBD fitted on the
buyers' summaries at the cut; the discriminative models on rolling origins before it), then every
profile is scored at the cut and compared with what happened after it. Next to them, the label-free
fallback exactly as the scoring run fits it (pure-Python BG/NBD on the census's bounded buyer
sample); on a young store, where no model can be trained yet, it is the only row.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from nudge.predictions import accuracy
from nudge.predictions.datasets import cdnow_events, synthetic_events
from nudge.predictions.history import EventHistory
from nudge.predictions.horizon_evaluation import SCORER, HorizonRow, horizon_rows, known_at
from nudge.predictions.horizon_evaluation import markdown as horizon_markdown
from nudge.predictions.train import TrainingOptions, train
from shared.core.identity import is_anonymous
from shared.predictions.categories import favourite_category, next_category
from shared.predictions.features import buyer_summary
from shared.predictions.label_free import LabelFreeArtefact, fit_label_free
from shared.predictions.model import ModelArtefact
from shared.predictions.scoring import Population, PopulationSketch, ScoringModel, score_profile
from shared.predictions.send_hour import best_hour, local_histogram, utc_offset_hours
from shared.profiles.profile import Profile

Say = Callable[[str], None]
LABEL_FREE = "label-free BG/NBD (scorer's fit)"
DOC_START = "<!-- evaluation:start -->"
DOC_END = "<!-- evaluation:end -->"


@dataclass(frozen=True)
class Dataset:
    key: str
    description: str
    events: Callable[[], Iterable[dict[str, Any]]]
    cut: datetime
    horizon_days: int = 90
    propensity_horizon_days: int = 30
    has_time_of_day: bool = True
    # the cuts of the table across horizons, and the end of the data (a horizon is reported at a cut
    # when the data covers it)
    cuts: tuple[datetime, ...] = ()
    observed_until: datetime | None = None


SYNTHETIC_USERS = 800
SYNTHETIC_DAYS = 300
SYNTHETIC_START = datetime(2026, 11, 1, tzinfo=UTC)

DATASETS = {
    "synthetic": Dataset(
        "synthetic",
        f"synthetic store, {SYNTHETIC_USERS} shoppers, {SYNTHETIC_DAYS} days (seed 7), cut after day 210",
        lambda: synthetic_events(SYNTHETIC_USERS, SYNTHETIC_DAYS, seed=7),
        SYNTHETIC_START + timedelta(days=210),
        cuts=tuple(SYNTHETIC_START + timedelta(days=d) for d in (120, 165, 210)),
        observed_until=SYNTHETIC_START + timedelta(days=SYNTHETIC_DAYS),
    ),
    "synthetic-young": Dataset(
        "synthetic-young",
        f"synthetic store, {SYNTHETIC_USERS} shoppers, 135 days (seed 7), cut after day 45 (too young "
        "to train a model)",
        lambda: synthetic_events(SYNTHETIC_USERS, 135, seed=7),
        SYNTHETIC_START + timedelta(days=45),
    ),
    "cdnow": Dataset(
        "cdnow",
        "CDNOW (lifetimes 0.11.3 wheel): 23,570 customers, Jan 1997 - Jun 1998, cut 1997-09-30 (39 weeks)",
        cdnow_events,
        datetime(1997, 9, 30, 23, 59, 59, tzinfo=UTC),
        has_time_of_day=False,
        cuts=tuple(datetime(1997, m, d, 23, 59, 59, tzinfo=UTC) for m, d in ((6, 30), (9, 30), (12, 31))),
        observed_until=datetime(1998, 6, 30, 23, 59, 59, tzinfo=UTC),
    ),
}


@dataclass
class ModelRow:
    dataset: str
    population: str
    model: str
    customers: int
    auc_30: float
    brier_30: float
    ece_30: float
    base_rate_30: float
    auc_n: float
    brier_n: float
    mae_n: float
    predicted_total_n: float
    actual_total_n: float


@dataclass
class DatasetResult:
    dataset: Dataset
    events: int
    artefact: ModelArtefact | None
    label_free: LabelFreeArtefact
    untrained_reason: str | None = None
    rows: list[ModelRow] = field(default_factory=list)
    reliability: dict[str, list[tuple[float, float, int]]] = field(default_factory=dict)
    send_hour: dict[str, float] = field(default_factory=dict)
    categories: dict[str, float] = field(default_factory=dict)
    segments: dict[str, int] = field(default_factory=dict)
    horizons: list[HorizonRow] = field(default_factory=list)


def evaluate(
    dataset: Dataset, say: Say | None = None, payloads: Iterable[dict[str, Any]] | None = None
) -> DatasetResult:
    say = say or (lambda _m: None)
    say(f"{dataset.key}: reading events")
    full = EventHistory.from_payloads(payloads if payloads is not None else dataset.events())
    known = known_at(full, dataset.cut)
    options = TrainingOptions(dataset.propensity_horizon_days, dataset.horizon_days)
    artefact: ModelArtefact | None = None
    untrained: str | None = None
    try:
        artefact = train(known, dataset.cut, options, lambda m: say(f"{dataset.key}: {m}"))
    except ValueError as error:
        untrained = str(error)
        say(f"{dataset.key}: no trained model ({untrained})")
    model = artefact.loaded() if artefact is not None else None
    (profiles,) = known.profiles_at([dataset.cut])
    say(f"{dataset.key}: fitting the label-free models as the scorer does")
    sketch = PopulationSketch()
    for profile in profiles.values():
        sketch.add(profile, dataset.cut, options.rfm_window_days)
    label_free = _label_free(sketch, dataset, options)
    fallback = label_free.loaded()
    say(f"{dataset.key}: scoring the holdout")
    short = full.orders_between(dataset.cut, dataset.cut + timedelta(days=dataset.propensity_horizon_days))
    long = full.orders_between(dataset.cut, dataset.cut + timedelta(days=dataset.horizon_days))
    result = DatasetResult(dataset, full.events, artefact, label_free, untrained)

    columns: dict[str, dict[str, list[float]]] = {}
    for user_id, profile in profiles.items():
        outcome = {
            "ordered_30": 1.0 if short.get(user_id) else 0.0,
            "ordered_n": 1.0 if long.get(user_id) else 0.0,
            "orders_n": float(len(long.get(user_id, []))),
        }
        populations = [] if is_anonymous(user_id) else ["all shoppers"]
        if buyer_summary(profile, dataset.cut) is not None:
            populations.append("buyers")
        if not populations:
            continue  # anonymous visitors' profiles: nobody to message
        scored = fallback.scored(profile, dataset.cut)
        # a shopper the label-free models cannot score (no order yet) is selected by no rule: 0
        label_free_row = (
            LABEL_FREE,
            scored["purchase_propensity"][0] if "purchase_propensity" in scored else 0.0,
            scored["horizon_order"][0] if "horizon_order" in scored else 0.0,
            scored["expected_orders"][0] if "expected_orders" in scored else 0.0,
        )
        predicted = model.predict(profile, dataset.cut) if model is not None else None
        for population in populations:
            candidates: list[tuple[str, float, float, float]] = [label_free_row]
            if predicted is not None:
                candidates.append(
                    (
                        SCORER,
                        predicted.propensity,
                        predicted.horizon_order,
                        predicted.expected_orders,
                    )
                )
            if predicted is not None and population == "buyers":
                candidates.append(
                    (
                        "BG/NBD",
                        predicted.bgnbd_propensity or 0.0,
                        predicted.bgnbd_horizon_order or 0.0,
                        predicted.bgnbd_expected_orders or 0.0,
                    )
                )
            for name, p30, pn, en in candidates:
                column = columns.setdefault(f"{population}|{name}", {})
                for key, value in (*outcome.items(), ("p30", p30), ("pn", pn), ("en", en)):
                    column.setdefault(key, []).append(value)
    for key, c in sorted(columns.items(), key=lambda kv: (kv[0].split("|")[0] != "buyers", kv[0])):
        population, name = key.split("|")
        if population == "all shoppers" and len(c["p30"]) == len(
            columns.get(f"buyers|{name}", {}).get("p30", [])
        ):
            continue  # every profile is a buyer (CDNOW): the row would repeat the buyers' row
        result.rows.append(
            ModelRow(
                dataset.key,
                population,
                name,
                len(c["p30"]),
                accuracy.auc(c["ordered_30"], c["p30"]),
                accuracy.brier(c["ordered_30"], c["p30"]),
                accuracy.expected_calibration_error(c["ordered_30"], c["p30"]),
                sum(c["ordered_30"]) / len(c["ordered_30"]),
                accuracy.auc(c["ordered_n"], c["pn"]),
                accuracy.brier(c["ordered_n"], c["pn"]),
                accuracy.mae(c["orders_n"], c["en"]),
                sum(c["en"]),
                sum(c["orders_n"]),
            )
        )
        if population == "buyers":
            result.reliability[name] = accuracy.reliability(c["ordered_30"], c["p30"])

    scorer: ScoringModel = model if model is not None else fallback
    population_stats = Population.from_sketch(sketch, scorer)
    result.segments = dict(
        Counter(
            s["rfm"]["segment"]
            for p in profiles.values()
            if "rfm" in (s := score_profile(p, scorer, population_stats, dataset.cut))
        ).most_common()
    )
    holdout = full.events_between(dataset.cut, dataset.cut + timedelta(days=dataset.propensity_horizon_days))
    if dataset.has_time_of_day:
        result.send_hour = _send_hour_hits(profiles, holdout, population_stats.local_hours, dataset.cut)
    result.categories = _category_hits(profiles, long)
    if dataset.cuts and dataset.observed_until is not None:
        result.horizons = horizon_rows(dataset.key, full, dataset.cuts, dataset.observed_until, say=say)
    return result


def _label_free(sketch: PopulationSketch, dataset: Dataset, options: TrainingOptions) -> LabelFreeArtefact:
    population = Population.from_sketch(sketch, None)
    return fit_label_free(
        sketch.buyers,
        population.rfm_edges,
        population.local_hours,
        dataset.cut,
        "evaluation",
        profiles=sketch.profiles,
        history_days=sketch.history_days(dataset.cut),
        horizons=(options.propensity_horizon_days, options.horizon_days),
        rfm_window_days=options.rfm_window_days,
    )


def _send_hour_hits(
    profiles: dict[str, Profile], holdout: dict[str, list[Any]], population: Sequence[float], cut: datetime
) -> dict[str, float]:
    """Share of each shopper's holdout engagement that falls within ±1 h of the predicted hour,
    averaged over shoppers with at least 3 engagement events after the cut."""
    hits: dict[str, list[float]] = {
        "personal (with population prior)": [],
        "population hour only": [],
        "personal, no prior": [],
    }
    for user_id, events in holdout.items():
        profile = profiles.get(user_id)
        engaged = [e for e in events if e.type in ("track", "page", "screen")]
        if profile is None or len(engaged) < 3:
            continue
        zone = profile.traits.get("timezone")
        offset = utc_offset_hours(zone if isinstance(zone, str) else None, cut)
        local = local_histogram(profile.engagement_hours, offset)
        hours = [(e.timestamp.hour + offset) % 24 for e in engaged]
        for label, hour in (
            ("personal (with population prior)", best_hour(local, population)),
            ("population hour only", best_hour([0.0] * 24, population)),
            ("personal, no prior", best_hour(local, None)),
        ):
            if hour is not None:
                hits[label].append(
                    sum(1 for h in hours if min((h - hour) % 24, (hour - h) % 24) <= 1) / len(hours)
                )
    return {label: sum(v) / len(v) for label, v in hits.items() if v} | {
        "shoppers": float(len(hits["population hour only"]))
    }


def _category_hits(profiles: dict[str, Profile], orders: dict[str, list[Any]]) -> dict[str, float]:
    """Does the predicted category appear in the shopper's first order after the cut?"""
    popular = Counter(c for p in profiles.values() for c, n in p.category_purchases.items() for _ in range(n))
    most_popular = popular.most_common(1)[0][0] if popular else None
    hits: dict[str, list[float]] = {}
    for user_id, events in orders.items():
        profile = profiles.get(user_id)
        bought = {
            str(item.get("category"))
            for item in events[0].properties.get("products", []) or []
            if isinstance(item, dict) and item.get("category")
        }
        if profile is None or not bought:
            continue
        predictors = {
            "favourite (decayed views + purchases)": favourite_category(profile.category_affinity),
            "next (decayed browsing)": next_category(profile.category_affinity),
            "most viewed, lifetime (top_category)": max(
                profile.category_views, key=profile.category_views.__getitem__
            )
            if profile.category_views
            else None,
            "most popular category overall": most_popular,
        }
        for label, guess in predictors.items():
            hits.setdefault(label, []).append(1.0 if guess in bought else 0.0)
    result = {label: sum(v) / len(v) for label, v in hits.items()}
    if hits:
        result["shoppers"] = float(len(next(iter(hits.values()))))
    return result


def markdown(results: Sequence[DatasetResult]) -> str:
    across = [row for result in results for row in result.horizons]
    lines = (
        [
            "Across time cuts and horizons (buyers at each cut; AUC of P(order within the horizon); "
            "error of the expected number of orders in it):",
            "",
            horizon_markdown(across),
            "At one cut, all the scores:",
            "",
        ]
        if across
        else []
    )
    lines += [
        "| dataset | population | model | customers | AUC 30 d | Brier 30 d | ECE 30 d | base rate 30 d "
        "| AUC 90 d | Brier 90 d | MAE orders 90 d | predicted / actual orders 90 d |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for result in results:
        for r in result.rows:
            lines.append(
                f"| {r.dataset} | {r.population} | {r.model} | {r.customers:,} | {r.auc_30:.3f} "
                f"| {r.brier_30:.4f} | {r.ece_30:.4f} | {r.base_rate_30:.3f} | {r.auc_n:.3f} "
                f"| {r.brier_n:.4f} | {r.mae_n:.3f} "
                f"| {r.predicted_total_n:,.0f} / {r.actual_total_n:,.0f} |"
            )
    lines.append("")
    for result in results:
        lines.append(f"**{result.dataset.key}** — {result.dataset.description}; {result.events:,} events. ")
        if result.artefact is not None:
            lines.append(
                f"BG/NBD fitted at the cut (days): {_params(result.artefact.bgnbd)}. "
                f"Trainer's choice (validated on its own latest origin): "
                + ", ".join(f"{k} → {v}" for k, v in sorted(result.artefact.choices.items()))
                + ". "
            )
        else:
            lines.append(f"No model can be trained: {result.untrained_reason}. ")
        fit = result.label_free.fit
        lines.append(
            "Label-free BG/NBD, as the scorer fits it (pure Python, on a sample of "
            f"{fit['buyers_sampled']:,} of {fit['buyers']:,} buyers, {fit['history_days']} days of history): "
            + (_params(result.label_free.bgnbd) if result.label_free.bgnbd else str(fit.get("bgnbd")))
            + "."
        )
        lines.append("")
        lines.append(
            "Reliability of the 30-day propensity on buyers (equal-count deciles, mean predicted / observed):"
        )
        lines.append("")
        names = sorted(result.reliability)
        lines.append("| decile | " + " | ".join(names) + " |")
        lines.append("|--:|" + "--:|" * len(names))
        for d in range(max((len(v) for v in result.reliability.values()), default=0)):
            cells = []
            for name in names:
                table = result.reliability[name]
                cells.append(f"{table[d][0]:.3f} / {table[d][1]:.3f}" if d < len(table) else "")
            lines.append(f"| {d + 1} | " + " | ".join(cells) + " |")
        lines.append("")
        if result.send_hour.get("shoppers"):
            lines.append(
                f"Best send hour ({int(result.send_hour['shoppers'])} shoppers with ≥ 3 engagement events "
                "in the 30 days after the cut; share of their engagement within ±1 h of the predicted "
                "local hour): "
                + ", ".join(f"{k} {v:.3f}" for k, v in result.send_hour.items() if k != "shoppers")
                + "."
            )
            lines.append("")
        if result.categories.get("shoppers"):
            lines.append(
                f"Category of the first order after the cut ({int(result.categories['shoppers'])} buyers), "
                "hit rate: "
                + ", ".join(f"{k} {v:.3f}" for k, v in result.categories.items() if k != "shoppers")
                + "."
            )
            lines.append("")
        lines.append(
            "RFM segments at the cut: " + ", ".join(f"{k} {v:,}" for k, v in result.segments.items()) + "."
        )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _params(params: dict[str, float]) -> str:
    return (
        f"r = {params['r']:.3f}, alpha = {params['alpha']:.2f} (= {params['alpha'] / 7:.3f} weeks), "
        f"a = {params['a']:.3f}, b = {params['b']:.3f}"
    )


def write_into_doc(doc: Path, block: str) -> None:
    """Replace the generated block between the evaluation markers of ``doc``."""
    text = doc.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(DOC_START) + ".*?" + re.escape(DOC_END), re.S)
    if not pattern.search(text):
        raise ValueError(f"{doc} has no {DOC_START} … {DOC_END} block")
    doc.write_text(pattern.sub(lambda _m: f"{DOC_START}\n{block}{DOC_END}", text), encoding="utf-8")
