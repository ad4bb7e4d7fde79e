"""The DynamoDB item codec's one-pass shortcuts against what they replace: ``serialize`` writes what boto3's
TypeSerializer makes of ``to_dynamo``'s values, ``deserialize`` reads what ``from_dynamo`` makes of
TypeDeserializer's, errors included; a profile's item is the one the full dump made, and reads back equal."""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from hypothesis import given, settings
from hypothesis import strategies as st
from payloads import identify, track

from shared.adapters.dynamo.codec import _json_default, deserialize, from_dynamo, serialize, to_dynamo
from shared.adapters.dynamo.profiles import (
    BEHAVIOUR_ATTRIBUTE,
    BEHAVIOUR_FIELDS,
    _profile_from_item,
    profile_to_item,
)
from shared.core.vocabulary import Channel
from shared.events.contract import parse_detail
from shared.profiles.fold import fold_events
from shared.profiles.profile import Profile

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)


def boto3_item(item: dict[str, Any]) -> dict[str, Any]:
    """What ``serialize`` did before its shortcut: every value through to_dynamo and TypeSerializer."""
    return {k: TypeSerializer().serialize(v) for k, v in to_dynamo(item).items()}


def boto3_plain(item: dict[str, Any]) -> dict[str, Any]:
    """What ``deserialize`` did before its shortcut: TypeDeserializer, then from_dynamo."""
    return {k: from_dynamo(TypeDeserializer().deserialize(v)) for k, v in item.items()}


def outcome(read: Any, item: Any) -> str:
    """The result's repr (types, NaN and set order included), or the error's type."""
    try:
        return repr(read(item))
    except Exception as error:  # the shortcut must fail where the original fails, the same way
        return f"raises {type(error).__name__}"


numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.decimals(places=2, min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=True, allow_infinity=True),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    numbers,
    st.text(max_size=8),
    st.binary(max_size=8),
    st.datetimes(timezones=st.just(UTC)),
    st.sampled_from(list(Channel)),  # a str subclass
    st.frozensets(st.text(max_size=3), max_size=3),  # written as text by to_dynamo
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.one_of(st.text(max_size=4), st.integers(0, 9)), inner, max_size=4),
    ),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(item=st.dictionaries(st.text(max_size=6), values, max_size=6))
def test_serialize_writes_what_boto3s_serializer_writes_of_to_dynamos_values(item: dict[str, Any]) -> None:
    assert outcome(serialize, item) == outcome(boto3_item, item)


number_texts = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.sampled_from(["1E+2", "-0", "0.10", "1e200", "NaN", "12.5e-3"]),
)
attributes = st.recursive(
    st.one_of(
        st.builds(lambda s: {"S": s}, st.text(max_size=8)),
        st.builds(lambda n: {"N": n}, number_texts),
        st.builds(lambda b: {"B": b}, st.binary(max_size=8)),
        st.builds(lambda b: {"BOOL": b}, st.booleans()),
        st.just({"NULL": True}),
        st.builds(lambda s: {"SS": s}, st.lists(st.text(max_size=4), min_size=1, max_size=4)),
        # no NaN in a set: its hash is its identity, so even boto3 alone lists such a set in any order
        st.builds(
            lambda s: {"NS": s}, st.lists(number_texts.filter(lambda n: n != "NaN"), min_size=1, max_size=4)
        ),
        st.builds(lambda s: {"BS": s}, st.lists(st.binary(max_size=4), min_size=1, max_size=4)),
        st.sampled_from([{}, {"X": 1}, {"s": "lower-case type"}, {"S": "first", "N": "2"}]),
    ),
    lambda inner: st.one_of(
        st.builds(lambda items: {"L": items}, st.lists(inner, max_size=4)),
        st.builds(lambda m: {"M": m}, st.dictionaries(st.text(max_size=4), inner, max_size=4)),
    ),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(item=st.dictionaries(st.text(max_size=6), attributes, max_size=6))
def test_deserialize_reads_what_from_dynamo_made_of_boto3s_deserializer(item: dict[str, Any]) -> None:
    assert outcome(deserialize, item) == outcome(boto3_plain, item)


def test_numbers_keep_their_dynamodb_spelling_and_bounds() -> None:
    assert serialize({"a": Decimal("59.90"), "b": 10**37, "c": 0.1, "d": float("nan")}) == {
        "a": {"N": "59.90"},
        "b": {"N": str(10**37)},
        "c": {"N": "0.1"},
        "d": {"NULL": True},  # a float that is not a number is stored as null, as to_dynamo always did
    }
    assert deserialize({"a": {"N": "1E+2"}, "b": {"N": "12.5"}}) == {"a": 100, "b": 12.5}
    assert outcome(serialize, {"a": 10**40}) == "raises Rounded"  # past DynamoDB's 38 digits
    assert outcome(serialize, {"a": Decimal("1.00000000000000000000000000000000000001")}) == "raises Inexact"


# -- a profile's item --------------------------------------------------------------------------------


def item_before(profile: Profile) -> dict[str, Any]:
    """profile_to_item as it was: the full dump (its activity compressed on its own, then dropped)."""
    data = profile.model_dump(mode="python")
    if not data["anonymous_ids"]:
        del data["anonymous_ids"]
    for link in ("linked_to", "linked_at"):
        if data[link] is None:
            del data[link]
    behaviour = {k: data.pop(k) for k in BEHAVIOUR_FIELDS}
    data.pop("activity", None)
    if not profile.activity.is_empty():
        behaviour["activity"] = profile.activity.model_dump(mode="json")
    packed = json.dumps(behaviour, default=_json_default, separators=(",", ":")).encode()
    data[BEHAVIOUR_ATTRIBUTE] = zlib.compress(packed, level=6)
    return boto3_item(data)


KINDS = [
    "Product Viewed",
    "Product Added",
    "Product Removed",
    "Checkout Started",
    "Order Completed",
    "Signed Up",
]
shopper_events = st.lists(
    st.tuples(
        st.sampled_from(KINDS),
        st.integers(0, 60 * 24 * 50),  # minutes after T0
        st.integers(0, 7),  # product
        st.sampled_from(["shoes", "bags", "ünïcode"]),
        st.decimals(places=2, min_value=0, max_value=500),
        st.sampled_from([{}, {"timezone": "Asia/Jakarta"}, {"locale": "nl-NL"}, {"traits": {"plan": "pro"}}]),
    ),
    max_size=12,
)


def folded(rows: list[tuple[Any, ...]], traits: dict[str, Any], scores: dict[str, Any]) -> Profile:
    details = [identify("u-1", "i-1", T0, **traits)] if traits else []
    for n, (kind, minutes, product, category, price, context) in enumerate(rows):
        at = T0 + timedelta(minutes=minutes)
        line = {"product_id": f"p-{product}", "category": category, "price": str(price), "quantity": 1}
        properties = (
            line
            if kind != "Order Completed"
            else {"order_id": f"o-{n}", "revenue": str(price), "products": [line]}
        )
        details.append({**track("u-1", kind, f"m-{n}", at, **properties), "context": context})
    profile = fold_events(Profile(user_id="u-1"), [parse_detail(d) for d in details]).profile
    profile.scores = scores
    return profile


traits_drawn = st.dictionaries(
    st.sampled_from(["email", "firstName", "age", "country", "consent", "height"]),
    st.one_of(st.text(max_size=6), st.integers(0, 120), st.floats(0, 3, allow_nan=False), st.booleans()),
    max_size=4,
)
scores_drawn = st.dictionaries(
    st.sampled_from(["churn_risk", "rfm", "best_send_hour"]),
    st.one_of(
        st.floats(0.001, 1),
        st.integers(0, 23),
        st.fixed_dictionaries({"segment": st.text(max_size=5), "r": st.integers(1, 5)}),
    ),
    max_size=3,
)


@settings(max_examples=150, deadline=None)
@given(rows=shopper_events, traits=traits_drawn, scores=scores_drawn)
def test_a_profiles_item_is_the_one_the_full_dump_made_and_reads_back_equal(
    rows: list[tuple[Any, ...]], traits: dict[str, Any], scores: dict[str, Any]
) -> None:
    profile = folded(rows, traits, scores)
    item = profile_to_item(profile)
    assert item == item_before(profile)
    # the same bytes, not only equal values: the compressed behaviour is what DynamoDB stores and bills
    assert item[BEHAVIOUR_ATTRIBUTE]["B"] == item_before(profile)[BEHAVIOUR_ATTRIBUTE]["B"]
    again = _profile_from_item(item)
    assert again == profile
    assert again == _profile_from_item(item_before(profile))
