"""The event contract: a Segment-Spec payload carried as the EventBridge ``detail``.

Apps already tracked with Segment or RudderStack can forward to the bus unchanged, so the
contract is Segment's, not ours: unknown event names and extra fields are kept, and only what
Nudge cannot work without (a type, an id, a user, a time) is required. What trackers send is read
as they send it (docs/events.md): an identify's ``context.traits`` are its traits (RudderStack puts
them there), numeric ids are text, and an event without ``timestamp`` (RudderStack's SDKs send
``originalTimestamp``) takes its time from ``originalTimestamp``, else from the EventBridge event.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from shared.core.errors import EventRejected
from shared.core.identity import anonymous_profile_id, reserved_id_problem

SEGMENT_TYPES = ("track", "identify", "page", "screen", "group", "alias")
MAX_ID_LENGTH = 256
MAX_EVENT_NAME_LENGTH = 200
# Events whose timestamps are this far ahead of the clock are device-clock bugs, whatever the traffic.
MAX_FUTURE_SKEW = timedelta(days=1)
# The live-traffic age limit: an event on the bus happens now, so one dated more than five years before
# the clock is a device-clock bug or a replay, not a shopper's behaviour. History is loaded with
# ``nudge import`` (BACKFILL), which has no age limit.
LIVE_TRAFFIC_MAX_AGE = timedelta(days=365 * 5)
# EventBridge refuses entries over 256 KB, so a bigger body did not come from the bus. Nesting is
# bounded well inside what DynamoDB stores (32 levels) and what Python's parsers recurse through.
MAX_EVENT_BYTES = 256 * 1024
MAX_NESTING = 16
# Ids end up in signed links, tags, headers and logs: a control character or a line break in one is
# never a real id (and was how one unsubscribe link could sign another shopper's).
_ID_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


@dataclass(frozen=True)
class TimePolicy:
    """How far from the clock an event's time may be: ahead by ``max_future_skew`` at most, and behind by
    ``max_age`` at most (None: any age)."""

    name: str
    max_future_skew: timedelta
    max_age: timedelta | None


LIVE_TRAFFIC = TimePolicy("live traffic", MAX_FUTURE_SKEW, LIVE_TRAFFIC_MAX_AGE)
BACKFILL = TimePolicy("backfill", MAX_FUTURE_SKEW, None)


class TimestampSource(StrEnum):
    """Where an event's time was read from, in the order they are tried."""

    TIMESTAMP = "timestamp"
    ORIGINAL_TIMESTAMP = "originalTimestamp"
    BUS_TIME = "bus time"  # the EventBridge event's ``time``: when PutEvents accepted it


_WHERE = {
    TimestampSource.TIMESTAMP: "detail.timestamp",
    TimestampSource.ORIGINAL_TIMESTAMP: "detail.originalTimestamp",
    TimestampSource.BUS_TIME: "time",
}


class SegmentEvent(BaseModel):
    """One Segment call (track / identify / page / screen / group / alias)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    type: Literal["track", "identify", "page", "screen", "group", "alias"]
    event: str | None = Field(default=None, min_length=1, max_length=MAX_EVENT_NAME_LENGTH)
    user_id: str | None = Field(default=None, alias="userId", min_length=1, max_length=MAX_ID_LENGTH)
    anonymous_id: str | None = Field(
        default=None, alias="anonymousId", min_length=1, max_length=MAX_ID_LENGTH
    )
    message_id: str = Field(alias="messageId", min_length=1, max_length=MAX_ID_LENGTH)
    timestamp: datetime
    name: str | None = Field(default=None, max_length=MAX_EVENT_NAME_LENGTH)
    properties: dict[str, Any] = Field(default_factory=dict)
    traits: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)
    _timestamp_source: TimestampSource = PrivateAttr(default=TimestampSource.TIMESTAMP)

    @model_validator(mode="before")
    @classmethod
    def _identify_traits_from_context(cls, data: Any) -> Any:
        """An identify's ``context.traits`` are its traits (RudderStack sends them there); top-level
        ``traits`` win on conflict."""
        if not isinstance(data, dict) or data.get("type") != "identify":
            return data
        context = data.get("context")
        if not isinstance(context, dict) or not isinstance(context.get("traits"), dict):
            return data
        traits = data.get("traits")
        if traits is not None and not isinstance(traits, dict):
            return data  # refused as it is
        rest = {k: v for k, v in context.items() if k != "traits"}
        return {**data, "traits": {**context["traits"], **(traits or {})}, "context": rest}

    @field_validator("user_id", "anonymous_id", "message_id", mode="before")
    @classmethod
    def _whole_numbers_as_text(cls, value: Any) -> Any:
        """Trackers send a shop's numeric database ids as JSON numbers: they are the same id as text."""
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("user_id", "anonymous_id", "message_id")
    @classmethod
    def _no_control_characters(cls, value: str | None) -> str | None:
        found = _ID_CONTROL.search(value) if value else None
        if found:
            raise ValueError(f"holds the control character U+{ord(found.group()):04X} at {found.start()}")
        return value

    @field_validator("user_id")
    @classmethod
    def _not_reserved(cls, value: str | None) -> str | None:
        problem = reserved_id_problem(value) if value is not None else None
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("timestamp")
    @classmethod
    def _aware_utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValueError(f"{value.isoformat()} is outside the years 1 to 9999 in UTC") from None

    @model_validator(mode="after")
    def _required_by_type(self) -> SegmentEvent:
        if self.type == "track" and not self.event:
            raise ValueError("a track call needs 'event' (the event name)")
        if not self.user_id and not self.anonymous_id:
            raise ValueError("needs 'userId' or 'anonymousId'")
        return self

    @property
    def timestamp_source(self) -> TimestampSource:
        """Which field the event's time was read from (see :func:`parse_detail`)."""
        return self._timestamp_source

    @property
    def context_traits(self) -> Mapping[str, Any]:
        """The traits a track, page or screen call carries in ``context.traits`` (the device's last
        identify); an identify's are already its ``traits``."""
        traits = self.context.get("traits")
        return traits if isinstance(traits, dict) else {}

    @property
    def profile_id(self) -> str:
        """The profile this event belongs to; anonymous visitors get their own profile."""
        return self.user_id if self.user_id else anonymous_profile_id(str(self.anonymous_id))

    @property
    def behaviour_name(self) -> str:
        """The name aggregates are counted under: the track event name, else the call type."""
        if self.type == "track" and self.event:
            return self.event
        return {"page": "Page Viewed", "screen": "Screen Viewed"}.get(self.type, self.type)


def describe_validation_error(error: ValidationError) -> str:
    """One line naming every bad field, e.g. ``detail.messageId: Field required``."""
    parts = []
    for item in error.errors(include_url=False):
        location = ".".join(str(p) for p in item["loc"] if p not in {"function-after"})
        prefix = f"detail.{location}" if location else "detail"
        parts.append(f"{prefix}: {item['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


_PLAIN_KEY = re.compile(r"[\w-]{1,40}")


def _where(path: tuple[str | int, ...]) -> str:
    """``detail.properties.items[3]["a key"]``: printable, one line, whatever the keys hold."""
    parts = []
    for part in path[:8]:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        elif _PLAIN_KEY.fullmatch(part):
            parts.append(f".{part}")
        else:
            shown = "".join(
                c if c.isprintable() and c not in '"\\' else f"\\u{ord(c):04x}" for c in part[:40]
            )
            parts.append(f'["{shown}"]')
    return "detail" + "".join(parts) + ("..." if len(path) > 8 else "")


def _check_values(detail: dict[str, Any]) -> None:
    """Reject what JSON lets Python hold but nothing downstream can store or send: nesting past
    ``MAX_NESTING`` and text that is not Unicode (lone surrogates such as ``\\ud800``). Iterative, so a
    hostile payload cannot exhaust the stack. (NaN and Infinity are kept here and dropped where stored.)"""
    if _clean(detail):
        return
    pending: list[tuple[tuple[str | int, ...], Any]] = [((), detail)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, dict | list) and len(path) > MAX_NESTING:
            raise EventRejected(f"{_where(path)}: nested deeper than {MAX_NESTING} levels")
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and not _is_unicode(key):
                    raise EventRejected(f"{_where(path)}: a key is not valid Unicode (lone surrogate)")
                pending.append(((*path, key), item))
        elif isinstance(value, list):
            pending.extend(((*path, i), item) for i, item in enumerate(value))
        elif isinstance(value, str) and not _is_unicode(value):
            raise EventRejected(f"{_where(path)}: not valid Unicode (lone surrogate)")


def _clean(value: Any, depth: int = 0) -> bool:
    """The common case, quickly: nothing too deep, no lone surrogate (the slow pass names the field).
    Recursive, but never deeper than MAX_NESTING + 1 calls."""
    kind = type(value)
    if kind is str:
        return value.isascii() or _is_unicode(value)
    if kind is dict:
        if depth > MAX_NESTING:
            return False
        for key, item in value.items():
            if not (type(key) is not str or key.isascii() or _is_unicode(key)):
                return False
            if type(item) in _SIMPLE:
                continue
            if not _clean(item, depth + 1):
                return False
        return True
    if kind is list:
        if depth > MAX_NESTING:
            return False
        return all(type(item) in _SIMPLE or _clean(item, depth + 1) for item in value)
    return True


_SIMPLE = frozenset({int, float, bool, type(None)})


def _is_unicode(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _timed(detail: dict[str, Any], bus_time: object) -> tuple[dict[str, Any], TimestampSource]:
    """``detail`` with the time it is to be read at in ``timestamp``: its own, else ``originalTimestamp``,
    else the EventBridge event's ``time``; and which one that was."""
    if detail.get("timestamp") is not None:
        return detail, TimestampSource.TIMESTAMP
    if detail.get("originalTimestamp") is not None:
        return {**detail, "timestamp": detail["originalTimestamp"]}, TimestampSource.ORIGINAL_TIMESTAMP
    if bus_time is not None:
        return {**detail, "timestamp": bus_time}, TimestampSource.BUS_TIME
    return {k: v for k, v in detail.items() if k != "timestamp"}, TimestampSource.TIMESTAMP


def _time_problem(reason: str, source: TimestampSource) -> str:
    """A validation reason that names the field the time was really read from."""
    if reason.startswith("detail.timestamp: Field required"):
        return reason.replace(
            "detail.timestamp: Field required",
            "detail.timestamp: Field required (nor 'originalTimestamp', nor the EventBridge event's 'time')",
            1,
        )
    return reason.replace("detail.timestamp:", f"{_WHERE[source]}:")


def parse_detail(
    detail: Any, now: datetime | None = None, *, policy: TimePolicy = LIVE_TRAFFIC, bus_time: object = None
) -> SegmentEvent:
    """Validate one EventBridge ``detail``; raise :class:`EventRejected` with a precise reason.

    ``bus_time``: the EventBridge event's ``time``, the event's time when the detail has neither
    ``timestamp`` nor ``originalTimestamp``. With ``now``, the time must be within ``policy``'s bounds
    of it (LIVE_TRAFFIC for the bus; BACKFILL for ``nudge import``)."""
    if not isinstance(detail, dict):
        raise EventRejected(f"detail: expected a JSON object, got {type(detail).__name__}")
    _check_values(detail)
    timed, source = _timed(detail, bus_time)
    try:
        event = SegmentEvent.model_validate(timed)
    except ValidationError as error:
        raise EventRejected(_time_problem(describe_validation_error(error), source)) from None
    event._timestamp_source = source
    if now is not None:
        where, at = _WHERE[source], event.timestamp.isoformat()
        if event.timestamp > now + policy.max_future_skew:
            raise EventRejected(f"{where}: {at} is in the future")
        if policy.max_age is not None and event.timestamp < now - policy.max_age:
            raise EventRejected(
                f"{where}: {at} is too old for {policy.name} (more than {policy.max_age.days // 365} years "
                f"before the clock, the {policy.name.replace(' ', '-')} age limit): load history with "
                "`nudge import`"
            )
    return event


def as_received(event: SegmentEvent, received_at: datetime) -> SegmentEvent:
    """``event`` with its time clamped to when Nudge received it: a device clock ahead of ours (up to
    the day parse_detail accepts) must not make "days since" negative, an order land tomorrow, or a
    delayed message wait for a time that has not come (ingest and the trigger path both use this)."""
    if event.timestamp <= received_at:
        return event
    return event.model_copy(update={"timestamp": received_at})


def event_json_schema() -> dict[str, Any]:
    """The JSON Schema app teams validate against (published as docs/event.schema.json)."""
    schema = SegmentEvent.model_json_schema(by_alias=True, mode="validation")
    # What parse_detail reads beyond the model: the time from originalTimestamp (or, on the bus, from the
    # EventBridge event), and ids sent as whole numbers.
    schema["required"] = [name for name in schema["required"] if name != "timestamp"]
    schema["anyOf"] = [{"required": ["timestamp"]}, {"required": ["originalTimestamp"]}]
    properties = schema["properties"]
    properties["originalTimestamp"] = {
        "format": "date-time",
        "type": "string",
        "title": "Originaltimestamp",
        "description": "The event's time when it has no 'timestamp' (RudderStack's SDKs send this).",
    }
    for name in ("userId", "anonymousId", "messageId"):
        field = properties[name]
        if "anyOf" not in field:  # messageId: required, so a plain string
            field["anyOf"] = [{k: field.pop(k) for k in ("maxLength", "minLength", "type")}]
        field["anyOf"].insert(1, {"type": "integer"})
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Nudge event (Segment-Spec payload in the EventBridge detail)"
    return schema
