"""An experiment as stored: its state (weights, winner, the decision history), the counts it is reviewed
on, and the port that reads and writes it; delivery's cached read of the live weights.

One item per experiment (the ``models`` table, name ``experiment#<campaign:step>``): delivery adds
each batch's sends per variant to it, ingest each new conversion credited to a variant's send, and
the scheduled review (:mod:`shared.experiments.scheduled`) reads the counts, decides and writes the
state, once per run (a duplicated run finds its run written and writes nothing)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # the review's modules load when a review runs (or reads the counts), not with delivery
    from shared.campaigns.jobs import DeliveryJob
    from shared.campaigns.model import Campaign
    from shared.campaigns.variants import Variant
    from shared.experiments.review import ExperimentState
    from shared.experiments.sequential import Arm

SENT = "sent"
CONVERTED = "converted"


@dataclass(frozen=True)
class StoredExperiment:
    """What the item holds: the state (None before the first review), the running counts per variant,
    the last review run that wrote it and when the experiment's first sends were counted (its clock:
    ``max_duration``, a batch's ``wait`` and the bandit's ``reweight_every`` run from there)."""

    experiment_id: str
    state: ExperimentState | None = None
    sent: dict[str, int] = field(default_factory=dict)
    converted: dict[str, int] = field(default_factory=dict)
    run: str | None = None
    first_sent: datetime | None = None

    def arms(self) -> dict[str, Arm]:
        """The counts as the review reads them (conversions past the sends are not counted: a send may
        be credited with two orders)."""
        from shared.experiments.sequential import Arm

        names = dict.fromkeys([*self.sent, *self.converted])
        sent = {v: self.sent.get(v, 0) for v in names}
        return {v: Arm(sent[v], min(self.converted.get(v, 0), sent[v])) for v in names}


class ExperimentStore(Protocol):
    def read(self, experiment_ids: Sequence[str]) -> dict[str, StoredExperiment]:
        """The stored experiments among ``experiment_ids`` (one request per 100)."""
        ...

    def add(
        self, experiment_id: str, counter: str, counts: Mapping[str, int], at: datetime | None = None
    ) -> None:
        """Add ``counts`` (variant → n) to the experiment's ``sent`` or ``converted`` counts (one request);
        with ``at`` (the sends' time), record it as the first send unless one is recorded already."""
        ...

    def save(self, state: ExperimentState, run: str) -> bool:
        """Write the state reviewed by ``run`` unless that run (or a later one) wrote it: False then."""
        ...


def count(pairs: Iterable[tuple[str | None, str | None]]) -> dict[str, Counter[str]]:
    """(experiment, variant) pairs as counts per experiment (pairs without both left out)."""
    found: dict[str, Counter[str]] = {}
    for experiment, variant in pairs:
        if experiment and variant:
            found.setdefault(experiment, Counter())[variant] += 1
    return found


def add_counts(
    store: ExperimentStore,
    counter: str,
    pairs: Iterable[tuple[str | None, str | None]],
    at: datetime | None = None,
) -> int:
    """Add the pairs' counts, one request per experiment (``at``: the sends', kept as the first if it
    is); how many requests were made."""
    counts = count(pairs)
    for experiment, variants in counts.items():
        store.add(experiment, counter, variants, at)
    return len(counts)


@dataclass
class LiveWeights:
    """The experiments' current weights as delivery draws with them: read once per experiment and kept
    for ``keep`` (a function's container serves many batches), so a winner or a re-weighting reaches
    delivery within ``keep`` of the review that wrote it."""

    store: ExperimentStore
    keep: timedelta = timedelta(minutes=5)
    _read: dict[str, tuple[datetime, StoredExperiment | None]] = field(default_factory=dict, repr=False)

    def stored(self, experiment_id: str, now: datetime) -> StoredExperiment | None:
        known = self._read.get(experiment_id)
        if known is None or now - known[0] >= self.keep or now < known[0]:
            found = self.store.read([experiment_id]).get(experiment_id)
            known = self._read[experiment_id] = now, found
        return known[1]

    def weights(self, experiment_id: str, now: datetime) -> dict[str, float] | None:
        """The reviewed weights (a winner's, the bandit's), or None: the file's."""
        stored = self.stored(experiment_id, now)
        return stored.state.weights if stored is not None and stored.state is not None else None

    def for_send(self, campaign: Campaign, job: DeliveryJob, now: datetime) -> dict[str, float] | None:
        """The weights of the send step's experiment (None: the step has no variants, or no review yet);
        for a batch send's held-back shopper, the winner's or the leading variant's
        (:func:`rest_weights`)."""
        if not campaign.variants:
            return None
        if job.holdback:
            return rest_weights(self.stored(campaign.experiment_id(job.step), now), campaign.variants)
        return self.weights(campaign.experiment_id(job.step), now)


def rest_weights(stored: StoredExperiment | None, variants: Sequence[Variant]) -> dict[str, float]:
    """A batch send's held-back shoppers: all the traffic to the winner, or by the stated rule to the
    variant leading on the counts (the highest rate, ties to the earlier in the file; no counts: the first;
    docs/experiments.md, "Batch sends", and :mod:`shared.experiments.holdback`)."""
    names = [v.id for v in variants]
    state = stored.state if stored is not None else None
    if state is not None and state.winner in names:
        chosen = state.winner
    else:
        arms = stored.arms() if stored is not None else {}
        rates = {name: arms[name].rate if name in arms else 0.0 for name in names}
        chosen = max(names, key=lambda name: (rates[name], -names.index(name)))
    return {name: float(name == chosen) for name in names}
