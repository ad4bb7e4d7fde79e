"""Faults on moto: throttled calls, Lambda timeouts in the middle of a batch, and the crash window
between a provider's acceptance and the outcome record. Nothing is lost, nothing is sent twice."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from factory import ses_sent_count
from fakes import catalog_without, shopper_identify
from payloads import track

from nudge.local.faults import FunctionTimedOut, ThrottleFaults, TimeoutAfter
from nudge.local.runtime import LocalRuntime
from shared.adapters.sqs import SqsQueue
from shared.campaigns.jobs import DeliveryJob
from shared.campaigns.loader import Catalog
from shared.delivery.claims import CLAIM_LEASE
from shared.deployment.topology import DELIVERY_QUEUE, INGEST_QUEUE

VISIBILITY = timedelta(seconds=DELIVERY_QUEUE.visibility_timeout_s)


@pytest.fixture
def catalog() -> Catalog:
    """Without the welcome and the order thank-you: their own sends would blur the counts here."""
    return catalog_without("welcome", "order-thank-you")


def shoppers(runtime: LocalRuntime, *user_ids: str) -> None:
    """Ayu, 25, opted in to email, without address or timezone: one publish for all of them."""
    consent = {"email": True}
    runtime.publish(shopper_identify(u, address=None, timezone=None, consent=consent) for u in user_ids)
    runtime.drain()


def sale_job(user_id: str) -> DeliveryJob:
    return DeliveryJob.for_occurrence("weekend-sale-sea", "2026-11-07T03:00:00Z", user_id)


def deliver(runtime: LocalRuntime, *jobs: DeliveryJob, receive_count: int = 1) -> dict[str, Any]:
    event = runtime.sqs_event("delivery", (job.model_dump_json() for job in jobs), receive_count)
    result: dict[str, Any] = runtime.invoke("deliver", event)
    return result


def enqueue(runtime: LocalRuntime, *jobs: DeliveryJob) -> None:
    queue = SqsQueue(runtime.client("sqs"), runtime.queue_urls[DELIVERY_QUEUE.key])
    queue.send_many([job.model_dump_json() for job in jobs])


def status_of(runtime: LocalRuntime, job: DeliveryJob) -> str | None:
    """The job's send-log status; None while it has no entry (a claim's outcome not logged yet)."""
    entries = {e["send_key"]: e for e in runtime.send_log.entries_for(job.user_id)}
    return entries[job.send_key]["status"] if job.send_key in entries else None


def claim_of(runtime: LocalRuntime, job: DeliveryJob) -> str | None:
    """The time of the job's claim in the shopper's ledger, if it holds one."""
    ledger = runtime.ledgers.get(job.user_id)
    record = ledger.send(job.send_key) if ledger else None
    return record.at.isoformat() if record else None


# -- the local runtime keeps SQS's semantics --------------------------------------------------------


def test_a_record_that_keeps_failing_is_retried_up_to_max_receives_then_parked_with_the_reason(
    runtime: LocalRuntime,
) -> None:
    def refuse_u2(params: dict[str, Any], **_: Any) -> None:
        if params.get("Item", {}).get("user_id", {}).get("S") == "u2":
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "PutItem")

    runtime.client("dynamodb").meta.events.register("provide-client-params.dynamodb.PutItem", refuse_u2)
    runtime.publish([track("u1", "Product Viewed", "v1"), track("u2", "Product Viewed", "v2")])
    runtime.drain()

    # u1's record went through once; u2's was received max_receive_count times, then parked by ingest
    # itself with the reason (not moved by SQS without one).
    assert runtime.received["ingest"] == 1 + INGEST_QUEUE.max_receive_count
    assert runtime.redelivered["ingest"] == INGEST_QUEUE.max_receive_count - 1
    [parked] = runtime.parked()
    assert parked.queue == "ingest-dlq"
    assert parked.reason == (
        "gave up after 5 attempts: writing a profile or its conversions: ClientError: An error occurred "
        "(ThrottlingException) when calling the PutItem operation: slow down"
    )
    assert runtime.profiles.get("u1") is not None and runtime.profiles.get("u2") is None


def test_injected_throttles_are_reproducible_and_surface_without_botocore_retries(
    runtime: LocalRuntime,
) -> None:
    faults = ThrottleFaults(0.5, seed=3, services=["dynamodb"]).attach(runtime)
    outcomes = []
    for _ in range(40):
        try:
            runtime.client("dynamodb").describe_table(TableName=runtime.table_names["profiles"])
            outcomes.append("ok")
        except ClientError as error:
            outcomes.append(error.response["Error"]["Code"])
    faults.detach()

    again = ThrottleFaults(0.5, seed=3, services=["dynamodb"])
    assert sum(faults.injected.values()) == outcomes.count("ThrottlingException") + outcomes.count(
        "ProvisionedThroughputExceededException"
    )
    # One call per attempt: the hook runs before botocore's retry handler could retry the request.
    assert faults.calls["dynamodb.DescribeTable"] == 40
    assert 10 < sum(faults.injected.values()) < 30
    again.attach(runtime)
    replay = []
    for _ in range(40):
        try:
            runtime.client("dynamodb").describe_table(TableName=runtime.table_names["profiles"])
            replay.append("ok")
        except ClientError as error:
            replay.append(error.response["Error"]["Code"])
    assert replay == outcomes


# -- a Lambda timeout in the middle of a batch ----------------------------------------------------


@pytest.mark.gentle(
    "one invocation's timeout in one batch of all twelve records: the counts are that batch's (the "
    "adversary would split it, and a timeout's dead state would end a concurrent invocation's calls too)"
)
def test_an_ingest_timeout_after_some_profile_writes_doubles_nothing_on_redelivery(
    runtime: LocalRuntime,
) -> None:
    users = [f"u{i}" for i in range(6)]
    runtime.publish(track(u, "Product Viewed", f"{u}-v{n}", product_id="p1") for u in users for n in range(2))
    timeout = TimeoutAfter("PutItem", calls=3).attach(runtime)
    runtime.drain()
    timeout.detach()

    assert timeout.fired
    # The timed-out invocation returned no partial response: SQS redelivered all 12 records once...
    assert runtime.redelivered["ingest"] == 12
    # ...and the three profiles written before the timeout took their events as duplicates: every
    # profile was written exactly once (version 1) and counts each view once.
    profiles = {p.user_id: p for p in runtime.all_profiles()}
    assert {u: (p.version, sum(p.counts["Product Viewed"].values())) for u, p in profiles.items()} == {
        u: (1, 2) for u in users
    }
    assert runtime.parked() == []


@pytest.mark.gentle(
    "one invocation's timeout in one batch of all five jobs: which jobs it ends is that batch's"
)
def test_a_deliver_timeout_after_two_sends_sends_the_rest_once_and_parks_the_two_it_cannot_vouch_for(
    runtime: LocalRuntime,
) -> None:
    users = [f"u{i}" for i in range(5)]
    shoppers(runtime, *users)
    jobs = [sale_job(u) for u in users]
    enqueue(runtime, *jobs)
    timeout = TimeoutAfter("SendEmail", calls=2).attach(runtime)
    runtime.drain()
    timeout.detach()

    assert timeout.fired
    # Two emails went out before the timeout, whose outcomes were never recorded (their claims are
    # in the ledger, nothing in the send log); the other three were sent on redelivery. Nobody got two.
    assert ses_sent_count() == 5
    statuses = {j.user_id: status_of(runtime, j) for j in jobs}
    assert sorted(statuses.values(), key=str) == [None, None, "sent", "sent", "sent"]
    assert all(claim_of(runtime, j) == runtime.clock.now().isoformat() for j in jobs)
    parked = runtime.parked()
    assert sorted(json.loads(p.body)["user_id"] for p in parked) == sorted(
        u for u, status in statuses.items() if status is None
    )
    assert all(p.queue == "delivery-dlq" and "possible send" in p.reason for p in parked)
    assert all("gave up after 5 attempts: SendInFlight: claimed at" in p.reason for p in parked)


# -- the crash window: provider accepted, outcome not recorded -------------------------------------


def test_a_crash_after_the_send_is_never_sent_again_and_is_parked_once_the_lease_is_over(
    runtime: LocalRuntime,
) -> None:
    shoppers(runtime, "u1")
    crash = TimeoutAfter("SendEmail", calls=1).attach(runtime)
    with pytest.raises(FunctionTimedOut):
        deliver(runtime, sale_job("u1"))
    crash.detach()
    claimed_at = runtime.clock.now().isoformat()
    # The claim is the ledger's record; the send log has no outcome for it.
    assert (ses_sent_count(), claim_of(runtime, sale_job("u1")), status_of(runtime, sale_job("u1"))) == (
        1,
        claimed_at,
        None,
    )

    # SQS redelivers after its visibility timeout, inside the claim's lease: retried later, not sent.
    assert VISIBILITY < CLAIM_LEASE < 2 * VISIBILITY
    runtime.clock.advance(VISIBILITY)
    assert deliver(runtime, sale_job("u1"), receive_count=2) == {
        "batchItemFailures": [{"itemIdentifier": "r-0"}]
    }
    assert ses_sent_count() == 1

    # The next redelivery finds the lease over: at most once, so it is parked, not sent.
    runtime.clock.advance(VISIBILITY)
    assert deliver(runtime, sale_job("u1"), receive_count=3) == {"batchItemFailures": []}
    assert ses_sent_count() == 1
    [parked] = runtime.parked()
    assert (parked.queue, parked.reason) == (
        "delivery-dlq",
        f"outcome unknown after crash: possible send at {claimed_at}",
    )
    assert status_of(runtime, sale_job("u1")) == "outcome_unknown"

    # A redrive of that job (or another copy of it) parks it again and still sends nothing.
    deliver(runtime, sale_job("u1"), receive_count=1)
    assert ses_sent_count() == 1
    assert len(runtime.parked()) == 2


def test_an_outcome_that_cannot_be_recorded_is_parked_with_the_provider_id(runtime: LocalRuntime) -> None:
    shoppers(runtime, "u1")

    def refuse_outcomes(params: dict[str, Any], **_: Any) -> None:
        items = [params.get("Item", {})] + [
            r["PutRequest"]["Item"] for rs in params.get("RequestItems", {}).values() for r in rs
        ]
        if any(i.get("status", {}).get("S") == "sent" for i in items):
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "Write")

    events = runtime.client("dynamodb").meta.events
    events.register("provide-client-params.dynamodb.PutItem", refuse_outcomes)
    events.register("provide-client-params.dynamodb.BatchWriteItem", refuse_outcomes)

    assert deliver(runtime, sale_job("u1")) == {"batchItemFailures": []}
    assert ses_sent_count() == 1
    [parked] = runtime.parked()
    assert parked.reason.startswith(f"sent at {runtime.clock.now().isoformat()} (provider id ")
    assert parked.reason.endswith(
        "but the outcome was not recorded: ClientError: An error occurred (ThrottlingException) "
        "when calling the Write operation: slow down"
    )


def test_a_failure_before_the_send_frees_the_claim_so_the_retry_sends(runtime: LocalRuntime) -> None:
    shoppers(runtime, "u1")
    calls = {"n": 0}

    def refuse_first_ledger_write(params: dict[str, Any], **_: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "UpdateItem")

    runtime.client("dynamodb").meta.events.register(
        "provide-client-params.dynamodb.UpdateItem", refuse_first_ledger_write
    )
    assert deliver(runtime, sale_job("u1")) == {"batchItemFailures": [{"itemIdentifier": "r-0"}]}
    assert status_of(runtime, sale_job("u1")) == "failed"
    assert deliver(runtime, sale_job("u1"), receive_count=2) == {"batchItemFailures": []}
    assert (ses_sent_count(), status_of(runtime, sale_job("u1"))) == (1, "sent")


def test_a_failed_batch_read_falls_back_to_each_jobs_own_reads(runtime: LocalRuntime) -> None:
    shoppers(runtime, "u1", "u2")

    def refuse(params: dict[str, Any], **_: Any) -> None:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "BatchGetItem")

    runtime.client("dynamodb").meta.events.register("provide-client-params.dynamodb.BatchGetItem", refuse)
    assert deliver(runtime, sale_job("u1"), sale_job("u2")) == {"batchItemFailures": []}
    assert ses_sent_count() == 2
