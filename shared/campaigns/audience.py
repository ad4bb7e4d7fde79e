"""Audience rules: a small declarative language over a shopper's traits, behaviour and scores.

A campaign's ``audience`` is a list of rules that must all hold. Each rule is an expression::

    country in [ID, MY, SG]
    age between 18 and 34
    count("Product Viewed", 7d) >= 3
    count("Product Viewed", 14d, category in [shoes, bags]) >= 2
    last("Order Completed") older_than 60d
    sum(revenue, 90d) > 100
    rfm.segment in [champions, loyal]
    any(purchase_propensity >= 0.6, orders >= 3) and not cart_items > 0

* Comparisons: ``== != > >= < <=``, ``in [..]``, ``not in [..]``, ``between LOW and HIGH``,
  ``exists``, ``missing``; on ``last(..)``: ``within DURATION``, ``older_than DURATION``.
* Aggregates: ``count(EVENT, WINDOW[, category OP VALUE])`` — events in the last WINDOW calendar
  days (UTC), up to 35 days back (365 for ``"Order Completed"``); ``sum(revenue, WINDOW)`` — order
  revenue, up to 365 days; ``last(EVENT)`` — when the shopper last did it.
* Logic: ``all(a, b, ..)``, ``any(a, b, ..)``, ``not a``, ``a and b``, ``a or b``, parentheses.
* Durations: ``30m``, ``12h``, ``7d``, ``2w`` (count and sum windows take whole days or weeks).

Attributes and event names come from a :class:`Vocabulary` (the built-in one plus the shop's own,
from ``campaigns/_vocabulary.yaml``), so a typo is a validation error, not an empty audience. A
value the shopper does not have (no ``age``, no score yet) makes a comparison false, except
``!=`` and ``not in``, which hold. The same parser and evaluator serve the CLI, the local runtime
and the Lambdas.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from shared.core.durations import UNITS, duration_parts
from shared.core.vocabulary import EMAIL_TRAIT

if TYPE_CHECKING:
    from shared.profiles.profile import Profile

# attribute -> what it is (shown by the CLI and in validation errors). A description starting with
# "number", "flag" or "text" also types the attribute, so ``age > adult`` is an error.
ATTRIBUTES: Mapping[str, str] = {
    "age": "number (trait): age in years, from 'age', 'birthday' or 'birth_year'",
    "gender": "text (trait)",
    "country": "text (trait): ISO 3166-1 alpha-2 code",
    "city": "text (trait)",
    "language": "text (trait): ISO 639-1 code",
    "timezone": "text (trait): IANA time zone",
    EMAIL_TRAIT: "text (trait)",
    "first_name": "text (trait)",
    "last_name": "text (trait)",
    "phone": "text (trait)",
    "consent.email": "flag (trait): opted in to email",
    "consent.push": "flag (trait): opted in to push",
    "consent.in_app": "flag (trait): opted in to in-app messages (true unless opted out)",
    "orders": "number (aggregate): orders ever",
    "revenue": "number (aggregate): revenue ever",
    "days_since_last_order": "number (aggregate)",
    "days_since_last_seen": "number (aggregate)",
    "cart_value": "number (aggregate): value of the open cart",
    "cart_items": "number (aggregate): items in the open cart",
    "top_category": "text (aggregate): most viewed category",
    "rfm.segment": "text (score, predictions): champions, loyal, potential_loyalist, new, promising, "
    "need_attention, about_to_sleep, at_risk, cant_lose, hibernating, lost",
    "purchase_propensity": "number (score, predictions): probability of an order in the next 30 days",
    "churn_risk": "number (score, predictions): 0 (engaged) to 1 (gone)",
    "rfm.r": "number (score, predictions): recency quintile 1-5, 5 = most recent",
    "rfm.f": "number (score, predictions): frequency quintile 1-5, 5 = most orders",
    "rfm.m": "number (score, predictions): monetary quintile 1-5, 5 = highest average order value",
    "expected_orders": "number (score, predictions): expected orders in the next 90 days",
    "probability_alive": "number (score, predictions): BG/NBD probability the buyer is still active",
    "best_send_hour": "number (score, predictions): local hour 0-23 at which the shopper engages most",
    "at_best_send_hour": "flag (score, predictions): true during the shopper's best local send hour",
    "favourite_category": "text (score, predictions): category with the most recency-weighted interest",
    "next_category": "text (score, predictions): category the shopper's recent browsing leans to",
}

# The Segment e-commerce spec's event names (v2) and the common mobile/lifecycle ones. A shop's own
# names are declared in campaigns/_vocabulary.yaml.
EVENTS: frozenset[str] = frozenset(
    {
        "Products Searched",
        "Product List Viewed",
        "Product List Filtered",
        "Promotion Viewed",
        "Promotion Clicked",
        "Product Clicked",
        "Product Viewed",
        "Product Added",
        "Product Removed",
        "Cart Viewed",
        "Checkout Started",
        "Checkout Step Viewed",
        "Checkout Step Completed",
        "Payment Info Entered",
        "Order Completed",
        "Order Updated",
        "Order Refunded",
        "Order Cancelled",
        "Coupon Entered",
        "Coupon Applied",
        "Coupon Denied",
        "Coupon Removed",
        "Product Added to Wishlist",
        "Product Removed from Wishlist",
        "Wishlist Product Added to Cart",
        "Product Shared",
        "Cart Shared",
        "Product Reviewed",
        "Application Installed",
        "Application Opened",
        "Application Backgrounded",
        "Application Updated",
        "Signed Up",
        "Signed In",
        "Signed Out",
        "Page Viewed",
        "Screen Viewed",
    }
)

Kind = Literal["number", "flag", "text", "any"]
OPERATORS = ("==", "!=", ">=", "<=", ">", "<", "not in", "in", "between", "exists", "missing")
RECENCY_OPERATORS = ("within", "older_than", "exists", "missing")
FILTER_PROPERTIES = ("category",)
CATEGORY_EVENTS = (
    "Product Viewed",
    "Product Added",
    "Order Completed",
)  # shared.profiles.profile.CATEGORY_EVENTS
SUM_MEASURES = ("revenue",)
DAY_WINDOW_LIMIT = 35  # the profile's day buckets (shared.profiles.profile.DAY_BUCKETS_KEPT)
ORDER_WINDOW_LIMIT = 365  # the profile's order days (shared.profiles.profile.ORDER_DAYS_KEPT, with margin)
ORDER_EVENT = "Order Completed"


class AudienceRuleError(ValueError):
    """A rule that cannot be parsed or names an attribute or event Nudge does not know."""


def kind_of(description: str) -> Kind:
    first = description.split(maxsplit=1)[0].rstrip(":,;") if description else ""
    return first if first in ("number", "flag", "text") else "any"  # type: ignore[return-value]


@dataclass(frozen=True)
class Vocabulary:
    """The attributes and event names rules may use: the built-in ones plus the shop's own."""

    attributes: Mapping[str, str] = field(default_factory=lambda: dict(ATTRIBUTES))
    events: frozenset[str] = EVENTS

    def extended(self, traits: Mapping[str, str], events: Iterable[str]) -> Vocabulary:
        return Vocabulary({**self.attributes, **traits}, self.events | frozenset(events))

    def check_attribute(self, name: str) -> Kind:
        if name not in self.attributes:
            raise AudienceRuleError(f"unknown attribute {name!r}{_suggest(name, self.attributes)}")
        return kind_of(self.attributes[name])

    def check_event(self, name: str) -> None:
        if name not in self.events:
            raise AudienceRuleError(
                f"unknown event {name!r}{_suggest(name, self.events)}; "
                "declare your own event names in campaigns/_vocabulary.yaml"
            )


def default_vocabulary() -> Vocabulary:
    """Built when asked, so names other modules add to ``ATTRIBUTES`` at import are included."""
    return Vocabulary(dict(ATTRIBUTES), EVENTS)


def _suggest(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


# -- values and durations --------------------------------------------------------------------------
AUDIENCE_UNITS = "mhdw"  # the tokenizer's duration: at most five digits, then one of these


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
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-/+]*", value) and value.lower() not in _KEYWORDS:
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
    except TypeError:  # a trait of another type than the rule expects (e.g. age given as text)
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


# -- the parser ------------------------------------------------------------------------------------------
_KEYWORDS = frozenset(
    {"and", "or", "not", "in", "between", "exists", "missing", "within", "older_than", "true", "false"}
)
_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<duration>\d{1,5}[mhdw](?![A-Za-z0-9_]))
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![A-Za-z_]))
  | (?P<op>==|!=|>=|<=|>|<|=)
  | (?P<punct>[()\[\],])
  | (?P<word>[A-Za-z_][A-Za-z0-9_.\-/+]*)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    column: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise AudienceRuleError(f"column {position + 1}: unexpected {text[position]!r}")
        kind = str(match.lastgroup)
        if kind != "space":
            tokens.append(_Token(kind, match.group(), position + 1))
        position = match.end()
    tokens.append(_Token("end", "", len(text) + 1))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.at = 0

    # helpers
    @property
    def token(self) -> _Token:
        return self.tokens[self.at]

    def advance(self) -> _Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def is_word(self, *words: str) -> bool:
        return self.token.kind == "word" and self.token.text in words

    def expect(self, text: str) -> _Token:
        if self.token.text != text or self.token.kind == "string":
            self.fail(f"expected {text!r}")
        return self.advance()

    def fail(self, message: str) -> Any:
        token = self.token
        found = "the end of the rule" if token.kind == "end" else repr(token.text)
        raise AudienceRuleError(f"column {token.column}: {message}, found {found}")

    # grammar
    def parse(self) -> Expression:
        if self.token.kind == "end":
            raise AudienceRuleError("empty rule")
        expression = self.disjunction()
        if self.token.kind != "end":
            self.fail("expected 'and', 'or' or the end of the rule")
        return expression

    def disjunction(self) -> Expression:
        parts = [self.conjunction()]
        while self.is_word("or"):
            self.advance()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else AnyOf(tuple(parts))

    def conjunction(self) -> Expression:
        parts = [self.negation()]
        while self.is_word("and"):
            self.advance()
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    def negation(self) -> Expression:
        if self.is_word("not"):
            self.advance()
            return Not(self.negation())
        return self.primary()

    def primary(self) -> Expression:
        token = self.token
        if token.text == "(" and token.kind == "punct":
            self.advance()
            inner = self.disjunction()
            self.expect(")")
            return inner
        if self.is_word("all", "any") and self.tokens[self.at + 1].text == "(":
            combine: Callable[[tuple[Expression, ...]], Expression] = AllOf if token.text == "all" else AnyOf
            self.advance()
            self.advance()
            parts = [self.disjunction()]
            while self.token.text == ",":
                self.advance()
                parts.append(self.disjunction())
            self.expect(")")
            return combine(tuple(parts))
        return self.comparison()

    def comparison(self) -> Expression:
        operand = self.operand()
        token = self.token
        if token.kind == "op":
            self.advance()
            operator = "==" if token.text == "=" else token.text
            return Comparison(operand, operator, self.scalar())
        if self.is_word("not") and self.tokens[self.at + 1].text == "in":
            self.advance()
            self.advance()
            return Comparison(operand, "not in", self.value_list())
        if self.is_word("in"):
            self.advance()
            return Comparison(operand, "in", self.value_list())
        if self.is_word("between"):
            self.advance()
            low = self.scalar()
            if not self.is_word("and"):
                self.fail("'between' needs 'LOW and HIGH'")
            self.advance()
            return Comparison(operand, "between", (low, self.scalar()))
        if self.is_word("exists", "missing"):
            return Comparison(operand, self.advance().text)
        if self.is_word("within", "older_than"):
            operator = self.advance().text
            return Comparison(operand, operator, self.duration())
        return self.fail(
            "expected an operator (== != > >= < <= in, not in, between, exists, missing, within, older_than)"
        )

    def operand(self) -> Operand:
        token = self.token
        if token.kind != "word" or token.text in _KEYWORDS:
            return self.fail("expected an attribute, count(..), sum(..) or last(..)")
        self.advance()
        if self.token.text != "(" or token.text not in ("count", "sum", "last"):
            if self.token.text == "(":
                self.fail(f"unknown function {token.text!r} (there are count, sum and last)")
            return Attribute(token.text)
        self.advance()
        if token.text == "last":
            event = self.event_name()
            self.expect(")")
            return Last(event)
        if token.text == "sum":
            measure = self.advance()
            if measure.kind != "word":
                self.fail("expected what to add up, e.g. sum(revenue, 90d)")
            self.expect(",")
            window = self.duration()
            self.expect(")")
            return Sum(measure.text, window)
        event = self.event_name()
        self.expect(",")
        window = self.duration()
        where: CategoryFilter | None = None
        if self.token.text == ",":
            self.advance()
            where = self.category_filter()
        self.expect(")")
        return Count(event, window, where)

    def event_name(self) -> str:
        if self.token.kind == "string":
            return _unquote(self.advance().text)
        words = []
        while self.token.kind in ("word", "number"):
            words.append(self.advance().text)
        if not words:
            self.fail('expected an event name, e.g. "Product Viewed"')
        return " ".join(words)

    def category_filter(self) -> CategoryFilter:
        token = self.token
        if token.kind != "word":
            self.fail("expected a property filter, e.g. category == shoes")
        if token.text not in FILTER_PROPERTIES:
            raise AudienceRuleError(
                f"column {token.column}: count() can filter on {', '.join(FILTER_PROPERTIES)}, "
                f"not {token.text!r}"
            )
        self.advance()
        if self.token.kind == "op" and self.token.text in ("==", "=", "!="):
            operator = "!=" if self.advance().text == "!=" else "=="
            value = self.scalar()
            return CategoryFilter(operator, (str(value),))  # type: ignore[arg-type]
        negate = self.is_word("not") and self.tokens[self.at + 1].text == "in"
        if negate:
            self.advance()
        if not self.is_word("in"):
            self.fail("expected ==, !=, in or not in")
        self.advance()
        return CategoryFilter("not in" if negate else "in", tuple(str(v) for v in self.value_list()))

    def duration(self) -> Duration:
        token = self.token
        parts = duration_parts(token.text, AUDIENCE_UNITS) if token.kind == "duration" else None
        if parts is None:
            return self.fail("expected a duration such as 30m, 12h, 7d or 2w")
        self.advance()
        return Duration(*parts)

    def value_list(self) -> tuple[Any, ...]:
        self.expect("[")
        values: list[Any] = []
        if self.token.text != "]":
            values.append(self.scalar())
            while self.token.text == ",":
                self.advance()
                values.append(self.scalar())
        self.expect("]")
        if not values:
            raise AudienceRuleError("an empty list [] matches nothing; remove the rule or name values")
        return tuple(values)

    def scalar(self) -> Any:
        token = self.token
        if token.kind == "string":
            self.advance()
            return _unquote(token.text)
        if token.kind == "number":
            self.advance()
            is_float = any(c in token.text for c in ".eE")
            return float(token.text) if is_float else int(token.text)
        if token.kind == "word" and token.text in ("true", "false"):
            self.advance()
            return token.text == "true"
        if token.kind == "word" and token.text not in _KEYWORDS:
            self.advance()
            return token.text
        if token.kind == "duration":  # a bare value such as 4w is text, e.g. a size
            self.advance()
            return token.text
        return self.fail("expected a value")


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def parse_rule(text: str) -> Expression:
    """Parse one rule (syntax only); raises :class:`AudienceRuleError` naming the column."""
    return _Parser(text).parse()


# -- the audience -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AudienceRule:
    """One rule of a campaign's audience, with its source text."""

    expression: Expression
    source: str

    @classmethod
    def parse(cls, text: str, vocabulary: Vocabulary | None = None) -> AudienceRule:
        try:
            expression = parse_rule(text)
            if vocabulary is not None:
                expression.check(vocabulary)
        except AudienceRuleError as error:
            raise AudienceRuleError(f"{text!r}: {error}") from None
        return cls(expression, text)

    def holds_for(self, facts: ShopperFacts) -> bool:
        return self.expression.holds_for(facts)


@dataclass(frozen=True)
class Audience:
    """All rules must hold; an empty audience is everybody."""

    rules: tuple[AudienceRule, ...] = ()

    @classmethod
    def parse(cls, rules: Sequence[str], vocabulary: Vocabulary | None = None) -> Audience:
        """Parse ``rules``; with a ``vocabulary``, also reject unknown attributes, events and types."""
        return cls(tuple(AudienceRule.parse(r, vocabulary) for r in rules))

    def includes(self, profile: Profile, now: datetime) -> bool:
        if not self.rules:
            return True
        facts = ShopperFacts(profile, now)
        return all(rule.holds_for(facts) for rule in self.rules)

    def failing_rule(self, profile: Profile, now: datetime) -> AudienceRule | None:
        """The first rule ``profile`` does not meet (the CLI's explanation), or None."""
        facts = ShopperFacts(profile, now)
        return next((r for r in self.rules if not r.holds_for(facts)), None)
