"""Audience rules: a small declarative language over a shopper's profile.

A campaign's ``audience`` is a list of rules that must all hold, e.g.::

    country in [ID, MY, SG]
    age between 18 and 34
    consent.email == true
    orders >= 1

Each rule is ``attribute operator value``. Attributes come from a fixed vocabulary (traits,
behavioural aggregates, scores) so that a typo is a validation error, not an audience of zero.
The same parser and evaluator serve the CLI, the local runtime and the Lambdas.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# attribute -> what it is (shown by the CLI and in validation errors)
ATTRIBUTES: Mapping[str, str] = {
    "age": "trait: age in years",
    "gender": "trait",
    "country": "trait: ISO 3166-1 alpha-2 code",
    "city": "trait",
    "language": "trait: ISO 639-1 code",
    "timezone": "trait: IANA time zone",
    "email": "trait",
    "first_name": "trait",
    "consent.email": "trait: opted in to email",
    "consent.push": "trait: opted in to push",
    "consent.in_app": "trait: opted in to in-app messages",
    "orders": "aggregate: orders ever",
    "revenue": "aggregate: revenue ever",
    "days_since_last_order": "aggregate",
    "days_since_last_seen": "aggregate",
    "cart_value": "aggregate: value of the open cart",
    "cart_items": "aggregate: items in the open cart",
    "top_category": "aggregate: most viewed category",
    "rfm.segment": "score (predictions)",
    "purchase_propensity": "score (predictions)",
    "churn_risk": "score (predictions)",
}

OPERATORS = ("==", "!=", ">=", "<=", ">", "<", "not in", "in", "between", "exists", "missing")

_RULE = re.compile(
    r"^\s*(?P<attr>[a-z_][a-z0-9_.]*)\s+(?P<op>==|!=|>=|<=|>|<|not\s+in|in|between|exists|missing)"
    r"(?:\s+(?P<value>.+?))?\s*$"
)


class AudienceRuleError(ValueError):
    """A rule that cannot be parsed or names an attribute Nudge does not know."""


def _scalar(token: str) -> Any:
    token = token.strip()
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "\"'":
        return token[1:-1]
    lowered = token.lower()
    if lowered in {"true", "false"}:
        return lowered == "true"
    try:
        return int(token)
    except ValueError:
        pass
    try:
        return float(token)
    except ValueError:
        return token


@dataclass(frozen=True)
class AudienceRule:
    attribute: str
    operator: str
    value: Any = None
    source: str = ""

    @classmethod
    def parse(cls, text: str) -> AudienceRule:
        match = _RULE.match(text)
        if not match:
            raise AudienceRuleError(
                f"cannot parse audience rule {text!r}: expected 'attribute operator value' "
                f"with an operator among {', '.join(OPERATORS)}"
            )
        attribute, raw_value = match["attr"], match["value"]
        operator = " ".join(match["op"].split())
        if attribute not in ATTRIBUTES:
            raise AudienceRuleError(
                f"unknown attribute {attribute!r} in audience rule {text!r}; known: {', '.join(ATTRIBUTES)}"
            )
        if operator in {"exists", "missing"}:
            if raw_value:
                raise AudienceRuleError(f"{operator!r} takes no value in audience rule {text!r}")
            return cls(attribute, operator, None, text)
        if not raw_value:
            raise AudienceRuleError(f"missing value after {operator!r} in audience rule {text!r}")
        value: Any
        if operator in {"in", "not in"}:
            if not (raw_value.startswith("[") and raw_value.endswith("]")):
                raise AudienceRuleError(f"{operator!r} needs a list like [a, b] in audience rule {text!r}")
            value = tuple(_scalar(v) for v in raw_value[1:-1].split(",") if v.strip())
        elif operator == "between":
            parts = re.split(r"\s+and\s+", raw_value)
            if len(parts) != 2:
                raise AudienceRuleError(f"'between' needs 'LOW and HIGH' in audience rule {text!r}")
            value = (_scalar(parts[0]), _scalar(parts[1]))
        else:
            value = _scalar(raw_value)
        return cls(attribute, operator, value, text)

    def holds_for(self, view: Mapping[str, Any]) -> bool:
        actual = view.get(self.attribute)
        if self.operator == "exists":
            return actual is not None
        if self.operator == "missing":
            return actual is None
        if actual is None:
            return self.operator in {"!=", "not in"}
        try:
            return _compare(self.operator, actual, self.value)
        except TypeError:
            return False


def _compare(operator: str, actual: Any, expected: Any) -> bool:
    if isinstance(actual, str) and isinstance(expected, str | tuple):
        actual = actual.casefold()
        expected = (
            expected.casefold()
            if isinstance(expected, str)
            else tuple(e.casefold() if isinstance(e, str) else e for e in expected)
        )
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
    raise AudienceRuleError(f"unsupported operator {operator!r}")


@dataclass(frozen=True)
class Audience:
    """All rules must hold; an empty audience is everybody."""

    rules: tuple[AudienceRule, ...] = ()

    @classmethod
    def parse(cls, rules: Sequence[str]) -> Audience:
        return cls(tuple(AudienceRule.parse(r) for r in rules))

    def includes(self, view: Mapping[str, Any]) -> bool:
        return all(rule.holds_for(view) for rule in self.rules)
