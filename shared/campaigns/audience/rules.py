"""The parsed rule: comparisons, counts, sums and recency over a shopper's facts, combined with
and / or / not, each checked against the vocabulary and evaluated against one profile."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from shared.campaigns.audience.vocabulary import (
    CATEGORY_EVENTS,
    DAY_WINDOW_LIMIT,
    KEYWORDS,
    ORDER_EVENT,
    ORDER_WINDOW_LIMIT,
    RECENCY_OPERATORS,
    SUM_MEASURES,
    AudienceRuleError,
    Kind,
    Vocabulary,
)
from shared.core.durations import UNITS

if TYPE_CHECKING:
    from shared.profiles.profile import Profile


@dataclass(frozen=True)
class Duration:
    amount: int
    unit: str

    @property
    def delta(self) -> timedelta:
        return self.amount * UNITS[self.unit]

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"


def _format_value(value: Any) -> str:
    if isinstance(value, Duration):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-/+]*", value) and value.lower() not in KEYWORDS:
            return value
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple):
        return "[" + ", ".join(_format_value(v) for v in value) + "]"
    return repr(value)


def _folded(value: Any) -> Any:
    if isinstance(value, str):
        return value.casefold()
    if isinstance(value, tuple):
        return tuple(_folded(v) for v in value)
    return value


def _compare(operator: str, actual: Any, expected: Any) -> bool:
    if actual is None:
        return operator in ("!=", "not in")
    if isinstance(actual, str):
        actual, expected = actual.casefold(), _folded(expected)
    try:
        match operator:
            case "==":
                return bool(actual == expected)
            case "!=":
                return bool(actual != expected)
            case ">=":
                return bool(actual >= expected)
            case "<=":
                return bool(actual <= expected)
            case ">":
                return bool(actual > expected)
            case "<":
                return bool(actual < expected)
            case "in":
                return actual in expected
            case "not in":
                return actual not in expected
            case "between":
                low, high = expected
                return bool(low <= actual <= high)
    except TypeError:  # a trait of another type than the rule expects (e.g. a shop's own untyped trait)
        return operator in ("!=", "not in")
    raise AudienceRuleError(f"unsupported operator {operator!r}")


# -- the facts a rule reads --------------------------------------------------------------------------
class ShopperFacts:
    """One shopper at one instant, as rules see it; aggregates are computed on first use."""

    def __init__(self, profile: Profile, now: datetime) -> None:
        self.profile = profile
        self.now = now

    @cached_property
    def view(self) -> Mapping[str, Any]:
        from shared.profiles.profile import audience_view

        return audience_view(self.profile, self.now)

    def attribute(self, name: str) -> Any:
        return self.view.get(name)

    def count(self, event: str, days: int, categories: tuple[str, ...] | None, negate: bool) -> int:
        if categories is None:
            if event == ORDER_EVENT and days > DAY_WINDOW_LIMIT:
                return self.profile.orders_in(days, self.now)[0]
            return self.profile.count(event, days, self.now)
        return self.profile.count_in_category(event, categories, days, self.now, exclude=negate)

    def revenue(self, days: int) -> float:
        return float(self.profile.orders_in(days, self.now)[1])

    def last(self, event: str) -> datetime | None:
        return self.profile.last_at(event)


# -- the syntax tree -----------------------------------------------------------------------------------
class Expression:
    """A node of a parsed rule: evaluates against :class:`ShopperFacts`; ``str()`` is canonical text."""

    def holds_for(self, facts: ShopperFacts) -> bool:
        raise NotImplementedError

    def check(self, vocabulary: Vocabulary) -> None:
        raise NotImplementedError

    def names(self) -> Iterable[str]:
        """Every attribute and event the expression reads (for docs and the CLI)."""
        return ()


@dataclass(frozen=True)
class Attribute:
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class CategoryFilter:
    operator: Literal["==", "!=", "in", "not in"]
    values: tuple[str, ...]

    def __str__(self) -> str:
        if self.operator in ("in", "not in"):
            return f"category {self.operator} {_format_value(self.values)}"
        return f"category {self.operator} {_format_value(self.values[0])}"

    @property
    def negated(self) -> bool:
        return self.operator in ("!=", "not in")


@dataclass(frozen=True)
class Count:
    event: str
    window: Duration
    where: CategoryFilter | None = None

    def __str__(self) -> str:
        where = f", {self.where}" if self.where else ""
        return f"count({_format_value(self.event)}, {self.window}{where})"


@dataclass(frozen=True)
class Sum:
    measure: str
    window: Duration

    def __str__(self) -> str:
        return f"sum({self.measure}, {self.window})"


@dataclass(frozen=True)
class Last:
    event: str

    def __str__(self) -> str:
        return f"last({_format_value(self.event)})"


Operand = Attribute | Count | Sum | Last


def _window_days(window: Duration, what: str) -> int:
    if window.unit not in ("d", "w"):
        raise AudienceRuleError(f"{what}: the window must be in days or weeks (e.g. 7d, 2w), not {window}")
    days = window.amount * (7 if window.unit == "w" else 1)
    if days < 1:
        raise AudienceRuleError(f"{what}: the window must be at least 1 day")
    return days


@dataclass(frozen=True)
class Comparison(Expression):
    operand: Operand
    operator: str
    value: Any = None

    def __str__(self) -> str:
        if self.operator in ("exists", "missing"):
            return f"{self.operand} {self.operator}"
        if self.operator == "between":
            return f"{self.operand} between {_format_value(self.value[0])} and {_format_value(self.value[1])}"
        return f"{self.operand} {self.operator} {_format_value(self.value)}"

    def names(self) -> Iterable[str]:
        operand = self.operand
        return (operand.name,) if isinstance(operand, Attribute) else (getattr(operand, "event", "revenue"),)

    def check(self, vocabulary: Vocabulary) -> None:
        operand, operator = self.operand, self.operator
        if isinstance(operand, Attribute):
            kind = vocabulary.check_attribute(operand.name)
            if operator in ("within", "older_than"):
                raise AudienceRuleError(f"{operator!r} applies to last(EVENT), not to {operand.name!r}")
            _check_kind(operand.name, kind, operator, self.value)
            return
        if isinstance(operand, Last):
            vocabulary.check_event(operand.event)
            if operator not in RECENCY_OPERATORS:
                raise AudienceRuleError(
                    f"last({operand.event!r}) is a moment: use 'within', 'older_than', 'exists' or 'missing'"
                )
            return
        if operator in ("exists", "missing", "within", "older_than"):
            raise AudienceRuleError(f"{operand} is a number: compare it with ==, >=, between, ...")
        _check_kind(str(operand), "number", operator, self.value)
        if isinstance(operand, Count):
            vocabulary.check_event(operand.event)
            if operand.where and operand.event not in CATEGORY_EVENTS:
                raise AudienceRuleError(
                    f"{operand}: category counts are kept for {', '.join(CATEGORY_EVENTS)}"
                )
            days = _window_days(operand.window, str(operand))
            limit = (
                ORDER_WINDOW_LIMIT if operand.event == ORDER_EVENT and not operand.where else DAY_WINDOW_LIMIT
            )
            if days > limit:
                raise AudienceRuleError(
                    f"{operand}: windows reach back at most {limit} days for this count "
                    f"(day counts are kept {DAY_WINDOW_LIMIT} days; orders and revenue {ORDER_WINDOW_LIMIT})"
                )
        elif isinstance(operand, Sum):
            if operand.measure not in SUM_MEASURES:
                raise AudienceRuleError(f"sum() adds up {', '.join(SUM_MEASURES)}, not {operand.measure!r}")
            if _window_days(operand.window, str(operand)) > ORDER_WINDOW_LIMIT:
                raise AudienceRuleError(f"{operand}: windows reach back at most {ORDER_WINDOW_LIMIT} days")

    def holds_for(self, facts: ShopperFacts) -> bool:
        operand, operator = self.operand, self.operator
        actual: Any
        if isinstance(operand, Attribute):
            actual = facts.attribute(operand.name)
        elif isinstance(operand, Last):
            moment = facts.last(operand.event)
            if operator == "exists":
                return moment is not None
            if operator == "missing":
                return moment is None
            if moment is None:
                return False
            age = facts.now - moment
            return bool(age <= self.value.delta) if operator == "within" else bool(age > self.value.delta)
        elif isinstance(operand, Count):
            days = operand.window.amount * (7 if operand.window.unit == "w" else 1)
            where = operand.where
            actual = facts.count(
                operand.event, days, where.values if where else None, where.negated if where else False
            )
        else:
            actual = facts.revenue(operand.window.amount * (7 if operand.window.unit == "w" else 1))
        if operator == "exists":
            return actual is not None
        if operator == "missing":
            return actual is None
        return _compare(operator, actual, self.value)


def _check_kind(name: str, kind: Kind, operator: str, value: Any) -> None:
    if kind == "any" or operator in ("exists", "missing"):
        return
    values = value if isinstance(value, tuple) else (value,)
    if kind == "number":
        if operator in ("in", "not in", "==", "!=", "between", ">", ">=", "<", "<=") and not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in values
        ):
            raise AudienceRuleError(f"{name} is a number; {_format_value(value)!r} is not")
        if operator == "between" and values[0] > values[1]:
            raise AudienceRuleError(f"between {values[0]} and {values[1]}: the low end comes first")
    elif kind == "flag":
        if operator not in ("==", "!=") or not all(isinstance(v, bool) for v in values):
            raise AudienceRuleError(f"{name} is true or false: use '{name} == true' or '{name} == false'")
    elif operator in (">", ">=", "<", "<=", "between"):
        raise AudienceRuleError(f"{name} is text: use ==, !=, in [..] or not in [..], not {operator!r}")


@dataclass(frozen=True)
class AllOf(Expression):
    parts: tuple[Expression, ...]

    def __str__(self) -> str:
        return "all(" + ", ".join(str(p) for p in self.parts) + ")"

    def holds_for(self, facts: ShopperFacts) -> bool:
        return all(p.holds_for(facts) for p in self.parts)

    def check(self, vocabulary: Vocabulary) -> None:
        for part in self.parts:
            part.check(vocabulary)

    def names(self) -> Iterable[str]:
        return [n for p in self.parts for n in p.names()]


@dataclass(frozen=True)
class AnyOf(Expression):
    parts: tuple[Expression, ...]

    def __str__(self) -> str:
        return "any(" + ", ".join(str(p) for p in self.parts) + ")"

    def holds_for(self, facts: ShopperFacts) -> bool:
        return any(p.holds_for(facts) for p in self.parts)

    def check(self, vocabulary: Vocabulary) -> None:
        for part in self.parts:
            part.check(vocabulary)

    def names(self) -> Iterable[str]:
        return [n for p in self.parts for n in p.names()]


@dataclass(frozen=True)
class Not(Expression):
    part: Expression

    def __str__(self) -> str:
        return f"not ({self.part})"

    def holds_for(self, facts: ShopperFacts) -> bool:
        return not self.part.holds_for(facts)

    def check(self, vocabulary: Vocabulary) -> None:
        self.part.check(vocabulary)

    def names(self) -> Iterable[str]:
        return self.part.names()
