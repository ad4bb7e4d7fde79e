"""EventBridge pattern semantics at their edges: each test pins one decision of the matcher (issue 16).

Where moto follows EventBridge the case is also checked against moto's own matcher, in-process (the
full PutEvents round trip is tests/integration/test_patterns_vs_moto.py). Catalogued mutants:
tests/mutation/catalog/patterns.yaml.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from moto.events.models import EventPattern

from shared.events.pattern_validation import InvalidPattern, validate_pattern
from shared.events.patterns import matches


def envelope(detail: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "Segment Track",
        "source": "nudge.app",
        "account": "123456789012",
        "time": "2024-05-01T12:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


def on(field: str, *matchers: Any) -> dict[str, Any]:
    return {"detail": {field: list(matchers)}}


def moto_matches(pattern: dict[str, Any], event: Any) -> bool:
    return bool(EventPattern.load(json.dumps(pattern)).matches_event(event))


def agreed(pattern: dict[str, Any], detail: dict[str, Any]) -> bool:
    """Our answer, after checking the pattern is valid and that moto gives the same one."""
    validate_pattern(pattern)
    event = envelope(detail)
    ours = matches(pattern, event)
    assert ours is moto_matches(pattern, event), "moto disagrees"
    return ours


# -- wildcard: the whole value, not a prefix of it --------------------------------------------------------
SHOP_MAIL = on("email", {"wildcard": "*@shop.com"})


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ("x@shop.com", True),
        ("@shop.com", True),
        ("x@shop.com.evil", False),
        ("x@shop.co", False),
        ("x@shop.com\n", False),
        ("x@shop.comx", False),
    ],
)
def test_a_wildcard_matches_the_whole_value(email: str, expected: bool) -> None:
    assert agreed(SHOP_MAIL, {"email": email}) is expected


def test_a_wildcard_without_a_trailing_star_does_not_match_longer_values() -> None:
    assert agreed(on("path", {"wildcard": "/lib/*.so"}), {"path": "/lib/a.so"}) is True
    assert agreed(on("path", {"wildcard": "/lib/*.so"}), {"path": "/lib/a.so.1"}) is False
    assert agreed(on("path", {"wildcard": "ab"}), {"path": "abc"}) is False


def test_anything_but_wildcard_lets_through_a_value_that_only_starts_like_it() -> None:
    pattern = on("email", {"anything-but": {"wildcard": "*@shop.com"}})
    assert agreed(pattern, {"email": "x@shop.com.evil"}) is True
    assert agreed(pattern, {"email": "x@shop.com"}) is False


@given(local=st.text(alphabet="abc.@", max_size=6), tail=st.text(alphabet="abc.@", min_size=1, max_size=4))
def test_a_value_with_anything_after_the_suffix_never_matches(local: str, tail: str) -> None:
    event = envelope({"email": f"{local}@shop.com{tail}"})
    assert matches(SHOP_MAIL, event) is False
    assert matches(SHOP_MAIL, envelope({"email": f"{local}@shop.com"})) is True


# -- objects inside arrays are not leaves -----------------------------------------------------------------
# moto diverges here (it does not descend into arrays of objects), so these pin AWS's answer alone.
ITEMS_OF_OBJECTS = {"items": [{"sku": "a"}, {"sku": "b"}]}


def test_an_array_of_objects_has_no_value_of_its_own() -> None:
    assert matches(on("items", {"exists": True}), envelope(ITEMS_OF_OBJECTS)) is False
    assert matches(on("items", {"exists": False}), envelope(ITEMS_OF_OBJECTS)) is True
    assert matches(on("items", {"anything-but": "x"}), envelope(ITEMS_OF_OBJECTS)) is False
    assert matches(on("items", {"anything-but": [1, 2]}), envelope(ITEMS_OF_OBJECTS)) is False


def test_only_the_scalars_of_a_mixed_array_are_its_values() -> None:
    mixed = envelope({"tags": ["vip", {"since": 2020}, ["new"]]})
    assert matches(on("tags", {"anything-but": ["vip", "new"]}), mixed) is False  # the object is not a value
    assert matches(on("tags", {"anything-but": "vip"}), mixed) is True  # "new" is
    assert matches(on("tags", {"exists": True}), mixed) is True
    assert matches({"detail": {"tags": {"since": [2020]}}}, mixed) is True  # the object is reached by path


def test_an_object_only_array_nested_in_an_array_is_absent() -> None:
    assert matches(on("grid", {"exists": False}), envelope({"grid": [[{"x": 1}], [{"x": 2}]]})) is True


# -- anything-but with a modifier on values that are not strings ------------------------------------------
@pytest.mark.parametrize(
    "modifier",
    [{"prefix": "us-"}, {"prefix": "1"}, {"suffix": "0"}, {"equals-ignore-case": "10"}, {"wildcard": "*"}],
    ids=["prefix", "prefix-of-the-digits", "suffix-of-the-digits", "equals-ignore-case", "wildcard-star"],
)
@pytest.mark.parametrize("value", [10, 1.5, None, True], ids=["int", "float", "null", "boolean"])
def test_anything_but_a_string_modifier_lets_through_values_that_are_not_strings(
    modifier: dict[str, Any], value: Any
) -> None:
    assert agreed(on("v", {"anything-but": modifier}), {"v": value}) is True


def test_anything_but_a_modifier_still_needs_the_field() -> None:
    assert agreed(on("v", {"anything-but": {"prefix": "us-"}}), {}) is False


# -- a leaf's matchers are alternatives, tried in turn ----------------------------------------------------
@pytest.mark.parametrize(
    ("matchers", "detail", "expected"),
    [
        ([{"exists": False}, "x"], {"c": "x"}, True),
        ([{"exists": False}, {"prefix": "x"}], {"c": "xy"}, True),
        ([{"exists": True}, "x"], {}, False),
        ([{"exists": False}, "x"], {"c": "y"}, False),
        ([{"exists": False}, "x"], {}, True),
    ],
)
def test_an_exists_that_fails_leaves_the_other_matchers_to_decide(
    matchers: list[Any], detail: dict[str, Any], expected: bool
) -> None:
    assert agreed(on("c", *matchers), detail) is expected


# -- validation: what PutRule would refuse -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("pattern", "path", "fragment"),
    [
        pytest.param(
            on("n", {"numeric": [">", math.inf]}), "detail.n[0].numeric[1]", "finite", id="inf-bound"
        ),
        pytest.param(
            on("n", {"numeric": ["<", -math.inf]}), "detail.n[0].numeric[1]", "finite", id="minus-inf"
        ),
        pytest.param(on("n", math.inf), "detail.n[0]", "finite", id="inf-value"),
        pytest.param(on("n", {"anything-but": math.inf}), "detail.n[0].anything-but", "finite", id="inf-but"),
        pytest.param(
            on("n", {"numeric": [">", 1, ">", 5]}),
            "detail.n[0].numeric",
            "lower bound",
            id="two-lower-bounds",
        ),
        pytest.param(
            on("n", {"numeric": [">=", 1, "=", 5]}),
            "detail.n[0].numeric",
            "lower bound",
            id="equals-as-upper",
        ),
        pytest.param(
            on("s", {"anything-but": {"suffix": ""}}),
            "detail.s[0].anything-but.suffix",
            "every string",
            id="anything-but-empty-suffix",
        ),
        pytest.param(
            on("s", {"anything-but": {"suffix": ["x", ""]}}),
            "detail.s[0].anything-but.suffix[1]",
            "every string",
            id="anything-but-empty-suffix-in-list",
        ),
    ],
)
def test_patterns_eventbridge_refuses_name_the_offending_part(pattern: Any, path: str, fragment: str) -> None:
    with pytest.raises(InvalidPattern) as raised:
        validate_pattern(pattern)
    assert raised.value.path == path
    assert fragment in raised.value.reason


@pytest.mark.parametrize(
    "pattern",
    [
        pytest.param(on("n", {"numeric": [">=", 1, "<=", 5]}), id="closed-range"),
        pytest.param(on("n", {"numeric": [">", -1e308, "<", 1e308]}), id="huge-but-finite"),
    ],
)
def test_patterns_at_the_edge_of_the_rules_are_valid(pattern: dict[str, Any]) -> None:
    validate_pattern(pattern)
