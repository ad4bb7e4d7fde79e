"""Issue 15, finding 4: only a trusted publisher may set where a shopper's messages go.

Any principal allowed to put events on the bus could name a shopper's email, phone, push endpoint
or consent; an ``identify`` for ``v1`` with ``email=attacker@...`` sent v1's order confirmation to
the attacker. Contact points are now accepted only from the sources the deployer declares trusted
(the app's ``nudge.app`` by default): other sources keep their behaviour data, their contact-point
traits are dropped with a logged reason. At send time a push endpoint must belong to one of this
stack's platform applications and be registered (``CustomUserData``) to the shopper it is sent to.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_string
from email.policy import default
from typing import Any

import pytest
from fakes import CAMPAIGNS, catalog_without
from moto import mock_aws
from moto.sns.models import sns_backends
from payloads import identify

from nudge.local.account import ACCOUNT, REGION
from nudge.local.runtime import LocalRuntime
from shared.campaigns.jobs import DeliveryJob, TriggerContext
from shared.campaigns.loader import load_campaign_dir
from shared.core.clock import SimulatedClock
from shared.events.sources import APP_EVENT_SOURCE
from shared.platform.config import Settings

START = datetime(2026, 11, 2, 8, tzinfo=UTC)
UNTRUSTED = "segment.web"  # e.g. a browser's analytics calls forwarded from a partner bus
ATTACKER = "attacker@evil.test"


@pytest.fixture
def runtime() -> Iterator[LocalRuntime]:
    with mock_aws():
        yield LocalRuntime(
            catalog_without("welcome"), SimulatedClock(START), audience_segments=2, log_level="WARNING"
        )


def envelope(detail: dict[str, Any], source: str) -> str:
    return json.dumps(
        {
            "version": "0",
            "id": f"e-{detail['messageId']}",
            "detail-type": "Segment",
            "source": source,
            "account": ACCOUNT,
            "time": detail["timestamp"],
            "region": REGION,
            "resources": [],
            "detail": detail,
        }
    )


def ingest(runtime: LocalRuntime, *bodies: str) -> None:
    assert runtime.invoke("ingest", runtime.sqs_event("ingest", bodies)) == {"batchItemFailures": []}


def thank_you(runtime: LocalRuntime, user_id: str) -> dict[str, Any]:
    order = TriggerContext(
        event="Order Completed",
        message_id=f"o-{user_id}",
        timestamp=runtime.clock.now(),
        properties={"order_id": "o-77", "revenue": 30, "currency": "USD"},
    )
    job = DeliveryJob.for_trigger("order-thank-you", user_id, order)
    result: dict[str, Any] = runtime.invoke("deliver", runtime.sqs_event("delivery", [job.model_dump_json()]))
    return result


def sent_to() -> list[str]:
    from moto.ses.models import ses_backends

    backend = ses_backends[ACCOUNT][REGION]
    parsed = [message_from_string(m.raw_data, policy=default) for m in backend.sent_messages]
    return [str(message["To"]) for message in parsed]


def push_messages() -> dict[str, int]:
    """Endpoint ARN → messages SNS delivered to it."""
    return {arn: len(e.messages) for arn, e in sns_backends[ACCOUNT][REGION].platform_endpoints.items()}


def test_an_untrusted_publisher_cannot_redirect_a_shoppers_email(
    runtime: LocalRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    ingest(
        runtime,
        envelope(
            identify("v1", "id-1", email="v1@example.com", first_name="Ayu", consent={"email": True}),
            APP_EVENT_SOURCE,
        ),
    )
    caplog.clear()
    forged = identify(
        "v1",
        "id-2",
        email=ATTACKER,
        phone="+15550100",
        push_endpoint_arn="arn:aws:sns:us-east-1:123456789012:endpoint/GCM/other/abc",
        consent={"email": True, "push": True},
        push_opt_in=True,
        plan="gold",
    )
    ingest(runtime, envelope(forged, UNTRUSTED))

    profile = runtime.profiles.get("v1")
    assert profile is not None
    # The behaviour data is kept: the call is counted and ordinary traits are stored ...
    assert sum(profile.counts["identify"].values()) == 2
    assert profile.traits["plan"] == "gold"
    # ... but none of its contact points is.
    assert profile.traits["email"] == "v1@example.com"
    assert "phone" not in profile.traits and "push_endpoint" not in profile.traits
    assert profile.traits["consent"] == {"email": True}

    thank_you(runtime, "v1")
    assert sent_to() == ["v1@example.com"]

    reasons = sorted(r.reason for r in caplog.records if r.getMessage() == "trait dropped")
    assert len(reasons) == 5, reasons  # email, phone, push endpoint, consent and push_opt_in
    assert all(UNTRUSTED in r and "not a trusted source" in r for r in reasons)
    assert any(r.startswith("detail.traits.email:") for r in reasons)
    assert any(r.startswith("detail.traits.push_endpoint_arn:") for r in reasons)
    assert not [r for r in caplog.records if ATTACKER in str(r.__dict__)]


def test_an_untrusted_publisher_cannot_opt_a_shopper_in(runtime: LocalRuntime) -> None:
    ingest(
        runtime,
        envelope(identify("v2", "id-1", email="v2@example.com", consent={"email": False}), "nudge.app"),
        envelope(identify("v2", "id-2", email_opt_in=True), UNTRUSTED),
    )
    thank_you(runtime, "v2")
    assert sent_to() == []
    [entry] = runtime.send_log.entries_for("v2")
    assert entry["channel"] == "in_app"  # the fallback that needs no address


def test_a_deployer_declares_which_sources_are_trusted() -> None:
    assert Settings.from_env({}).trusted_event_sources == (APP_EVENT_SOURCE,)
    declared = Settings.from_env({"TRUSTED_EVENT_SOURCES": "nudge.app, shop.backend"})
    assert declared.trusted_event_sources == ("nudge.app", "shop.backend")


def test_a_declared_source_may_set_contact_points() -> None:
    full = load_campaign_dir(CAMPAIGNS)
    with mock_aws():
        runtime = LocalRuntime(
            full, SimulatedClock(START), audience_segments=2, trusted_event_sources=("shop.backend",)
        )
        ingest(runtime, envelope(identify("v3", "id-1", email="v3@example.com"), "shop.backend"))
        ingest(runtime, envelope(identify("v3", "id-2", email=ATTACKER), APP_EVENT_SOURCE))
        profile = runtime.profiles.get("v3")
        assert profile is not None and profile.traits["email"] == "v3@example.com"


def test_push_goes_only_to_an_endpoint_registered_to_the_shopper(runtime: LocalRuntime) -> None:
    theirs = runtime.register_push_endpoint("GCM", "token-v5", user_id="v5")
    ingest(
        runtime,
        envelope(identify("v4", "id-1", push_endpoint=theirs, consent={"push": True}), "nudge.app"),
    )
    assert thank_you(runtime, "v4") == {"batchItemFailures": []}

    assert push_messages()[theirs] == 0
    [entry] = runtime.send_log.entries_for("v4")
    assert (entry["status"], entry["channel"]) == ("failed", "push")
    [parked] = runtime.parked()
    assert parked.queue == "delivery-dlq"
    assert "registered to another shopper" in parked.reason and theirs not in parked.reason


def test_push_goes_only_to_this_stacks_platform_applications(runtime: LocalRuntime) -> None:
    sns = runtime.client("sns")
    other_app = sns.create_platform_application(
        Name="someone-elses-app", Platform="GCM", Attributes={"PlatformCredential": "x"}
    )["PlatformApplicationArn"]
    foreign = sns.create_platform_endpoint(
        PlatformApplicationArn=other_app, Token="token-v6", CustomUserData="v6"
    )["EndpointArn"]
    ingest(
        runtime,
        envelope(identify("v6", "id-1", push_endpoint=foreign, consent={"push": True}), "nudge.app"),
    )
    thank_you(runtime, "v6")

    assert push_messages()[foreign] == 0
    [parked] = runtime.parked()
    assert "not one of this stack's platform applications" in parked.reason


def test_push_to_the_shoppers_own_endpoint_costs_one_lookup(runtime: LocalRuntime) -> None:
    own = runtime.register_push_endpoint("APNS", "token-v7", user_id="v7")
    ingest(runtime, envelope(identify("v7", "id-1", push_endpoint=own, consent={"push": True}), "nudge.app"))
    calls: list[str] = []
    runtime.client("sns").meta.events.register("before-call", lambda model, **_: calls.append(model.name))

    thank_you(runtime, "v7")

    assert push_messages()[own] == 1
    assert calls == ["GetEndpointAttributes", "Publish"]
    assert runtime.parked() == []
