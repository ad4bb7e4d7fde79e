"""A real-time (L4) campaign's ``trigger:``: the event, its conditions, delay, cancellation, throttle and
repeat rule; and the EventBridge pattern it compiles into (``where`` conditions read into content filters,
validated as ``PutRule`` would). The trigger function that acts on it is :mod:`shared.triggers`."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from shared.campaigns.fields import Duration, EventName, Strict, known_event
from shared.catalog.announcements import DETAIL_TYPES, INTERNAL_EVENT_SOURCE, CatalogChangeKind
from shared.catalog.interest import DEFAULT_WINDOW, INTEREST_DAYS
from shared.core.durations import parse_duration

__all__ = ["IDENTIFY", "Repeat", "Trigger", "condition_filter"]


IDENTIFY = "identify"
CATALOG_EVENTS = frozenset(DETAIL_TYPES.values())  # a catalog trigger's event: the announced change
DEFAULT_MIN_PERCENT = 10
_CONDITION = re.compile(
    r"^\s*properties\.(?P<path>[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*)\s+"
    r"(?P<op>==|!=|>=|<=|>|<|in|exists)(?:\s+(?P<value>.+?))?\s*$"
)


def _known_trigger_event(name: str, info: ValidationInfo) -> str:
    return name if name == IDENTIFY or name in CATALOG_EVENTS else known_event(name, info)


TriggerEvent = Annotated[str, Field(min_length=1), AfterValidator(_known_trigger_event)]


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


class Repeat(Strict):
    """Fire only when the triggering event is the ``count``-th view of the same product within ``within``."""

    count: int = Field(ge=2, le=5, description="Views of the same product (5 at most are kept).")
    within: Duration = Field(description="Window ending at the triggering view, at most 48h.")

    @field_validator("within")
    @classmethod
    def _kept(cls, value: str) -> str:
        if parse_duration(value) > timedelta(hours=48):
            raise ValueError(f"{value}: product views are kept 48 hours")
        return value


class Trigger(Strict):
    """A real-time (L4) trigger: a behavioural event, when it happens, optionally after a delay."""

    event: TriggerEvent = Field(
        description="The Segment track event name, or 'identify' for an identify call (a catalog "
        "trigger's is set from its 'catalog')."
    )
    catalog: CatalogChangeKind | None = Field(
        default=None,
        description="A catalog trigger: price_drop or back_in_stock of a product the shopper viewed or "
        "carted within 'within' (docs/catalog.md, triggers).",
    )
    min_percent: float | None = Field(
        default=None, gt=0, lt=100, description="A price_drop trigger: the smallest drop, in percent (10)."
    )
    within: Duration | None = Field(
        default=None,
        description=f"A catalog trigger's interest window ({DEFAULT_WINDOW}, at most {INTEREST_DAYS}d).",
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

    @model_validator(mode="before")
    @classmethod
    def _catalog_event(cls, data: Any) -> Any:
        if isinstance(data, dict) and "catalog" in data and "event" not in data:
            try:
                return {**data, "event": CatalogChangeKind(data["catalog"]).detail_type}
            except ValueError:
                return data  # the field's own error names the kinds
        return data

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

        self._catalog_shape()
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

    def _catalog_shape(self) -> None:
        if self.catalog is None:
            if self.event in CATALOG_EVENTS or self.min_percent is not None or self.within is not None:
                raise ValueError("'min_percent' and 'within' belong to a catalog trigger: set 'catalog'")
            return
        if self.event != self.catalog.detail_type:
            raise ValueError(f"a catalog trigger's event is {self.catalog.detail_type!r}: leave 'event' out")
        if self.where or self.properties or self.repeat or self.cancel_if or self.delay:
            raise ValueError("a catalog trigger takes 'min_percent', 'within', 'throttle', 'once_per_user'")
        if self.min_percent is not None and self.catalog != CatalogChangeKind.PRICE_DROP:
            raise ValueError("'min_percent' is a price_drop trigger's")
        if self.interest_window > timedelta(days=INTEREST_DAYS):
            raise ValueError(f"within {self.within}: interest is kept {INTEREST_DAYS} days")

    @property
    def interest_window(self) -> timedelta:
        """How far back a catalog trigger's shoppers viewed or carted the product."""
        return parse_duration(self.within or DEFAULT_WINDOW)

    @property
    def drop_percent(self) -> Decimal:
        """A price_drop trigger's smallest drop."""
        return Decimal(str(self.min_percent if self.min_percent is not None else DEFAULT_MIN_PERCENT))

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
        if self.catalog is not None:
            wanted: dict[str, Any] = {"catalog": [str(self.catalog)]}
            if self.catalog == CatalogChangeKind.PRICE_DROP:
                least = self.drop_percent  # a whole number as one: JSON (and the template) write 10, not 10.0
                wanted["drop_percent"] = [
                    {"numeric": [">=", int(least) if least == int(least) else float(least)]}
                ]
            return {"source": [INTERNAL_EVENT_SOURCE], "detail-type": [self.event], "detail": wanted}
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
