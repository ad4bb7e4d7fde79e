"""Campaigns as code: the schema of ``campaigns/*.yaml`` and the catalog bundled with the Lambdas.

The same models validate a file in the CLI, at ``cdk synth`` (an invalid file fails synth with
the same message) and when a Lambda loads the catalog, so a campaign means one thing everywhere.

Here: the campaign itself, its schedule, its conversion goal, the shop's vocabulary file. Its parts
live beside it: what it says per channel (:mod:`shared.campaigns.content`), an L4 trigger and the
EventBridge pattern it compiles into (:mod:`shared.campaigns.trigger`), and the checked names, rules
and durations they are made of (:mod:`shared.campaigns.fields`)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from shared.campaigns.audience.selection import Audience
from shared.campaigns.audience.vocabulary import Vocabulary, default_vocabulary
from shared.campaigns.content import Channels
from shared.campaigns.fields import AudienceText, EventName, Strict
from shared.campaigns.journey import (
    ONE_STEP_ID,
    Flow,
    JourneyGoal,
    Reentry,
    SegmentEntry,
    SendStep,
    Step,
    parse_reentry,
)
from shared.campaigns.policy import ChannelName, Limits
from shared.campaigns.trigger import Trigger
from shared.campaigns.variants import Experiment, Variant, check_variants, with_variant_content
from shared.core.vocabulary import Channel, Level

__all__ = ["Campaign", "ChannelName", "Level", "Limits", "Schedule", "VocabularyFile", "campaign_json_schema"]


class Schedule(Strict):
    """An EventBridge Scheduler expression, evaluated in ``timezone`` and deployed as written."""

    timezone: str = Field(default="UTC", description="IANA time zone the expression is read in.")
    expression: str = Field(
        description="cron(minutes hours day-of-month month day-of-week year), rate(N unit) or "
        "at(yyyy-mm-ddThh:mm:ss) for a one-time campaign, e.g. 'cron(0 10 ? * SAT *)'."
    )

    @field_validator("timezone")
    @classmethod
    def _valid_zone(cls, value: str) -> str:
        from shared.campaigns.schedules import ScheduleExpression

        ScheduleExpression.parse("rate(1 day)", value)
        return value

    @field_validator("expression")
    @classmethod
    def _valid_expression(cls, value: str, info: ValidationInfo) -> str:
        from shared.campaigns.schedules import ScheduleExpression

        if isinstance(info.data.get("timezone"), str):
            ScheduleExpression.parse(value, info.data["timezone"])
        return value


class Conversion(Strict):
    """The goal: a shopper who does ``event`` within ``window_hours`` of the message converted."""

    event: EventName = "Order Completed"
    window_hours: int = Field(default=72, ge=1, le=24 * 30)


class Campaign(Strict):
    """One campaign file in ``campaigns/``: who, what, on which channels, and when."""

    id: str = Field(
        pattern=r"^[a-z0-9][a-z0-9-]{1,62}$",
        description="Stable id (lowercase, digits, dashes): names the schedule, rule and send keys.",
    )
    name: str = Field(min_length=1, description="What marketers call it.")
    description: str | None = None
    level: Level = Field(
        description="L1 demographic, L2 behavioural, L3 predicted (scheduled); L4 real-time (trigger)."
    )
    channels: Channels = Field(description="Content per channel.")
    channel_preference: list[Channel] = Field(
        default_factory=list,
        description="The order channels are tried in (default: the order of 'channels' in the file); "
        "the first channel the shopper can receive is used.",
    )
    audience: list[AudienceText] = Field(
        default_factory=list, description="Rules that must all hold; none means every shopper."
    )
    schedule: Schedule | None = Field(default=None, description="When an L1-L3 campaign runs.")
    trigger: Trigger | None = Field(default=None, description="What starts an L4 campaign.")
    entry: SegmentEntry | None = Field(
        default=None,
        description="A journey (L1-L3) entered when a shopper starts matching 'segment' (no schedule).",
    )
    priority: int = Field(
        default=50, ge=0, le=100, description="Higher wins when the frequency caps allow only some messages."
    )
    holdout_percent: float = Field(
        default=0, ge=0, le=50, description="Share of the audience kept as a control group (never messaged)."
    )
    caps: Limits | None = Field(
        default=None,
        description="This campaign's own cap (per_day, per_week), replacing the policy's per-campaign one.",
    )
    conversion: Conversion = Field(default_factory=Conversion)
    start: datetime | None = Field(default=None, description="Not before this instant (ISO-8601 with zone).")
    end: datetime | None = Field(default=None, description="Not from this instant on.")
    enabled: bool = Field(default=True, description="A disabled campaign is deployed but never runs.")
    steps: list[Step] | None = Field(
        default=None,
        description="A journey: send, wait, branch, split and exit steps, run in order unless a step "
        "says where to go. Without steps a campaign is the one-step journey [send]. See docs/journeys.md.",
    )
    goal: JourneyGoal | None = Field(
        default=None,
        description="A journey's goal: the event that ends it for the shopper, wherever they are.",
    )
    exit_if: list[EventName] = Field(
        default_factory=list, description="Events that end the journey for the shopper, wherever they are."
    )
    variants: list[Variant] | None = Field(
        default=None,
        description="Versions of the message competing: id, weight and own content (docs/experiments.md). "
        "A journey puts them on its send steps.",
    )
    experiment: Experiment | None = Field(
        default=None, description="How the variants' winner is chosen: fixed, winner or bandit."
    )
    transactional: bool = Field(
        default=False,
        description="A message the shopper expects (an order's thank-you): the global control gets it too.",
    )
    reentry: str = Field(
        default="always",
        pattern=r"^\s*(never|always|after\s+\d+\s*[mhd])\s*$",
        description="May a shopper enter the journey again: never, always (once the last instance ended) "
        "or 'after 7d' (since they last entered). One active instance per shopper per journey at most.",
    )

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        """A time without a zone (or a bare date) is read as UTC, so start and end always compare."""
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value

    @model_validator(mode="before")
    @classmethod
    def _journey_content(cls, data: Any) -> Any:
        """A journey's campaign-level content is its first send step's (what preview shows first)."""
        if isinstance(data, dict) and isinstance(data.get("steps"), list) and data.get("channels") is None:
            first = next((s for s in data["steps"] if isinstance(s, dict) and s.get("type") == "send"), None)
            if first is not None and isinstance(first.get("channels"), dict):
                data = {
                    **data,
                    "channels": first["channels"],
                    "channel_preference": first.get("channel_preference")
                    or [k for k, v in first["channels"].items() if v is not None],
                }
        return data

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
    def _shape_by_level(self) -> Campaign:
        missing = [c for c in self.channel_preference if self.channels.content(c) is None]
        if missing or not self.channel_preference:
            raise ValueError(f"channels: no content for {', '.join(missing) or 'any channel'}")
        if self.level == Level.L4:
            if self.trigger is None or self.schedule is not None or self.entry is not None:
                raise ValueError("an L4 campaign needs a 'trigger' and no 'schedule'")
        elif self.entry is not None:
            if self.schedule is not None or self.trigger is not None or self.steps is None:
                raise ValueError("a segment entry is a journey's: 'steps', and no 'schedule' or 'trigger'")
        elif self.schedule is None or self.trigger is not None:
            raise ValueError(f"an {self.level} campaign needs a 'schedule' and no 'trigger'")
        if self.start and self.end and self.end <= self.start:
            raise ValueError("'end' must be after 'start'")
        if self.steps is not None:
            self._journey_shape()
            if self.variants is not None or self.experiment is not None:
                raise ValueError("a journey's variants belong on its send steps")
        elif self.goal is not None or self.exit_if:
            raise ValueError("'goal' and 'exit_if' belong to a journey: add 'steps'")
        check_variants(self.variants, self.experiment, "the campaign")
        for variant in self.variants or []:
            with_variant_content(self.channels, self.channel_preference, variant)
        return self

    def _journey_shape(self) -> None:
        from shared.campaigns.journey import FlowError

        trigger = self.trigger
        if trigger is not None and (
            trigger.delay or trigger.cancel_if or trigger.throttle or trigger.once_per_user
        ):
            raise ValueError(
                "a journey's trigger only enters it: use a 'wait' step for a delay, 'exit_if' for cancel_if "
                "and 'reentry' for throttle / once_per_user"
            )
        try:
            self.flow.check()
        except FlowError as error:
            raise ValueError(str(error)) from None

    @property
    def is_journey(self) -> bool:
        """A campaign written with ``steps`` (one without is the one-step journey, run as before)."""
        return self.steps is not None

    @cached_property
    def flow(self) -> Flow:
        """The steps; a campaign without ``steps`` is the one-step journey ``[send]``."""
        if self.steps is not None:
            return Flow(self.steps)
        return Flow(
            [
                SendStep(
                    id=ONE_STEP_ID,
                    channels=self.channels,
                    channel_preference=self.channel_preference,
                    variants=self.variants,
                    experiment=self.experiment,
                )
            ]
        )

    @cached_property
    def version(self) -> str:
        """A hash of the steps: an instance records the version it entered on (docs/journeys.md)."""
        steps = [s.model_dump(mode="json") for s in self.flow.steps]
        return hashlib.sha256(json.dumps(steps, sort_keys=True).encode()).hexdigest()[:12]

    @property
    def reentry_rule(self) -> tuple[Reentry, timedelta | None]:
        return parse_reentry(self.reentry)

    def ending_events(self) -> list[str]:
        """The events that end an instance wherever it is: the goal's, then ``exit_if``'s."""
        return [*([self.goal.event] if self.goal else []), *self.exit_if]

    def step_campaign(self, step_id: str) -> Campaign:
        """The campaign delivery decides a send step with: the step's content and caps, the rest the
        journey's (level, priority, holdout, conversion), so every delivery guard applies as to a campaign."""
        step = self.flow.step(step_id)
        if not isinstance(step, SendStep):
            raise ValueError(f"step {step_id!r} of {self.id} is not a send step")
        if not self.is_journey:
            return self
        return self.model_copy(
            update={
                "channels": step.channels,
                "channel_preference": step.channel_preference,
                "caps": step.caps or self.caps,
                "variants": step.variants,
                "experiment": step.experiment,
            }
        )

    def experiment_id(self, step_id: str | None) -> str:
        """The experiment of a send step (``campaign:step``): what a shopper's variant is drawn for."""
        return f"{self.id}:{step_id or ONE_STEP_ID}"

    def variant_campaign(self, variant_id: str) -> Campaign:
        """This campaign (or a send step's, see :meth:`step_campaign`) with ``variant_id``'s content."""
        variant = next((v for v in self.variants or [] if v.id == variant_id), None)
        if variant is None:
            known = ", ".join(v.id for v in self.variants or []) or "none"
            raise ValueError(f"{self.id} has no variant {variant_id!r} (variants: {known})")
        channels, order = with_variant_content(self.channels, self.channel_preference, variant)
        return self.model_copy(update={"channels": channels, "channel_preference": order})

    @cached_property
    def parsed_audience(self) -> Audience:
        """The rules, parsed once (they were checked against the vocabulary when the file was loaded)."""
        return Audience.parse(self.audience)

    def channel_order(self) -> list[Channel]:
        return list(dict.fromkeys(self.channel_preference))

    def is_active(self, at: datetime) -> bool:
        if not self.enabled:
            return False
        if self.start and at < self.start:
            return False
        return not (self.end and at >= self.end)


def campaign_json_schema() -> dict[str, Any]:
    """The JSON Schema of a campaign file, for editors (published as docs/campaign.schema.json)."""
    schema = Campaign.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/nudge/nudge/docs/campaign.schema.json",
        "title": "Nudge campaign",
        **schema,
    }


class VocabularyFile(Strict):
    """``campaigns/_vocabulary.yaml``: the event names and traits a shop sends beyond the built-in ones."""

    events: list[str] = Field(default_factory=list, description="Your own track event names.")
    traits: dict[str, str] = Field(
        default_factory=dict,
        description="Your own identify traits: name -> description. A description starting with "
        "'number', 'flag' or 'text' types the trait for audience rules, e.g. 'text: bronze, silver or gold'.",
    )

    @field_validator("events")
    @classmethod
    def _named(cls, events: list[str]) -> list[str]:
        for event in events:
            if not event.strip():
                raise ValueError("an event name cannot be empty")
        return events

    @field_validator("traits")
    @classmethod
    def _trait_names(cls, traits: dict[str, str]) -> dict[str, str]:
        import re

        for name in traits:
            if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
                raise ValueError(f"trait {name!r}: use lower_snake_case names, as templates read user.<name>")
        return traits

    def vocabulary(self) -> Vocabulary:
        return default_vocabulary().extended(self.traits, self.events)
