"""Campaigns as code: the schema of ``campaigns/*.yaml`` and the catalog bundled with the Lambdas.

The same models validate a file in the CLI, at ``cdk synth`` (an invalid file fails synth with
the same message) and when a Lambda loads the catalog, so a campaign means one thing everywhere.

Here: the campaign itself, its schedule, its conversion goal, the shop's vocabulary file. Its parts
live beside it: what it says per channel (:mod:`shared.campaigns.content`), an L4 trigger and the
EventBridge pattern it compiles into (:mod:`shared.campaigns.trigger`), and the checked names, rules
and durations they are made of (:mod:`shared.campaigns.fields`)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from shared.campaigns.audience.selection import Audience
from shared.campaigns.audience.vocabulary import Vocabulary, default_vocabulary
from shared.campaigns.content import Channels
from shared.campaigns.fields import AudienceText, EventName, Strict
from shared.campaigns.policy import ChannelName, Limits
from shared.campaigns.trigger import Trigger
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

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        """A time without a zone (or a bare date) is read as UTC, so start and end always compare."""
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value

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
            if self.trigger is None or self.schedule is not None:
                raise ValueError("an L4 campaign needs a 'trigger' and no 'schedule'")
        elif self.schedule is None or self.trigger is not None:
            raise ValueError(f"an {self.level} campaign needs a 'schedule' and no 'trigger'")
        if self.start and self.end and self.end <= self.start:
            raise ValueError("'end' must be after 'start'")
        return self

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
