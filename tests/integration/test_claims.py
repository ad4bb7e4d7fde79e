"""The claim of a send key on moto: the ledger record written before the provider call holds the key
(shared/delivery/claims.py). Duplicates never send twice, a failed attempt's claim is claimed again,
a crash is never resent, and a send whose outcome was lost is reconciled from SES's events."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from factory import ses_sent_count
from fakes import catalog_without, shopper_identify
from typer.testing import CliRunner

from nudge.local.faults import FunctionTimedOut, TimeoutAfter
from nudge.local.runtime import LocalRuntime
from nudge.local.ses_events import ses_event, tagged_mail
from nudge.operations import OPEN_CLAIM_REASON, LocalDump, with_open_claims
from shared.campaigns.jobs import DeliveryJob
from shared.campaigns.loader import Catalog
from shared.delivery.claims import CLAIM_LEASE, LEDGER_RETENTION
from shared.delivery.ports import SendLogEntry
from shared.profiles.ledger import Ledger, SentRecord, Suppression


@pytest.fixture
def catalog() -> Catalog:
    """Without the welcome and the order thank-you: their own sends would blur the counts here."""
    return catalog_without("welcome", "order-thank-you")


def shopper(runtime: LocalRuntime, user_id: str = "u1") -> None:
    runtime.publish([shopper_identify(user_id, address=None, timezone=None, consent={"email": True})])
    runtime.drain()


def sale_job(user_id: str = "u1") -> DeliveryJob:
    return DeliveryJob.for_occurrence("weekend-sale-sea", "2026-11-07T03:00:00Z", user_id)


def deliver(runtime: LocalRuntime, *jobs: DeliveryJob, receive_count: int = 1) -> dict[str, Any]:
    event = runtime.sqs_event("delivery", (job.model_dump_json() for job in jobs), receive_count)
    result: dict[str, Any] = runtime.invoke("deliver", event)
    return result


def log(runtime: LocalRuntime, user_id: str = "u1") -> dict[str, dict[str, Any]]:
    return {str(e["send_key"]): e for e in runtime.send_log.entries_for(user_id)}


def claims(runtime: LocalRuntime, user_id: str = "u1") -> list[SentRecord]:
    ledger = runtime.ledgers.get(user_id)
    return list(ledger.sends) if ledger else []


def delivered_event(runtime: LocalRuntime, job: DeliveryJob) -> dict[str, Any]:
    """SES's Delivery event for the email the channel accepted for ``job``."""
    [sent] = [s for s in runtime.sent if s.send_key == job.send_key]
    mail = tagged_mail(job.user_id, job.campaign_id, sent.provider_id, job.send_key)
    return ses_event(
        "Delivery", mail, time="2026-11-02T09:01:00Z", delivery={"timestamp": "2026-11-02T09:01:00Z"}
    )


def crash_after_the_send(runtime: LocalRuntime, job: DeliveryJob) -> None:
    crash = TimeoutAfter("SendEmail", calls=1).attach(runtime)
    with pytest.raises(FunctionTimedOut):
        deliver(runtime, job)
    crash.detach()


# -- duplicates -------------------------------------------------------------------------------------


def test_a_job_delivered_again_after_its_send_is_a_duplicate_and_sends_nothing(runtime: LocalRuntime) -> None:
    shopper(runtime)
    job = sale_job()
    assert deliver(runtime, job) == {"batchItemFailures": []}
    assert deliver(runtime, job, receive_count=2) == {"batchItemFailures": []}

    assert ses_sent_count() == 1
    assert {k: e["status"] for k, e in log(runtime).items()} == {
        job.send_key: "sent",
        f"{job.send_key}#duplicate": "duplicate",
    }
    assert [r.send_key for r in claims(runtime)] == [job.send_key]


def test_a_send_whose_claim_was_pruned_is_still_a_duplicate_by_its_logged_outcome(
    runtime: LocalRuntime,
) -> None:
    shopper(runtime)
    job = sale_job()
    deliver(runtime, job)
    runtime.ledgers.release("u1", job.send_key)  # as if the record had aged out of the ledger
    assert claims(runtime) == []

    assert deliver(runtime, job, receive_count=2) == {"batchItemFailures": []}
    assert ses_sent_count() == 1
    assert log(runtime)[f"{job.send_key}#duplicate"]["status"] == "duplicate"
    assert claims(runtime) == []  # a duplicate claims nothing


# -- a failed attempt -----------------------------------------------------------------------------


def test_a_transient_provider_failure_is_claimed_again_by_the_retry_and_sent_once(
    runtime: LocalRuntime,
) -> None:
    shopper(runtime)
    job = sale_job()
    refusals = {"n": 0}

    def refuse_first_send(**_: Any) -> None:
        refusals["n"] += 1
        if refusals["n"] == 1:
            raise ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "slow"}}, "SendEmail")

    runtime.client("sesv2").meta.events.register("before-call.sesv2.SendEmail", refuse_first_send)
    assert deliver(runtime, job) == {"batchItemFailures": [{"itemIdentifier": "r-0"}]}
    [first] = claims(runtime)
    failed = log(runtime)[job.send_key]
    assert (failed["status"], failed["claim"]) == ("failed", first.claim)

    assert deliver(runtime, job, receive_count=2) == {"batchItemFailures": []}
    [second] = claims(runtime)  # the failed claim replaced, not added to: one slot
    assert second.claim != first.claim
    assert (ses_sent_count(), log(runtime)[job.send_key]["status"]) == (1, "sent")


def test_a_failure_logged_under_another_claim_does_not_free_the_key(runtime: LocalRuntime) -> None:
    shopper(runtime)
    job = sale_job()
    now = runtime.clock.now()
    # An attempt holds the key (claim c1) and is sending; another attempt, whose own claim write never
    # landed, logged its failure under its token (c2) in the same instant.
    assert runtime.ledgers.record_send(
        Ledger("u1"), SentRecord(now, "email", job.campaign_id, "L1", job.send_key, "c1"), []
    )
    runtime.send_log.complete(
        SendLogEntry(
            "u1",
            job.send_key,
            job.campaign_id,
            "L1",
            "email",
            "failed",
            "throttled",
            at=now.isoformat(),
            claim="c2",
        )
    )

    assert deliver(runtime, job) == {"batchItemFailures": [{"itemIdentifier": "r-0"}]}  # in flight
    assert ses_sent_count() == 0
    assert [r.claim for r in claims(runtime)] == ["c1"]


def failed_claim(runtime: LocalRuntime, job: DeliveryJob, *others: SentRecord) -> None:
    """``job``'s claim (token c1) beside ``others`` in the ledger, and its attempt's failure logged."""
    now = runtime.clock.now()
    claim = SentRecord(now, "email", job.campaign_id, "L1", job.send_key, "c1")
    assert runtime.ledgers.record_send(Ledger("u1"), claim, list(others))
    failed = SendLogEntry(
        "u1", job.send_key, job.campaign_id, "L1", "email", "failed", "slow", at=now.isoformat()
    )
    runtime.send_log.complete(replace(failed, claim="c1"))


def test_a_failed_claim_whose_channel_is_suppressed_now_is_given_back_and_logged(
    runtime: LocalRuntime,
) -> None:
    shopper(runtime)
    job = sale_job()
    failed_claim(runtime, job)
    runtime.ledgers.suppress("u1", "email", Suppression("unsubscribed", runtime.clock.now().isoformat()))

    assert deliver(runtime, job) == {"batchItemFailures": []}

    entry = log(runtime)[job.send_key]
    assert (entry["status"], entry["reason"]) == ("suppressed", "email:unsubscribed")
    assert claims(runtime) == []
    assert ses_sent_count() == 0


def test_a_failed_claim_the_caps_now_block_is_given_back_and_logged(runtime: LocalRuntime) -> None:
    shopper(runtime)
    job = sale_job()
    # Another email took the day's one slot beside the failed claim (a lower cap deployed since).
    other = SentRecord(runtime.clock.now(), "email", "payday-sale-india", "L1", "payday#x#u1", "c0")
    failed_claim(runtime, job, other)

    assert deliver(runtime, job) == {"batchItemFailures": []}

    entry = log(runtime)[job.send_key]
    assert (entry["status"], entry["reason"]) == ("capped", "channel.email.per_day")
    assert claims(runtime) == [other]
    assert ses_sent_count() == 0


# -- a crash between the send and its outcome: at most once, and reconciled -------------------------


def test_a_crash_leaves_the_claim_that_nudge_why_shows_until_the_outcome_is_known(
    runtime: LocalRuntime, tmp_path: Any
) -> None:
    from nudge.cli import app

    shopper(runtime)
    job = sale_job()
    crash_after_the_send(runtime, job)
    runtime.snapshot(tmp_path)
    dump = LocalDump(tmp_path)

    rows = with_open_claims("u1", dump.decisions("u1"), dump.claims("u1"))

    [claim] = claims(runtime)
    assert [(r["send_key"], r["status"], r["reason"], r["at"]) for r in rows] == [
        (job.send_key, "claimed", OPEN_CLAIM_REASON, claim.at.isoformat())
    ]
    result = CliRunner().invoke(app, ["why", "u1", "--store", str(tmp_path)], env={"COLUMNS": "220"})
    assert result.exit_code == 0 and "claimed" in result.output
    assert ses_sent_count() == 1


def test_a_crashed_send_is_reconciled_from_ses_and_its_redelivery_is_a_duplicate(
    runtime: LocalRuntime,
) -> None:
    shopper(runtime)
    job = sale_job()
    crash_after_the_send(runtime, job)
    [sent] = runtime.sent
    [claim] = claims(runtime)

    assert runtime.publish_aws_event(delivered_event(runtime, job)) == 1

    entry = log(runtime)[job.send_key]
    assert {k: entry.get(k) for k in ("status", "provider_message_id", "reconciled_from", "reason")} == {
        "status": "sent",
        "provider_message_id": sent.provider_id,
        "reconciled_from": "SES Delivery",
        "reason": "reconciled from the SES Delivery event",
    }
    # The entry is the claim's: as `nudge why` and the report read a send.
    assert (entry["at"], entry["campaign_id"], entry["level"], entry["channel"], entry["group"]) == (
        claim.at.isoformat(),
        "weekend-sale-sea",
        "L1",
        "email",
        "treated",
    )
    assert entry["delivered_at"] == "2026-11-02T09:01:00+00:00"
    runtime.clock.advance(CLAIM_LEASE * 2)
    assert deliver(runtime, job, receive_count=2) == {"batchItemFailures": []}
    assert ses_sent_count() == 1 and runtime.parked() == []
    assert log(runtime)[f"{job.send_key}#duplicate"]["status"] == "duplicate"


def test_an_outcome_unknown_is_reconciled_when_ses_reports_the_delivery(runtime: LocalRuntime) -> None:
    shopper(runtime)
    job = sale_job()
    crash_after_the_send(runtime, job)
    runtime.clock.advance(CLAIM_LEASE + timedelta(seconds=1))
    deliver(runtime, job, receive_count=2)
    assert log(runtime)[job.send_key]["status"] == "outcome_unknown"
    [parked] = runtime.parked()
    assert "possible send" in parked.reason

    runtime.publish_aws_event(delivered_event(runtime, job))

    assert log(runtime)[job.send_key]["status"] == "sent"
    assert log(runtime)[job.send_key]["reason"] == "reconciled from the SES Delivery event"
    # A redrive of the parked job is a duplicate now, not parked again.
    assert deliver(runtime, job) == {"batchItemFailures": []}
    assert (ses_sent_count(), len(runtime.parked())) == (1, 1)


def test_an_ses_event_never_overwrites_a_logged_outcome_nor_invents_a_send(runtime: LocalRuntime) -> None:
    shopper(runtime)
    job = sale_job()
    deliver(runtime, job)
    before = log(runtime)[job.send_key]
    other = sale_job("u2")  # tagged with a send key nobody claimed
    mail = tagged_mail("u2", other.campaign_id, "ses-id-2", other.send_key)

    runtime.publish_aws_event(ses_event("Delivery", mail, delivery={"timestamp": "2026-11-02T09:01:00Z"}))
    runtime.publish_aws_event(delivered_event(runtime, job))

    assert runtime.send_log.entries_for("u2") == []
    after = log(runtime)[job.send_key]
    assert "reconciled_from" not in after
    assert {k: v for k, v in after.items() if k != "delivered_at"} == before


def test_records_stay_in_the_ledger_as_long_as_a_job_can_come_back(runtime: LocalRuntime) -> None:
    shopper(runtime)
    runtime.clock.advance(timedelta(hours=4))  # noon: every send below is outside the quiet hours
    first = sale_job()
    deliver(runtime, first)
    runtime.clock.advance(LEDGER_RETENTION - timedelta(hours=1))
    second = DeliveryJob.for_occurrence("weekend-sale-sea", "2026-11-21T03:00:00Z", "u1")
    deliver(runtime, second)
    assert [r.send_key for r in claims(runtime)] == [first.send_key, second.send_key]

    runtime.clock.advance(timedelta(days=1))  # the first claim is older than the retention now
    third = DeliveryJob.for_occurrence("weekend-sale-sea", "2026-11-22T03:00:00Z", "u1")
    deliver(runtime, third)
    assert [r.send_key for r in claims(runtime)] == [second.send_key, third.send_key]


# -- the claim against later changes and concurrent copies ------------------------------------------


def another_sale(user_id: str = "u1") -> DeliveryJob:
    return DeliveryJob.for_occurrence("weekend-sale-sea", "2026-11-08T03:00:00Z", user_id)


def test_a_transient_failure_keeps_its_slot_for_its_retry(runtime: LocalRuntime) -> None:
    shopper(runtime)
    refusals = {"n": 0}

    def refuse_first_send(**_: Any) -> None:
        refusals["n"] += 1
        if refusals["n"] == 1:
            raise ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "slow"}}, "SendEmail")

    runtime.client("sesv2").meta.events.register("before-call.sesv2.SendEmail", refuse_first_send)
    deliver(runtime, sale_job())
    deliver(runtime, another_sale())  # the day's one email is the failed one's, still to be retried
    deliver(runtime, sale_job(), receive_count=2)

    statuses = {k: e["status"] for k, e in log(runtime).items()}
    assert statuses == {sale_job().send_key: "sent", another_sale().send_key: "capped"}
    assert ses_sent_count() == 1


def test_a_claim_write_that_landed_but_whose_answer_was_lost_is_claimed_again_by_the_retry(
    runtime: LocalRuntime,
) -> None:
    shopper(runtime)
    lost: list[bool] = []

    def lose_the_answer(**_: Any) -> None:
        if not lost:
            lost.append(True)
            raise ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")

    runtime.client("dynamodb").meta.events.register("after-call.dynamodb.UpdateItem", lose_the_answer)
    assert deliver(runtime, sale_job()) == {"batchItemFailures": [{"itemIdentifier": "r-0"}]}
    [claim] = claims(runtime)  # written, though the attempt could not know
    assert (log(runtime)[sale_job().send_key]["status"], log(runtime)[sale_job().send_key]["claim"]) == (
        "failed",
        claim.claim,
    )

    assert deliver(runtime, sale_job(), receive_count=2) == {"batchItemFailures": []}
    assert (ses_sent_count(), log(runtime)[sale_job().send_key]["status"]) == (1, "sent")


def test_a_job_capped_yesterday_and_delivered_again_today_is_a_duplicate(runtime: LocalRuntime) -> None:
    shopper(runtime)
    deliver(runtime, sale_job(), another_sale())
    assert log(runtime)[another_sale().send_key]["status"] == "capped"

    runtime.clock.advance(timedelta(days=1))  # there would be room today
    assert deliver(runtime, another_sale(), receive_count=2) == {"batchItemFailures": []}

    assert ses_sent_count() == 1
    assert log(runtime)[another_sale().send_key]["status"] == "capped"
    assert log(runtime)[f"{another_sale().send_key}#duplicate"]["status"] == "duplicate"


def test_an_open_claim_holds_its_job_off_even_when_it_would_now_decide_not_to_send(
    runtime: LocalRuntime,
) -> None:
    shopper(runtime)
    job, now = sale_job(), runtime.clock.now()
    runtime.ledgers.record_send(
        Ledger("u1"), SentRecord(now, "email", job.campaign_id, "L1", job.send_key, "c1"), []
    )
    runtime.ledgers.suppress("u1", "email", Suppression("unsubscribed", now.isoformat()))

    assert deliver(runtime, job) == {"batchItemFailures": [{"itemIdentifier": "r-0"}]}  # in flight
    assert runtime.send_log.entries_for("u1") == []


def test_a_claim_lost_to_a_copy_that_has_sent_since_the_batch_read_is_a_duplicate(
    runtime: LocalRuntime,
) -> None:
    shopper(runtime)
    job, now = sale_job(), runtime.clock.now()
    copied: list[bool] = []

    def a_copy_sends_first(**_: Any) -> None:
        if not copied:  # the batch has read the ledger and the log; our claim is the next write
            copied.append(True)
            ledger = runtime.ledgers.get("u1") or Ledger("u1")
            copy = SentRecord(now, "email", job.campaign_id, "L1", job.send_key, "copy")
            assert runtime.ledgers.record_send(ledger, copy, list(ledger.sends))
            runtime.send_log.complete(
                SendLogEntry(
                    "u1", job.send_key, job.campaign_id, "L1", "email", "sent", None, "ses-1", now.isoformat()
                )
            )

    runtime.client("dynamodb").meta.events.register("before-call.dynamodb.UpdateItem", a_copy_sends_first)
    assert deliver(runtime, job) == {"batchItemFailures": []}

    assert ses_sent_count() == 0
    assert log(runtime)[f"{job.send_key}#duplicate"]["status"] == "duplicate"


def test_a_sent_job_delivered_again_after_an_unsubscribe_changes_nothing(runtime: LocalRuntime) -> None:
    shopper(runtime)
    deliver(runtime, sale_job())
    runtime.ledgers.suppress("u1", "email", Suppression("unsubscribed", runtime.clock.now().isoformat()))

    assert deliver(runtime, sale_job(), receive_count=2) == {"batchItemFailures": []}

    assert {k: e["status"] for k, e in log(runtime).items()} == {sale_job().send_key: "sent"}
    assert [r.send_key for r in claims(runtime)] == [sale_job().send_key]
    assert ses_sent_count() == 1


def test_a_send_reconciled_while_its_crash_is_being_settled_is_a_duplicate_not_parked(
    runtime: LocalRuntime,
) -> None:
    shopper(runtime)
    job = sale_job()
    crash_after_the_send(runtime, job)
    runtime.clock.advance(CLAIM_LEASE + timedelta(seconds=1))
    settling: list[bool] = []

    def ses_reports_first(params: dict[str, Any], **_: Any) -> None:
        if not settling and params.get("Item", {}).get("status", {}).get("S") == "outcome_unknown":
            settling.append(True)
            runtime.publish_aws_event(delivered_event(runtime, job))

    runtime.client("dynamodb").meta.events.register(
        "provide-client-params.dynamodb.PutItem", ses_reports_first
    )
    assert deliver(runtime, job, receive_count=2) == {"batchItemFailures": []}

    assert settling == [True]
    assert runtime.parked() == []
    assert log(runtime)[job.send_key]["status"] == "sent"
    assert log(runtime)[f"{job.send_key}#duplicate"]["status"] == "duplicate"


def test_a_decision_that_reached_no_channel_is_read_back_with_the_batch(
    runtime: LocalRuntime, aws_calls: Any
) -> None:
    job = sale_job("nobody")  # no profile: skipped, no channel logged
    deliver(runtime, job)
    aws_calls.counts.clear()

    assert deliver(runtime, job, receive_count=2) == {"batchItemFailures": []}

    assert aws_calls.counts["dynamodb.GetItem"] == 0  # the batch read did not fall back
    assert [(e["status"], e["reason"]) for e in runtime.send_log.entries_for("nobody")] == [
        ("skipped", "unknown_user")
    ]
