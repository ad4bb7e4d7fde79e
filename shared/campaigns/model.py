"""Campaigns as code: the schema of ``campaigns/*.yaml`` and the catalog bundled with the Lambdas.

The same models validate a file in the CLI, at ``cdk synth`` (an invalid file fails synth with
the same message) and when a Lambda loads the catalog, so a campaign means one thing everywhere."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from shared.campaigns.audience.selection import Audience, AudienceRule
from shared.campaigns.audience.vocabulary import AudienceRuleError, Vocabulary, default_vocabulary
from shared.campaigns.policy import ChannelName, Limits
from shared.core.durations import CAMPAIGN_PATTERN, parse_duration
from shared.core.vocabulary import Channel, Level

__all__ = ["ChannelName", "Level", "Limits", "parse_duration"]


def _vocabulary(info: ValidationInfo) -> Vocabulary:
    """The vocabulary a file is checked against: the shop's own (passed as context) or the built-in one."""
    context = info.context if isinstance(info.context, dict) else {}
    vocabulary = context.get("vocabulary")
    return vocabulary if isinstance(vocabulary, Vocabulary) else default_vocabulary()


def _known_event(name: str, info: ValidationInfo) -> str:
    try:
        _vocabulary(info).check_event(name)
    except AudienceRuleError as error:
        raise ValueError(str(error)) from None
    return name


def _valid_rule(rule: str, info: ValidationInfo) -> str:
    try:
        AudienceRule.parse(rule, _vocabulary(info))
    except AudienceRuleError as error:
        raise ValueError(str(error)) from None
    except RecursionError:
        raise ValueError(f"{rule[:60]!r}...: nested too deeply to read") from None
    return rule


EventName = Annotated[str, Field(min_length=1), AfterValidator(_known_event)]


def _known_trigger_event(name: str, info: ValidationInfo) -> str:
    return name if name == "identify" else _known_event(name, info)


TriggerEvent = Annotated[str, Field(min_length=1), AfterValidator(_known_trigger_event)]
AudienceText = Annotated[
    str,
    Field(
        min_length=1,
        description="One audience rule, e.g. 'country in [ID, MY]', 'count(\"Product Viewed\", 7d) >= 3', "
        "'last(\"Order Completed\") older_than 60d', 'sum(revenue, 90d) > 100', "
        "'any(rfm.segment in [champions, loyal], purchase_propensity >= 0.6)'. See README.",
    ),
    AfterValidator(_valid_rule),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EmailContent(_Strict):
    """An email: the subject and an HTML body (inline, or ``html_file``), optionally a plain-text body.

    ``html_file`` / ``text_file`` are paths relative to the campaign file. The loader reads them and
    fills ``html`` / ``text``, so the catalog bundled with the Lambdas carries the templates themselves.
    """

    subject: str = Field(min_length=1, max_length=400)
    html: str | None = Field(default=None, min_length=1, description="Jinja template of the HTML body.")
    html_file: str | None = Field(
        default=None, description="Or: the HTML template's path, relative to the campaign file."
    )
    text: str | None = Field(default=None, description="Jinja template of the plain-text body.")
    text_file: str | None = Field(
        default=None, description="Or: the plain-text template's path, relative to the campaign file."
    )

    @model_validator(mode="after")
    def _body_given(self) -> EmailContent:
        if self.html is None:
            raise ValueError(
                "html_file is read by the campaign loader (nudge validate, cdk synth)"
                if self.html_file
                else "give the body as 'html' or 'html_file'"
            )
        if self.text is None and self.text_file:
            raise ValueError("text_file is read by the campaign loader (nudge validate, cdk synth)")
        return self


class PushContent(_Strict):
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=1000)
    deep_link: str | None = None


class InAppContent(_Strict):
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=4000)
    cta_label: str | None = None
    cta_url: str | None = None
    expires_after_days: int = Field(default=14, ge=1, le=365)


class Channels(_Strict):
    email: EmailContent | None = None
    push: PushContent | None = None
    in_app: InAppContent | None = None

    def content(self, channel: str) -> EmailContent | PushContent | InAppContent | None:
        value: EmailContent | PushContent | InAppContent | None = getattr(self, channel, None)
        return value


class Schedule(_Strict):
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


IDENTIFY = "identify"
_CONDITION = re.compile(
    r"^\s*properties\.(?P<path>[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*)\s+"
    r"(?P<op>==|!=|>=|<=|>|<|in|exists)(?:\s+(?P<value>.+?))?\s*$"
)


Duration = Annotated[str, Field(pattern=CAMPAIGN_PATTERN, description="e.g. 20m, 1h, 7d")]


def condition_filter(condition: str) -> tuple[list[str], list[Any]]:
    """``properties.total > 50`` → (path under ``detail.properties``, EventBridge content filter)."""
    match = _CONDITION.match(condition)
    if not match:
        raise ValueError(
            f"cannot read trigger condition {condition!r}: expected 'properties.NAME OP VALUE' "
            "with OP among ==, !=, >, >=, <, <=, in [..], exists"
        )
    path, op, raw = match["path"].split("."), match["op"], match["value"]
    if op == "exists":
        if raw:
            raise ValueError(f"'exists' takes no value in trigger condition {condition!r}")
        return path, [{"exists": True}]
    if not raw:
        raise ValueError(f"missing value after {op!r} in trigger condition {condition!r}")
    if op == "in":
        if not (raw.startswith("[") and raw.endswith("]")):
            raise ValueError(f"'in' needs a list like [a, b] in trigger condition {condition!r}")
        return path, [_condition_scalar(v) for v in raw[1:-1].split(",") if v.strip()]
    value = _condition_scalar(raw)
    if op in {">", ">=", "<", "<="}:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ValueError(f"{op!r} needs a number in trigger condition {condition!r}")
        return path, [{"numeric": [op, value]}]
    if op == "!=":
        return path, [{"anything-but": value}]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return path, [{"numeric": ["=", value]}]
    return path, [value]


def _condition_scalar(token: str) -> Any:
    token = token.strip()
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "\"'":
        return token[1:-1]
    if token.lower() in {"true", "false"}:
        return token.lower() == "true"
    for kind in (int, float):
        try:
            return kind(token)
        except ValueError:
            continue
    return token


class Repeat(_Strict):
    """Fire only when the triggering event is the ``count``-th view of the same product within ``within``."""

    count: int = Field(ge=2, le=5, description="Views of the same product (5 at most are kept).")
    within: Duration = Field(description="Window ending at the triggering view, at most 48h.")

    @field_validator("within")
    @classmethod
    def _kept(cls, value: str) -> str:
        if parse_duration(value) > timedelta(hours=48):
            raise ValueError(f"{value}: product views are kept 48 hours")
        return value


class Trigger(_Strict):
    """A real-time (L4) trigger: a behavioural event, when it happens, optionally after a delay."""

    event: TriggerEvent = Field(
        description="The Segment track event name, or 'identify' for an identify call."
    )
    where: list[str] = Field(
        default_factory=list,
        description="Conditions on the event's properties, e.g. 'properties.total > 150', "
        "'properties.category == shoes'; compiled into the EventBridge rule's pattern.",
    )
    properties: dict[str, Any] = Field(
        default_factory=dict,
        description="Raw EventBridge content filters on the event's properties, "
        "e.g. {total: [{numeric: ['>=', 100]}]}, for what 'where' cannot say.",
    )
    delay: Duration | None = Field(
        default=None, description="Wait this long after the event (a one-time schedule), e.g. 1h."
    )
    cancel_if: list[EventName] = Field(
        default_factory=list,
        description="Events that cancel the message if the shopper does them after the trigger "
        "(checked when the delay is over), e.g. [Order Completed].",
    )
    throttle: Duration | None = Field(
        default=None, description="At most one message of this campaign per shopper per this long (≤ 7d)."
    )
    once_per_user: bool = Field(default=False, description="Send at most once per shopper, ever (welcome).")
    repeat: Repeat | None = Field(
        default=None, description="Only when the same product was viewed this often (browse abandonment)."
    )

    @field_validator("properties")
    @classmethod
    def _json_filters(cls, properties: dict[str, Any]) -> dict[str, Any]:
        try:
            json.dumps(properties, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"an EventBridge content filter is JSON (text, numbers, lists): {error}"
            ) from None
        return properties

    @field_validator("where")
    @classmethod
    def _readable_conditions(cls, conditions: list[str]) -> list[str]:
        for condition in conditions:
            condition_filter(condition)
        return conditions

    @field_validator("delay")
    @classmethod
    def _readable_delay(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @field_validator("throttle")
    @classmethod
    def _throttle_within_ledger(cls, value: str | None) -> str | None:
        if value is not None and parse_duration(value) > timedelta(days=7):
            raise ValueError(f"{value}: the contact ledger keeps 7 days of sends; throttle at most 7d")
        return value

    @model_validator(mode="after")
    def _valid_pattern(self) -> Trigger:
        from shared.events.pattern_validation import validate_pattern

        if self.event == IDENTIFY and (self.where or self.properties or self.repeat):
            raise ValueError("an identify trigger has no properties to filter on or repeat")
        if self.repeat is not None and self.event != "Product Viewed":
            raise ValueError("'repeat' counts product views: it needs event 'Product Viewed'")
        if self.repeat is not None and self.delay is None:
            raise ValueError("'repeat' is checked when the delay is over: set a 'delay' (e.g. 1h)")
        if self.cancel_if and self.delay is None:
            raise ValueError("'cancel_if' is checked when the delay is over: set a 'delay'")
        if self.delay is not None and parse_duration(self.delay) > timedelta(days=365):
            raise ValueError(f"delay {self.delay}: at most 365d")
        validate_pattern(self.event_pattern())
        return self

    @property
    def delay_time(self) -> timedelta | None:
        return parse_duration(self.delay) if self.delay else None

    @property
    def throttle_time(self) -> timedelta | None:
        return parse_duration(self.throttle) if self.throttle else None

    def event_pattern(self) -> dict[str, Any]:
        """The EventBridge pattern of the campaign's rule: event type and name, and property filters."""
        if self.event == IDENTIFY:
            return {"detail": {"type": ["identify"]}}
        detail: dict[str, Any] = {"type": ["track"], "event": [self.event]}
        properties: dict[str, Any] = json.loads(json.dumps(self.properties))
        for condition in self.where:
            path, rule = condition_filter(condition)
            node = properties
            for part in path[:-1]:
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    raise ValueError(f"trigger condition {condition!r} conflicts with another filter")
            if path[-1] in node:
                raise ValueError(f"two filters on properties.{'.'.join(path)}: use one condition")
            node[path[-1]] = rule
        if properties:
            detail["properties"] = properties
        return {"detail": detail}


class Conversion(_Strict):
    """The goal: a shopper who does ``event`` within ``window_hours`` of the message converted."""

    event: EventName = "Order Completed"
    window_hours: int = Field(default=72, ge=1, le=24 * 30)


class Campaign(_Strict):
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


class VocabularyFile(_Strict):
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
