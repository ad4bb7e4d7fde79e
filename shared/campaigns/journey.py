"""A journey: a campaign's ``steps:`` (send, wait, branch, split, exit), its ``goal``, ``exit_if`` events
and ``reentry`` rule, and the checks that make a flow safe to run (every step reachable, every jump to a
known step, no loop without a wait, every path ending).

One model, not two: a campaign without ``steps`` is the one-step journey ``[send]`` (:meth:`Flow.of`),
so the engine, ``nudge why`` and the report read every campaign the same way. The engine that runs a
flow for a shopper is :mod:`shared.journeys`."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from shared.campaigns.audience.selection import Audience
from shared.campaigns.content import Channels
from shared.campaigns.fields import AudienceText, Duration, EventName, Strict
from shared.campaigns.policy import Limits
from shared.campaigns.trigger import condition_filter
from shared.campaigns.variants import Experiment, Variant, check_variants, with_variant_content
from shared.core.durations import parse_duration
from shared.core.vocabulary import Channel

__all__ = [
    "BranchStep",
    "ExitStep",
    "Flow",
    "FlowError",
    "JourneyGoal",
    "Reentry",
    "SegmentEntry",
    "SendStep",
    "SplitPath",
    "SplitStep",
    "Step",
    "StepType",
    "WaitStep",
    "WaitUntil",
    "split_bucket",
]

ONE_STEP_ID = "send"  # the step id of a campaign without ``steps`` (its one send)
MAX_WAIT = timedelta(days=365)
_LOCAL_TIME = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$")
_REENTRY = re.compile(r"^\s*(never|always|after\s+(?P<duration>.+?))\s*$")

StepId = Annotated[
    str,
    Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$", description="Stable id of a step (names its sends)."),
]


class FlowError(ValueError):
    """A flow that cannot run as written; the message names the step."""


class StepType(StrEnum):
    SEND = "send"
    WAIT = "wait"
    BRANCH = "branch"
    SPLIT = "split"
    EXIT = "exit"


class _Step(Strict):
    id: StepId
    next: StepId | None = Field(
        default=None, description="The step that follows (default: the next one in the list)."
    )


class SendStep(_Step):
    """A message through every delivery guard (consent, caps, quiet hours, holdout of the journey)."""

    type: Literal[StepType.SEND] = StepType.SEND
    channels: Channels = Field(description="Content per channel, as a campaign's 'channels'.")
    channel_preference: list[Channel] = Field(
        default_factory=list, description="The order channels are tried in (default: file order)."
    )
    caps: Limits | None = Field(default=None, description="This step's own cap, replacing the campaign's.")
    variants: list[Variant] | None = Field(
        default=None, description="Versions of this message competing (docs/experiments.md)."
    )
    experiment: Experiment | None = Field(default=None, description="How the variants' winner is chosen.")

    @model_validator(mode="before")
    @classmethod
    def _preference_from_file_order(cls, data: Any) -> Any:
        if (
            isinstance(data, dict)
            and isinstance(data.get("channels"), dict)
            and not data.get("channel_preference")
        ):
            data = {**data, "channel_preference": [k for k, v in data["channels"].items() if v is not None]}
        return data

    @model_validator(mode="after")
    def _content_for_each_channel(self) -> SendStep:
        missing = [c for c in self.channel_preference if self.channels.content(c) is None]
        if missing or not self.channel_preference:
            raise ValueError(
                f"step {self.id!r}: channels: no content for {', '.join(missing) or 'any channel'}"
            )
        check_variants(self.variants, self.experiment, f"step {self.id!r}")
        for variant in self.variants or []:
            try:
                with_variant_content(self.channels, self.channel_preference, variant)
            except ValueError as error:
                raise ValueError(f"step {self.id!r}: {error}") from None
        return self


class WaitUntil(Strict):
    """Wait for the shopper's ``event`` (optionally with ``where`` conditions), at most ``timeout``."""

    event: EventName
    where: list[str] = Field(default_factory=list, description="e.g. 'properties.total > 50'.")
    timeout: Duration | None = Field(default=None, description="How long to wait for it at most (required).")

    @field_validator("where")
    @classmethod
    def _readable(cls, conditions: list[str]) -> list[str]:
        for condition in conditions:
            condition_filter(condition)
        return conditions


class WaitStep(_Step):
    """Wait a ``duration``, until a local time of day in the shopper's zone, or ``until`` an event."""

    type: Literal[StepType.WAIT] = StepType.WAIT
    duration: Duration | None = None
    until_local_time: str | None = Field(
        default=None, description="'10:00': the next such time, shopper's zone."
    )
    until: WaitUntil | None = None
    on_event: StepId | None = Field(default=None, description="With 'until': where the event leads.")
    on_timeout: StepId | None = Field(default=None, description="With 'until': where the timeout leads.")

    @model_validator(mode="after")
    def _one_kind(self) -> WaitStep:
        kinds = [k for k in ("duration", "until_local_time", "until") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(f"step {self.id!r}: a wait takes one of duration, until_local_time, until")
        if self.duration is not None and not timedelta(0) < parse_duration(self.duration) <= MAX_WAIT:
            raise ValueError(f"step {self.id!r}: wait {self.duration}: more than 0 and at most 365d")
        if self.until_local_time is not None and not _LOCAL_TIME.match(self.until_local_time):
            raise ValueError(f"step {self.id!r}: until_local_time {self.until_local_time!r}: write HH:MM")
        if self.until is not None:
            if self.until.timeout is None:
                raise ValueError(f"step {self.id!r}: a wait until {self.until.event!r} needs a 'timeout'")
            if parse_duration(self.until.timeout) > MAX_WAIT:
                raise ValueError(f"step {self.id!r}: timeout {self.until.timeout}: at most 365d")
        elif self.on_event or self.on_timeout:
            raise ValueError(f"step {self.id!r}: on_event / on_timeout need an 'until' event")
        return self

    @property
    def timeout(self) -> timedelta | None:
        return parse_duration(self.until.timeout) if self.until and self.until.timeout else None


class BranchStep(_Step):
    """``if`` the audience rules all hold on the current profile go to ``then``, else to ``else``."""

    model_config = ConfigDict(populate_by_name=True)

    type: Literal[StepType.BRANCH] = StepType.BRANCH
    if_: list[AudienceText] = Field(
        alias="if", min_length=1, description="Audience rules that must all hold."
    )
    then: StepId | None = Field(default=None, description="Where a shopper who matches goes (default: next).")
    else_: StepId | None = Field(
        default=None, alias="else", description="Where the others go (default: next)."
    )

    @cached_property
    def audience(self) -> Audience:
        """The branch's rules, parsed once (they were checked when the file was loaded)."""
        return Audience.parse(self.if_)


class SplitPath(Strict):
    percent: float = Field(gt=0, le=100)
    next: StepId


class SplitStep(_Step):
    """Random paths by percentage, the same for a shopper every time (a hash of journey and shopper)."""

    type: Literal[StepType.SPLIT] = StepType.SPLIT
    paths: list[SplitPath] = Field(min_length=2)

    @model_validator(mode="after")
    def _whole(self) -> SplitStep:
        if abs(sum(p.percent for p in self.paths) - 100) > 1e-9:
            raise ValueError(f"step {self.id!r}: split percentages add up to 100")
        return self

    def path_for(self, journey_id: str, user_id: str) -> SplitPath:
        bucket = split_bucket(journey_id, self.id, user_id)
        edge = 0.0
        for path in self.paths:
            edge += path.percent
            if bucket < edge:
                return path
        return self.paths[-1]


class ExitStep(_Step):
    type: Literal[StepType.EXIT] = StepType.EXIT


Step = Annotated[SendStep | WaitStep | BranchStep | SplitStep | ExitStep, Field(discriminator="type")]


def split_bucket(journey_id: str, step_id: str, user_id: str) -> float:
    """A shopper's place in [0, 100) for a split: stable across runs, independent between splits."""
    digest = hashlib.sha256(f"split:{journey_id}:{step_id}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100


class JourneyGoal(Strict):
    """The event that ends the journey for the shopper wherever they are, and is its conversion."""

    event: EventName
    where: list[str] = Field(default_factory=list, description="e.g. 'properties.total > 50'.")

    @field_validator("where")
    @classmethod
    def _readable(cls, conditions: list[str]) -> list[str]:
        for condition in conditions:
            condition_filter(condition)
        return conditions


class SegmentEntry(Strict):
    """``entry: {segment: [rules]}``: a shopper enters when a write of their profile (ingest's, the
    scorer's) makes them start matching the rules: not all held before the write, all hold after it."""

    segment: list[AudienceText] = Field(
        min_length=1, description="Audience rules; a shopper enters when they start matching all of them."
    )

    @cached_property
    def audience(self) -> Audience:
        """The segment's rules, parsed once per container (ingest evaluates them around every fold)."""
        return Audience.parse(self.segment)


class Reentry(StrEnum):
    NEVER = "never"
    ALWAYS = "always"
    AFTER = "after"


def parse_reentry(text: str) -> tuple[Reentry, timedelta | None]:
    """``never`` / ``always`` / ``after 7d`` → the rule and its window."""
    match = _REENTRY.match(text)
    if match is None:
        raise ValueError(f"reentry {text!r}: write never, always or 'after 7d'")
    if match["duration"] is not None:
        return Reentry.AFTER, parse_duration(match["duration"])
    return Reentry(match[1]), None


class Flow:
    """A checked list of steps: ``next_of`` gives where the default flow goes, ``edges`` every jump."""

    def __init__(self, steps: list[Any]) -> None:
        self.steps: list[SendStep | WaitStep | BranchStep | SplitStep | ExitStep] = list(steps)
        self.by_id = {s.id: s for s in self.steps}
        self._position = {s.id: i for i, s in enumerate(self.steps)}

    @property
    def first(self) -> str:
        return self.steps[0].id

    def step(self, step_id: str) -> SendStep | WaitStep | BranchStep | SplitStep | ExitStep:
        return self.by_id[step_id]

    def next_of(self, step_id: str) -> str | None:
        """The step after ``step_id`` by default: its ``next``, else the following one (None: the end)."""
        step = self.by_id[step_id]
        if step.next is not None:
            return step.next
        position = self._position[step_id] + 1
        return self.steps[position].id if position < len(self.steps) else None

    def edges(self, step_id: str) -> list[str | None]:
        """Every step ``step_id`` can lead to (None: the end of the journey)."""
        step = self.by_id[step_id]
        default = self.next_of(step_id)
        if isinstance(step, ExitStep):
            return []
        if isinstance(step, BranchStep):
            return [step.then or default, step.else_ or default]
        if isinstance(step, SplitStep):
            return [p.next for p in step.paths]
        if isinstance(step, WaitStep) and step.until is not None:
            return [step.on_event or default, step.on_timeout or default]
        return [default]

    def check(self) -> None:
        """Raise :class:`FlowError` naming the step: duplicate or unknown ids, unreachable steps, a
        loop with no wait in it."""
        if not self.steps:
            raise FlowError("steps: a journey has at least one step")
        seen: set[str] = set()
        for step in self.steps:
            if step.id in seen:
                raise FlowError(f"step {step.id!r}: the id is used twice")
            seen.add(step.id)
        for step in self.steps:
            for target in [step.next, *self.edges(step.id)]:
                if target is not None and target not in self.by_id:
                    raise FlowError(f"step {step.id!r}: leads to unknown step {target!r}")
        reachable = self._reachable()
        unreachable = [s.id for s in self.steps if s.id not in reachable]
        if unreachable:
            raise FlowError(f"step {unreachable[0]!r}: unreachable from the first step {self.first!r}")
        self._no_loop_without_wait()
        ending = self._reaching_an_end()
        stuck = [s.id for s in self.steps if s.id not in ending]
        if stuck:
            raise FlowError(f"step {stuck[0]!r}: no path from it reaches an exit or the end of the steps")

    def _reaching_an_end(self) -> set[str]:
        ending: set[str] = set()
        changed = True
        while changed:
            changed = False
            for step in self.steps:
                edges = self.edges(step.id)
                if step.id not in ending and (not edges or any(t is None or t in ending for t in edges)):
                    ending.add(step.id)
                    changed = True
        return ending

    def _reachable(self, start: str | None = None) -> set[str]:
        start = start or self.first
        found, todo = {start}, [start]
        while todo:
            for target in self.edges(todo.pop()):
                if target is not None and target not in found:
                    found.add(target)
                    todo.append(target)
        return found

    def _no_loop_without_wait(self) -> None:
        """A cycle through steps that are not waits would run forever in one invocation."""
        instant = {s.id for s in self.steps if not isinstance(s, WaitStep)}
        state: dict[str, int] = {}  # 1: on the current path, 2: done

        def visit(step_id: str) -> None:
            state[step_id] = 1
            for target in self.edges(step_id):
                if target is None or target not in instant:
                    continue
                if state.get(target) == 1:
                    raise FlowError(f"step {target!r}: a loop without a wait (add a wait step to it)")
                if target not in state:
                    visit(target)
            state[step_id] = 2

        for step_id in sorted(instant):
            if step_id not in state:
                visit(step_id)
