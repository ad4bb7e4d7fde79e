"""Audience rules: parsing, evaluation, and errors that name the problem."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.audience import ATTRIBUTES, Audience, AudienceRule, AudienceRuleError

SHOPPER: dict[str, Any] = {"country": "ID", "age": 27, "orders": 3, "consent.email": True, "city": None}


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("country in [ID, MY, SG]", True),
        ("country in [IN, US]", False),
        ("country not in [IN, US]", True),
        ("country == id", True),
        ("age between 18 and 34", True),
        ("age between 28 and 34", False),
        ("orders >= 3", True),
        ("orders > 3", False),
        ("consent.email == true", True),
        ("city exists", False),
        ("city missing", True),
        ("gender == female", False),
        ("gender != female", True),
    ],
)
def test_rules_evaluate_against_a_profile_view(rule: str, expected: bool) -> None:
    assert AudienceRule.parse(rule).holds_for(SHOPPER) is expected


def test_every_rule_must_hold() -> None:
    assert Audience.parse(["country in [ID]", "age between 18 and 34"]).includes(SHOPPER)
    assert not Audience.parse(["country in [ID]", "orders >= 4"]).includes(SHOPPER)
    assert Audience.parse([]).includes({})


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("contry in [ID]", "unknown attribute 'contry'"),
        ("country in ID", r"needs a list like \[a, b\]"),
        ("age between 18", "'between' needs 'LOW and HIGH'"),
        ("age >=", "missing value after '>='"),
        ("orders exists 3", "'exists' takes no value"),
        ("just words", "cannot parse audience rule"),
    ],
)
def test_bad_rules_are_errors_that_say_what_is_wrong(rule: str, message: str) -> None:
    with pytest.raises(AudienceRuleError, match=message):
        AudienceRule.parse(rule)


@given(value=st.integers(-1000, 1000), threshold=st.integers(-1000, 1000))
def test_numeric_comparisons_agree_with_python(value: int, threshold: int) -> None:
    view = {"orders": value}
    assert AudienceRule.parse(f"orders >= {threshold}").holds_for(view) is (value >= threshold)
    assert AudienceRule.parse(f"orders < {threshold}").holds_for(view) is (value < threshold)
    assert AudienceRule.parse(f"orders between {threshold} and {threshold + 5}").holds_for(view) is (
        threshold <= value <= threshold + 5
    )


@given(text=st.text(max_size=80))
def test_parsing_arbitrary_text_either_succeeds_or_raises_a_rule_error(text: str) -> None:
    try:
        rule = AudienceRule.parse(text)
    except AudienceRuleError:
        return
    assert rule.attribute in ATTRIBUTES


@given(
    country=st.sampled_from(["ID", "MY", "IN", "US"]), members=st.sets(st.sampled_from(["ID", "MY", "IN"]))
)
def test_in_and_not_in_are_complements(country: str, members: set[str]) -> None:
    listing = f"[{', '.join(sorted(members))}]"
    inside = AudienceRule.parse(f"country in {listing}").holds_for({"country": country})
    outside = AudienceRule.parse(f"country not in {listing}").holds_for({"country": country})
    assert inside is (country in members)
    assert inside is not outside
