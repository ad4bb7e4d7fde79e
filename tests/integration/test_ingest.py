"""Ingest on moto: one write per user per batch, duplicates change nothing, bad input is parked."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError
from payloads import identify, published, track

from nudge.local.runtime import LocalRuntime
from shared.adapters.dynamo.profiles import DynamoProfileStore
from shared.profiles.profile import Profile


def batch_for(runtime: LocalRuntime, details: list[dict[str, Any]]) -> dict[str, Any]:
    """What the ingest queue hands the function: SQS records whose bodies are bus events."""
    return runtime.sqs_event(
        "ingest", (json.dumps({"id": f"e-{i}", "detail": d}) for i, d in enumerate(details))
    )


def test_a_batch_is_folded_with_one_write_per_user(runtime: LocalRuntime, aws_calls: Any) -> None:
    details = [identify("u1", "m1", email="a@example.com", consent={"email": True})]
    details += [track("u1", "Product Viewed", f"v{i}", category="shoes") for i in range(40)]
    details += [track("u2", "Product Added", f"a{i}", product_id=f"p{i}", price=5) for i in range(39)]
    details += [track("u3", "Order Completed", "o1", order_id="o1", revenue=42.5)]
    aws_calls.counts.clear()

    response = runtime.invoke("ingest", batch_for(runtime, details))

    assert response == {"batchItemFailures": []}
    assert aws_calls.counts["dynamodb.PutItem"] == 3
    # the profiles with their erasure markers in one read; the 39 carted products in another, and
    # written with u2's 39 interest items in four (78 items, 25 a request: shared/ingest/products.py)
    assert aws_calls.counts["dynamodb.BatchGetItem"] == 2
    assert aws_calls.counts["dynamodb.BatchWriteItem"] == 4
    assert aws_calls.total("dynamodb") / len(details) <= 0.25
    u1, u2, u3 = (runtime.profiles.get(u) for u in ("u1", "u2", "u3"))
    assert u1 and u1.counts["Product Viewed"] == {"2026-11-02": 40} and u1.category_views == {"shoes": 40}
    assert u2 and u2.cart and len(u2.cart.items) == 39
    assert u3 and u3.orders == 1 and u3.revenue == Decimal("42.50")


def test_a_duplicated_event_changes_nothing(runtime: LocalRuntime, aws_calls: Any) -> None:
    order = track("u1", "Order Completed", "o1", order_id="o1", revenue=10)
    runtime.invoke("ingest", batch_for(runtime, [order, order]))
    first = runtime.profiles.get("u1")
    aws_calls.counts.clear()

    runtime.invoke("ingest", batch_for(runtime, [order]))

    assert runtime.profiles.get("u1") == first
    assert first is not None and first.orders == 1 and first.version == 1
    assert aws_calls.counts["dynamodb.PutItem"] == 0


def test_a_malformed_event_is_parked_with_its_reason_and_its_batch_mates_are_stored(
    runtime: LocalRuntime,
) -> None:
    broken = {"type": "track", "userId": "u9", "messageId": "bad-1", "timestamp": "2026-11-02T07:00:00Z"}
    response = runtime.invoke(
        "ingest",
        batch_for(
            runtime, [track("u1", "Product Viewed", "v1"), broken, track("u2", "Product Viewed", "v2")]
        ),
    )

    assert response == {"batchItemFailures": []}
    assert runtime.profiles.get("u1") and runtime.profiles.get("u2")
    assert runtime.profiles.get("u9") is None
    parked = runtime.parked()
    assert [(p.queue, p.source, p.reason) for p in parked] == [
        ("ingest-dlq", "ingest", "detail: a track call needs 'event' (the event name)")
    ]
    assert json.loads(parked[0].body)["detail"]["messageId"] == "bad-1"


def test_a_body_that_is_not_an_event_is_parked(runtime: LocalRuntime) -> None:
    event = {"Records": [{"messageId": "r-0", "body": "not json", "attributes": {}}]}
    assert runtime.invoke("ingest", event) == {"batchItemFailures": []}
    assert runtime.parked()[0].reason.startswith("body: not JSON")


def test_a_failing_write_fails_only_that_users_records(runtime: LocalRuntime) -> None:
    def refuse_u2(params: dict[str, Any], **_: Any) -> None:
        if params.get("Item", {}).get("user_id", {}).get("S") == "u2":
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
                "PutItem",
            )

    runtime.client("dynamodb").meta.events.register("provide-client-params.dynamodb.PutItem", refuse_u2)
    response = runtime.invoke(
        "ingest",
        batch_for(
            runtime,
            [
                track("u1", "Product Viewed", "v1"),
                track("u2", "Product Viewed", "v2"),
                track("u2", "Product Viewed", "v3"),
            ],
        ),
    )

    assert response == {"batchItemFailures": [{"itemIdentifier": "r-1"}, {"itemIdentifier": "r-2"}]}
    assert runtime.profiles.get("u1") is not None
    assert runtime.profiles.get("u2") is None


def test_write_errors_are_reported_not_swallowed(runtime: LocalRuntime) -> None:
    from shared.core.clock import SimulatedClock
    from shared.ingest.ingest import QueueRecord, ingest_batch

    class Unwritable(DynamoProfileStore):
        def save(self, profile: Profile) -> bool:
            raise TimeoutError("DynamoDB did not answer")

    store = Unwritable(runtime.client("dynamodb"), runtime.table_names["profiles"])
    body = json.dumps({"detail": track("u1", "Product Viewed", "v1")})
    outcome = ingest_batch(
        [QueueRecord("r-1", body)], store, _NoDeadLetters(), SimulatedClock(runtime.clock.now())
    )
    assert outcome.failed_record_ids == ["r-1"]
    assert outcome.errors == ["writing a profile or its conversions: TimeoutError: DynamoDB did not answer"]


def test_a_concurrent_writer_is_folded_onto_not_overwritten(runtime: LocalRuntime) -> None:
    store = runtime.profiles
    runtime.invoke("ingest", batch_for(runtime, [track("u1", "Product Viewed", "v1")]))

    class RacingStore(DynamoProfileStore):
        """Another ingest invocation writes the same profile between our read and our write."""

        raced = False

        def save(self, profile: Profile) -> bool:
            if not self.raced:
                self.raced = True
                other = store.get("u1")
                assert other is not None
                other.counts["Product Viewed"]["2026-11-02"] += 1
                other.seen_events += b"OTHERW"
                assert super().save(other)
            return super().save(profile)

    from shared.core.clock import SimulatedClock
    from shared.ingest.ingest import QueueRecord, ingest_batch

    racing = RacingStore(runtime.client("dynamodb"), runtime.table_names["profiles"])
    body = json.dumps({"detail": track("u1", "Product Viewed", "v2")})
    outcome = ingest_batch(
        [QueueRecord("r", body)], racing, _NoDeadLetters(), SimulatedClock(runtime.clock.now())
    )

    assert outcome.failed_record_ids == []
    final = store.get("u1")
    assert final is not None and final.counts["Product Viewed"]["2026-11-02"] == 3
    assert final.version == 3


class _NoDeadLetters:
    def park(self, body: str, reason: str, source: str) -> None:
        pytest.fail(f"nothing should be parked: {reason}")


# RudderStack's track sample as its JavaScript SDK sends it (no `timestamp`: RudderStack's server computes
# it, so an app forwarding the SDK's payload has only `originalTimestamp` and `sentAt`).
RUDDERSTACK_PRODUCT_ADDED = published("rudderstack-product-added")


def test_a_rudderstack_sdk_payload_is_stored_at_its_original_time_with_its_context(
    runtime: LocalRuntime,
) -> None:
    runtime.publish([RUDDERSTACK_PRODUCT_ADDED])
    runtime.drain()

    profile = runtime.profiles.get("27340")
    assert profile is not None and profile.cart is not None
    assert profile.last_seen == datetime(2026, 11, 2, 7, 55, 0, 381000, tzinfo=UTC)
    assert [i.product_id for i in profile.cart.items] == ["507f1f77bcf86cd799439011"]
    assert profile.traits["timezone"] == "Europe/London"
    assert profile.traits["country"] == "GB" and profile.traits["language"] == "en"
    assert profile.traits["email"] == "rhedricks@example.com"  # nudge.app: a trusted source
    assert not runtime.parked()


def test_without_any_time_in_the_payload_the_bus_time_is_used(runtime: LocalRuntime) -> None:
    detail = {k: v for k, v in RUDDERSTACK_PRODUCT_ADDED.items() if k not in {"originalTimestamp", "sentAt"}}
    runtime.clock.advance_to(datetime(2026, 11, 2, 8, 30, tzinfo=UTC))

    runtime.publish([detail])
    runtime.drain()

    profile = runtime.profiles.get("27340")
    assert profile is not None and profile.last_seen == datetime(2026, 11, 2, 8, 30, tzinfo=UTC)
    assert not runtime.parked()
