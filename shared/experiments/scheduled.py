"""The scheduled review: every experiment of the catalog looked at once per run, on its stored counts.

The daily scoring run's planner calls :func:`review_all` (the same schedule, no new one): for each send
step with variants it reads the experiment's item, runs :func:`shared.experiments.review.review` on
its counts and writes the new state (weights, winner, the decision and its evidence) conditioned on the
run, so a duplicated run, or a second copy of the same run, writes nothing the first did not."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime

from shared.campaigns.journey import SendStep
from shared.campaigns.loader import Catalog
from shared.campaigns.variants import Experiment, Variant
from shared.experiments.review import Action, ExperimentState, review
from shared.experiments.store import ExperimentStore, StoredExperiment


@dataclass(frozen=True)
class ExperimentUnderReview:
    experiment_id: str
    variants: list[Variant]
    experiment: Experiment


@dataclass(frozen=True)
class Reviewed:
    """What one run did to one experiment: the action of its look, and whether it wrote the state."""

    experiment_id: str
    action: Action | None  # None: won or closed before, nothing looked at
    written: bool


def experiments_of(catalog: Catalog) -> Iterator[ExperimentUnderReview]:
    """Every send step with variants (a campaign's one message, a journey's send steps)."""
    for campaign in catalog:
        for step in campaign.flow.steps:
            if isinstance(step, SendStep) and step.variants:
                experiment = step.experiment or Experiment()
                yield ExperimentUnderReview(campaign.experiment_id(step.id), step.variants, experiment)


def review_all(catalog: Catalog, store: ExperimentStore, now: datetime, run: str) -> list[Reviewed]:
    """Review every experiment at ``now`` for ``run`` (one read of all items, one write per change)."""
    under_review = list(experiments_of(catalog))
    stored = store.read([e.experiment_id for e in under_review])
    done = []
    for each in under_review:
        found = stored.get(each.experiment_id) or StoredExperiment(each.experiment_id)
        state = found.state or ExperimentState.start(each.experiment_id, each.variants, now)
        running = state.winner is None and not state.closed
        if running and found.first_sent is not None and state.started != found.first_sent:
            # the clock runs from the first send, not from a review that looked before any was made
            state = replace(state, started=found.first_sent)
        reviewed = review(state, each.experiment, found.arms(), now)
        if reviewed is found.state:
            done.append(Reviewed(each.experiment_id, None, written=False))
            continue
        written = store.save(reviewed, run)  # refused if this run (or a later one) wrote it already
        done.append(Reviewed(each.experiment_id, reviewed.history[-1].action, written))
    return done
