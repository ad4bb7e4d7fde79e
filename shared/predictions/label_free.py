"""Label-free L3 models, fitted on the shop's own events: what scores a shop on its first day.

A trained model (``nudge train``) needs labels — what shoppers did in the horizon after an origin —
and so a history longer than the horizon; and a model trained on another store (the synthetic one
the demo ships) is no evidence about this one. When no trained model is published, or the shop's
history is shorter than the published model needs, the scoring run fits models that need no labels
on the shop's own profiles instead:

- **BG/NBD** on the buyers' (x, t_x, T), by maximum likelihood (:mod:`shared.predictions.bgnbd_fit`),
  giving P(order in 30 days), expected orders and P(no order) in the horizon, and P(alive);
- **RFM quintiles** over the base, as with a trained model.

The fit must see the population while no invocation scans the whole table, so the census sketch of
every scan segment keeps a :class:`BuyerSample` — the buyers with the smallest hashes of their user
id, at most ``SAMPLE_BUYERS``. Merging keeps the smallest ``SAMPLE_BUYERS`` again, which makes the
merged sample a uniform sample of all buyers, the same whichever order segments finish in. The
worker that completes the census fits on it and publishes a versioned :class:`LabelFreeArtefact`
to the models table; the scoring tasks then pin that version like a trained one. Scores carry
``model_kind`` and, per score, the model that produced it (``provenance``).
"""

from __future__ import annotations

import hashlib
import heapq
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.deployment.topology import LABEL_FREE_VERSION_PREFIX
from shared.predictions import bgnbd
from shared.predictions.bgnbd_fit import BuyerRow, fit, grouped
from shared.predictions.features import BuyerSummary, buyer_summary
from shared.predictions.rfm import RfmEdges
from shared.profiles.profile import Profile

SAMPLE_BUYERS = 2000
# Below this many buyers the likelihood is too flat to say anything: the run scores RFM, send hour
# and categories, and leaves the BG/NBD scores out (rules on them select nobody) rather than guess.
MIN_FIT_BUYERS = 20
HASH_BITS = 48


def sample_hash(user_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(user_id.encode(), digest_size=HASH_BITS // 8).digest(), "big")


@dataclass
class BuyerSample:
    """A bottom-k sample of buyer summaries: mergeable, bounded, uniform over the buyers."""

    size: int = SAMPLE_BUYERS
    entries: dict[int, tuple[int, float, float]] = field(default_factory=dict)
    buyers: int = 0
    _largest: list[int] = field(default_factory=list, repr=False, compare=False)  # negated keys: a max-heap

    def __post_init__(self) -> None:
        self._largest = [-key for key in self.entries]
        heapq.heapify(self._largest)

    def add(self, user_id: str, summary: BuyerSummary) -> None:
        self.buyers += 1
        self._offer(sample_hash(user_id), (summary.repeat_orders, summary.t_x, summary.age))

    def _offer(self, key: int, entry: tuple[int, float, float]) -> None:
        if key in self.entries:
            return
        if len(self.entries) < self.size:
            self.entries[key] = entry
            heapq.heappush(self._largest, -key)
        elif key < -self._largest[0]:
            del self.entries[-heapq.heapreplace(self._largest, -key)]
            self.entries[key] = entry

    def merge(self, other: BuyerSample) -> None:
        for key, entry in other.entries.items():
            self._offer(key, entry)
        self.buyers += other.buyers

    def rows(self) -> list[BuyerRow]:
        return grouped(self.entries.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.buyers,
            "k": self.size,
            "s": [
                [key, x, round(t_x, 2), round(big_t, 2)]
                for key, (x, t_x, big_t) in sorted(self.entries.items())
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BuyerSample:
        return cls(
            int(data.get("k", SAMPLE_BUYERS)),
            {int(key): (int(x), float(t_x), float(big_t)) for key, x, t_x, big_t in data.get("s", [])},
            int(data.get("n", 0)),
        )


class LabelFreeArtefact(BaseModel):
    """A fit of the label-free models on one scoring run's census. Versioned like a trained artefact
    (``label-free-<run>-<content hash>``) so that scores say which fit produced them."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["label-free"] = "label-free"
    version: str = ""
    fitted_at: str
    reason: str
    propensity_horizon_days: int = 30
    horizon_days: int = 90
    rfm_window_days: int = 365
    bgnbd: dict[str, float] | None = None
    fit: dict[str, Any] = Field(default_factory=dict)
    rfm_edges: dict[str, list[float]] = Field(default_factory=dict)
    population_hours: list[float] = Field(default_factory=list)

    def with_version(self) -> LabelFreeArtefact:
        body = self.model_dump(exclude={"version"})
        digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:12]
        stamp = self.fitted_at.replace(":", "").replace("-", "")[:15]
        return self.model_copy(update={"version": f"{LABEL_FREE_VERSION_PREFIX}{stamp}-{digest}"})

    def to_json(self) -> str:
        return self.model_dump_json()

    def loaded(self) -> LabelFreeModel:
        return LabelFreeModel(
            self,
            bgnbd.BgNbdParams(**self.bgnbd) if self.bgnbd else None,
            RfmEdges.from_dict(self.rfm_edges),
        )


@dataclass(frozen=True)
class LabelFreeModel:
    artefact: LabelFreeArtefact
    params: bgnbd.BgNbdParams | None
    rfm_edges: RfmEdges
    kind: Literal["label-free"] = "label-free"

    @property
    def version(self) -> str:
        return self.artefact.version

    @property
    def propensity_horizon_days(self) -> int:
        return self.artefact.propensity_horizon_days

    @property
    def horizon_days(self) -> int:
        return self.artefact.horizon_days

    @property
    def rfm_window_days(self) -> int:
        return self.artefact.rfm_window_days

    @property
    def population_hours(self) -> list[float]:
        return list(self.artefact.population_hours)

    def scored(self, profile: Profile, as_of: datetime) -> dict[str, tuple[float, str]]:
        """BG/NBD's scores for a buyer; nothing for a shopper who never ordered (BG/NBD models
        customers from their first purchase, and no label-free model says when a browser will buy)."""
        summary = buyer_summary(profile, as_of)
        if summary is None or self.params is None:
            return {}
        args = (self.params, summary.repeat_orders, summary.t_x, summary.age)
        return {
            "purchase_propensity": (
                bgnbd.probability_of_order(*args, t=self.propensity_horizon_days),
                "bgnbd",
            ),
            "horizon_order": (bgnbd.probability_of_order(*args, t=self.horizon_days), "bgnbd"),
            "expected_orders": (bgnbd.expected_orders(*args, t=self.horizon_days), "bgnbd"),
            "probability_alive": (bgnbd.probability_alive(*args), "bgnbd"),
        }


def fit_label_free(
    sample: BuyerSample,
    rfm_edges: RfmEdges,
    population_hours: Sequence[float],
    as_of: datetime,
    reason: str,
    *,
    profiles: int,
    history_days: int | None,
    horizons: tuple[int, int] = (30, 90),
    rfm_window_days: int = 365,
) -> LabelFreeArtefact:
    """Fit BG/NBD on the sample (when it holds at least ``MIN_FIT_BUYERS``) into a versioned artefact."""
    rows = sample.rows()
    sampled = sum(row.weight for row in rows)
    details: dict[str, Any] = {
        "profiles": profiles,
        "buyers": sample.buyers,
        "buyers_sampled": sampled,
        "history_days": history_days,
    }
    params: dict[str, float] | None = None
    if sampled >= MIN_FIT_BUYERS:
        result = fit(rows)
        params = {k: round(v, 6) for k, v in result.params.to_dict().items()}
        details["log_likelihood"] = round(result.log_likelihood, 3)
        details["evaluations"] = result.evaluations
    else:
        details["bgnbd"] = f"not fitted: {sampled} buyers, fewer than {MIN_FIT_BUYERS}"
    return LabelFreeArtefact(
        fitted_at=as_of.isoformat(timespec="seconds"),
        reason=reason,
        propensity_horizon_days=horizons[0],
        horizon_days=horizons[1],
        rfm_window_days=rfm_window_days,
        bgnbd=params,
        fit=details,
        rfm_edges=rfm_edges.to_dict(),
        population_hours=[round(v, 4) for v in population_hours],
    ).with_version()


def summaries_of(profiles: Iterable[Profile], as_of: datetime) -> BuyerSample:
    """Every buyer of ``profiles`` offered to one sample (offline: ``nudge score``, the evaluation)."""
    sample = BuyerSample()
    for profile in profiles:
        summary = buyer_summary(profile, as_of)
        if summary is not None:
            sample.add(profile.user_id, summary)
    return sample
