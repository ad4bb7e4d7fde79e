"""Campaigns as code: the schema of ``campaigns/*.yaml`` and the catalog bundled with the Lambdas.

The same models validate a file in the CLI, at ``cdk synth`` (an invalid file fails synth with
the same message) and when a Lambda loads the catalog, so a campaign means one thing everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shared.audience import Audience, AudienceRuleError
from shared.policy import DEFAULT_POLICY, ChannelName, DeliveryPolicy, Level, Limits

__all__ = ["ChannelName", "Level", "Limits"]

LEVELS: tuple[Level, ...] = ("L1", "L2", "L3", "L4")
CHANNELS: tuple[ChannelName, ...] = ("email", "push", "in_app")
CATALOG_FILE = "campaigns.json"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EmailContent(_Strict):
    subject: str = Field(min_length=1, max_length=400)
    html: str = Field(min_length=1)
    text: str | None = None


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
    """An EventBridge Scheduler expression, evaluated in ``timezone``."""

    expression: str
    timezone: str = "UTC"

    @model_validator(mode="after")
    def _valid_expression(self) -> Schedule:
        from shared.schedules import ScheduleExpression

        ScheduleExpression.parse(self.expression, self.timezone)
        return self


class Trigger(_Strict):
    """A real-time (L4) trigger: a track event, optionally filtered on its properties."""

    event: str = Field(min_length=1)
    properties: dict[str, Any] = Field(
        default_factory=dict,
        description="EventBridge content filters on the event's properties, "
        "e.g. {total: [{numeric: ['>=', 100]}]}",
    )

    @model_validator(mode="after")
    def _valid_pattern(self) -> Trigger:
        from shared.patterns import validate_pattern

        validate_pattern(self.event_pattern())
        return self

    def event_pattern(self) -> dict[str, Any]:
        detail: dict[str, Any] = {"type": ["track"], "event": [self.event]}
        if self.properties:
            detail["properties"] = self.properties
        return {"detail": detail}


class Conversion(_Strict):
    event: str = "Order Completed"
    window_hours: int = Field(default=72, ge=1, le=24 * 30)


class Campaign(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")
    name: str = Field(min_length=1)
    description: str | None = None
    level: Level
    channels: Channels = Field(description="Content per channel.")
    channel_preference: list[ChannelName] = Field(
        default_factory=list,
        description="The order channels are tried in (default: the order of 'channels' in the file); "
        "the first channel the shopper can receive is used.",
    )
    audience: list[str] = Field(default_factory=list)
    schedule: Schedule | None = None
    trigger: Trigger | None = None
    priority: int = Field(default=50, ge=0, le=100)
    holdout_percent: float = Field(default=0, ge=0, le=50)
    caps: Limits | None = Field(
        default=None,
        description="This campaign's own cap (per_day, per_week), replacing the policy's per-campaign one.",
    )
    conversion: Conversion = Field(default_factory=Conversion)
    start: datetime | None = None
    end: datetime | None = None
    enabled: bool = True

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

    @field_validator("audience")
    @classmethod
    def _parseable_audience(cls, rules: list[str]) -> list[str]:
        try:
            Audience.parse(rules)
        except AudienceRuleError as error:
            raise ValueError(str(error)) from None
        return rules

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
        return Audience.parse(self.audience)

    def channel_order(self) -> list[ChannelName]:
        return list(dict.fromkeys(self.channel_preference))

    def is_active(self, at: datetime) -> bool:
        if not self.enabled:
            return False
        if self.start and at < self.start:
            return False
        return not (self.end and at >= self.end)


class CampaignFileError(ValueError):
    """Every problem found in the campaign files, each as ``file:line: message``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class Catalog:
    """The set of campaigns a deployment runs, keyed by id."""

    def __init__(self, campaigns: list[Campaign], policy: DeliveryPolicy = DEFAULT_POLICY) -> None:
        self._by_id = {c.id: c for c in campaigns}
        self.policy = policy

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
                "campaigns": [c.model_dump(mode="json") for c in self],
            },
            indent=1,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> Catalog:
        data = json.loads(text)
        return cls(
            [Campaign.model_validate(c) for c in data["campaigns"]],
            DeliveryPolicy.model_validate(data["policy"]),
        )

    @classmethod
    def load_bundled(cls, directory: Path) -> Catalog:
        """What a Lambda loads at cold start: the JSON compiled at synth (no YAML parser needed)."""
        return cls.from_json((directory / CATALOG_FILE).read_text())


def _key_lines(text: str) -> dict[str, int]:
    import yaml

    lines: dict[str, int] = {}
    node = yaml.compose(text)
    if isinstance(node, yaml.MappingNode):
        for key, _ in node.value:
            lines[str(key.value)] = key.start_mark.line + 1
    return lines


Model = TypeVar("Model", bound=BaseModel)


def load_campaign_file(path: Path) -> Campaign:
    """Parse and validate one campaign file; raise :class:`CampaignFileError` with positions."""
    return validate_yaml_file(path, Campaign)


def validate_yaml_file(path: Path, model: type[Model]) -> Model:
    """Parse ``path`` and validate it as ``model``; every problem is reported as ``file:line: message``."""
    import yaml

    text = path.read_text()
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise CampaignFileError([f"{path}:{line}: invalid YAML: {error}"]) from None
    if not isinstance(data, dict):
        raise CampaignFileError([f"{path}:1: the file must be a mapping of fields"])
    try:
        return model.model_validate(data)
    except ValidationError as error:
        lines = _key_lines(text)
        problems = []
        for item in error.errors(include_url=False):
            loc = [str(p) for p in item["loc"]]
            line = lines.get(loc[0], 1) if loc else 1
            where = ".".join(loc) or "campaign"
            problems.append(f"{path}:{line}: {where}: {item['msg']}")
        raise CampaignFileError(problems) from None


def load_campaign_dir(directory: Path) -> Catalog:
    """Every ``*.yaml`` / ``*.yml`` file in ``directory`` (``_policy.yaml`` is the delivery policy, other
    files starting with ``_`` are ignored); all problems are reported together."""
    from shared.policy import load_policy

    campaigns: list[Campaign] = []
    problems: list[str] = []
    seen: dict[str, Path] = {}
    policy = DEFAULT_POLICY
    try:
        policy = load_policy(directory)
    except CampaignFileError as error:
        problems.extend(error.problems)
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        if path.name.startswith("_"):
            continue
        try:
            campaign = load_campaign_file(path)
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
    return Catalog(campaigns, policy)
