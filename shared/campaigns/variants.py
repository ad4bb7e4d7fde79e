"""A send step's experiment in the file: ``variants:`` (each an id, a weight and its own content) and
``experiment:`` (how the winner is chosen: ``fixed``, ``winner`` or ``bandit``, with its parameters).

Only the file model lives here; who gets which variant, the statistics and the decisions of an
experiment are :mod:`shared.experiments`. See docs/experiments.md."""

from __future__ import annotations

import re
from datetime import time, timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from shared.campaigns.content import Channels
from shared.campaigns.fields import Duration, Strict
from shared.core.durations import parse_duration
from shared.core.vocabulary import Channel

__all__ = [
    "BEST_HOUR",
    "Experiment",
    "ExperimentMode",
    "SendTime",
    "Variant",
    "check_variants",
    "with_variant_content",
]

VariantId = Annotated[
    str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$", description="Stable id of a variant (logged per send).")
]


class ExperimentMode(StrEnum):
    FIXED = "fixed"  # the weights as written; the report compares
    WINNER = "winner"  # a sequential test picks a winner, which then gets all the traffic
    BANDIT = "bandit"  # Thompson sampling re-weights the traffic on a schedule, with a floor


BEST_HOUR = "best_hour"  # ``send_time: best_hour``: the shopper's predicted best send hour
LONGEST_SEND_DELAY = timedelta(days=365)


class SendTime(Strict):
    """When a variant's message goes out, relative to the step's moment: ``delay`` after it, or the
    next ``at`` (``HH:MM``) in the shopper's time zone. Exactly one of the two."""

    delay: Duration | None = Field(default=None, description="After the step's moment, e.g. 2h (≤ 365d).")
    at: str | None = Field(default=None, description="The next HH:MM in the shopper's time zone, e.g. 19:00.")

    @property
    def delay_time(self) -> timedelta | None:
        return parse_duration(self.delay) if self.delay is not None else None

    @property
    def at_time(self) -> time | None:
        return clock_time(self.at) if self.at is not None else None


def clock_time(text: str) -> time:
    """``HH:MM`` (00:00-23:59) → a time of day; anything else is a ValueError naming the text."""
    match = re.fullmatch(r"(\d{2}):(\d{2})", text)
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"at {text!r} is not a time of day like 19:00 (HH:MM, 00:00-23:59)")
    return time(int(match[1]), int(match[2]))


class Variant(Strict):
    """One version of a send step: its content replaces the step's for the channels it names."""

    id: VariantId
    weight: float = Field(default=1, gt=0, description="Share of the traffic, relative to the others.")
    channels: Channels | None = Field(
        default=None, description="Content per channel, replacing the step's for the channels named."
    )
    channel_preference: list[Channel] = Field(
        default_factory=list, description="This variant's channel order (default: the step's)."
    )
    send_time: SendTime | Literal["best_hour"] | None = Field(
        default=None,
        description="When its message goes out: {delay: 2h}, {at: '19:00'} (the shopper's local time) or "
        "best_hour (the shopper's predicted best send hour); default: at the step's moment.",
    )


class Experiment(Strict):
    """How the variants compete. ``winner``: a sequential test (mSPRT) that may be looked at after every
    batch; ``sample_percent`` of a batch send is tested and the rest wait ``wait`` for the winner; an
    always-on trigger switches once a winner is significant, or keeps the weights after ``max_duration``.
    ``bandit``: every ``reweight_every`` the weights become each variant's probability of being best,
    none below ``floor_percent``."""

    mode: ExperimentMode = ExperimentMode.FIXED
    alpha: float = Field(default=0.05, gt=0, le=0.2, description="Chance of a false winner, at most.")
    effect: float = Field(
        default=0.02, gt=0, le=1, description="The difference of conversion rates the test is tuned to find."
    )
    min_sample: int = Field(default=200, ge=10, description="Shoppers per variant before any decision.")
    max_duration: Duration = Field(default="14d", description="No winner by then: the weights stay.")
    sample_percent: float | None = Field(
        default=None, gt=0, lt=100, description="Batch sends: the share tested; the rest get the winner."
    )
    wait: Duration = Field(default="24h", description="Batch sends: how long the sample is watched.")
    floor_percent: float = Field(default=10, ge=0, lt=50, description="Bandit: the least share per variant.")
    reweight_every: Duration = Field(default="1d", description="Bandit: how often the weights move.")

    @property
    def max_duration_time(self) -> timedelta:
        return parse_duration(self.max_duration)

    @property
    def wait_time(self) -> timedelta:
        return parse_duration(self.wait)

    @property
    def reweight_time(self) -> timedelta:
        return parse_duration(self.reweight_every)


def check_variants(variants: list[Variant] | None, experiment: Experiment | None, where: str) -> None:
    """Raise a ValueError naming ``where`` (``step 'x'`` or the campaign) for a file that cannot run."""
    if variants is None:
        if experiment is not None:
            raise ValueError(f"{where}: 'experiment' needs 'variants'")
        return
    if len(variants) < 2:
        raise ValueError(f"{where}: variants: an experiment has at least two variants")
    seen: set[str] = set()
    for variant in variants:
        if variant.id in seen:
            raise ValueError(f"{where}: variant {variant.id!r}: the id is used twice")
        seen.add(variant.id)
        problem = send_time_problem(variant.send_time)
        if problem is not None:
            raise ValueError(f"{where}: variant {variant.id!r}: send_time: {problem}")
    mode = experiment.mode if experiment else ExperimentMode.FIXED
    if mode == ExperimentMode.BANDIT and experiment and experiment.floor_percent * len(variants) >= 100:
        raise ValueError(
            f"{where}: floor_percent {experiment.floor_percent:g} for {len(variants)} variants leaves "
            "nothing to re-weight"
        )


def send_time_problem(send_time: SendTime | str | None) -> str | None:
    """Why a variant's ``send_time`` cannot run (None if it can)."""
    if not isinstance(send_time, SendTime):
        return None
    if (send_time.delay is None) == (send_time.at is None):
        return "give exactly one of 'delay' and 'at' (or write best_hour)"
    try:
        delay, _ = send_time.delay_time, send_time.at_time
    except ValueError as error:
        return str(error)
    if delay is not None and delay > LONGEST_SEND_DELAY:
        return f"delay {send_time.delay} is longer than 365d"
    return None


def with_variant_content(
    channels: Channels, preference: list[Channel], variant: Variant
) -> tuple[Channels, list[Channel]]:
    """The step's content and channel order with the variant's replacing what it names."""
    if variant.channels is not None:
        named = {str(c): variant.channels.content(c) for c in Channel if variant.channels.content(c)}
        channels = channels.model_copy(update=named)
    order = variant.channel_preference or preference
    missing = [c for c in order if channels.content(c) is None]
    if missing:
        raise ValueError(f"variant {variant.id!r}: channels: no content for {', '.join(missing)}")
    return channels, order
