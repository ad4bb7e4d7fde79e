"""The delivery guards on moto: atomic caps under concurrency, quiet-hours deferral through one-time
schedules, holdout, SES feedback, signed one-click unsubscribe, the inbox API and erasure."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from factory import email_text, sent_emails, ses_sent_count
from fakes import catalog_without, identify_shopper
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend
from payloads import track

from nudge.local.runtime import LocalRuntime
from nudge.local.ses_events import ses_event as local_ses_event
from nudge.local.ses_events import tagged_mail
from shared.campaigns.jobs import DeliveryJob, TriggerContext
from shared.campaigns.loader import Catalog
from shared.campaigns.policy import Caps, DeliveryPolicy, Limits, Reserve
from shared.core.clock import SimulatedClock
from shared.core.errors import SendInFlight
from shared.delivery.guards import in_holdout

START = datetime(2026, 11, 2, 8, tzinfo=UTC)


@pytest.fixture
def catalog() -> Catalog:
    """Every bundled campaign but the welcome (its email on each first identify would use the day's
    email cap in tests about other things; test_triggers covers it)."""
    return catalog_without("welcome")


@pytest.fixture
def atomic_items(monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB applies each conditional write to an item atomically; moto checks and writes in two
    Python steps, so under threads it can let two writers through. Give moto DynamoDB's guarantee."""
    lock = threading.RLock()
    for name in ("put_item", "update_item", "delete_item", "get_item", "batch_get_item"):
        original = getattr(DynamoDBBackend, name)

        def locked(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return __original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, locked)


def order_job(user_id: str, n: int) -> DeliveryJob:
    order = TriggerContext(
        event="Order Completed",
        message_id=f"order-{n}",
        timestamp=START,
        properties={"order_id": f"o-{n}", "revenue": 10},
    )
    return DeliveryJob.for_trigger("order-thank-you", user_id, order)


def sale_job(user_id: str, occurrence: str = "2026-11-07T03:00:00Z") -> DeliveryJob:
    return DeliveryJob.for_occurrence("weekend-sale-sea", occurrence, user_id)


def deliver(runtime: LocalRuntime, *jobs: DeliveryJob) -> dict[str, Any]:
    result: dict[str, Any] = runtime.invoke(
        "deliver", runtime.sqs_event("delivery", (j.model_dump_json() for j in jobs))
    )
    return result


def decisions(runtime: LocalRuntime, user_id: str) -> list[tuple[str, str | None]]:
    return [(e["status"], e.get("reason")) for e in runtime.send_log.entries_for(user_id)]


def not_held_out(campaign: str, count: int, percent: float = 10) -> list[str]:
    return [u for u in (f"u{i}" for i in range(count * 3)) if not in_holdout(campaign, u, percent)][:count]


# -- frequency caps -----------------------------------------------------------------------------------


@pytest.fixture
def tight_runtime(catalog: Catalog) -> Iterator[LocalRuntime]:
    policy = DeliveryPolicy(
        caps=Caps(
            all_channels=Limits(per_day=3, per_week=3),
            channels={"email": Limits(per_day=50, per_week=50)},
            campaign=Limits(per_day=50, per_week=50),
        ),
        reserve=Reserve(L4=0, L3=0),
    )
    with mock_aws():
        yield LocalRuntime(Catalog(list(catalog), policy), SimulatedClock(START), log_level="CRITICAL")


def test_fifty_concurrent_deliveries_against_a_cap_of_three_send_exactly_three(
    tight_runtime: LocalRuntime, atomic_items: None
) -> None:
    runtime = tight_runtime
    identify_shopper(runtime, "u1")
    deliverer = runtime._ports["deliver"].deliverer
    jobs = [order_job("u1", n) for n in range(50)]
    start = threading.Barrier(50)

    def race(job: DeliveryJob) -> str:
        start.wait()
        return str(deliverer.deliver(job).status)

    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = Counter(pool.map(race, jobs))

    assert outcomes == {"sent": 3, "capped": 47}
    assert ses_sent_count() == 3
    logged = Counter((e["status"], e.get("reason")) for e in runtime.send_log.entries_for("u1"))
    assert logged == {("sent", None): 3, ("capped", "all_channels.per_day"): 47}
    ledger = runtime.ledgers.get("u1")
    assert ledger is not None and len(ledger.sends) == 3


def test_fifty_concurrent_copies_of_one_job_send_it_once(
    tight_runtime: LocalRuntime, atomic_items: None
) -> None:
    runtime = tight_runtime
    identify_shopper(runtime, "u1")
    deliverer = runtime._ports["deliver"].deliverer
    start = threading.Barrier(50)

    def race(_: int) -> str:
        start.wait()
        try:
            return str(deliverer.deliver(order_job("u1", 1)).status)
        except SendInFlight:
            return "in flight"  # the queue delivers it again later: a duplicate then

    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = Counter(pool.map(race, range(50)))

    assert outcomes["sent"] == 1
    assert outcomes["sent"] + outcomes["duplicate"] + outcomes["in flight"] == 50
    assert ses_sent_count() == 1
    ledger = runtime.ledgers.get("u1")
    assert ledger is not None and [r.send_key for r in ledger.sends] == [order_job("u1", 1).send_key]
    assert deliverer.deliver(order_job("u1", 1)).status == "duplicate"


def test_a_capped_message_is_logged_with_the_cap_and_a_redelivery_changes_nothing(
    tight_runtime: LocalRuntime,
) -> None:
    identify_shopper(tight_runtime, "u1")
    deliver(tight_runtime, *(order_job("u1", n) for n in range(4)))
    deliver(tight_runtime, order_job("u1", 3))
    statuses = Counter(s for s, _ in decisions(tight_runtime, "u1"))
    assert statuses == {"sent": 3, "capped": 1, "duplicate": 1}
    assert ses_sent_count() == 3


def test_the_weekly_budget_keeps_room_for_real_time_triggers(catalog: Catalog) -> None:
    # 3 a week with 1 slot reserved for L4: the L1 sale takes 2 slots, the third is the trigger's.
    policy = DeliveryPolicy(
        caps=Caps(all_channels=Limits(per_day=3, per_week=3), campaign=Limits(per_day=3, per_week=3)),
        reserve=Reserve(L4=1, L3=0),
    )
    with mock_aws():
        runtime = LocalRuntime(Catalog(list(catalog), policy), SimulatedClock(START), log_level="CRITICAL")
        [user] = not_held_out("weekend-sale-sea", 1)
        identify_shopper(runtime, user)
        occurrences = [f"2026-11-0{d}T03:00:00Z" for d in (2, 3, 4)]
        for day, occurrence in zip((0, 1, 2), occurrences, strict=True):
            runtime.clock.advance_to(START + timedelta(days=day))
            deliver(runtime, sale_job(user, occurrence))
        runtime.clock.advance(timedelta(minutes=5))
        deliver(runtime, order_job(user, 1))
        by_campaign = [
            (e["campaign_id"], e["status"], e.get("reason")) for e in runtime.send_log.entries_for(user)
        ]
    assert by_campaign == [
        ("weekend-sale-sea", "sent", None),
        ("weekend-sale-sea", "sent", None),
        ("weekend-sale-sea", "capped", "reserved_for_higher_value"),
        ("order-thank-you", "sent", None),
    ]


# -- quiet hours --------------------------------------------------------------------------------------


def test_an_email_in_quiet_hours_is_deferred_to_their_end_and_then_sent(runtime: LocalRuntime) -> None:
    [user] = not_held_out("weekend-sale-sea", 1)
    identify_shopper(runtime, user, timezone="Asia/Jakarta")
    runtime.clock.advance_to(datetime(2026, 11, 7, 15, 0, tzinfo=UTC))  # 22:00 in Jakarta
    deliver(runtime, sale_job(user))

    assert ses_sent_count() == 0
    [(at, _, target)] = runtime.one_time_schedules()
    assert at == datetime(2026, 11, 8, 1, 0, tzinfo=UTC)  # 08:00 in Jakarta
    assert target["Arn"] == runtime.queue_arn("delivery")
    assert json.loads(target["Input"])["not_before"] == "2026-11-08T01:00:00Z"
    deliver(runtime, sale_job(user))  # a redelivered job defers once
    assert len(runtime.one_time_schedules()) == 1

    runtime.advance_to(datetime(2026, 11, 8, 1, 30, tzinfo=UTC))

    assert ses_sent_count() == 1
    assert runtime.one_time_schedules() == []  # deleted after it fired
    # (a copy of the job the adversary delivers while the first runs is logged beside it: a duplicate)
    assert [s for s, _ in decisions(runtime, user) if s != "duplicate"] == ["deferred_quiet_hours", "sent"]


def test_in_app_messages_are_not_held_by_quiet_hours(runtime: LocalRuntime) -> None:
    identify_shopper(runtime, "u1", timezone="Asia/Jakarta", email=None)
    runtime.clock.advance_to(datetime(2026, 11, 2, 16, 0, tzinfo=UTC))  # 23:00 in Jakarta
    deliver(runtime, order_job("u1", 1))
    assert [s for s, _ in decisions(runtime, "u1")] == ["sent"]
    assert len(runtime.scan("inbox")) == 1


# -- holdout and consent ------------------------------------------------------------------------------


def test_a_shopper_in_the_holdout_group_is_withheld_and_logged(runtime: LocalRuntime) -> None:
    held = next(u for u in (f"h{i}" for i in range(500)) if in_holdout("weekend-sale-sea", u, 10))
    identify_shopper(runtime, held)
    deliver(runtime, sale_job(held))
    assert decisions(runtime, held) == [("withheld_holdout", "holdout 10%")]
    assert ses_sent_count() == 0


# -- SES feedback -------------------------------------------------------------------------------------


def ses_event(kind: str, user_id: str, **detail: Any) -> dict[str, Any]:
    mail = tagged_mail(user_id, "weekend-sale-sea")
    return local_ses_event(kind, mail, event_id=f"ses-{kind}-{user_id}", **detail)


def test_a_permanent_bounce_suppresses_email_for_that_shopper(runtime: LocalRuntime) -> None:
    users = not_held_out("weekend-sale-sea", 2)
    for user in users:
        identify_shopper(runtime, user)
    bounce = ses_event("Bounce", users[0], bounce={"bounceType": "Permanent", "bounceSubType": "General"})

    assert runtime.publish_aws_event(bounce) == 1
    deliver(runtime, *(sale_job(u) for u in users))

    assert decisions(runtime, users[0]) == [("suppressed", "email:bounced")]
    assert decisions(runtime, users[1]) == [("sent", None)]


def test_complaints_suppress_and_transient_bounces_do_not(runtime: LocalRuntime) -> None:
    users = not_held_out("weekend-sale-sea", 2)
    for user in users:
        identify_shopper(runtime, user)
    runtime.publish_aws_event(ses_event("Complaint", users[0], complaint={}))
    runtime.publish_aws_event(ses_event("Bounce", users[1], bounce={"bounceType": "Transient"}))
    deliver(runtime, *(sale_job(u) for u in users))
    assert decisions(runtime, users[0]) == [("suppressed", "email:complained")]
    assert decisions(runtime, users[1]) == [("sent", None)]


def test_feedback_for_mail_nudge_did_not_send_is_parked_with_the_reason(runtime: LocalRuntime) -> None:
    event = ses_event("Bounce", "x", bounce={"bounceType": "Permanent"})
    event["detail"]["mail"] = {"tags": {"ses:configuration-set": [runtime.names.configuration_set]}}
    runtime.publish_aws_event(event)
    [parked] = runtime.parked()
    assert parked.queue == "feedback-dlq"
    assert "without a shopper tag" in parked.reason


# -- one-click unsubscribe ----------------------------------------------------------------------------


def unsubscribe_link(runtime: LocalRuntime, user: str) -> dict[str, str]:
    identify_shopper(runtime, user)
    deliver(runtime, sale_job(user))
    [email] = sent_emails()
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = email["List-Unsubscribe"].strip("<>")
    assert url.startswith("https://api.shop.example.com/unsubscribe?")
    assert url.replace("&", "&amp;") in email_text(email)  # the visible link in the body
    return dict(parse_qsl(urlsplit(url).query))


def test_one_click_unsubscribe_suppresses_the_channel(runtime: LocalRuntime) -> None:
    [user] = not_held_out("weekend-sale-sea", 1)
    query = unsubscribe_link(runtime, user)

    page = runtime.http("GET", "/unsubscribe", query=query)
    assert page["statusCode"] == 200 and "<form" in page["body"]
    assert runtime.ledgers.get(user).suppression("email") is None  # type: ignore[union-attr]

    response = runtime.http("POST", "/unsubscribe", query=query, body="List-Unsubscribe=One-Click")
    assert response["statusCode"] == 200
    suppression = runtime.ledgers.get(user).suppression("email")  # type: ignore[union-attr]
    assert suppression is not None and suppression.reason == "unsubscribed"

    deliver(runtime, sale_job(user, "2026-11-14T03:00:00Z"))
    assert decisions(runtime, user)[-1] == ("suppressed", "email:unsubscribed")


def test_a_link_altered_to_another_shopper_is_refused(runtime: LocalRuntime) -> None:
    [user, victim] = not_held_out("weekend-sale-sea", 2)
    query = unsubscribe_link(runtime, user)
    for forged in ({**query, "u": victim}, {**query, "t": query["t"][:-2] + "AA"}, {"u": victim}):
        assert runtime.http("POST", "/unsubscribe", query=forged)["statusCode"] == 403
    assert runtime.ledgers.get(victim) is None
    assert runtime.ledgers.get(user).suppression("email") is None  # type: ignore[union-attr]


# -- the inbox API ------------------------------------------------------------------------------------


def test_the_inbox_api_shows_each_shopper_only_their_own_messages(runtime: LocalRuntime) -> None:
    for user in ("u1", "u2"):
        identify_shopper(runtime, user, email=None)
        deliver(runtime, order_job(user, int(user[1:])))

    mine = json.loads(runtime.http("GET", "/inbox", user_id="u1")["body"])["messages"]
    assert [m["title"] for m in mine] == ["Order confirmed"]
    assert mine[0]["body"] == "Order o-1 is on its way soon."
    theirs = json.loads(runtime.http("GET", "/inbox", user_id="u2")["body"])["messages"]
    assert theirs[0]["body"] == "Order o-2 is on its way soon."

    assert runtime.http("GET", "/inbox")["statusCode"] == 401
    key_of_u2 = theirs[0]["message_key"]
    assert runtime.http("POST", f"/inbox/{key_of_u2}/read", user_id="u1")["statusCode"] == 404
    assert json.loads(runtime.http("GET", "/inbox", user_id="u2")["body"])["messages"] != []

    assert runtime.http("POST", f"/inbox/{key_of_u2}/dismiss", user_id="u2")["statusCode"] == 200
    assert json.loads(runtime.http("GET", "/inbox", user_id="u2")["body"])["messages"] == []


# -- erasure ------------------------------------------------------------------------------------------


def test_erasing_a_shopper_leaves_nothing_behind(runtime: LocalRuntime) -> None:
    [user, other] = not_held_out("weekend-sale-sea", 2)
    for who in (user, other):
        identify_shopper(runtime, who, timezone="Asia/Jakarta")
    deliver(runtime, order_job(user, 1), order_job(other, 2))  # 15:00 in Jakarta: sent
    runtime.clock.advance_to(datetime(2026, 11, 2, 16, 0, tzinfo=UTC))  # 23:00: the sale is deferred
    deliver(runtime, sale_job(user), sale_job(other))
    assert len(runtime.one_time_schedules()) == 2
    # a later order of each counts as a conversion of the thank-you they were sent
    runtime.clock.advance_to(datetime(2026, 11, 2, 16, 30, tzinfo=UTC))  # events arrive when they happen
    runtime.publish(
        [track(who, "Order Completed", f"o-{who}", at="2026-11-02T16:30:00Z") for who in (user, other)]
    )
    runtime.drain()
    assert {c["user_id"] for c in runtime.scan("conversions")} == {user, other}
    theirs = [t for _, _, t in runtime.one_time_schedules() if json.loads(t["Input"])["user_id"] == user]
    assert len(theirs) >= 2  # the deferred sale, and what the order scheduled (the review request)

    response = runtime.http("DELETE", "/me", user_id=user)

    assert response["statusCode"] == 200
    body = json.loads(response["body"])
    assert body["cancelled_schedules"] == len(theirs) and body["deleted"]["profiles"] == 1
    assert body["deleted"]["conversions"] == 2  # the order counted for the thank-you and the sale
    for table in ("profiles", "messages", "inbox", "ledger", "conversions"):
        assert not [i for i in runtime.scan(table) if i["user_id"] == user], table
        assert [i for i in runtime.scan(table) if i["user_id"] == other] or table == "inbox", table
    runtime.advance_to(datetime(2026, 11, 3, 2, 0, tzinfo=UTC))
    assert not [i for i in runtime.scan("messages") if i["user_id"] == user]


# -- nudge why ----------------------------------------------------------------------------------------


def test_nudge_why_prints_a_shoppers_decisions_in_time_order(runtime: LocalRuntime, tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from nudge.cli import app

    [user] = not_held_out("weekend-sale-sea", 1)
    identify_shopper(runtime, user, timezone="Asia/Jakarta")
    runtime.clock.advance_to(datetime(2026, 11, 7, 15, 0, tzinfo=UTC))  # 22:00 in Jakarta
    deliver(runtime, sale_job(user))
    runtime.advance_to(datetime(2026, 11, 8, 1, 30, tzinfo=UTC))
    runtime.snapshot(tmp_path)

    result = CliRunner().invoke(app, ["why", user, "--store", str(tmp_path)], env={"COLUMNS": "200"})

    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "weekend-sale-sea" in line]
    # (a copy the adversary delivers while the first runs is logged beside the send key: a duplicate)
    lines = [line for line in lines if "duplicate" not in line]
    assert len(lines) == 2
    assert "deferred_quiet_hours" in lines[0] and "until 2026-11-08T01:00:00+00:00" in lines[0]
    assert "sent" in lines[1] and "2026-11-08 01:00" in lines[1]
    missing = CliRunner().invoke(app, ["why", "nobody", "--store", str(tmp_path)])
    assert missing.exit_code == 0 and "no decisions logged for nobody" in missing.output


def test_a_channel_at_its_cap_hands_the_message_to_the_campaigns_next_channel(catalog: Catalog) -> None:
    policy = DeliveryPolicy(
        caps=Caps(
            all_channels=Limits(per_day=5, per_week=10),
            channels={"email": Limits(per_day=1, per_week=5)},
            campaign=Limits(per_day=5, per_week=10),
        ),
        reserve=Reserve(L4=0, L3=0),
    )
    with mock_aws():
        runtime = LocalRuntime(Catalog(list(catalog), policy), SimulatedClock(START), log_level="CRITICAL")
        identify_shopper(runtime, "u1")
        deliver(runtime, order_job("u1", 1))
        deliver(runtime, order_job("u1", 2))
        sent = [(e["channel"], e["status"]) for e in runtime.send_log.entries_for("u1")]
        assert sent == [("email", "sent"), ("in_app", "sent")]
        assert ses_sent_count() == 1
        [item] = runtime.scan("inbox")
        assert item["body"] == "Order o-2 is on its way soon."
