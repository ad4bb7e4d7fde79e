"""Audience rules at their edges: each test pins one decision of the language (issue 16).

Comparisons at the exact value, windows at the exact edge, values the shopper does not have or has
with another type, and the validation limits the docs promise (docs/campaigns.md, "The audience
language"). Catalogued mutants: tests/mutation/catalog/audience.yaml.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from payloads import tracked as track

from shared.campaigns.audience.parser import parse_rule
from shared.campaigns.audience.rules import AllOf, Attribute, Comparison, Not, ShopperFacts
from shared.campaigns.audience.selection import AudienceRule
from shared.campaigns.audience.vocabulary import AudienceRuleError, default_vocabulary
from shared.profiles.fold import fold_events
from shared.profiles.profile import Cart, CartItem, Profile

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
NEVER_SEEN = Profile(user_id="u-1")


def folded(*events: Any, **traits: Any) -> Profile:
    return fold_events(Profile(user_id="u-1", traits=traits), list(events)).profile


def holds(rule: str, profile: Profile, now: datetime = NOW) -> bool:
    """``rule`` validated against the built-in vocabulary, evaluated for ``profile`` at ``now``."""
    return AudienceRule.parse(rule, default_vocabulary()).holds_for(ShopperFacts(profile, now))


def evaluates(rule: str, profile: Profile) -> bool:
    """``rule`` parsed without a vocabulary (as for a shop's own, untyped traits)."""
    return parse_rule(rule).holds_for(ShopperFacts(profile, NOW))


def refused(rule: str, message: str, vocabulary: Any = None) -> None:
    with pytest.raises(AudienceRuleError, match=re.escape(message)):
        AudienceRule.parse(rule, vocabulary or default_vocabulary())


# -- comparisons at the exact value ---------------------------------------------------------------------
ORDERINGS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


@given(
    orders=st.integers(0, 50),
    offset=st.integers(-2, 2),
    op=st.sampled_from(sorted(ORDERINGS)),
)
def test_each_comparison_decides_at_the_exact_value_as_arithmetic_does(
    orders: int, offset: int, op: str
) -> None:
    bound = orders + offset  # within two of the shopper's value, so the edge itself is drawn
    profile = Profile(user_id="u-1", orders=orders)
    assert holds(f"orders {op} {bound}", profile) is ORDERINGS[op](orders, bound)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("orders < 3", False),
        ("orders <= 3", True),
        ("orders > 3", False),
        ("orders >= 3", True),
        ("orders < 4", True),
        ("orders > 2", True),
    ],
)
def test_a_shopper_with_exactly_three_orders(rule: str, expected: bool) -> None:
    assert holds(rule, Profile(user_id="u-1", orders=3)) is expected


@pytest.mark.parametrize(("age", "expected"), [(17, False), (18, True), (26, True), (34, True), (35, False)])
def test_between_includes_both_ends(age: int, expected: bool) -> None:
    assert holds("age between 18 and 34", Profile(user_id="u-1", traits={"age": age})) is expected


@given(age=st.integers(0, 100), low=st.integers(0, 100), width=st.integers(0, 5))
def test_between_holds_exactly_from_low_to_high_inclusive(age: int, low: int, width: int) -> None:
    high = low + width
    profile = Profile(user_id="u-1", traits={"age": age})
    assert holds(f"age between {low} and {high}", profile) is (low <= age <= high)


def test_a_one_value_range_is_valid_and_means_that_value() -> None:
    assert holds("age between 30 and 30", Profile(user_id="u-1", traits={"age": 30}))
    assert not holds("age between 30 and 30", Profile(user_id="u-1", traits={"age": 31}))


# -- values the shopper does not have -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("country not in [US, IN]", True),  # documented: not in holds for a missing value
        ("country != US", True),  # documented: != holds for a missing value
        ("country in [US, IN]", False),
        ("country == US", False),
        ("age < 200", False),
        ("age <= 200", False),
        ("age > -1", False),
        ("age >= 0", False),
        ("age between 0 and 200", False),
        ("country exists", False),
        ("country missing", True),
    ],
)
def test_a_missing_value_fails_every_comparison_but_not_equal_and_not_in(rule: str, expected: bool) -> None:
    assert holds(rule, NEVER_SEEN) is expected


# -- a value of another type than the rule's ------------------------------------------------------------
POINTS_AS_TEXT = Profile(user_id="u-1", traits={"points": "27"})


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("points != 27", True),  # the text "27" is not the number 27
        ("points not in [27, 28]", True),
        ("points == 27", False),
        ("points in [27, 28]", False),
    ],
)
def test_not_equal_holds_when_the_trait_has_another_type(rule: str, expected: bool) -> None:
    assert evaluates(rule, POINTS_AS_TEXT) is expected


@pytest.mark.parametrize(
    "rule", ["points >= 18", "points > 18", "points <= 100", "points < 100", "points between 18 and 34"]
)
def test_an_ordering_against_another_type_is_false(rule: str) -> None:
    assert evaluates(rule, POINTS_AS_TEXT) is False
    assert evaluates(f"not {rule}", POINTS_AS_TEXT) is True


def test_a_hand_built_not_in_against_a_non_list_holds_as_a_mismatch() -> None:
    """The evaluator's own type guard: ``in``/``not in`` with a scalar raise inside and read as a mismatch."""
    facts = ShopperFacts(Profile(user_id="u-1", orders=3), NOW)
    assert Comparison(Attribute("orders"), "not in", 3).holds_for(facts) is True
    assert Comparison(Attribute("orders"), "in", 3).holds_for(facts) is False


def test_an_operator_the_evaluator_does_not_know_is_an_error() -> None:
    facts = ShopperFacts(Profile(user_id="u-1", orders=3), NOW)
    with pytest.raises(AudienceRuleError, match="unsupported operator 'like'"):
        Comparison(Attribute("orders"), "like", 3).holds_for(facts)


# -- text compares case-insensitively -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("country == id", True),
        ("country != Id", False),
        ("country in [my, id]", True),
        ("country not in [my, id]", False),
        ('country in ["Id"]', True),
    ],
)
def test_text_and_lists_of_text_compare_without_case(rule: str, expected: bool) -> None:
    assert holds(rule, Profile(user_id="u-1", traits={"country": "ID"})) is expected


# -- exists and missing: zero is a value ----------------------------------------------------------------
EMPTY_CART = Profile(user_id="u-1", cart=Cart(items=[], updated_at=NOW))
CART_OF_TWO = Profile(
    user_id="u-1",
    cart=Cart(items=[CartItem(product_id="p-1", price=Decimal("9.50"), quantity=2)], updated_at=NOW),
)


@pytest.mark.parametrize("profile", [NEVER_SEEN, EMPTY_CART], ids=["no-cart", "empty-cart"])
def test_exists_holds_for_zero(profile: Profile) -> None:
    assert holds("cart_items exists", profile)
    assert holds("cart_value exists", profile)
    assert holds("orders exists", profile)
    assert not holds("cart_items missing", profile)
    assert not holds("cart_value missing", profile)
    assert holds("cart_items == 0", profile)


def test_exists_and_missing_on_a_cart_with_items() -> None:
    assert holds("cart_items exists", CART_OF_TWO) and holds("cart_items == 2", CART_OF_TWO)
    assert holds("cart_value == 19", CART_OF_TWO)
    assert not holds("cart_value missing", CART_OF_TWO)


def test_a_false_flag_exists() -> None:
    profile = Profile(user_id="u-1", traits={"consent": {"email": False}})
    assert holds("consent.email exists", profile) and not holds("consent.email missing", profile)


# -- recency ----------------------------------------------------------------------------------------------
ORDERED_TEN_DAYS_AGO = folded(track("Order Completed", NOW - timedelta(days=10), 1, revenue=20))


def test_last_exists_only_for_a_shopper_who_did_it() -> None:
    assert not holds('last("Order Completed") exists', NEVER_SEEN)
    assert holds('last("Order Completed") missing', NEVER_SEEN)
    assert holds('last("Order Completed") exists', ORDERED_TEN_DAYS_AGO)
    assert not holds('last("Order Completed") missing', ORDERED_TEN_DAYS_AGO)


def test_a_shopper_who_never_did_it_is_neither_recent_nor_long_ago() -> None:
    assert not holds('last("Order Completed") older_than 60d', NEVER_SEEN)
    assert not holds('last("Order Completed") within 60d', NEVER_SEEN)
    assert holds('not last("Order Completed") within 60d', NEVER_SEEN)  # the documented way to include them


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=60)
@given(minutes=st.integers(1, 60 * 24 * 30), unit=st.sampled_from(["m", "h", "d"]))
def test_within_includes_the_exact_edge_and_older_than_starts_after_it(minutes: int, unit: str) -> None:
    per_unit = {"m": 1, "h": 60, "d": 60 * 24}[unit]
    amount = max(1, minutes // per_unit)
    edge = timedelta(minutes=amount * per_unit)
    at_edge = folded(track("Product Viewed", NOW - edge, 1))
    past_edge = folded(track("Product Viewed", NOW - edge - timedelta(minutes=1), 1))
    window = f"{amount}{unit}"
    assert holds(f'last("Product Viewed") within {window}', at_edge)
    assert not holds(f'last("Product Viewed") older_than {window}', at_edge)
    assert not holds(f'last("Product Viewed") within {window}', past_edge)
    assert holds(f'last("Product Viewed") older_than {window}', past_edge)


def test_ordered_exactly_sixty_days_ago_is_within_sixty_days_not_older() -> None:
    profile = folded(track("Order Completed", NOW - timedelta(days=60), 1, revenue=5))
    assert holds('last("Order Completed") within 60d', profile)
    assert not holds('last("Order Completed") older_than 60d', profile)


# -- windows ---------------------------------------------------------------------------------------------
def order(days_ago: int, revenue: int, n: int) -> Any:
    return track("Order Completed", NOW - timedelta(days=days_ago), n, revenue=revenue)


def test_sum_over_weeks_reads_seven_days_a_week() -> None:
    profile = folded(order(0, 1, 1), order(5, 10, 2), order(13, 100, 3), order(14, 1000, 4))
    assert holds("sum(revenue, 1w) == 11", profile)
    assert holds("sum(revenue, 2w) == 111", profile)
    assert holds("sum(revenue, 3w) == 1111", profile)
    assert holds("sum(revenue, 2d) == 1", profile)


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=40)
@given(weeks=st.integers(1, 52), days_ago=st.lists(st.integers(0, 370), max_size=6))
def test_sum_over_n_weeks_is_sum_over_seven_n_days(weeks: int, days_ago: list[int]) -> None:
    profile = folded(*(order(d, 10 + i, i) for i, d in enumerate(days_ago)))
    facts = ShopperFacts(profile, NOW)
    expected = sum(10 + i for i, d in enumerate(days_ago) if d < 7 * weeks)
    assert parse_rule(f"sum(revenue, {weeks}w) == {expected}").holds_for(facts)
    assert parse_rule(f"sum(revenue, {7 * weeks}d) == {expected}").holds_for(facts)


def test_count_over_weeks_reads_seven_days_a_week() -> None:
    views = [track("Product Viewed", NOW - timedelta(days=d), i) for i, d in enumerate([0, 3, 8, 13, 20])]
    profile = folded(*views)
    assert holds('count("Product Viewed", 1w) == 2', profile)
    assert holds('count("Product Viewed", 2w) == 4', profile)


def test_order_counts_beyond_the_day_buckets_read_the_order_days() -> None:
    profile = folded(order(10, 1, 1), order(40, 1, 2), order(300, 1, 3))
    assert holds('count("Order Completed", 35d) == 1', profile)
    assert holds('count("Order Completed", 36d) == 1', profile)
    assert holds('count("Order Completed", 41d) == 2', profile)
    assert holds('count("Order Completed", 365d) == 3', profile)


# -- validation: the limits the docs promise --------------------------------------------------------------
@pytest.mark.parametrize(
    "rule",
    [
        'count("Product Viewed", 35d) >= 1',
        'count("Product Viewed", 5w) >= 1',
        "count(Product Viewed, 35d, category == shoes) >= 1",
        "count(Order Completed, 35d, category == shoes) >= 1",
        'count("Order Completed", 365d) >= 1',
        "sum(revenue, 365d) > 0",
        "sum(revenue, 52w) > 0",
        "age between 30 and 30",
        "consent.email != true",
        "consent.push == false",
    ],
)
def test_rules_at_the_documented_limits_are_valid(rule: str) -> None:
    AudienceRule.parse(rule, default_vocabulary())


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ('count("Product Viewed", 36d) >= 1', "at most 35 days"),
        ('count("Product Viewed", 6w) >= 1', "at most 35 days"),
        ("count(Order Completed, 36d, category == shoes) >= 1", "at most 35 days"),
        ('count("Order Completed", 366d) >= 1', "at most 365 days"),
        ("sum(revenue, 366d) > 0", "at most 365 days"),
        ('count("Product Viewed", 0d) == 0', "at least 1 day"),
        ('count("Product Viewed", 0w) == 0', "at least 1 day"),
        ("sum(revenue, 0d) == 0", "at least 1 day"),
        ("sum(revenue, 24h) > 0", "days or weeks"),
        ("orders == true", "orders is a number; 'true' is not"),
        ("age in [18, false]", "age is a number"),
        ("age between 30 and 29", "the low end comes first"),
        ("consent.email > true", "consent.email is true or false"),
        ("consent.email == 1", "consent.email is true or false"),
        ("country between a and m", "country is text"),
        ("country >= m", "country is text"),
        ("age older_than 3d", "'older_than' applies to last(EVENT), not to 'age'"),
        ("age within 3d", "'within' applies to last(EVENT), not to 'age'"),
        ('last("Order Completed") == 3', "is a moment"),
        ("sum(revenue, 7d) exists", "is a number"),
    ],
)
def test_rules_past_the_limits_or_of_the_wrong_type_are_refused(rule: str, message: str) -> None:
    refused(rule, message)


@pytest.mark.parametrize(
    ("declared", "rule", "message"),
    [
        ("number: loyalty points", "points > gold", "points is a number"),
        ("number; loyalty points", "points > gold", "points is a number"),
        ("text, free form", "points > 3", "points is text"),
        ("flag: opted in", "points == 3", "points is true or false"),
    ],
)
def test_a_shops_declared_type_is_read_past_its_punctuation(declared: str, rule: str, message: str) -> None:
    refused(rule, message, default_vocabulary().extended({"points": declared}, []))


def test_an_undeclared_type_accepts_any_value() -> None:
    vocabulary = default_vocabulary().extended({"points": "loyalty points"}, [])
    AudienceRule.parse("points > gold", vocabulary)
    AudienceRule.parse("points between 1 and 2", vocabulary)


# -- the parser ------------------------------------------------------------------------------------------
def test_not_binds_tighter_than_and() -> None:
    assert parse_rule("not country == MY and orders > 5") == AllOf(
        (Not(Comparison(Attribute("country"), "==", "MY")), Comparison(Attribute("orders"), ">", 5))
    )
    # a shopper in ID with 1 order: (not MY) is true, (orders > 5) is false
    assert not holds("not country == MY and orders > 5", Profile(user_id="u-1", traits={"country": "ID"}))


@pytest.mark.parametrize(
    ("text", "value"),
    [("-1", -1), ("-0.5", -0.5), ("1E3", 1000.0), ("2.5e-1", 0.25), ("1e2", 100.0), ("42", 42)],
)
def test_numbers_are_read_with_sign_fraction_and_exponent(text: str, value: float) -> None:
    parsed = parse_rule(f"orders > {text}")
    assert parsed == Comparison(Attribute("orders"), ">", value)
    assert type(parsed.value) is type(value)


def test_a_negative_bound_compares_as_a_number() -> None:
    assert holds("days_since_last_order > -1", ORDERED_TEN_DAYS_AGO)
    assert holds("revenue < 1E3", ORDERED_TEN_DAYS_AGO)
