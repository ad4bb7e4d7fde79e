"""Audience rules: the language, its evaluation over real profiles, and errors that name the problem."""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from payloads import tracked as track

from shared.campaigns.audience.parser import parse_rule
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
    ShopperFacts,
    Sum,
)
from shared.campaigns.audience.selection import Audience, AudienceRule
from shared.campaigns.audience.vocabulary import ATTRIBUTES, AudienceRuleError, default_vocabulary
from shared.profiles.fold import fold_events
from shared.profiles.profile import Profile

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def shopper(events: list[Any] | None = None, **traits: Any) -> Profile:
    profile = Profile(user_id="u-1", traits=traits)
    return fold_events(profile, events or []).profile if events else profile


SHOPPER = shopper(
    [
        track("Product Viewed", NOW - timedelta(days=1), 1, category="shoes"),
        track("Product Viewed", NOW - timedelta(days=2), 2, category="Shoes"),
        track("Product Viewed", NOW - timedelta(days=3), 3, category="bags"),
        track("Product Viewed", NOW - timedelta(days=20), 4, category="shoes"),
        track("Order Completed", NOW - timedelta(days=70), 5, revenue=80, products=[{"category": "shoes"}]),
        track("Order Completed", NOW - timedelta(days=100), 6, revenue=45.5),
    ],
    country="ID",
    age=27,
    consent={"email": True},
)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("country in [ID, MY, SG]", True),
        ("country in [IN, US]", False),
        ("country not in [IN, US]", True),
        ("country == id", True),
        ("country = ID", True),
        ("age between 18 and 34", True),
        ("age between 28 and 34", False),
        ("orders >= 2", True),
        ("orders > 2", False),
        ("consent.email == true", True),
        ("consent.push == true", False),
        ("city exists", False),
        ("city missing", True),
        ("gender == female", False),
        ("gender != female", True),  # an unknown value is "not female"
        ('count("Product Viewed", 7d) >= 3', True),
        ('count("Product Viewed", 7d) >= 4', False),
        ('count("Product Viewed", 3w) == 4', True),
        ("count(Product Viewed, 7d, category == shoes) == 2", True),  # case-insensitive
        ("count(Product Viewed, 7d, category in [bags, hats]) == 1", True),
        ("count(Product Viewed, 7d, category != shoes) == 1", True),
        ("count(Product Viewed, 30d, category not in [bags]) == 3", True),
        ('count("Order Completed", 90d) == 1', True),
        ('count("Order Completed", 180d) == 2', True),
        ('count("Order Completed", 30d) == 0', True),
        ("sum(revenue, 90d) == 80", True),
        ("sum(revenue, 365d) > 125", True),
        ("sum(revenue, 365d) > 126", False),
        ('last("Order Completed") older_than 60d', True),
        ('last("Order Completed") older_than 71d', False),
        ('last("Order Completed") within 10w', True),
        ('last("Product Viewed") within 25h', True),
        ('last("Product Viewed") within 23h', False),
        ('last("Checkout Started") missing', True),
        ('last("Checkout Started") older_than 1d', False),  # never is not "long ago"
        ("not last(Checkout Started) within 30d", True),
        ("any(country == MY, age < 30)", True),
        ("all(country == ID, age > 30)", False),
        ("country == MY or age < 30 and orders >= 2", True),
        ("(country == MY or age < 30) and orders >= 3", False),
        ("not (country == ID)", False),
        ("rfm.segment in [champions, loyal]", False),  # no score yet
        ("purchase_propensity >= 0.5", False),
    ],
)
def test_rules_evaluate_against_a_folded_profile(rule: str, expected: bool) -> None:
    parsed = AudienceRule.parse(rule, default_vocabulary())
    assert parsed.holds_for(ShopperFacts(SHOPPER, NOW)) is expected


def test_scores_are_read_from_the_profile() -> None:
    scored = SHOPPER.model_copy(
        update={"scores": {"rfm": {"segment": "champions"}, "purchase_propensity": 0.72}}
    )
    audience = Audience.parse(["rfm.segment in [champions, loyal]", "purchase_propensity >= 0.6"])
    assert audience.includes(scored, NOW)
    assert not audience.includes(SHOPPER, NOW)


def test_every_rule_must_hold_and_the_first_failing_one_is_named() -> None:
    audience = Audience.parse(["country in [ID]", "age between 18 and 34", "orders >= 4"])
    assert not audience.includes(SHOPPER, NOW)
    failing = audience.failing_rule(SHOPPER, NOW)
    assert failing is not None and failing.source == "orders >= 4"
    assert Audience.parse([]).includes(Profile(user_id="anyone"), NOW)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("contry in [ID]", "unknown attribute 'contry' (did you mean 'country'?)"),
        ('count("Product Viewd", 7d) > 1', "unknown event 'Product Viewd' (did you mean 'Product Viewed'?)"),
        ('last("Cart Abandoned") within 1d', "unknown event 'Cart Abandoned'"),
        ("country in ID", "column 12: expected '['"),
        ("age between 18", "'between' needs 'LOW and HIGH'"),
        ("age between 34 and 18", "the low end comes first"),
        ("age >=", "expected a value, found the end of the rule"),
        ("orders exists 3", "expected 'and', 'or' or the end"),
        ("just words", "expected an operator"),
        ("age > adult", "age is a number; 'adult' is not"),
        ("country > 3", "country is text"),
        ("consent.email == yes", "consent.email is true or false"),
        ('count("Product Viewed", 60d) > 1', "at most 35 days"),
        ('count("Order Completed", 400d) > 1', "at most 365 days"),
        ("count(Order Completed, 90d, category == shoes) > 1", "at most 35 days"),
        ('count("Product Viewed", 12h) > 1', "days or weeks"),
        ('count("Product Viewed", 7d, brand == x) > 1', "can filter on category, not 'brand'"),
        ("sum(orders, 30d) > 1", "sum() adds up revenue"),
        ("count(Checkout Started, 7d, category == shoes) > 1", "category counts are kept for Product Viewed"),
        ('last("Order Completed") > 3', "is a moment"),
        ('count("Product Viewed", 7d) within 2d', "is a number"),
        ("age within 3d", "applies to last(EVENT)"),
        ("country in []", "an empty list"),
        ("sqrt(age) > 3", "unknown function 'sqrt'"),
        ("country == ID and", "expected an attribute"),
        ("all(country == ID", "expected ')'"),
        ("country == ID $", "unexpected '$'"),
        ("", "empty rule"),
    ],
)
def test_bad_rules_are_errors_that_say_what_is_wrong(rule: str, message: str) -> None:
    with pytest.raises(AudienceRuleError, match=re.escape(message)):
        AudienceRule.parse(rule, default_vocabulary())


def test_the_shops_own_events_and_traits_extend_the_vocabulary() -> None:
    vocabulary = default_vocabulary().extended(
        {"loyalty_tier": "text: bronze, silver, gold"}, ["Size Guide Opened"]
    )
    AudienceRule.parse('loyalty_tier in [gold] and count("Size Guide Opened", 7d) >= 1', vocabulary)
    with pytest.raises(AudienceRuleError, match="loyalty_tier is text"):
        AudienceRule.parse("loyalty_tier > 3", vocabulary)
    with pytest.raises(AudienceRuleError, match="unknown attribute 'loyalty_tier'"):
        AudienceRule.parse("loyalty_tier in [gold]", default_vocabulary())


def test_attributes_added_to_the_vocabulary_mapping_are_known() -> None:
    """Other modules (predictions) add score names to ATTRIBUTES; validation picks them up."""
    assert set(ATTRIBUTES) <= set(default_vocabulary().attributes)
    assert "rfm.segment" in default_vocabulary().attributes


# -- property tests: the parser -------------------------------------------------------------------------
names = st.sampled_from(["age", "country", "orders", "rfm.segment", "purchase_propensity", "city"])
events = st.sampled_from(["Product Viewed", "Order Completed", "Checkout Started"])
words = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=12)
scalars = st.one_of(
    st.integers(-10_000, 10_000),
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
    st.booleans(),
    words,
)
windows = st.builds(Duration, st.integers(1, 35), st.sampled_from(["d", "w"]))
durations = st.builds(Duration, st.integers(1, 999), st.sampled_from(["m", "h", "d", "w"]))
operands = st.one_of(
    names.map(Attribute),
    st.builds(
        Count,
        events,
        windows,
        st.none()
        | st.builds(
            CategoryFilter,
            st.sampled_from(["in", "not in"]),
            st.lists(words, min_size=1, max_size=3).map(tuple),
        ),
    ),
    st.builds(Sum, st.just("revenue"), windows),
)
comparisons = st.one_of(
    st.builds(Comparison, operands, st.sampled_from(["==", "!=", ">", ">=", "<", "<="]), scalars),
    st.builds(
        Comparison, operands, st.sampled_from(["in", "not in"]), st.lists(scalars, min_size=1).map(tuple)
    ),
    st.builds(Comparison, operands, st.just("between"), st.tuples(scalars, scalars)),
    st.builds(Comparison, names.map(Attribute), st.sampled_from(["exists", "missing"])),
    st.builds(Comparison, events.map(Last), st.sampled_from(["within", "older_than"]), durations),
    st.builds(Comparison, events.map(Last), st.sampled_from(["exists", "missing"])),
)
expressions = st.recursive(
    comparisons,
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda p: AllOf(tuple(p))),
        st.lists(inner, min_size=1, max_size=3).map(lambda p: AnyOf(tuple(p))),
        inner.map(Not),
    ),
    max_leaves=8,
)


@given(expressions)
def test_printing_a_rule_and_parsing_it_back_gives_the_same_rule(expression: Expression) -> None:
    assert parse_rule(str(expression)) == expression


@given(st.text(max_size=60))
def test_any_text_parses_or_fails_with_a_rule_error(text: str) -> None:
    try:
        parse_rule(text)
    except AudienceRuleError as error:
        assert str(error)


@given(
    st.lists(
        st.sampled_from(
            [
                'count("Product Viewed", 7d)',
                "age",
                "(",
                ")",
                "and",
                "or",
                "not",
                ">=",
                "3",
                "[",
                "]",
                ",",
                "in",
                "between",
                "all(",
                "any(",
                "ID",
            ]
        ),
        max_size=12,
    )
)
def test_token_soup_parses_or_fails_with_a_rule_error(tokens: list[str]) -> None:
    with contextlib.suppress(AudienceRuleError):
        parse_rule(" ".join(tokens))


# -- property tests: the evaluator ---------------------------------------------------------------------------
event_names = ["Product Viewed", "Order Completed", "Checkout Started"]
categories = ["shoes", "bags", "hats"]
history = st.lists(
    st.tuples(
        st.sampled_from(event_names),
        st.integers(0, 400 * 24),  # hours before NOW
        st.sampled_from(categories),
        st.integers(0, 500),
    ),
    max_size=25,
)


def folded(raw: list[tuple[str, int, str, int]], age: int | None) -> Profile:
    built = [
        track(name, NOW - timedelta(hours=hours), i, category=category, revenue=revenue)
        for i, (name, hours, category, revenue) in enumerate(raw)
    ]
    return shopper(built, **({"age": age} if age is not None else {}))


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=150)
@given(history, st.sampled_from(event_names), st.integers(1, 35), st.sampled_from(categories))
def test_count_agrees_with_counting_the_events(
    raw: list[tuple[str, int, str, int]], name: str, days: int, category: str
) -> None:
    profile = folded(raw, None)
    facts = ShopperFacts(profile, NOW)
    first_day = (NOW - timedelta(days=days - 1)).date()
    in_window = [r for r in raw if r[0] == name and (NOW - timedelta(hours=r[1])).date() >= first_day]
    total = len(in_window)
    of_category = sum(1 for r in in_window if r[2] == category)
    assert parse_rule(f'count("{name}", {days}d) == {total}').holds_for(facts)
    if name == "Checkout Started":  # category windows are kept for views, adds and orders only
        return
    assert parse_rule(f'count("{name}", {days}d, category == {category}) == {of_category}').holds_for(facts)
    assert parse_rule(f'count("{name}", {days}d, category != {category}) == {total - of_category}').holds_for(
        facts
    )


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=150)
@given(history, st.integers(1, 365))
def test_revenue_and_order_windows_agree_with_the_orders(
    raw: list[tuple[str, int, str, int]], days: int
) -> None:
    profile = folded(raw, None)
    facts = ShopperFacts(profile, NOW)
    first_day = (NOW - timedelta(days=days - 1)).date()
    orders = [
        r for r in raw if r[0] == "Order Completed" and (NOW - timedelta(hours=r[1])).date() >= first_day
    ]
    revenue = sum(Decimal(r[3]) for r in orders)
    assert parse_rule(f"sum(revenue, {days}d) == {revenue}").holds_for(facts)
    assert parse_rule(f'count("Order Completed", {days}d) == {len(orders)}').holds_for(facts)


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=150)
@given(history, st.sampled_from(event_names), st.integers(1, 500))
def test_last_agrees_with_the_latest_event(
    raw: list[tuple[str, int, str, int]], name: str, hours: int
) -> None:
    facts = ShopperFacts(folded(raw, None), NOW)
    ages = [r[1] for r in raw if r[0] == name]
    within = parse_rule(f'last("{name}") within {hours}h').holds_for(facts)
    older = parse_rule(f'last("{name}") older_than {hours}h').holds_for(facts)
    if not ages:
        assert not within and not older
    else:
        assert within == (min(ages) <= hours)
        assert older == (not within)


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=100)
@given(expressions, expressions, history, st.none() | st.integers(0, 90))
def test_logic_follows_boolean_laws(
    a: Expression, b: Expression, raw: list[tuple[str, int, str, int]], age: int | None
) -> None:
    facts = ShopperFacts(folded(raw, age), NOW)
    x, y = a.holds_for(facts), b.holds_for(facts)
    assert Not(a).holds_for(facts) is (not x)
    assert AllOf((a, b)).holds_for(facts) is (x and y)
    assert AnyOf((a, b)).holds_for(facts) is (x or y)
    assert Not(AnyOf((a, b))).holds_for(facts) is AllOf((Not(a), Not(b))).holds_for(facts)
    assert parse_rule(f"{a} and {b}").holds_for(facts) is (x and y)
    assert parse_rule(f"({a}) or not ({b})").holds_for(facts) is (x or not y)


@given(st.integers(0, 120), st.integers(0, 120), st.integers(0, 120))
def test_between_is_two_comparisons(age: int, low: int, high: int) -> None:
    facts = ShopperFacts(shopper(age=age), NOW)
    between = parse_rule(f"age between {low} and {high}").holds_for(facts)
    assert between is (parse_rule(f"age >= {low} and age <= {high}").holds_for(facts))
