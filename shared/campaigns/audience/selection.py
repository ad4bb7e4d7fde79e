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
and the Lambdas."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from shared.campaigns.audience.parser import parse_rule
from shared.campaigns.audience.rules import Expression, ShopperFacts
from shared.campaigns.audience.vocabulary import AudienceRuleError, Vocabulary

if TYPE_CHECKING:
    from shared.profiles.profile import Profile


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
