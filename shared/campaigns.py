"""Campaigns as code: the schema of ``campaigns/*.yaml`` and the catalog bundled with the Lambdas.

The same models validate a file in the CLI, at ``cdk synth`` (an invalid file fails synth with
the same message) and when a Lambda loads the catalog, so a campaign means one thing everywhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from shared.audience import Audience, AudienceRule, AudienceRuleError, Vocabulary, default_vocabulary
from shared.policy import DEFAULT_POLICY, ChannelName, DeliveryPolicy, Level, Limits

__all__ = ["ChannelName", "Level", "Limits"]

LEVELS: tuple[Level, ...] = ("L1", "L2", "L3", "L4")
CHANNELS: tuple[ChannelName, ...] = ("email", "push", "in_app")
CATALOG_FILE = "campaigns.json"
VOCABULARY_FILE = "_vocabulary.yaml"


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
        from shared.schedules import ScheduleExpression

        ScheduleExpression.parse("rate(1 day)", value)
        return value

    @field_validator("expression")
    @classmethod
    def _valid_expression(cls, value: str, info: ValidationInfo) -> str:
        from shared.schedules import ScheduleExpression

        if isinstance(info.data.get("timezone"), str):
            ScheduleExpression.parse(value, info.data["timezone"])
        return value


IDENTIFY = "identify"
_DURATION = re.compile(r"^\s*(\d+)\s*(m|h|d)\s*$")
_DURATION_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
_CONDITION = re.compile(
    r"^\s*properties\.(?P<path>[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*)\s+"
    r"(?P<op>==|!=|>=|<=|>|<|in|exists)(?:\s+(?P<value>.+?))?\s*$"
)


def parse_duration(text: str) -> timedelta:
    """``30m``, ``1h``, ``7d`` → a timedelta; anything else is a ValueError naming the text."""
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"{text!r} is not a duration like 30m, 1h or 7d")
    try:
        return timedelta(**{_DURATION_UNITS[match[2]]: int(match[1])})
    except OverflowError:
        raise ValueError(f"{text!r} is longer than any duration Nudge can wait") from None


Duration = Annotated[str, Field(pattern=r"^\s*\d+\s*[mhd]\s*$", description="e.g. 20m, 1h, 7d")]


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
        from shared.patterns import validate_pattern

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
    channel_preference: list[ChannelName] = Field(
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
        if self.level == "L4":
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

    def channel_order(self) -> list[ChannelName]:
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


class CampaignFileError(ValueError):
    """Every problem found in the campaign files, each as ``file:line: message``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


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


class Catalog:
    """The set of campaigns a deployment runs, keyed by id, with the delivery policy and vocabulary."""

    def __init__(
        self,
        campaigns: list[Campaign],
        policy: DeliveryPolicy = DEFAULT_POLICY,
        custom: VocabularyFile | None = None,
        origins: dict[str, Path] | None = None,
    ) -> None:
        self._by_id = {c.id: c for c in campaigns}
        self.policy = policy
        self.custom = custom or VocabularyFile()
        self.origins = origins or {}  # campaign id -> the file it was read from (not bundled)

    @property
    def vocabulary(self) -> Vocabulary:
        return self.custom.vocabulary()

    def __iter__(self) -> Iterator[Campaign]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, campaign_id: str) -> Campaign | None:
        return self._by_id.get(campaign_id)

    def to_json(self) -> str:
        return json.dumps(
            {
                "policy": self.policy.model_dump(mode="json"),
                "vocabulary": self.custom.model_dump(mode="json"),
                "campaigns": [c.model_dump(mode="json") for c in self],
            },
            indent=1,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> Catalog:
        data = json.loads(text)
        custom = VocabularyFile.model_validate(data.get("vocabulary", {}))
        context = {"vocabulary": custom.vocabulary()}
        return cls(
            [Campaign.model_validate(c, context=context) for c in data["campaigns"]],
            DeliveryPolicy.model_validate(data["policy"]),
            custom,
        )

    @classmethod
    def load_bundled(cls, directory: Path) -> Catalog:
        """What a Lambda loads at cold start: the JSON compiled at synth (no YAML parser needed)."""
        return cls.from_json((directory / CATALOG_FILE).read_text())


Model = TypeVar("Model", bound=BaseModel)
Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class _Source:
    """A parsed YAML file: its data and the line of every key and list item, by path."""

    path: Path
    text: str
    data: Any
    lines: dict[Path_, int]
    nodes: dict[Path_, Any]

    def line(self, loc: Sequence[str | int]) -> int:
        """The line of the deepest part of ``loc`` that exists in the file (1 if none does)."""
        key = tuple(loc)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return 1


# A campaign file is a few dozen values; these bound what YAML aliases and nesting can make of one.
MAX_YAML_VALUES = 20_000
MAX_YAML_DEPTH = 32


def _yaml_problem(path: Path, text: str, error: Exception) -> CampaignFileError:
    """One line: ``file:line: invalid YAML: what`` (PyYAML's own message spans several)."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    position = getattr(error, "position", None)  # a ReaderError (a character YAML does not allow)
    if mark is not None:
        line = mark.line + 1
    else:
        line = text.count("\n", 0, position) + 1 if isinstance(position, int) else 1
    what = " ".join(str(p) for p in (getattr(error, "context", None), getattr(error, "problem", None)) if p)
    return CampaignFileError([f"{path}:{line}: invalid YAML: {what or str(error).splitlines()[0]}"])


def _read_yaml(path: Path) -> _Source:
    import yaml

    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        problem = f"the file is not UTF-8 text (byte 0x{raw[error.start]:02x} at position {error.start})"
        raise CampaignFileError([f"{path}:1: {problem}"]) from None
    try:
        loader = yaml.SafeLoader(text)  # composed once, then constructed from the same nodes
        root = loader.get_single_node()
    except yaml.YAMLError as error:
        raise _yaml_problem(path, text, error) from None
    except RecursionError:
        raise CampaignFileError([f"{path}:1: invalid YAML: nested too deeply"]) from None
    lines: dict[Path_, int] = {}
    nodes: dict[Path_, Any] = {}
    # Iterative, with the ancestors of each node, so that a recursive alias, an alias "bomb" or deep
    # nesting is reported instead of exhausting the stack or the CPU.
    pending: list[tuple[Any, Path_, tuple[int, ...]]] = [(root, (), ())]
    while pending:
        node, at, ancestors = pending.pop()
        line = node.start_mark.line + 1 if node is not None else 1
        if id(node) in ancestors:
            raise CampaignFileError([f"{path}:{line}: invalid YAML: an alias refers to itself"])
        if len(nodes) >= MAX_YAML_VALUES:
            raise CampaignFileError(
                [f"{path}:{line}: invalid YAML: more than {MAX_YAML_VALUES} values (aliases repeated?)"]
            )
        if len(at) > MAX_YAML_DEPTH:
            raise CampaignFileError(
                [f"{path}:{line}: invalid YAML: nested deeper than {MAX_YAML_DEPTH} levels"]
            )
        nodes[at] = node
        inside = (*ancestors, id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                here = (*at, str(key.value))
                lines[here] = key.start_mark.line + 1
                pending.append((value, here, inside))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines[(*at, index)] = item.start_mark.line + 1
                pending.append((item, (*at, index), inside))
    try:
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as error:
        raise _yaml_problem(path, text, error) from None
    except ValueError as error:  # e.g. an integer of more than 4,300 digits
        raise CampaignFileError([f"{path}:1: invalid YAML: {str(error).split(';')[0]}"]) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise CampaignFileError([f"{path}:1: the file must be a mapping of fields"])
    return _Source(path, text, data, lines, nodes)


def field_line(path: Path, loc: Sequence[str | int]) -> int:
    """The line of ``loc`` (e.g. ``("schedule", "expression")``) in a campaign file that loads."""
    return _read_yaml(path).line(loc)


def _field_name(part: str | int) -> str:
    """A field as the problem names it: as written, or quoted when it has spaces or odd characters."""
    text = str(part)
    return text if re.fullmatch(r"[\w-]+", text) else repr(text)


def _problems(source: _Source, error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors(include_url=False):
        loc = [p for p in item["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
        where = ".".join(_field_name(p) for p in loc) or "campaign"
        message = item["msg"].removeprefix("Value error, ").replace("\n", " ")
        problems.append(f"{source.path}:{source.line(loc)}: {where}: {message}")
    return problems


def validate_yaml_file(path: Path, model: type[Model], context: dict[str, Any] | None = None) -> Model:
    """Parse ``path`` and validate it as ``model``; every problem is reported as ``file:line: message``."""
    source = _read_yaml(path)
    try:
        return model.model_validate(source.data, context=context)
    except ValidationError as error:
        raise CampaignFileError(_problems(source, error)) from None


def load_campaign_file(path: Path, vocabulary: Vocabulary | None = None) -> Campaign:
    """Parse and validate one campaign file and its templates; raise :class:`CampaignFileError`.

    Template files (``html_file``, ``text_file``) are read and inlined, template syntax and the
    variables templates use are checked, and every problem names its file and line.
    """
    from shared.template_check import check_campaign_templates

    vocabulary = vocabulary or default_vocabulary()
    source = _read_yaml(path)
    problems: list[str] = []
    origins = _inline_template_files(source, problems)
    problems += check_campaign_templates(
        source.data, vocabulary, lambda loc: origins.get(loc) or _inline(source, loc)
    )
    try:
        campaign = Campaign.model_validate(source.data, context={"vocabulary": vocabulary})
    except ValidationError as error:
        raise CampaignFileError(sorted(problems + _problems(source, error), key=_position)) from None
    if problems:
        raise CampaignFileError(sorted(problems, key=_position))
    return campaign


def _position(problem: str) -> tuple[str, int]:
    file, line, _ = problem.split(":", 2)
    return file, int(line) if line.isdigit() else 0


TEMPLATE_FILE_FIELDS = {"html_file": "html", "text_file": "text"}


def _inline_template_files(source: _Source, problems: list[str]) -> dict[Path_, tuple[Path, int]]:
    """Read each ``*_file`` template into its field; returns where each inlined template came from."""
    origins: dict[Path_, tuple[Path, int]] = {}
    channels = source.data.get("channels")
    email = channels.get("email") if isinstance(channels, dict) else None
    if not isinstance(email, dict):
        return origins
    for file_field, field in TEMPLATE_FILE_FIELDS.items():
        name = email.get(file_field)
        loc: Path_ = ("channels", "email", file_field)
        if name is None:
            continue
        where = f"{source.path}:{source.line(loc)}: channels.email.{file_field}"
        if field in email:
            problems.append(f"{where}: give either '{field}' or '{file_field}', not both")
            continue
        if not isinstance(name, str) or not name.strip():
            continue  # the model reports the type
        base = source.path.parent.resolve()
        template = (base / name).resolve()
        if Path(name).is_absolute() or not template.is_relative_to(base):
            problems.append(f"{where}: {name!r} must be a path inside {base.name}/ (relative to this file)")
            continue
        try:
            email[field] = template.read_text()
        except OSError as error:
            problems.append(f"{where}: cannot read {name!r}: {error.strerror or error}")
            continue
        origins[("channels", "email", field)] = (template, 1)
    return origins


def _inline(source: _Source, loc: Path_) -> tuple[Path, int]:
    """Where the first line of an inline template is: the next line for a block scalar (| or >)."""
    import yaml

    node = source.nodes.get(loc)
    if isinstance(node, yaml.ScalarNode):
        first = node.start_mark.line + 1
        return source.path, first + 1 if node.style in ("|", ">") else first
    return source.path, source.line(loc)


def load_vocabulary(directory: Path) -> VocabularyFile:
    """``directory/_vocabulary.yaml`` if present, else nothing beyond the built-in vocabulary."""
    path = directory / VOCABULARY_FILE
    return validate_yaml_file(path, VocabularyFile) if path.exists() else VocabularyFile()


def load_campaign_dir(directory: Path) -> Catalog:
    """Every ``*.yaml`` / ``*.yml`` file in ``directory`` (``_policy.yaml`` is the delivery policy,
    ``_vocabulary.yaml`` the shop's own events and traits, other files starting with ``_`` are
    ignored); all problems are reported together."""
    from shared.policy import load_policy

    campaigns: list[Campaign] = []
    problems: list[str] = []
    seen: dict[str, Path] = {}
    policy = DEFAULT_POLICY
    custom = VocabularyFile()
    try:
        policy = load_policy(directory)
    except CampaignFileError as error:
        problems.extend(error.problems)
    try:
        custom = load_vocabulary(directory)
    except CampaignFileError as error:
        problems.extend(error.problems)
    vocabulary = custom.vocabulary()
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        if path.name.startswith("_"):
            continue
        try:
            campaign = load_campaign_file(path, vocabulary)
        except CampaignFileError as error:
            problems.extend(error.problems)
            continue
        if campaign.id in seen:
            problems.append(f"{path}:1: id: {campaign.id!r} is already used by {seen[campaign.id]}")
            continue
        seen[campaign.id] = path
        campaigns.append(campaign)
    if problems:
        raise CampaignFileError(problems)
    return Catalog(campaigns, policy, custom, origins=seen)
