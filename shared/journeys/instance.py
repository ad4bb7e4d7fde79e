"""A shopper's instance of a journey, as stored (one item per shopper and journey), the wake-up a wait
schedules, and the path ``nudge why`` prints.

The item carries a step sequence number that only grows: every transition is one write conditioned on
the number it read, so of two copies of a wake-up, or of a wake-up and the goal that arrive together,
exactly one moves the instance. The write also records what the transition must do next (its sends and
its next wake-up): a retry that finds its own transition written does those again, idempotently (send
keys and schedule names come from the instance, the step and the sequence number)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from shared.campaigns.jobs import TriggerContext


class InstanceStatus(StrEnum):
    ACTIVE = "active"  # waiting: for a wake-up, or an awaited event
    COMPLETED = "completed"  # reached an exit step or the end of the steps
    CONVERTED = "converted"  # the goal happened
    EXITED = "exited"  # an exit_if event, or a version that lost its step (reason)
    WITHHELD = "withheld"  # the journey's holdout: entered, and nothing is sent


ENDED = frozenset(s for s in InstanceStatus if s != InstanceStatus.ACTIVE)


class PathKind(StrEnum):
    ENTERED = "entered"
    WITHHELD = "withheld"
    SENT = "send"  # a send step's job went to delivery (its decision is in the send log)
    WAITING = "waiting"
    WOKE = "woke"
    EVENT = "event"  # an awaited event arrived
    BRANCH = "branch"
    SPLIT = "split"
    VERSION = "version"  # moved to a new version of the journey by step id
    ENDED = "ended"


class PathEntry(BaseModel):
    """One thing that happened to the instance; ``detail`` says why (the rule that failed, the bucket)."""

    model_config = ConfigDict(frozen=True)

    seq: int
    at: datetime
    kind: PathKind
    step: str | None = None
    detail: str = ""


class WakeUp(BaseModel):
    """What a wait's one-time schedule puts on the delivery queue when it is over."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    journey_id: str
    instance: str
    step: str
    seq: int

    @property
    def key(self) -> str:
        """The transition this wake-up makes: names its schedule and marks the item it moves."""
        return f"{self.journey_id}#{self.instance}#{self.step}#{self.seq}"


class Effects(BaseModel):
    """What a transition does after its write: delivery jobs (JSON) and at most one next wake-up."""

    jobs: list[str] = Field(default_factory=list)
    wake: WakeUp | None = None
    wake_at: datetime | None = None


class JourneyInstance(BaseModel):
    """The stored state of one shopper in one journey (the last instance: a re-entry replaces it)."""

    user_id: str
    journey_id: str
    instance: str = Field(description="The entry's id: the triggering event's messageId, or the occurrence.")
    version: str = Field(description="The journey version (hash of its steps) the instance runs on.")
    seq: int = Field(ge=1, description="Step sequence number: grows by one with every transition.")
    status: InstanceStatus = InstanceStatus.ACTIVE
    step: str | None = Field(default=None, description="The step it waits at, or ended at.")
    awaiting: str | None = Field(default=None, description="The event a 'wait until' waits for.")
    entered_at: datetime
    entry: TriggerContext | None = Field(default=None, description="The entry event (templates read it).")
    occurrence: str = ""
    reason: str | None = Field(default=None, description="Why it ended.")
    transition: str = Field(description="The input that made the last transition (entry, wake-up, event).")
    effects: Effects = Field(default_factory=Effects)
    path: list[PathEntry] = Field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.status == InstanceStatus.ACTIVE
