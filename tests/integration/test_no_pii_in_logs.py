"""No personal data in the logs: the synthetic store runs through every function on moto while every
log line is captured, then the lines are scanned for the shoppers' PII.

Captured: what each handler's Powertools logger writes (the JSON lines CloudWatch would get, at the
deployed level INFO), everything else that logs through ``logging`` (libraries, Powertools'
utilities), and the error line the Lambda runtime itself prints when a handler raises.
The flow: identify and track events (ingest, L4 triggers, delivery by email, push and in-app),
batch campaigns (planner, audience) and the daily scoring run, malformed payloads, SES bounces,
complaints, deliveries, opens and clicks (whose events carry the address, IP and user agent), a send
the provider refuses with the address in its error, the inbox API, signed and forged unsubscribe
links, and erasure.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from botocore.awsrequest import AWSResponse
from factory import sent_emails
from fakes import CAMPAIGNS
from moto import mock_aws

from nudge.local.runtime import LocalRuntime
from nudge.local.ses_events import ses_event, tagged_mail
from nudge.shop.calls import device_context
from nudge.shop.shoppers import Shopper
from nudge.shop.store import StoreConfig, SyntheticStore
from shared.campaigns.jobs import DeliveryJob
from shared.campaigns.loader import load_campaign_dir
from shared.core.clock import SimulatedClock
from shared.delivery.guards import in_holdout
from shared.deployment import topology
from shared.events.sources import APP_EVENT_SOURCE

MODEL = Path(__file__).resolve().parents[2] / "models" / "scoring-model.json"
DEPLOYED_LOG_LEVEL = "INFO"  # POWERTOOLS_LOG_LEVEL in infra/function.py (tests/infra holds it there)
STORE = StoreConfig(users=16, days=2, seed=5)


def phone_of(shopper: Shopper) -> str:
    number = int(shopper.user_id[2:])
    return f"+62 812 {number * 7919 % 10_000:04d} {number * 104_729 % 10_000:04d}"


def push_token_of(shopper: Shopper) -> str:
    return "fcm:" + hashlib.sha256(f"device of {shopper.email}".encode()).hexdigest()


@dataclass
class PersonalData:
    """Every shopper's values that must never reach a log, by kind."""

    by_kind: dict[str, set[str]] = field(default_factory=dict)

    def add(self, kind: str, value: str | None) -> None:
        if value:
            self.by_kind.setdefault(kind, set()).add(value)

    def found_in(self, text: str) -> list[tuple[str, str]]:
        """(kind, value) for each value that occurs in ``text``: names as whole words, the rest anywhere."""
        hits = []
        lowered = text.lower()
        for kind, values in self.by_kind.items():
            for value in values:
                if kind == "name":
                    if re.search(rf"(?<![\w]){re.escape(value)}(?![\w])", text):
                        hits.append((kind, value))
                elif value.lower() in lowered:
                    hits.append((kind, value))
        return hits


class LogCapture(logging.Handler):
    """One buffer for the handlers' Powertools streams, the ``logging`` tree and runtime error lines."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.stream = io.StringIO()

    def emit(self, record: logging.LogRecord) -> None:
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD_RECORD_FIELDS}
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.stream.write(json.dumps({"logger": record.name, "message": text, **extras}, default=str) + "\n")

    def lambda_runtime_error(self, function_key: str, error: BaseException) -> None:
        """What the Lambda runtime prints for an exception a handler lets out."""
        self.stream.write(f"[ERROR] {function_key} {type(error).__name__}: {error}\n")

    @property
    def text(self) -> str:
        return self.stream.getvalue()


_STANDARD_RECORD_FIELDS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


@dataclass
class Run:
    logs: LogCapture
    pii: PersonalData
    invocations: dict[str, int]
    reasons: list[str]  # what operators read beside the logs: dead-letter and send-log reasons


def _capture(runtime: LocalRuntime, capture: LogCapture) -> Callable[[], None]:
    """Point every handler's Powertools logger at the capture's stream, add the capture to the root
    logger at the deployed level, and note what handlers raise; returns the undo."""
    restore: list[Callable[[], None]] = []
    for spec in topology.FUNCTIONS:
        module = importlib.import_module(spec.handler.rsplit(".", 1)[0])
        handler = module.logger.registered_handler
        previous = handler.setStream(capture.stream)
        restore.append(lambda h=handler, s=previous: h.setStream(s))
        inner = runtime._handlers[spec.key]

        def reporting(*args: Any, __inner: Any = inner, __key: str = spec.key, **kwargs: Any) -> Any:
            try:
                return __inner(*args, **kwargs)
            except Exception as error:
                capture.lambda_runtime_error(__key, error)
                raise

        runtime._handlers[spec.key] = reporting
    root = logging.getLogger()
    root.addHandler(capture)
    previous_level = root.level
    root.setLevel(DEPLOYED_LOG_LEVEL)
    restore.append(lambda: root.removeHandler(capture))
    restore.append(lambda: root.setLevel(previous_level))

    def undo() -> None:
        for step in restore:
            step()

    return undo


def _ses_event(
    kind: str, shopper: Shopper, detail: dict[str, Any], *, tagged: bool = True, message_id: str = ""
) -> dict[str, Any]:
    """An SES event as SES publishes it: the recipient's address is in it, more than once."""
    mail = {
        "messageId": message_id,
        "timestamp": "2026-11-02T09:00:00Z",
        "source": "no-reply@shop.example.com",
        "destination": [shopper.email],
        "commonHeaders": {"to": [f"{shopper.first_name} {shopper.last_name} <{shopper.email}>"]},
        "tags": tagged_mail(shopper.user_id, "welcome")["tags"] if tagged else {},
    }
    return ses_event(kind, mail, event_id=f"ses-{kind}-{shopper.user_id}", **detail)


READER_IP = "198.51.100.201"
READER_AGENT = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) Mobile/15E148 Rosalind"
REFUSED = {  # a shopper whose address SES refuses (sandbox): its error names the address
    "email": "rosalind.okonkwo@example.org",
    "firstName": "Rosalind",
    "lastName": "Okonkwo",
    "phone": "+44 7700 900123",
    "timezone": "Asia/Tokyo",
    "address": {"country": "ID"},
    "consent": {"email": True, "push": False, "in_app": True},
}


def _refused_send(runtime: LocalRuntime, pii: PersonalData) -> None:
    """A known shopper (ingested without the welcome trigger) whose sale email SES refuses with the
    address in the error: the first attempt fails, the last one is parked with the reason."""
    campaign = runtime.catalog.get("weekend-sale-sea")
    user_id = next(
        u
        for u in (f"u-refused-{i}" for i in range(50))
        if not in_holdout(campaign.id, u, campaign.holdout_percent)
    )
    for kind, value in (("email", REFUSED["email"]), ("name", "Rosalind"), ("name", "Okonkwo")):
        pii.add(kind, value)
    pii.add("phone", str(REFUSED["phone"]))
    identify = {
        "type": "identify",
        "userId": user_id,
        "messageId": f"id-{user_id}",
        "traits": REFUSED,
        "timestamp": runtime.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    envelope = {
        "version": "0",
        "id": f"e-{user_id}",
        "detail-type": "Segment",
        "source": APP_EVENT_SOURCE,
        "account": "123456789012",
        "time": identify["timestamp"],
        "region": "us-east-1",
        "resources": [],
        "detail": identify,
    }
    runtime.invoke("ingest", runtime.sqs_event("ingest", [json.dumps(envelope)]))

    client = runtime.client("sesv2")

    def refuse(params: dict[str, Any], **_: Any) -> Any:
        raw = base64.b64decode(json.loads(params["body"])["Content"]["Raw"]["Data"])
        if REFUSED["email"].encode() not in raw:
            return None
        message = (
            f"Email address is not verified. The following identities failed the check: {REFUSED['email']}"
        )
        error = {
            "Error": {"Code": "MessageRejected", "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }
        return (AWSResponse("https://email.us-east-1.amazonaws.com", 400, {}, None), error)

    client.meta.events.register("before-call.sesv2.SendEmail", refuse)
    try:
        job = DeliveryJob.for_occurrence(campaign.id, "2026-11-07T03:00:00Z", user_id).model_dump_json()
        for receive_count in (1, topology.DELIVERY_QUEUE.max_receive_count):
            runtime.invoke("deliver", runtime.sqs_event("delivery", [job], receive_count=receive_count))
    finally:
        client.meta.events.unregister("before-call.sesv2.SendEmail", refuse)
    assert [e["status"] for e in runtime.send_log.entries_for(user_id)] == ["failed"]
    assert [p for p in runtime.parked() if p.queue == topology.DELIVERY_QUEUE.dlq_key and user_id in p.body]


def _time_of(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(event["timestamp"]).replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def run() -> Iterator[Run]:
    store = SyntheticStore(STORE)
    pii = PersonalData()
    capture = LogCapture()
    with mock_aws():
        clock = SimulatedClock(STORE.start)
        runtime = LocalRuntime(
            load_campaign_dir(CAMPAIGNS),
            clock,
            audience_segments=2,
            log_level=DEPLOYED_LOG_LEVEL,
            catalog_feed_key="catalog/products.csv",
        )
        runtime.publish_model(MODEL.read_text())
        # the catalog feed (loaded when put, and daily): its run's record names a bad row's line and field
        runtime.put_catalog_feed(b"product_id,name,price\np-1,Runner,40\np-2,Knit,-1\n")
        endpoints = {
            s.user_id: runtime.register_push_endpoint(s.push_platform, push_token_of(s), user_id=s.user_id)
            for s in store.shoppers
            if s.push_platform
        }
        for shopper in store.shoppers:
            pii.add("email", shopper.email)
            pii.add("email", shopper.email.split("@", 1)[0])
            pii.add("name", shopper.first_name)
            pii.add("name", shopper.last_name)
            pii.add("name", f"{shopper.first_name} {shopper.last_name}")
            pii.add("phone", phone_of(shopper))
            pii.add("phone", re.sub(r"\D", "", phone_of(shopper)))
            pii.add("ip", device_context(shopper, "web")["ip"])
            if shopper.push_platform:
                pii.add("push_token", push_token_of(shopper))
                pii.add("push_endpoint", endpoints[shopper.user_id].rsplit("/", 1)[1])
        by_id = {s.user_id: s for s in store.shoppers}
        events = list(store.events(push_endpoints=endpoints))
        for event in events:
            if event["type"] == "identify" and "userId" in event:
                event["traits"]["phone"] = phone_of(by_id[event["userId"]])
        first = store.shoppers[0]
        malformed = [
            *store.malformed_events(12),
            # PII in the wrong places: an invalid identify carrying a profile, a timestamp from the future.
            {
                "type": "identify",
                "userId": first.user_id,
                "messageId": "bad-1",
                "timestamp": "2026-11-01T10:00:00Z",
                "traits": f"{first.first_name} {first.last_name} <{first.email}> {phone_of(first)}",
            },
            {
                "type": "identify",
                "userId": [first.email],
                "messageId": "bad-2",
                "timestamp": "2026-11-01T10:00:00Z",
                "traits": {"email": first.email},
            },
            {
                "type": "identify",
                "userId": first.user_id,
                "messageId": "bad-3",
                "timestamp": "2099-01-01T00:00:00Z",
                "traits": {"email": first.email, "firstName": first.first_name},
            },
            {
                "type": "track",
                "event": 42,
                "userId": first.user_id,
                "messageId": "bad-4",
                "timestamp": "2026-11-01T10:00:00Z",
                "properties": {"email": first.email},
            },
        ]
        restore = _capture(runtime, capture)
        try:
            hour, cursor = timedelta(hours=1), 0
            for step in range(STORE.days * 24):
                window_end = STORE.start + hour * (step + 1)
                batch = []
                while cursor < len(events) and _time_of(events[cursor]) < window_end:
                    batch.append(events[cursor])
                    cursor += 1
                if step == 10:
                    batch += [{k: v for k, v in m.items() if k != "_why"} for m in malformed]
                runtime.publish(batch)
                runtime.advance_to(window_end)
                runtime.drain()
            _feedback_inbox_unsubscribe_erasure(runtime, store, pii)
        finally:
            restore()
        reasons = [p.reason for p in runtime.parked()]
        reasons += [str(m["reason"]) for m in runtime.scan("messages") if m.get("reason")]
        yield Run(capture, pii, dict(runtime.invocations), reasons)


def _feedback_inbox_unsubscribe_erasure(
    runtime: LocalRuntime, store: SyntheticStore, pii: PersonalData
) -> None:
    with_email = [s for s in store.shoppers if s.email_opt_in]
    bounced, complained, untagged = with_email[:3]
    recipient = [
        {
            "emailAddress": bounced.email,
            "action": "failed",
            "status": "5.1.1",
            "diagnosticCode": f"smtp; 550 5.1.1 <{bounced.email}>: Recipient address rejected",
        }
    ]
    runtime.publish_aws_event(
        _ses_event(
            "Bounce",
            bounced,
            {
                "bounce": {
                    "bounceType": "Permanent",
                    "bounceSubType": "General",
                    "bouncedRecipients": recipient,
                }
            },
        )
    )
    runtime.publish_aws_event(
        _ses_event(
            "Complaint",
            complained,
            {
                "complaint": {
                    "complainedRecipients": [{"emailAddress": complained.email}],
                    "complaintFeedbackType": "abuse",
                }
            },
        )
    )
    runtime.publish_aws_event(
        _ses_event("Bounce", untagged, {"bounce": {"bounceType": "Permanent"}}, tagged=False)
    )
    # Deliveries, opens and clicks of a sent email: these carry the reader's IP and user agent too.
    sent = next(
        m for m in runtime.scan("messages") if m.get("channel") == "email" and m.get("provider_message_id")
    )
    reader = next(s for s in store.shoppers if s.user_id == sent["user_id"])
    seen = {"timestamp": "2026-11-02T10:00:00.000Z", "ipAddress": READER_IP, "userAgent": READER_AGENT}
    pii.add("ip", READER_IP)
    pii.add("user_agent", READER_AGENT)
    for kind, section in (
        ("Delivery", {"timestamp": "2026-11-02T09:00:01.000Z", "recipients": [reader.email]}),
        ("Open", seen),
        ("Click", {**seen, "link": "https://shop.example.com/new?utm_campaign=welcome"}),
    ):
        runtime.publish_aws_event(
            _ses_event(kind, reader, {kind.lower(): section}, message_id=str(sent["provider_message_id"]))
        )
    folded = next(m for m in runtime.scan("messages") if m["send_key"] == sent["send_key"])
    assert {"delivered_at", "opened_at", "clicked_at"} <= set(folded), folded

    _refused_send(runtime, pii)

    # The inbox API, for every shopper with in-app messages.
    owners = sorted({item["user_id"] for item in runtime.scan("inbox")})
    assert owners, "the flow sent no in-app message"
    for user_id in owners:
        messages = json.loads(runtime.http("GET", "/inbox", user_id=user_id)["body"])["messages"]
        runtime.http("POST", f"/inbox/{messages[0]['message_key']}/read", user_id=user_id)
        runtime.http("POST", "/inbox/no-such-message/dismiss", user_id=user_id)

    # One-click unsubscribe from a sent email, and the same link altered to another shopper.
    link = next(e["List-Unsubscribe"].strip("<>") for e in sent_emails() if e["List-Unsubscribe"])
    query = dict(parse_qsl(urlsplit(link).query))
    runtime.http("GET", "/unsubscribe", query=query)
    runtime.http("POST", "/unsubscribe", query=query, body="List-Unsubscribe=One-Click")
    runtime.http("POST", "/unsubscribe", query={**query, "u": store.shoppers[-1].user_id})

    # Erasure of a shopper who has a profile, messages and a ledger.
    erased = next(
        s for s in store.shoppers if any(m["user_id"] == s.user_id for m in runtime.scan("messages"))
    )
    assert runtime.http("DELETE", "/me", user_id=erased.user_id)["statusCode"] == 200


# -- the scan ------------------------------------------------------------------------------------------


def test_the_flow_reached_every_function_and_logged(run: Run) -> None:
    assert set(run.invocations) == {f.key for f in topology.FUNCTIONS}, run.invocations
    services = {
        json.loads(line).get("service") for line in run.logs.text.splitlines() if line.startswith("{")
    }
    assert {
        f"nudge-{k}".replace("_", "-")
        for k in ("ingest", "trigger", "deliver", "feedback", "preferences", "privacy")
    } <= services


def test_the_personal_data_to_look_for_is_there(run: Run) -> None:
    kinds = {kind: len(values) for kind, values in run.pii.by_kind.items()}
    assert set(kinds) == {"email", "name", "phone", "ip", "user_agent", "push_token", "push_endpoint"}, kinds
    assert all(n >= 2 for k, n in kinds.items() if k != "user_agent"), kinds


def test_the_scan_finds_a_planted_address(run: Run) -> None:
    for kind, values in run.pii.by_kind.items():
        value = sorted(values)[0]
        planted = run.logs.text + json.dumps({"level": "INFO", "message": "oops", "value": value}) + "\n"
        assert (kind, value) in run.pii.found_in(planted)


def test_no_log_line_carries_a_shoppers_personal_data(run: Run) -> None:
    leaks = [
        (kind, value, line[:300])
        for line in run.logs.text.splitlines()
        for kind, value in run.pii.found_in(line)
    ]
    assert leaks == []


def test_no_dead_letter_or_send_log_reason_carries_personal_data(run: Run) -> None:
    """Provider errors can quote the recipient (SES: "... failed the check: <address>"); the reasons
    `nudge dlq` and `nudge why` print must not."""
    assert any("MessageRejected" in r for r in run.reasons), run.reasons
    leaks = [
        (kind, value, reason[:300]) for reason in run.reasons for kind, value in run.pii.found_in(reason)
    ]
    assert leaks == []
