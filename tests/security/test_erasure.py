"""Finding 2: erasure is complete and stays done.

``DELETE /me`` used to delete the tables' rows and nothing else: the ingest dead-letter queue kept the
shopper's events (email, phone) and ``nudge dlq redrive`` brought the profile back; the anonymous
pre-login profile survived; a delivery job already queued logged a decision again; a late SES bounce
wrote a ledger row again. Now erasure leaves a keyed hash of the id with its time (the marker),
which ingest, delivery and feedback honour for anything that predates it; it erases the anonymous
profiles recorded on the profile and purges the shopper's messages from the dead-letter queues.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import payloads
import pytest
from fakes import catalog_without
from moto import mock_aws

from nudge.local.runtime import LocalRuntime
from nudge.local.ses_events import ses_event, tagged_mail
from shared.adapters.sqs import SqsDeadLetterQueue, SqsDeadLetters, SqsQueue
from shared.campaigns.jobs import DeliveryJob
from shared.core.clock import SimulatedClock
from shared.delivery.guards import in_holdout

START = datetime(2026, 11, 2, 8, tzinfo=UTC)  # a Monday, 15:00 in Jakarta
EMAIL, PHONE = "ayu.erased@example.com", "+6281234567890"


@pytest.fixture
def runtime(request: pytest.FixtureRequest) -> Iterator[LocalRuntime]:
    gentle = request.node.get_closest_marker("gentle") is not None
    with mock_aws():
        # less the welcome: its email would use the day's cap
        yield LocalRuntime(
            catalog_without("welcome"), SimulatedClock(START), log_level="CRITICAL", gentle=gentle
        )


USER, OTHER = [u for u in (f"u{i}" for i in range(20)) if not in_holdout("weekend-sale-sea", u, 10)][:2]


def identify(user_id: str, message_id: str, at: str = "2026-11-02T07:00:00Z", **extra: Any) -> dict[str, Any]:
    """The app's identify of ``user_id`` (USER with the contact points erasure must remove); ``extra``
    are top-level fields of the call (``anonymousId``)."""
    traits = {
        "email": EMAIL if user_id == USER else f"{user_id}@example.org",
        "phone": PHONE if user_id == USER else "+6280000000000",
        "firstName": "Ayu",
        "timezone": "Asia/Jakarta",
        "consent": {"email": True, "push": False, "in_app": True},
    }
    return payloads.identify(user_id, message_id, at, **traits) | extra


def envelope(runtime: LocalRuntime, detail: dict[str, Any]) -> str:
    """The body the ingest queue carries (what ingest parks after its last attempt)."""
    return json.dumps(
        {
            "version": "0",
            "id": f"e-{detail['messageId']}",
            "detail-type": "Segment Event",
            "source": "nudge.app",
            "account": "123456789012",
            "time": runtime.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": "us-east-1",
            "resources": [],
            "detail": detail,
        }
    )


def sale_job(user_id: str) -> DeliveryJob:
    return DeliveryJob.for_occurrence("weekend-sale-sea", "2026-11-02T03:00:00Z", user_id)


def deliver(runtime: LocalRuntime, *jobs: DeliveryJob) -> Any:
    return runtime.invoke("deliver", runtime.sqs_event("delivery", (j.model_dump_json() for j in jobs)))


def erase(runtime: LocalRuntime, user_id: str) -> dict[str, Any]:
    response = runtime.http("DELETE", "/me", user_id=user_id)
    assert response["statusCode"] == 200, response
    body: dict[str, Any] = json.loads(response["body"])
    return body


def rows_of(runtime: LocalRuntime, user_id: str) -> dict[str, int]:
    counts = {
        t: sum(1 for i in runtime.scan(t) if i["user_id"] == user_id)
        for t in ("profiles", "messages", "inbox", "ledger", "conversions")
    }
    return {t: n for t, n in counts.items() if n}


def mentions_user(text: str) -> bool:
    return EMAIL in text or PHONE in text or f'"{USER}"' in text


def test_erasure_purges_the_shoppers_messages_from_the_dead_letter_queues(runtime: LocalRuntime) -> None:
    runtime.publish([identify(USER, "m1"), identify(OTHER, "m2")])
    runtime.drain()
    sqs = runtime.client("sqs")
    # What a shopper leaves in the DLQs: events ingest gave up on (throttled five times), a delivery
    # job, an SES event feedback could not use; and another shopper's event beside them.
    ingest_dlq = SqsDeadLetters(sqs, runtime.queue_urls["ingest-dlq"])
    for detail in (
        identify(USER, "m3", at="2026-11-02T07:10:00Z"),
        identify(OTHER, "m4", at="2026-11-02T07:10:00Z"),
    ):
        ingest_dlq.park(envelope(runtime, detail), "gave up after 5 attempts: ThrottlingException", "ingest")
    SqsDeadLetters(sqs, runtime.queue_urls["delivery-dlq"]).park(
        sale_job(USER).model_dump_json(), "x", "deliver"
    )
    bounce = ses_event("Bounce", tagged_mail("someone", "weekend-sale-sea", "ses-1", destination=[EMAIL]))
    SqsDeadLetters(sqs, runtime.queue_urls["feedback-dlq"]).park(json.dumps(bounce), "x", "feedback")
    assert sum(mentions_user(p.body) for p in runtime.parked()) == 3

    report = erase(runtime, USER)

    left = runtime.parked()
    assert [p for p in left if mentions_user(p.body)] == []
    assert [(p.queue, json.loads(p.body)["detail"]["userId"]) for p in left] == [("ingest-dlq", OTHER)]
    assert report["dead_letters_purged"] == {"ingest-dlq": 1, "delivery-dlq": 1, "feedback-dlq": 1}
    # what stays is visible again at once (not hidden for a visibility timeout), with its reason
    assert left[0].reason == "gave up after 5 attempts: ThrottlingException"

    # A redrive after the fix brings the other shopper's event back, and nothing of the erased one.
    moved = SqsDeadLetterQueue(sqs, runtime.queue_urls["ingest-dlq"]).redrive(
        SqsQueue(sqs, runtime.queue_urls["ingest"])
    )
    runtime.drain()
    assert moved == 1
    assert rows_of(runtime, USER) == {}
    assert runtime.profiles.get(OTHER).has_seen("m4")  # type: ignore[union-attr]


def test_events_still_in_flight_at_erasure_are_dropped_with_a_reason_and_no_personal_data(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with mock_aws():
        runtime = LocalRuntime(catalog_without("welcome"), SimulatedClock(START), log_level="INFO")
        runtime.publish([identify(USER, "m1")])
        runtime.drain()
        # Queued, not yet ingested (or taken out of the DLQ by a redrive that was running): a copy the
        # purge cannot see. It predates the erasure, so ingest drops it.
        SqsQueue(runtime.client("sqs"), runtime.queue_urls["ingest"]).send_many(
            [envelope(runtime, identify(USER, "m2", at="2026-11-02T07:50:00Z"))]
        )
        erase(runtime, USER)
        caplog.clear()
        runtime.clock.advance(timedelta(minutes=1))
        with caplog.at_level("INFO"):
            runtime.drain()

        assert rows_of(runtime, USER) == {}
        assert runtime.parked() == []  # dropped, not parked: a parked copy would keep the data
        dropped = [r for r in caplog.records if getattr(r, "reason", None) == "shopper erased"]
        assert [(r.name, r.dropped) for r in dropped] == [("nudge-ingest", 1)]  # type: ignore[attr-defined]
        logged = " ".join(json.dumps(r.__dict__, default=str) for r in caplog.records)
        assert USER not in logged.replace(f"{USER}0", "") and EMAIL not in logged and PHONE not in logged

        # The shopper may come back: what happens after the erasure is new data, kept as usual.
        runtime.publish([identify(USER, "m9", at="2026-11-02T08:05:00Z")])
        runtime.drain()
        back = runtime.profiles.get(USER)
        assert back is not None and back.has_seen("m9") and not back.has_seen("m1")


def test_erasure_removes_the_anonymous_profiles_the_shopper_was_seen_with(runtime: LocalRuntime) -> None:
    def visit(anonymous_id: str, message_id: str, **extra: Any) -> dict[str, Any]:
        return {
            "type": "track",
            "event": "Product Viewed",
            "anonymousId": anonymous_id,
            "messageId": message_id,
            "timestamp": "2026-11-02T06:00:00Z",
            "properties": {"product_id": "p1"},
            **extra,
        }

    runtime.publish([visit("visitor-7", "a1"), visit("visitor-8", "a2"), visit("device-2", "a3")])
    runtime.drain()
    # logging in: the app sends the anonymous id with the user id (identify, and tracks after it)
    runtime.publish([identify(USER, "m1", anonymousId="visitor-7"), visit("device-2", "m2", userId=USER)])
    runtime.drain()
    profile = runtime.profiles.get(USER)
    assert profile is not None and sorted(profile.anonymous_ids) == ["device-2", "visitor-7"]

    report = erase(runtime, USER)

    assert runtime.profiles.get("anon:visitor-7") is None
    assert runtime.profiles.get("anon:device-2") is None
    assert runtime.profiles.get("anon:visitor-8") is not None  # another visitor
    assert report["anonymous_profiles"] == 2


def test_a_delivery_job_queued_before_the_erasure_leaves_no_trace(runtime: LocalRuntime) -> None:
    runtime.publish([identify(USER, "m1"), identify(OTHER, "m2")])
    runtime.drain()
    jobs = [sale_job(USER).model_dump_json(), sale_job(OTHER).model_dump_json()]
    SqsQueue(runtime.client("sqs"), runtime.queue_urls["delivery"]).send_many(jobs)

    erase(runtime, USER)
    runtime.drain()

    assert rows_of(runtime, USER) == {}
    assert [e["status"] for e in runtime.send_log.entries_for(OTHER)] == ["sent"]
    assert [s.user_id for s in runtime.sent] == [OTHER]
    assert runtime.parked() == []


def test_a_late_bounce_does_not_write_a_ledger_row_again(runtime: LocalRuntime) -> None:
    runtime.publish([identify(USER, "m1")])
    runtime.drain()
    deliver(runtime, sale_job(USER))
    [sent] = runtime.sent
    erase(runtime, USER)

    mail = tagged_mail(
        USER, "weekend-sale-sea", sent.provider_id, destination=[EMAIL], timestamp="2026-11-02T08:00:00Z"
    )
    for kind, section in (
        ("Delivery", {}),
        ("Open", {}),
        ("Bounce", {"bounceType": "Permanent", "bounceSubType": "General"}),
    ):
        runtime.publish_aws_event(
            ses_event(kind, mail, time="2026-11-02T08:20:00Z", **{kind.lower(): section})
        )

    assert rows_of(runtime, USER) == {}
    assert runtime.parked() == []  # not parked either: the event carries the address


def test_what_erasure_keeps_is_a_keyed_hash_and_times_never_the_id_or_address(runtime: LocalRuntime) -> None:
    runtime.publish([identify(USER, "m1", anonymousId="visitor-7")])
    runtime.drain()
    erase(runtime, USER)

    kept = runtime.scan("privacy")
    assert len(kept) == 2  # the shopper and the linked visitor: nothing was suppressed
    for item in kept:
        assert re.fullmatch(r"[0-9a-f]{64}", item["key"]), item
        assert set(item) == {"key", "erased_at"}, item
        assert item["erased_at"] == START.isoformat()
    text = json.dumps(kept)
    assert USER not in text and "visitor-7" not in text and EMAIL not in text


class Requests:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def __call__(self, model: Any, **_: Any) -> None:
        self.counts[model.name] += 1


@pytest.mark.gentle("counts the requests of one ingest batch of all three shoppers: the adversary splits it")
def test_honouring_erasures_adds_no_request_per_event_or_message(runtime: LocalRuntime) -> None:
    """The marker is read in the batch reads ingest and delivery make anyway (BatchGetItem takes keys
    of several tables in one request): no request per event, per job or per batch is added."""
    shoppers = [USER, OTHER, "u-third"]
    runtime.publish([identify(u, f"first-{u}") for u in shoppers])
    runtime.drain()
    requests = Requests()
    runtime.client("dynamodb").meta.events.register("before-call", requests)

    runtime.publish([identify(u, f"again-{u}", at="2026-11-02T07:20:00Z") for u in shoppers])
    runtime.drain()
    assert requests.counts == {"BatchGetItem": 1, "PutItem": 3}  # one read per batch, one write per shopper

    requests.counts.clear()
    deliver(runtime, *(sale_job(u) for u in shoppers))
    assert requests.counts["BatchGetItem"] == 2  # profiles, then ledgers with the kept records
    assert requests.counts["GetItem"] == 0


def test_nudge_erase_on_a_stack_does_what_delete_me_does(runtime: LocalRuntime) -> None:
    """`nudge erase --stack` finds tables, queues and the key in the stack's outputs, which the runtime
    answers as the deployed stack declares them; every other call is a real one on moto."""
    import boto3
    from typer.testing import CliRunner

    from nudge.cli import app

    runtime.publish([identify(USER, "m1", anonymousId="visitor-7"), identify(OTHER, "m2")])
    runtime.drain()
    SqsDeadLetters(runtime.client("sqs"), runtime.queue_urls["ingest-dlq"]).park(
        envelope(runtime, identify(USER, "m3", at="2026-11-02T07:10:00Z")), "gave up", "ingest"
    )
    boto3.setup_default_session(region_name="us-east-1")
    assert boto3.DEFAULT_SESSION is not None
    runtime.answer_describe_stacks(boto3.DEFAULT_SESSION, "Nudge")
    try:
        result = CliRunner().invoke(app, ["erase", USER, "--stack", "Nudge", "--yes"], env={"COLUMNS": "200"})
    finally:
        boto3.DEFAULT_SESSION = None

    assert result.exit_code == 0, result.output
    assert "messages in ingest-dlq" in result.output
    assert rows_of(runtime, USER) == {} and runtime.profiles.get("anon:visitor-7") is None
    assert runtime.parked() == []
    # The marker is the one the functions read: a late copy of an event is dropped by ingest.
    SqsQueue(runtime.client("sqs"), runtime.queue_urls["ingest"]).send_many(
        [envelope(runtime, identify(USER, "m4", at="2026-11-02T07:20:00Z"))]
    )
    runtime.drain()
    assert rows_of(runtime, USER) == {} and runtime.profiles.get(OTHER) is not None


def test_an_unsubscribe_link_followed_after_the_erasure_writes_no_ledger_row(runtime: LocalRuntime) -> None:
    from urllib.parse import parse_qsl, urlsplit

    runtime.publish([identify(USER, "m1")])
    runtime.drain()
    deliver(runtime, sale_job(USER))
    link = runtime._ports["deliver"].deliverer.unsubscribe.url(USER, "email", "weekend-sale-sea")
    erase(runtime, USER)

    query = dict(parse_qsl(urlsplit(link).query))
    response = runtime.http("POST", "/unsubscribe", query=query, body="List-Unsubscribe=One-Click")

    assert response["statusCode"] == 200
    assert rows_of(runtime, USER) == {}
    [marker] = runtime.scan("privacy")
    assert marker["suppressed_email"] == "unsubscribed"  # kept, hashed, for when the id comes back
