"""Delivery on moto: real SES / SNS / inbox sends, exactly once, and every non-send explained."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from factory import email_text, sent_emails, ses_sent_count
from fakes import catalog_without, identify_shopper
from moto.sns.models import sns_backends
from payloads import track

from nudge.local.account import ACCOUNT, REGION
from nudge.local.runtime import LocalRuntime
from shared.campaigns.jobs import DeliveryJob, TriggerContext
from shared.campaigns.loader import Catalog
from shared.delivery.guards import in_holdout
from shared.deployment.topology import DELIVERY_QUEUE


@pytest.fixture
def catalog() -> Catalog:
    """Every bundled campaign but the welcome (its email on each first identify would use the day's
    email cap in tests about other things; test_triggers covers it)."""
    return catalog_without("welcome")


def shopper(
    runtime: LocalRuntime, user_id: str, *, email: bool = True, push: bool = False, **traits: Any
) -> None:
    """Ayu in Jakarta (no timezone), with the consent given and, for push, a registered endpoint."""
    endpoint = runtime.register_push_endpoint("GCM", f"token-{user_id}", user_id=user_id) if push else None
    address = {"country": "ID", "city": "Jakarta"}
    consent = {"email": email, "push": push}
    identify_shopper(
        runtime, user_id, address=address, timezone=None, consent=consent, push_endpoint=endpoint, **traits
    )


def deliver(runtime: LocalRuntime, *jobs: DeliveryJob, receive_count: int = 1) -> dict[str, Any]:
    event = runtime.sqs_event("delivery", (job.model_dump_json() for job in jobs), receive_count)
    result: dict[str, Any] = runtime.invoke("deliver", event)
    return result


def sale_job(user_id: str) -> DeliveryJob:
    return DeliveryJob.for_occurrence("weekend-sale-sea", "2026-11-07T03:00:00Z", user_id)


def log_of(runtime: LocalRuntime, user_id: str) -> list[dict[str, Any]]:
    return runtime.send_log.entries_for(user_id)


def test_an_email_is_sent_through_ses_with_the_rendered_content(runtime: LocalRuntime) -> None:
    shopper(runtime, "u1")
    assert deliver(runtime, sale_job("u1")) == {"batchItemFailures": []}

    assert ses_sent_count() == 1
    [sent] = sent_emails()
    assert sent["To"] == "u1@example.com"
    assert sent["Subject"] == "Ayu, the weekend sale starts now"
    assert "Weekend sale, Ayu!" in email_text(sent)
    [entry] = log_of(runtime, "u1")
    assert (entry["status"], entry["channel"], entry["level"]) == ("sent", "email", "L1")
    assert entry["provider_message_id"]


def test_push_goes_to_the_shoppers_sns_endpoint_when_it_comes_first(runtime: LocalRuntime) -> None:
    shopper(runtime, "u1", email=True, push=True)
    order = TriggerContext(
        event="Order Completed",
        message_id="o-msg",
        timestamp=runtime.clock.now(),
        properties={"order_id": "o-77", "revenue": 30, "currency": "USD"},
    )
    deliver(runtime, DeliveryJob.for_trigger("order-thank-you", "u1", order))

    endpoints = sns_backends[ACCOUNT][REGION].platform_endpoints.values()
    messages = [m for e in endpoints for m in e.messages.values()]
    assert len(messages) == 1
    payload = json.loads(json.loads(messages[0])["GCM"])
    assert payload["notification"]["title"] == "Thanks for your order, Ayu!"
    assert payload["notification"]["body"].startswith("Order o-77 is confirmed (USD 30.00)")
    assert ses_sent_count() == 0


def test_in_app_is_the_fallback_when_no_other_channel_is_reachable(runtime: LocalRuntime) -> None:
    shopper(runtime, "u1", email=False)
    order = TriggerContext(
        event="Order Completed",
        message_id="o-1",
        timestamp=runtime.clock.now(),
        properties={"order_id": "o-1"},
    )
    deliver(runtime, DeliveryJob.for_trigger("order-thank-you", "u1", order))

    [item] = runtime.scan("inbox")
    assert (item["user_id"], item["title"], item["body"], item["read"]) == (
        "u1",
        "Order confirmed",
        "Order o-1 is on its way soon.",
        False,
    )
    assert item["expires_at"] > runtime.clock.now().timestamp()
    assert ses_sent_count() == 0


def test_a_redelivered_job_sends_once(runtime: LocalRuntime) -> None:
    shopper(runtime, "u1")
    deliver(runtime, sale_job("u1"), sale_job("u1"))
    deliver(runtime, sale_job("u1"), receive_count=2)

    assert ses_sent_count() == 1
    # The send key's decision stays "sent"; each redelivery is logged beside it as a duplicate.
    statuses = {e["send_key"]: e["status"] for e in log_of(runtime, "u1")}
    key = sale_job("u1").send_key
    assert statuses == {key: "sent", f"{key}#duplicate": "duplicate"}


def test_a_shopper_without_consent_is_not_sent_and_the_reason_is_logged(runtime: LocalRuntime) -> None:
    shopper(runtime, "u1", email=False)
    deliver(runtime, sale_job("u1"))

    assert ses_sent_count() == 0
    [entry] = log_of(runtime, "u1")
    assert (entry["status"], entry["reason"]) == ("no_consent", "email")


def test_an_unknown_user_is_logged_not_sent(runtime: LocalRuntime) -> None:
    deliver(runtime, sale_job("ghost"))
    [entry] = log_of(runtime, "ghost")
    assert (entry["status"], entry["reason"]) == ("skipped", "unknown_user")


def refuse_ses(params: dict[str, Any], **_: Any) -> None:
    raise ClientError(
        {"Error": {"Code": "Throttling", "Message": "Maximum sending rate exceeded."}}, "SendEmail"
    )


def test_a_provider_failure_is_retried_then_parked_with_the_reason(runtime: LocalRuntime) -> None:
    shopper(runtime, "u1")
    runtime.client("sesv2").meta.events.register("provide-client-params.sesv2.SendEmail", refuse_ses)

    first = deliver(runtime, sale_job("u1"), receive_count=1)
    assert first == {"batchItemFailures": [{"itemIdentifier": "r-0"}]}
    assert log_of(runtime, "u1")[0]["status"] == "failed"
    assert runtime.parked() == []

    last = deliver(runtime, sale_job("u1"), receive_count=DELIVERY_QUEUE.max_receive_count)
    assert last == {"batchItemFailures": []}
    [parked] = runtime.parked()
    assert parked.queue == "delivery-dlq"
    assert "gave up after 5 attempts" in parked.reason and "Throttling" in parked.reason
    assert json.loads(parked.body)["send_key"] == sale_job("u1").send_key


def test_a_retry_after_a_provider_failure_sends(runtime: LocalRuntime) -> None:
    shopper(runtime, "u1")
    runtime.client("sesv2").meta.events.register("provide-client-params.sesv2.SendEmail", refuse_ses)
    deliver(runtime, sale_job("u1"))
    runtime.client("sesv2").meta.events.unregister("provide-client-params.sesv2.SendEmail", refuse_ses)

    assert deliver(runtime, sale_job("u1"), receive_count=2) == {"batchItemFailures": []}
    assert ses_sent_count() == 1
    assert log_of(runtime, "u1")[0]["status"] == "sent"


def test_a_job_for_an_unknown_campaign_is_parked_at_once(runtime: LocalRuntime) -> None:
    job = DeliveryJob.for_occurrence("no-such-campaign", "2026-11-07T03:00:00Z", "u1")
    assert deliver(runtime, job) == {"batchItemFailures": []}
    [parked] = runtime.parked()
    assert parked.reason == "PermanentDeliveryError: unknown campaign 'no-such-campaign'"


def test_one_bad_job_does_not_hold_back_its_batch_mates(runtime: LocalRuntime) -> None:
    shopper(runtime, "u1")
    records = [sale_job("u1"), DeliveryJob.for_occurrence("nope", "x", "u1")]
    assert deliver(runtime, *records) == {"batchItemFailures": []}
    assert ses_sent_count() == 1
    assert len(runtime.parked()) == 1


def test_the_event_that_triggered_a_message_shapes_it_end_to_end(runtime: LocalRuntime) -> None:
    shopper(runtime, "u1", email=True)
    order = track(
        "u1",
        "Order Completed",
        "order-msg-1",
        order_id="o-9",
        revenue=12,
        products=[{"product_id": "p1", "name": "Runner", "quantity": 2}],
    )
    runtime.publish([order, order])
    runtime.drain()

    assert ses_sent_count() == 1
    [sent] = sent_emails()
    assert sent["Subject"] == "Your order o-9 is confirmed"
    assert "Runner \u00d7 2" in email_text(sent)


def test_a_batch_reads_twice_claims_each_send_with_one_write_and_records_outcomes_in_one_request(
    runtime: LocalRuntime, aws_calls: Any
) -> None:
    users = [u for u in (f"u{i}" for i in range(40)) if not in_holdout("weekend-sale-sea", u, 10)][:10]
    for user in users:
        shopper(runtime, user)
    aws_calls.counts.clear()

    assert deliver(runtime, *(sale_job(u) for u in users)) == {"batchItemFailures": []}

    # profiles; then contact ledgers, kept records and the send log's entries of the ten send keys
    assert aws_calls.counts["dynamodb.BatchGetItem"] == 2
    assert aws_calls.counts["dynamodb.GetItem"] == 0
    assert aws_calls.counts["dynamodb.PutItem"] == 0  # no claim in the send log
    assert aws_calls.counts["dynamodb.UpdateItem"] == 10  # the claims: caps decided, the send recorded
    assert aws_calls.counts["dynamodb.BatchWriteItem"] == 1
    assert aws_calls.counts["sesv2.SendEmail"] == 10
    assert aws_calls.total() == 23
    assert {e["status"] for u in users for e in log_of(runtime, u)} == {"sent"}
    assert all(e["provider_message_id"] for u in users for e in log_of(runtime, u))
