"""The audience language's lexer and recursive-descent parser: text to a checked rule, errors naming
the position and what was expected."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.campaigns.audience.rules import (
    AllOf,
    AnyOf,
    Attribute,
    CategoryFilter,
    Comparison,
    Count,
    Duration,
    Expression,
    Last,
    Not,
    Operand,
    Sum,
)
from shared.campaigns.audience.vocabulary import (
    AUDIENCE_UNITS,
    FILTER_PROPERTIES,
    KEYWORDS,
    AudienceRuleError,
)
from shared.core.durations import duration_parts

if TYPE_CHECKING:
    pass


# -- the parser ------------------------------------------------------------------------------------------
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
        if token.kind != "word" or token.text in KEYWORDS:
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
        if token.kind == "word" and token.text not in KEYWORDS:
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
