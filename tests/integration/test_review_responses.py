"""The demo's shoppers answer a review request with a review: the post-purchase journey's conversion
(``Product Reviewed``) has a known lift in the responder, as the other campaigns' orders have, so its
uplift in the demo's report is not 0/0. Its other send step (the cross-sell) still causes orders."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fakes import CAMPAIGNS
from moto import mock_aws

from nudge.local.ports import SentMessage
from nudge.local.responses import Responder, ResponseModel
from nudge.local.runtime import LocalRuntime
from nudge.shop.store import StoreConfig, SyntheticStore
from shared.campaigns.loader import load_campaign_dir
from shared.core.clock import SimulatedClock
from shared.core.vocabulary import Level
from shared.journeys.engine import send_key

SENT_AT = datetime(2026, 11, 5, 9, tzinfo=UTC)
CERTAIN = ResponseModel(
    conversion_lift={Level.L4: 1.0},
    review_lift={"post-purchase:review-request": 1.0},
    email_delivered=0.0,
    inbox_read=0.0,
)


@pytest.fixture
def store() -> SyntheticStore:
    return SyntheticStore(StoreConfig(users=3))


@pytest.fixture
def runtime() -> Iterator[LocalRuntime]:
    with mock_aws():
        yield LocalRuntime(load_campaign_dir(CAMPAIGNS), SimulatedClock(SENT_AT), log_level="CRITICAL")


def sent(user_id: str, step: str) -> SentMessage:
    key = send_key("post-purchase", "i-1", step, 1, user_id)
    return SentMessage(SENT_AT, user_id, "post-purchase", "in_app", f"m-{step}", key)


def test_a_review_request_is_answered_with_a_review_and_the_cross_sell_with_an_order(
    store: SyntheticStore, runtime: LocalRuntime
) -> None:
    shopper = store.shoppers[0].user_id
    responder = Responder(store, runtime, seed=1, model=CERTAIN)
    runtime.sent.extend([sent(shopper, "review-request"), sent(shopper, "cross-sell")])

    responder.observe()
    answered = responder.due_orders_and_apply(SENT_AT + timedelta(days=3))

    assert sorted(e["event"] for e in answered) == ["Order Completed", "Product Reviewed"]
    [review] = [e for e in answered if e["event"] == "Product Reviewed"]
    assert review["userId"] == shopper
    assert SENT_AT < datetime.fromisoformat(review["timestamp"]) <= SENT_AT + timedelta(hours=96)
    assert responder.counts == {"review": 1, "order": 1}


def test_the_review_requests_lift_is_the_models(store: SyntheticStore, runtime: LocalRuntime) -> None:
    responder = Responder(store, runtime, seed=2)  # the demo's model: a review for 20% of the requests
    runtime.sent.extend(sent(store.shoppers[i % 3].user_id, "review-request") for i in range(1000))

    responder.observe()
    answered = responder.due_orders_and_apply(SENT_AT + timedelta(days=5))

    assert {e["event"] for e in answered} == {"Product Reviewed"}
    assert 0.16 <= len(answered) / 1000 <= 0.24
