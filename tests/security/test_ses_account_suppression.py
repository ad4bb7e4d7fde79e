"""Issue 15, "Also": SES's account-level suppression list.

SES does not refuse a send to an address on the account's suppression list: ``SendEmail`` succeeds,
SES drops the message and publishes a ``Bounce`` (``Permanent`` / ``OnAccountSuppressionList``), or a
``Complaint`` with ``complaintSubType: OnAccountSuppressionList``. Nudge reads the list through these
events: the message's send-log entry becomes ``suppressed`` (it was never attempted, so it is not
counted as sent), and the shopper's email is suppressed in the ledger so later sends stop before SES.
``nudge why`` shows both. (moto implements neither the list nor SES events, so the events are built
as SES publishes them, with the tags Nudge sent.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fakes import probe
from moto import mock_aws
from payloads import identify
from typer.testing import CliRunner

from nudge.cli import app
from nudge.local.runtime import LocalRuntime
from nudge.local.ses_events import ses_event, tagged_mail
from shared.campaigns.jobs import DeliveryJob, TriggerContext
from shared.campaigns.loader import Catalog
from shared.campaigns.policy import DeliveryPolicy
from shared.core.clock import SimulatedClock

START = datetime(2026, 11, 2, 8, tzinfo=UTC)
PROBE = probe(
    {"email": {"subject": "Thanks", "html": "<p>Hi</p>", "text": "Hi"}}, caps={"per_day": 5, "per_week": 10}
)
ON_LIST = "on_ses_suppression_list"


@pytest.fixture
def runtime() -> Iterator[LocalRuntime]:
    with mock_aws():
        catalog = Catalog([PROBE], DeliveryPolicy())
        yield LocalRuntime(catalog, SimulatedClock(START), audience_segments=1, log_level="CRITICAL")


def shopper(runtime: LocalRuntime, user_id: str) -> None:
    traits = {"email": "gone@example.com", "timezone": "UTC", "consent": {"email": True}}
    runtime.publish([identify(user_id, "i1", **traits)])
    runtime.drain()


def send_probe(runtime: LocalRuntime, user_id: str, n: int) -> None:
    order = TriggerContext(event="Order Completed", message_id=f"o-{n}", timestamp=START)
    job = DeliveryJob.for_trigger("probe", user_id, order)
    assert runtime.invoke("deliver", runtime.sqs_event("delivery", [job.model_dump_json()])) == {
        "batchItemFailures": []
    }


def decisions(runtime: LocalRuntime, user_id: str) -> list[tuple[str, Any]]:
    entries = sorted((m for m in runtime.scan("messages") if m["user_id"] == user_id), key=lambda m: m["at"])
    return [(m["status"], m.get("reason")) for m in entries]


def dropped_by_ses(runtime: LocalRuntime, kind: str) -> dict[str, Any]:
    [sent] = runtime.sent
    mail = tagged_mail(sent.user_id, sent.campaign_id, sent.provider_id, send_key=sent.send_key)
    if kind == "Bounce":
        section = {
            "bounceType": "Permanent",
            "bounceSubType": "OnAccountSuppressionList",
            "bouncedRecipients": [{"emailAddress": "gone@example.com"}],
            "timestamp": "2026-11-02T08:00:01Z",
        }
        return ses_event("Bounce", mail, bounce=section)
    section = {"complaintSubType": "OnAccountSuppressionList", "timestamp": "2026-11-02T08:00:01Z"}
    return ses_event("Complaint", mail, complaint=section)


@pytest.mark.parametrize("kind", ["Bounce", "Complaint"])
def test_a_send_ses_drops_for_the_account_list_is_suppressed_not_sent_and_later_sends_stop(
    runtime: LocalRuntime, kind: str
) -> None:
    shopper(runtime, "auth0|gone")
    send_probe(runtime, "auth0|gone", 1)
    assert decisions(runtime, "auth0|gone") == [("sent", None)]

    assert runtime.publish_aws_event(dropped_by_ses(runtime, kind)) == 1
    send_probe(runtime, "auth0|gone", 2)

    assert decisions(runtime, "auth0|gone") == [
        ("suppressed", f"email:{ON_LIST}"),
        ("suppressed", f"email:{ON_LIST}"),
    ]
    assert len(runtime.sent) == 1  # the second message never reached SES
    suppression = runtime.ledgers.get("auth0|gone").suppression("email")  # type: ignore[union-attr]
    assert suppression is not None and suppression.reason == ON_LIST
    assert runtime.parked() == []


def test_an_ordinary_hard_bounce_still_reads_bounced_and_the_message_stays_sent(
    runtime: LocalRuntime,
) -> None:
    shopper(runtime, "u1")
    send_probe(runtime, "u1", 1)
    [sent] = runtime.sent
    mail = tagged_mail(sent.user_id, sent.campaign_id, sent.provider_id, send_key=sent.send_key)
    runtime.publish_aws_event(
        ses_event("Bounce", mail, bounce={"bounceType": "Permanent", "bounceSubType": "General"})
    )
    send_probe(runtime, "u1", 2)
    assert decisions(runtime, "u1") == [("sent", None), ("suppressed", "email:bounced")]


def test_nudge_why_shows_the_account_list_suppression(runtime: LocalRuntime, tmp_path: Path) -> None:
    shopper(runtime, "auth0|gone")
    send_probe(runtime, "auth0|gone", 1)
    runtime.publish_aws_event(dropped_by_ses(runtime, "Bounce"))
    store = tmp_path / "store"
    store.mkdir()
    rows = [json.dumps(m, default=str) for m in runtime.scan("messages")]
    (store / "messages.jsonl").write_text("\n".join(rows) + "\n")

    result = CliRunner().invoke(app, ["why", "auth0|gone", "--store", str(store)], env={"COLUMNS": "200"})

    assert result.exit_code == 0, result.output
    assert "suppressed" in result.output and ON_LIST in result.output
    assert "failed" not in result.output and " sent " not in result.output
