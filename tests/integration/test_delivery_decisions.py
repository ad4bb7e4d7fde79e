"""Delivery's decisions on moto, each pinned on a job built for it: an inactive campaign, cancel before
holdout, the treated group, quiet hours and caps on a fallback channel, cap slots of failed and retried
sends, an unsubscribe racing the reservation, and duplicates inside one batch.

The runtime is gentle (no adversarial interleaving): each test drives the one interleaving it is about.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import fakes
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from nudge.local.runtime import LocalRuntime
from shared.campaigns.jobs import DeliveryJob, TriggerContext
from shared.campaigns.loader import Catalog
from shared.campaigns.model import Campaign
from shared.campaigns.policy import Caps, DeliveryPolicy, Limits, Reserve
from shared.core.clock import SimulatedClock
from shared.delivery.guards import in_holdout
from shared.profiles.ledger import Ledger, SentRecord, Suppression
from shared.profiles.profile import Activity, Profile

START = datetime(2026, 11, 2, 8, tzinfo=UTC)  # a Monday, 08:00 UTC: the end of the quiet hours
CONTENT = {
    "email": {"subject": "Autumn sale", "html": "<p>Autumn sale</p>"},
    "push": {"title": "Autumn sale", "body": "It starts now"},
    "in_app": {"title": "Autumn sale", "body": "It starts now"},
}
# One message a day on the all-channel budget (in-app not counted) and one in-app message a day; the
# campaign caps are out of the way.
POLICY = DeliveryPolicy(
    caps=Caps(
        all_channels=Limits(per_day=1, per_week=10),
        channels={
            "email": Limits(per_day=5, per_week=10),
            "push": Limits(per_day=5, per_week=10),
            "in_app": Limits(per_day=1, per_week=10),
        },
        campaign=Limits(per_day=10, per_week=10),
    ),
    reserve=Reserve(L4=0, L3=0),
)


def campaign(campaign_id: str, *channels: str, **fields: Any) -> Campaign:
    shape = fields.pop("shape", {"level": "L1", "schedule": {"expression": "at(2026-11-07T03:00:00)"}})
    return fakes.campaign(campaign_id, {c: CONTENT[c] for c in channels}, **shape, **fields)


REMINDER = {
    "level": "L4",
    "trigger": {"event": "Product Added", "delay": "1h", "cancel_if": ["Order Completed"]},
}
CATALOG = Catalog(
    [
        campaign("autumn-sale", "email", "push", "in_app"),
        campaign("inbox-first", "in_app", "email"),
        campaign("email-first", "email", "in_app"),
        campaign("paused-sale", "email", "in_app", enabled=False),
        campaign("cart-reminder", "email", "in_app", shape=REMINDER, end="2026-11-02T08:30:00Z"),
        campaign("cart-control", "email", "in_app", shape=REMINDER, holdout_percent=50),
    ],
    POLICY,
)


@pytest.fixture
def runtime() -> Iterator[LocalRuntime]:
    with mock_aws():
        yield LocalRuntime(CATALOG, SimulatedClock(START), log_level="CRITICAL", gentle=True)


def held_out(campaign_id: str, count: int) -> list[str]:
    """Shoppers in the campaign's control group."""
    percent = CATALOG.get(campaign_id).holdout_percent  # type: ignore[union-attr]
    return [u for u in (f"u{i}" for i in range(100)) if in_holdout(campaign_id, u, percent)][:count]


def shopper(runtime: LocalRuntime, user_id: str, **traits: Any) -> None:
    """A shopper who opted in to email, with an address (``traits`` override or add)."""
    values = {"email": f"{user_id}@example.com", "consent": {"email": True}, **traits}
    assert runtime.profiles.save(Profile(user_id=user_id, traits=values))


def sale(
    user_id: str, campaign_id: str = "autumn-sale", occurrence: str = "2026-11-07T03:00:00Z"
) -> DeliveryJob:
    return DeliveryJob.for_occurrence(campaign_id, occurrence, user_id)


def reminder(user_id: str, campaign_id: str) -> DeliveryJob:
    added = TriggerContext(
        event="Product Added", message_id="add-1", timestamp=START, properties={"product_id": "p1"}
    )
    return DeliveryJob.for_trigger(campaign_id, user_id, added)


def deliver(runtime: LocalRuntime, *jobs: DeliveryJob, receive_count: int = 1) -> dict[str, Any]:
    event = runtime.sqs_event("delivery", (job.model_dump_json() for job in jobs), receive_count)
    result: dict[str, Any] = runtime.invoke("deliver", event)
    return result


def decisions(runtime: LocalRuntime, user_id: str) -> list[tuple[str, str | None]]:
    return [(e["status"], e.get("reason")) for e in runtime.send_log.entries_for(user_id)]


def sent(runtime: LocalRuntime) -> list[tuple[str, str]]:
    return [(m.user_id, m.channel) for m in runtime.sent]


def slots(runtime: LocalRuntime, user_id: str) -> list[str]:
    ledger = runtime.ledgers.get(user_id)
    return [r.send_key for r in ledger.sends] if ledger else []


def refuse_ses(params: dict[str, Any], **_: Any) -> None:
    raise ClientError(
        {"Error": {"Code": "Throttling", "Message": "Maximum sending rate exceeded."}}, "SendEmail"
    )


# -- inactive campaigns ---------------------------------------------------------------------------


def test_a_delayed_job_of_a_campaign_that_ended_meanwhile_is_skipped(runtime: LocalRuntime) -> None:
    shopper(runtime, "u1")
    runtime.clock.advance(timedelta(hours=1))  # the reminder's delay is over; the campaign ended at 08:30

    assert deliver(runtime, reminder("u1", "cart-reminder")) == {"batchItemFailures": []}
    assert decisions(runtime, "u1") == [("skipped", "campaign_inactive")]
    assert sent(runtime) == []


def test_a_job_of_a_disabled_campaign_is_skipped(runtime: LocalRuntime) -> None:
    shopper(runtime, "u1")
    deliver(runtime, sale("u1", "paused-sale"))
    assert decisions(runtime, "u1") == [("skipped", "campaign_inactive")]
    assert sent(runtime) == []


# -- the uplift's groups ----------------------------------------------------------------------------


def test_a_cancelled_reminder_is_cancelled_in_the_control_group_too_and_joins_neither_group(
    runtime: LocalRuntime,
) -> None:
    ordered, waiting = held_out("cart-control", 2)
    ordered_at = START + timedelta(minutes=10)
    activity = Activity(last={"Order Completed": int(ordered_at.timestamp() // 60)})
    traits = {"email": f"{ordered}@example.com", "consent": {"email": True}}
    assert runtime.profiles.save(Profile(user_id=ordered, traits=traits, activity=activity))
    shopper(runtime, waiting)
    runtime.clock.advance(timedelta(hours=1))

    deliver(runtime, reminder(ordered, "cart-control"), reminder(waiting, "cart-control"))

    [cancelled] = runtime.send_log.entries_for(ordered)
    assert (cancelled["status"], cancelled["reason"], cancelled.get("group")) == (
        "cancelled",
        f"cancel_if: Order Completed at {ordered_at.isoformat()}",
        None,
    )
    [withheld] = runtime.send_log.entries_for(waiting)
    assert (withheld["status"], withheld["reason"], withheld["group"]) == (
        "withheld_holdout",
        "holdout 50%",
        "withheld",
    )
    assert sent(runtime) == []


def test_every_decision_after_the_holdout_is_the_treated_groups_whether_or_not_a_channel_is_found(
    runtime: LocalRuntime,
) -> None:
    shopper(runtime, "declined", consent={"email": False, "in_app": False})
    shopper(runtime, "reached")

    deliver(runtime, sale("declined", "email-first"), sale("reached", "email-first"))

    [no_consent] = runtime.send_log.entries_for("declined")
    assert (no_consent["status"], no_consent["reason"], no_consent["group"]) == (
        "no_consent",
        "email",
        "treated",
    )
    [reached] = runtime.send_log.entries_for("reached")
    assert (reached["status"], reached["channel"], reached["group"]) == ("sent", "email", "treated")


# -- fallback channels: quiet hours and caps --------------------------------------------------------


def test_a_message_capped_on_in_app_does_not_fall_back_to_an_email_inside_the_quiet_hours(
    runtime: LocalRuntime,
) -> None:
    shopper(runtime, "u1")
    runtime.clock.advance_to(datetime(2026, 11, 2, 22, tzinfo=UTC))  # 22:00 UTC: quiet hours for email

    deliver(runtime, sale("u1", "inbox-first", "first"))
    deliver(runtime, sale("u1", "inbox-first", "second"))

    assert decisions(runtime, "u1") == [("sent", None), ("capped", "channel.in_app.per_day")]
    assert sent(runtime) == [("u1", "in_app")]


def test_a_shopper_at_the_all_channel_cap_gets_no_in_app_message_instead(runtime: LocalRuntime) -> None:
    shopper(runtime, "u1")

    deliver(runtime, sale("u1", "email-first", "first"))
    deliver(runtime, sale("u1", "email-first", "second"))

    assert decisions(runtime, "u1") == [("sent", None), ("capped", "all_channels.per_day")]
    assert sent(runtime) == [("u1", "email")]


def test_an_unsubscribed_email_falls_back_to_push(runtime: LocalRuntime) -> None:
    endpoint = runtime.register_push_endpoint("GCM", "token-u1", user_id="u1")
    shopper(runtime, "u1", consent={"email": True, "push": True}, push_endpoint=endpoint)
    unsubscribed = Suppression("unsubscribed", START.isoformat(), "link")
    assert runtime.ledgers.suppress("u1", "email", unsubscribed)

    deliver(runtime, sale("u1"))

    assert [(e["status"], e["channel"]) for e in runtime.send_log.entries_for("u1")] == [("sent", "push")]
    assert sent(runtime) == [("u1", "push")]


# -- cap slots of failed and retried sends ---------------------------------------------------------


def test_a_send_the_queue_retries_keeps_its_one_slot_and_the_retry_records_no_second(
    runtime: LocalRuntime,
) -> None:
    shopper(runtime, "u1")
    ses = runtime.client("sesv2").meta.events
    ses.register("provide-client-params.sesv2.SendEmail", refuse_ses)
    assert deliver(runtime, sale("u1")) == {"batchItemFailures": [{"itemIdentifier": "r-0"}]}
    assert slots(runtime, "u1") == [sale("u1").send_key]  # held for the retry

    ses.unregister("provide-client-params.sesv2.SendEmail", refuse_ses)
    assert deliver(runtime, sale("u1"), receive_count=2) == {"batchItemFailures": []}
    assert slots(runtime, "u1") == [sale("u1").send_key]
    assert sent(runtime) == [("u1", "email")]


def test_a_send_that_failed_for_good_gives_back_its_cap_slot(runtime: LocalRuntime) -> None:
    someone_elses = runtime.register_push_endpoint("GCM", "token-u2", user_id="u2")
    shopper(runtime, "u1", consent={"push": True}, push_endpoint=someone_elses)

    assert deliver(runtime, sale("u1")) == {"batchItemFailures": []}  # parked at once, not retried

    [parked] = runtime.parked()
    assert (
        parked.reason
        == "PermanentDeliveryError: push endpoint is registered to another shopper (CustomUserData)"
    )
    assert decisions(runtime, "u1") == [("failed", parked.reason)]
    assert slots(runtime, "u1") == []
    assert sent(runtime) == []


# -- races ----------------------------------------------------------------------------------------


def test_an_unsubscribe_landing_between_the_ledger_read_and_the_reservation_is_honoured(
    runtime: LocalRuntime,
) -> None:
    shopper(runtime, "u1")
    dynamodb = runtime.client("dynamodb").meta.events
    landed: list[bool] = []

    def unsubscribe_while_claiming(**_: Any) -> None:
        if not landed:  # the batch has read the ledger; the claim is the next write (the suppression too)
            landed.append(False)
            landed[0] = runtime.ledgers.suppress(
                "u1", "email", Suppression("unsubscribed", START.isoformat())
            )

    dynamodb.register("before-call.dynamodb.UpdateItem", unsubscribe_while_claiming)
    deliver(runtime, sale("u1", "email-first"))
    dynamodb.unregister("before-call.dynamodb.UpdateItem", unsubscribe_while_claiming)

    assert landed == [True]
    assert decisions(runtime, "u1") == [("suppressed", "email:unsubscribed")]
    assert sent(runtime) == []
    assert slots(runtime, "u1") == []


def test_a_second_copy_of_a_job_in_the_same_batch_is_a_duplicate_not_a_retry(runtime: LocalRuntime) -> None:
    shopper(runtime, "u1")

    assert deliver(runtime, sale("u1"), sale("u1")) == {"batchItemFailures": []}

    key = sale("u1").send_key
    assert {e["send_key"]: e["status"] for e in runtime.send_log.entries_for("u1")} == {
        key: "sent",
        f"{key}#duplicate": "duplicate",
    }
    assert sent(runtime) == [("u1", "email")]


def test_a_claim_in_flight_elsewhere_is_retried_even_when_the_batch_sent_another_message(
    runtime: LocalRuntime,
) -> None:
    shopper(runtime, "u1")
    shopper(runtime, "u2")
    elsewhere = sale("u2")
    claim = SentRecord(runtime.clock.now(), "email", "autumn-sale", "L1", elsewhere.send_key)
    assert runtime.ledgers.record_send(Ledger("u2"), claim, [])  # another invocation is sending it

    assert deliver(runtime, sale("u1"), elsewhere) == {"batchItemFailures": [{"itemIdentifier": "r-1"}]}

    assert runtime.send_log.entries_for("u2") == []
    assert slots(runtime, "u2") == [elsewhere.send_key]
    assert sent(runtime) == [("u1", "email")]
