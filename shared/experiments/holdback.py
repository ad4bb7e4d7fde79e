"""A batch send's holdback: ``winner`` with ``sample_percent`` tests on a sample of the audience, and the
rest get the winner after ``wait`` (docs/experiments.md, "Batch sends").

The audience worker sends the sample's jobs at once and defers each other shopper's job by ``wait``
through a one-time schedule (the mechanism quiet hours and trigger delays use), keyed by its send key
so a redelivered segment defers nobody twice; the job is marked ``holdback``. When it comes back,
delivery draws from :func:`shared.experiments.store.rest_weights`: the winner if the review declared
one; otherwise the stated rule, the variant leading on the counts at that moment (the highest
conversion rate, ties to the earlier variant in the file; with no counts at all, the first variant).
Each shopper's send key is the one the occurrence gives them, so delivery's claim sends it exactly once
however often the job arrives."""

from __future__ import annotations

from datetime import datetime

from shared.campaigns.model import Campaign
from shared.campaigns.variants import ExperimentMode
from shared.experiments.assignment import in_sample


def sample_percent(campaign: Campaign) -> float | None:
    """The share a batch send's experiment tests on, or None (no holdback: everyone draws at once)."""
    experiment = campaign.experiment
    if not campaign.variants or experiment is None or experiment.mode != ExperimentMode.WINNER:
        return None
    return experiment.sample_percent


def held_back(campaign: Campaign, user_id: str) -> bool:
    """Whether the shopper waits for the winner (outside the tested sample of a batch send)."""
    percent = sample_percent(campaign)
    return percent is not None and not in_sample(campaign.experiment_id(None), user_id, percent)


def release_time(campaign: Campaign, occurrence: datetime) -> datetime:
    """When the rest of an occurrence's audience is sent: the occurrence plus the experiment's ``wait``."""
    assert campaign.experiment is not None
    return occurrence + campaign.experiment.wait_time
