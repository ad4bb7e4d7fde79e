"""Finding 3: an opt-out outlives the erasure of the shopper who gave it.

Unsubscribe, then ``DELETE /me``, then the app's next ``identify``: the suppression used to go with
the ledger, and the next campaign mailed the shopper again. Erasure now keeps each suppression as a
keyed hash of the channel and the address (and of the user id), and delivery honours it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import payloads
import pytest
from fakes import catalog_without
from moto import mock_aws

from nudge.local.runtime import LocalRuntime
from nudge.local.ses_events import ses_event, tagged_mail
from shared.campaigns.jobs import DeliveryJob
from shared.core.clock import SimulatedClock
from shared.delivery.guards import in_holdout

START = datetime(2026, 11, 2, 8, tzinfo=UTC)  # 15:00 in Jakarta
ADDRESS = "ayu.optout@example.com"
USER, NEW_ACCOUNT, OTHER = [
    u for u in (f"u{i}" for i in range(30)) if not in_holdout("weekend-sale-sea", u, 10)
][:3]


@pytest.fixture
def runtime() -> Iterator[LocalRuntime]:
    with mock_aws():
        yield LocalRuntime(catalog_without("welcome"), SimulatedClock(START), log_level="CRITICAL")


def identify(runtime: LocalRuntime, user_id: str, message_id: str, email: str) -> None:
    """The app's identify, stamped with the runtime's clock."""
    consent = {"email": True, "push": False, "in_app": True}
    traits = {"email": email, "timezone": "Asia/Jakarta", "consent": consent}
    runtime.publish([payloads.identify(user_id, message_id, runtime.clock.now(), **traits)])
    runtime.drain()


def sale(runtime: LocalRuntime, *users: str) -> dict[str, tuple[str, str | None]]:
    """The weekend sale (email only) for ``users``; each one's decision."""
    occurrence = runtime.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    jobs = [DeliveryJob.for_occurrence("weekend-sale-sea", occurrence, u).model_dump_json() for u in users]
    runtime.invoke("deliver", runtime.sqs_event("delivery", jobs))
    decided = {}
    for user in users:
        [entry] = [e for e in runtime.send_log.entries_for(user) if e["occurrence"] == occurrence]
        decided[user] = (entry["status"], entry.get("reason"))
    return decided


def later(runtime: LocalRuntime, hours: int = 1) -> None:
    runtime.clock.advance(timedelta(hours=hours))


def test_an_unsubscribe_survives_erasure_and_the_next_identify(runtime: LocalRuntime) -> None:
    identify(runtime, USER, "m1", ADDRESS)
    identify(runtime, OTHER, "m2", "someone.else@example.com")
    assert sale(runtime, USER) == {USER: ("sent", None)}
    [email] = [s for s in runtime.sent if s.user_id == USER]
    link = dict(parse_qsl(urlsplit(_unsubscribe_link(runtime)).query))
    assert (
        runtime.http("POST", "/unsubscribe", query=link, body="List-Unsubscribe=One-Click")["statusCode"]
        == 200
    )

    later(runtime)
    assert runtime.http("DELETE", "/me", user_id=USER)["statusCode"] == 200
    later(runtime)
    identify(runtime, USER, "m3", ADDRESS)  # the app's next identify, with the same consent flag
    later(runtime)

    decided = sale(runtime, USER, OTHER)

    assert decided == {USER: ("suppressed", "email:unsubscribed"), OTHER: ("sent", None)}
    assert [s.user_id for s in runtime.sent] == [USER, OTHER]  # the first sale only, and the other shopper
    assert email.channel == "email"


def test_the_address_stays_suppressed_under_another_user_id(runtime: LocalRuntime) -> None:
    identify(runtime, USER, "m1", ADDRESS)
    sale(runtime, USER)
    link = dict(parse_qsl(urlsplit(_unsubscribe_link(runtime)).query))
    runtime.http("POST", "/unsubscribe", query=link, body="List-Unsubscribe=One-Click")
    later(runtime)
    runtime.http("DELETE", "/me", user_id=USER)
    later(runtime)

    identify(runtime, NEW_ACCOUNT, "m2", ADDRESS.upper())  # a new account, the same mailbox
    later(runtime)

    assert sale(runtime, NEW_ACCOUNT) == {NEW_ACCOUNT: ("suppressed", "email:unsubscribed")}


@pytest.mark.parametrize(
    ("kind", "section", "reason"),
    [
        ("Bounce", {"bounce": {"bounceType": "Permanent", "bounceSubType": "General"}}, "bounced"),
        ("Complaint", {"complaint": {}}, "complained"),
    ],
)
def test_bounces_and_complaints_survive_erasure_even_when_they_arrive_after_it(
    runtime: LocalRuntime, kind: str, section: dict[str, Any], reason: str
) -> None:
    identify(runtime, USER, "m1", ADDRESS)
    sale(runtime, USER)
    [sent] = runtime.sent
    later(runtime)
    runtime.http("DELETE", "/me", user_id=USER)
    # SES reports the complaint (or the bounce) after the shopper was erased: no ledger row is
    # written again, but the address is kept, hashed, as suppressed.
    mail = tagged_mail(USER, "weekend-sale-sea", sent.provider_id, destination=[ADDRESS])
    mail["timestamp"] = START.isoformat()
    runtime.publish_aws_event(ses_event(kind, mail, time=runtime.clock.now().isoformat(), **section))
    assert runtime.ledgers.get(USER) is None
    later(runtime)

    identify(runtime, USER, "m2", ADDRESS)
    later(runtime)

    assert sale(runtime, USER) == {USER: ("suppressed", f"email:{reason}")}


def test_the_kept_suppressions_hold_no_address(runtime: LocalRuntime) -> None:
    identify(runtime, USER, "m1", ADDRESS)
    sale(runtime, USER)
    link = dict(parse_qsl(urlsplit(_unsubscribe_link(runtime)).query))
    runtime.http("POST", "/unsubscribe", query=link, body="List-Unsubscribe=One-Click")
    runtime.http("DELETE", "/me", user_id=USER)

    kept = runtime.scan("privacy")
    assert sorted(sorted(k for k in item if k != "key") for item in kept) == [
        ["erased_at", "suppressed_email"],  # the user id's record
        ["suppressed_email"],  # the address's record
    ]
    assert {item["suppressed_email"] for item in kept} == {"unsubscribed"}
    assert ADDRESS not in json.dumps(kept) and USER not in json.dumps(kept)


def _unsubscribe_link(runtime: LocalRuntime) -> str:
    """The one-click link of the last email SES accepted (moto keeps the raw MIME)."""
    from email import message_from_string
    from email.policy import default

    from moto.ses.models import ses_backends

    raw = [
        m.raw_data for m in ses_backends["123456789012"]["us-east-1"].sent_messages if hasattr(m, "raw_data")
    ]
    return str(message_from_string(raw[-1], policy=default)["List-Unsubscribe"]).strip("<>")
