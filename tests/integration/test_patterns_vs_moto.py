"""``shared.events.patterns.matches`` agrees with moto's EventBridge on real rule deliveries.

Every pattern below becomes a rule on a moto event bus targeting its own SQS queue; every event is
sent with ``PutEvents``; then each queue is drained. For every (rule, event) pair, moto delivering
the event must coincide with ``matches()`` saying yes.

The corpus stays where moto follows EventBridge. Where moto diverges from AWS (booleans equal to
numbers, arrays of objects, empty arrays or objects, ...) the AWS answer is pinned in
``tests/unit/test_patterns.py`` instead; the events here therefore keep every field to one JSON type
and hold no arrays of objects.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.events.models import EventPattern

from shared.deployment import invocations
from shared.deployment.naming import DEFAULT_STACK_NAME, ResourceNames
from shared.events.pattern_validation import InvalidPattern, validate_pattern
from shared.events.patterns import matches

ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
BUS = "nudge-patterns"
TIME = "2024-05-01T12:00:00Z"


def _track(event: str, **properties: Any) -> dict[str, Any]:
    return {"type": "track", "event": event, "userId": "u-1", "properties": properties}


NUDGE_CONFIGURATION_SET = ResourceNames(DEFAULT_STACK_NAME).configuration_set


def _ses(kind: str, configuration_set: str) -> dict[str, Any]:
    """An SES sending event as the configuration set ``configuration_set`` publishes it."""
    return {
        "source": "aws.ses",
        "detail-type": kind,
        "detail": {
            "eventType": "Bounce",
            "mail": {
                "messageId": "m-1",
                "tags": {"ses:configuration-set": [configuration_set], "user_id": ["u-1"]},
            },
        },
    }


PATTERNS: dict[str, dict[str, Any]] = {
    # The shapes Nudge deploys: the ingest rule, a plain L4 trigger, an L4 trigger with a filter, SES
    # feedback for Nudge's own configuration set only.
    "match-all": {"source": [{"prefix": ""}]},
    "ses-feedback": dict(invocations.ses_feedback_rule(NUDGE_CONFIGURATION_SET).pattern),
    "order-completed": {"detail": {"type": ["track"], "event": ["Order Completed"]}},
    "big-checkout": {
        "detail": {
            "type": ["track"],
            "event": ["Checkout Started"],
            "properties": {"total": [{"numeric": [">=", 100]}]},
        }
    },
    "source-exact": {"source": ["nudge.app"]},
    "source-any-of": {"source": ["shopify.orders", "nope"]},
    "envelope-fields": {"account": [ACCOUNT], "region": [REGION], "detail-type": ["Segment Track"]},
    "detail-type-prefix": {"detail-type": [{"prefix": "Segment"}]},
    "prefix-case-sensitive": {"detail": {"event": [{"prefix": "order"}]}},
    "prefix-ignore-case": {"detail": {"event": [{"prefix": {"equals-ignore-case": "ORDER"}}]}},
    "prefix-on-number": {"detail": {"properties": {"total": [{"prefix": "1"}]}}},
    "suffix": {"detail": {"properties": {"path": [{"suffix": ".png"}]}}},
    "suffix-case-sensitive": {"detail": {"properties": {"file": [{"suffix": ".png"}]}}},
    "suffix-ignore-case": {"detail": {"properties": {"file": [{"suffix": {"equals-ignore-case": ".png"}}]}}},
    "equals-ignore-case": {"detail": {"event": [{"equals-ignore-case": "order completed"}]}},
    "anything-but-string": {"detail": {"type": [{"anything-but": "track"}]}},
    "anything-but-list": {"detail": {"event": [{"anything-but": ["Order Completed", "Checkout Started"]}]}},
    "anything-but-numbers": {"detail": {"properties": {"total": [{"anything-but": [100, 150]}]}}},
    "anything-but-prefix": {"detail": {"event": [{"anything-but": {"prefix": "Checkout"}}]}},
    "anything-but-suffix": {"detail": {"properties": {"currency": [{"anything-but": {"suffix": "D"}}]}}},
    "anything-but-ignore-case": {
        "detail": {"properties": {"currency": [{"anything-but": {"equals-ignore-case": "usd"}}]}}
    },
    "anything-but-array-value": {"detail": {"properties": {"tags": [{"anything-but": "vip"}]}}},
    "numeric-range": {"detail": {"properties": {"total": [{"numeric": [">", 0, "<=", 100]}]}}},
    "numeric-equals": {"detail": {"properties": {"total": [{"numeric": ["=", 300]}]}}},
    "numeric-negative": {"detail": {"properties": {"total": [{"numeric": ["<", 0]}]}}},
    "numeric-zero": {"detail": {"properties": {"price": [{"numeric": ["<=", 0]}]}}},
    "exact-number": {"detail": {"properties": {"total": [300]}}},
    "exact-number-vs-string": {"detail": {"properties": {"total": [150]}}},
    "exact-string-number": {"detail": {"properties": {"total": ["150"]}}},
    "exact-null": {"detail": {"properties": {"category": [None]}}},
    "exact-empty-string": {"detail": {"properties": {"coupon": [""]}}},
    "exact-boolean": {"detail": {"properties": {"gift": [True]}}},
    "array-any-element": {"detail": {"properties": {"tags": ["vip"]}}},
    "exists-true": {"detail": {"properties": {"coupon": [{"exists": True}]}}},
    "exists-false": {"detail": {"type": ["track"], "properties": {"coupon": [{"exists": False}]}}},
    "exists-sees-leaves-not-objects": {
        "detail": {"$or": [{"traits": [{"exists": True}]}, {"traits": {"plan": [{"exists": True}]}}]}
    },
    "exists-false-on-object": {"detail": {"traits": [{"exists": False}], "type": ["identify"]}},
    "wildcard": {"detail": {"properties": {"path": [{"wildcard": "*/lib/*"}]}}},
    "wildcard-case-sensitive": {"detail": {"traits": {"email": [{"wildcard": "*@example.com"}]}}},
    "cidr-v4": {"detail": {"context": {"ip": [{"cidr": "10.0.0.0/24"}]}}},
    "cidr-v6": {"detail": {"context": {"ip": [{"cidr": "2001:db8::/32"}]}}},
    "resources-prefix": {"resources": [{"prefix": "arn:aws:ecs:"}]},
    "or-in-detail": {
        "detail": {
            "$or": [
                {"event": ["Order Completed"]},
                {"properties": {"total": [{"numeric": [">", 200]}]}},
            ]
        }
    },
    "or-top-level": {"$or": [{"source": ["shopify.orders"]}, {"detail-type": ["Segment Identify"]}]},
    "mixed-leaf": {"detail": {"event": ["Order Completed", {"prefix": "Checkout"}]}},
    "missing-field": {"detail": {"anonymousId": [{"exists": False}], "event": [{"exists": True}]}},
}

EVENTS: dict[str, dict[str, Any]] = {
    "order-completed": {
        "source": "nudge.app",
        "detail-type": "Segment Track",
        "detail": {
            **_track("Order Completed", total=150, currency="EUR", coupon="SUMMER-10", tags=["vip", "news"]),
            "context": {"ip": "10.0.0.12"},
        },
    },
    "checkout-big": {
        "source": "nudge.app",
        "detail-type": "Segment Track",
        "detail": {
            **_track("Checkout Started", total=250.5, currency="USD", tags=["vip"], gift=True),
            "context": {"ip": "192.168.1.20"},
        },
    },
    "checkout-small": {
        "source": "nudge.app",
        "detail-type": "Segment Track",
        "detail": _track("Checkout Started", total=99.99, currency="usd", gift=False),
    },
    "checkout-boundary": {
        "source": "nudge.app",
        "detail-type": "Segment Track",
        "detail": _track("Checkout Started", total=100, currency="EUR", coupon=""),
    },
    "checkout-string-total": {
        "source": "nudge.app",
        "detail-type": "Segment Track",
        "detail": _track("Checkout Started", total="150"),
    },
    "identify": {
        "source": "nudge.app",
        "detail-type": "Segment Identify",
        "detail": {"type": "identify", "userId": "u-2", "traits": {"plan": "pro", "email": "c@example.com"}},
    },
    "identify-shouting": {
        "source": "nudge.app",
        "detail-type": "Segment Identify",
        "detail": {"type": "identify", "userId": "u-3", "traits": {"email": "Ann@Example.COM"}},
    },
    "page": {
        "source": "nudge.web",
        "detail-type": "Segment Page",
        "detail": {
            "type": "page",
            "userId": "u-1",
            "name": "Docs",
            "properties": {"path": "/docs/lib/a.png"},
        },
    },
    "partner-order": {
        "source": "shopify.orders",
        "detail-type": "Order Paid",
        "detail": _track("Order Completed", total=300.0, file="REPORT.PNG"),
    },
    "anonymous-view": {
        "source": "nudge.app",
        "detail-type": "Segment Track",
        "detail": {
            "type": "track",
            "event": "Product Viewed",
            "anonymousId": "a-1",
            "properties": {"sku": "SKU-001", "price": 0, "category": None, "file": "cover.png"},
        },
    },
    "coupon-object": {
        "source": "nudge.app",
        "detail-type": "Segment Track",
        "detail": _track("Coupon Applied", coupon={"code": "X"}, path="/lib"),
    },
    "coupon-null": {
        "source": "nudge.app",
        "detail-type": "Segment Track",
        "detail": _track("order completed", coupon=None, total=-20),
    },
    "refund-with-resources": {
        "source": "nudge.billing",
        "detail-type": "Segment Track",
        "resources": ["arn:aws:ecs:us-east-1:123456789012:task/abc"],
        "detail": _track("Order Refunded", total=-20.5, currency="GBP"),
    },
    "ipv6-visit": {
        "source": "nudge.web",
        "detail-type": "Segment Page",
        "detail": {"type": "page", "userId": "u-9", "context": {"ip": "2001:db8::1"}, "properties": {}},
    },
    "ses-bounce-nudge": _ses("Email Bounced", NUDGE_CONFIGURATION_SET),
    "ses-bounce-other-app": _ses("Email Bounced", "billing-mail"),
    "ses-send-nudge": _ses("Email Sent", NUDGE_CONFIGURATION_SET),
    "tags-only-vip": {
        "source": "nudge.app",
        "detail-type": "Segment Track",
        "detail": _track("Wishlist Updated", tags=["vip"], total=1000),
    },
}


def _rule_name(pattern_name: str) -> str:
    return f"rule-{pattern_name}"


def _envelope(event: dict[str, Any], event_id: str) -> dict[str, Any]:
    """The event as EventBridge hands it to a rule."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": event["detail-type"],
        "source": event["source"],
        "account": ACCOUNT,
        "time": TIME,
        "region": REGION,
        "resources": event.get("resources", []),
        "detail": event["detail"],
    }


def _drain(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    bodies: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return bodies
        for message in batch:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


class Deliveries:
    """What moto delivered: rule name -> delivered event bodies, plus the id of each sent event."""

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}
        self.bodies: dict[str, list[dict[str, Any]]] = {}

    def received(self, pattern_name: str) -> set[str]:
        names_by_id = {event_id: name for name, event_id in self.ids.items()}
        return {names_by_id[body["id"]] for body in self.bodies[pattern_name]}


@pytest.fixture(scope="module")
def deliveries() -> Iterator[Deliveries]:
    with pytest.MonkeyPatch.context() as env:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SECURITY_TOKEN": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }.items():
            env.setenv(name, value)
        with mock_aws():
            events = boto3.client("events", region_name=REGION)
            sqs = boto3.client("sqs", region_name=REGION)
            events.create_event_bus(Name=BUS)

            queues: dict[str, str] = {}
            for name, pattern in PATTERNS.items():
                queue_url = sqs.create_queue(QueueName=f"q-{name}")["QueueUrl"]
                queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
                    "Attributes"
                ]["QueueArn"]
                events.put_rule(Name=_rule_name(name), EventBusName=BUS, EventPattern=json.dumps(pattern))
                events.put_targets(
                    Rule=_rule_name(name), EventBusName=BUS, Targets=[{"Id": "queue", "Arn": queue_arn}]
                )
                queues[name] = queue_url

            result = Deliveries()
            names = list(EVENTS)
            for start in range(0, len(names), 10):
                chunk = names[start : start + 10]
                response = events.put_events(
                    Entries=[
                        {
                            "EventBusName": BUS,
                            "Source": EVENTS[name]["source"],
                            "DetailType": EVENTS[name]["detail-type"],
                            "Detail": json.dumps(EVENTS[name]["detail"]),
                            "Resources": EVENTS[name].get("resources", []),
                        }
                        for name in chunk
                    ]
                )
                assert response["FailedEntryCount"] == 0, response
                for name, entry in zip(chunk, response["Entries"], strict=True):
                    result.ids[name] = entry["EventId"]

            for name, queue_url in queues.items():
                result.bodies[name] = _drain(sqs, queue_url)
            yield result


def test_corpus_is_big_enough_and_valid() -> None:
    assert len(PATTERNS) * len(EVENTS) >= 40
    for pattern in PATTERNS.values():
        validate_pattern(pattern)


def test_every_pattern_both_matches_and_rejects_something() -> None:
    """Guards the corpus: a pattern that matches all or nothing would prove little."""
    for name, pattern in PATTERNS.items():
        outcomes = {matches(pattern, _envelope(event, "id")) for event in EVENTS.values()}
        expected = {True} if name == "match-all" else {True, False}
        assert outcomes == expected, name


@pytest.mark.parametrize("pattern_name", list(PATTERNS))
def test_matcher_agrees_with_moto(deliveries: Deliveries, pattern_name: str) -> None:
    pattern = PATTERNS[pattern_name]
    predicted = {
        name for name, event in EVENTS.items() if matches(pattern, _envelope(event, deliveries.ids[name]))
    }
    assert predicted == deliveries.received(pattern_name)


def test_the_nudge_rules_route_what_we_expect(deliveries: Deliveries) -> None:
    assert deliveries.received("match-all") == set(EVENTS)
    assert deliveries.received("order-completed") == {"order-completed", "partner-order"}
    assert deliveries.received("big-checkout") == {"checkout-big", "checkout-boundary"}
    # Another application's mail on the same account never reaches feedback (nor does "Email Sent").
    assert deliveries.received("ses-feedback") == {"ses-bounce-nudge"}


def test_delivered_bodies_are_the_envelopes_matched_against(deliveries: Deliveries) -> None:
    """Keeps ``_envelope`` honest. moto matches on ``account`` but leaves it out of the SQS body."""
    assert len(deliveries.bodies["match-all"]) == len(EVENTS)
    for body in deliveries.bodies["match-all"]:
        name = next(name for name, event_id in deliveries.ids.items() if event_id == body["id"])
        expected = _envelope(EVENTS[name], body["id"])
        assert set(expected) - set(body) == {"account"}
        assert {key: body[key] for key in body if key != "time"} == {
            key: expected[key] for key in body if key != "time"
        }


# ------------------------------------------------------------------ randomized, against moto's matcher
# The same comparison on generated rules and events, in-process, to reach combinations the corpus does
# not. Generation stays inside the moto-safe subset: no booleans, no arrays of objects, no empty or
# nested arrays, no empty objects, no newlines (see the module docstring).

TEXT = st.sampled_from(["x", "y", "X", "", "xy", "a*b", "10.0.0.7", "2001:db8::9"]) | st.text(
    alphabet="xyXY*.-", max_size=4
)
NUMBER = st.integers(min_value=-3, max_value=3) | st.sampled_from([0.5, -1.5, 2.0, 1e3])
SCALAR = st.none() | TEXT | NUMBER
FIELD = st.sampled_from(["a", "b", "c"])
EVENT_VALUE = st.recursive(
    SCALAR | st.lists(SCALAR, min_size=1, max_size=3),
    lambda inner: st.dictionaries(FIELD, inner, min_size=1, max_size=3),
    max_leaves=8,
)
STRING_ARG = TEXT | st.fixed_dictionaries({"equals-ignore-case": TEXT})
BOUND = st.sampled_from(["<", "<=", "=", ">", ">="])
LOWER = st.sampled_from([">", ">="])
UPPER = st.sampled_from(["<", "<="])
MATCHER = st.one_of(
    SCALAR,
    st.fixed_dictionaries({"prefix": STRING_ARG}),
    st.fixed_dictionaries({"suffix": STRING_ARG}),
    st.fixed_dictionaries({"equals-ignore-case": TEXT}),
    st.fixed_dictionaries({"wildcard": st.text(alphabet="xyX*", max_size=4)}),
    st.fixed_dictionaries({"numeric": st.tuples(BOUND, NUMBER).map(list)}),
    st.fixed_dictionaries({"numeric": st.tuples(LOWER, NUMBER, UPPER, NUMBER).map(list)}),
    st.fixed_dictionaries({"exists": st.booleans()}),
    st.fixed_dictionaries({"cidr": st.sampled_from(["10.0.0.0/24", "2001:db8::/32"])}),
    st.fixed_dictionaries(
        {
            "anything-but": TEXT
            | NUMBER
            | st.lists(TEXT, min_size=1, max_size=3)
            | st.lists(NUMBER, min_size=1, max_size=3)
            | st.dictionaries(
                st.sampled_from(["prefix", "suffix", "equals-ignore-case", "wildcard"]),
                TEXT | st.lists(TEXT, min_size=1, max_size=2),
                min_size=1,
                max_size=1,
            )
        }
    ),
)
PATTERN = st.recursive(
    st.dictionaries(FIELD, st.lists(MATCHER, min_size=1, max_size=3), min_size=1, max_size=2),
    lambda inner: (
        st.dictionaries(FIELD, inner, min_size=1, max_size=2)
        | st.fixed_dictionaries({"$or": st.lists(inner, min_size=2, max_size=3)})
    ),
    max_leaves=6,
)


@settings(max_examples=600, deadline=None)
@given(detail_pattern=PATTERN, detail=st.dictionaries(FIELD, EVENT_VALUE, min_size=1, max_size=3))
def test_matcher_agrees_with_moto_on_generated_rules(
    detail_pattern: dict[str, Any], detail: dict[str, Any]
) -> None:
    pattern = {"detail": detail_pattern}
    try:
        validate_pattern(pattern)
    except InvalidPattern:
        assume(False)
    event = _envelope({"source": "nudge.app", "detail-type": "Segment Track", "detail": detail}, "id")
    moto_event: Any = event
    assert matches(pattern, event) is EventPattern.load(json.dumps(pattern)).matches_event(moto_event)
