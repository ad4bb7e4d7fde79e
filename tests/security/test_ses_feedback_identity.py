"""Finding 1 (issue 15): SES feedback must act on the shopper the email went to, and only that one.

Threat: SES tags allow only ``[A-Za-z0-9_-]``, so a tag that *cleans* the user id (``auth0|5f7c`` →
``auth0_5f7c``) makes a complaint suppress an unrelated shopper while the complainer keeps getting
mail, and loses opens and clicks. The events here carry the tags exactly as Nudge handed them to SES
(captured from the real ``SendEmail`` call on moto), because SES repeats them unchanged.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fakes import probe
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws
from payloads import identify

from nudge.local.runtime import LocalRuntime
from nudge.local.ses_events import ses_event, tagged_mail
from shared.campaigns.jobs import DeliveryJob, TriggerContext
from shared.campaigns.loader import Catalog
from shared.campaigns.policy import DeliveryPolicy
from shared.core.clock import SimulatedClock
from shared.core.vocabulary import DecisionStatus
from shared.delivery import ses_tags

START = datetime(2026, 11, 2, 8, tzinfo=UTC)


def tag_safe(value: str) -> str:
    """How delivery used to tag the shopper: every character SES refuses became ``_``."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", value)[:256]


PROBE = probe({"email": {"subject": "Thanks {{ user.first_name }}", "html": "<p>Hi</p>", "text": "Hi"}})
# Ids as identity providers issue them; each one's cleaned tag is another, real shopper's id.
USER_IDS = ["auth0|5f7c2a9e", "ann@example.com", "google-oauth2:1234"]


@pytest.fixture
def runtime() -> Iterator[LocalRuntime]:
    with mock_aws():
        catalog = Catalog([PROBE], DeliveryPolicy())
        yield LocalRuntime(catalog, SimulatedClock(START), audience_segments=1, log_level="CRITICAL")


class SentTags:
    """What Nudge handed to SES: each SendEmail call's EmailTags and the MessageId SES returned."""

    def __init__(self, runtime: LocalRuntime) -> None:
        self.tags: list[list[dict[str, str]]] = []
        self.message_ids: list[str] = []
        events = runtime.client("sesv2").meta.events
        events.register("provide-client-params.sesv2.SendEmail", self._params)
        events.register("after-call.sesv2.SendEmail", self._sent)

    def _params(self, params: dict[str, Any], **_: Any) -> None:
        self.tags.append([dict(t) for t in params.get("EmailTags", [])])

    def _sent(self, parsed: dict[str, Any], **_: Any) -> None:
        self.message_ids.append(str(parsed["MessageId"]))

    def mail(self, index: int = -1) -> dict[str, Any]:
        """The ``mail`` object of SES's events about that message: its id and its tags, as sent."""
        tags = {t["Name"]: [t["Value"]] for t in self.tags[index]}
        return {"messageId": self.message_ids[index], "timestamp": "2026-11-02T08:00:00Z", "tags": tags}


def shopper(runtime: LocalRuntime, user_id: str) -> None:
    traits = {
        "email": "shopper@example.com",
        "firstName": "Ann",
        "timezone": "UTC",
        "consent": {"email": True},
    }
    runtime.publish([identify(user_id, f"id-{user_id}", **traits)])
    runtime.drain()


def send_probe(runtime: LocalRuntime, user_id: str) -> None:
    order = TriggerContext(event="Order Completed", message_id=f"o-{user_id}", timestamp=START)
    job = DeliveryJob.for_trigger("probe", user_id, order)
    assert runtime.invoke("deliver", runtime.sqs_event("delivery", [job.model_dump_json()])) == {
        "batchItemFailures": []
    }


def suppressed(runtime: LocalRuntime) -> dict[str, str]:
    return {str(i["user_id"]): str(i.get("suppressed_email", "")) for i in runtime.scan("ledger")}


def sent_entry(runtime: LocalRuntime, user_id: str) -> dict[str, Any]:
    [entry] = [m for m in runtime.scan("messages") if m["user_id"] == user_id and m["status"] == "sent"]
    return entry


@pytest.mark.parametrize("user_id", USER_IDS)
def test_a_complaint_suppresses_the_shopper_who_complained_not_the_one_with_the_cleaned_id(
    runtime: LocalRuntime, user_id: str
) -> None:
    decoy = tag_safe(user_id)
    assert decoy != user_id
    shopper(runtime, user_id)
    shopper(runtime, decoy)
    sent = SentTags(runtime)
    send_probe(runtime, user_id)

    complaint = ses_event("Complaint", sent.mail(), complaint={"complaintFeedbackType": "abuse"})
    assert runtime.publish_aws_event(complaint) == 1

    ledgers = suppressed(runtime)
    assert "complained" in ledgers.get(user_id, "")
    assert ledgers.get(decoy, "") == ""
    assert "complained_at" in sent_entry(runtime, user_id)
    assert runtime.parked() == []


@pytest.mark.parametrize("user_id", USER_IDS)
def test_opens_and_clicks_are_folded_into_the_message_that_was_sent(
    runtime: LocalRuntime, user_id: str
) -> None:
    shopper(runtime, user_id)
    sent = SentTags(runtime)
    send_probe(runtime, user_id)

    for kind in ("Delivery", "Open", "Click"):
        section = {"timestamp": "2026-11-02T09:00:00Z"}
        runtime.publish_aws_event(ses_event(kind, sent.mail(), **{kind.lower(): section}))

    entry = sent_entry(runtime, user_id)
    assert entry["delivered_at"] == entry["opened_at"] == entry["clicked_at"] == "2026-11-02T09:00:00+00:00"


def test_every_tag_nudge_sends_is_one_ses_accepts_and_the_local_events_carry_them_unchanged(
    runtime: LocalRuntime,
) -> None:
    user_id = "auth0|" + "ü" * 50  # longer than one tag once encoded: split over several
    shopper(runtime, user_id)
    sent = SentTags(runtime)
    send_probe(runtime, user_id)

    [tags] = sent.tags
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,256}", t["Name"] + t["Value"][:200]) for t in tags)
    assert all(len(t["Value"]) <= 256 for t in tags)
    assert len({t["Name"] for t in tags}) == len(tags) <= 50
    assert len(tags) > 3
    [recorded] = runtime.sent
    mail = tagged_mail(recorded.user_id, recorded.campaign_id, recorded.provider_id, recorded.send_key)
    assert mail["tags"] == sent.mail()["tags"]


def test_the_local_event_builder_refuses_a_tag_ses_would_refuse() -> None:
    from nudge.local.ses_events import SesTagRefused

    with pytest.raises(SesTagRefused, match="user_id"):
        ses_event("Open", {"messageId": "m", "tags": {"user_id": ["auth0|5f7c"]}})


@pytest.mark.parametrize(
    "tags",
    [
        {"shopper": ["auth0_5f7c"]},  # an '_' that is no escape: the cleaned form of auth0|5f7c
        {"shopper": ["auth0_7c5f7c"]},  # lower-case hex: not the one spelling of any id
        {"shopper": ["_41nn"]},  # "Ann" spelled with an escape it never needs
        {"user_id": ["auth0_5f7c"]},  # the old cleaned tag, for a message the send log does not know
    ],
)
def test_a_tag_that_does_not_map_back_to_one_shopper_is_parked_and_suppresses_nobody(
    runtime: LocalRuntime, tags: dict[str, list[str]]
) -> None:
    shopper(runtime, "auth0_5f7c")
    shopper(runtime, "Ann")
    complaint = ses_event("Complaint", {"messageId": "not-in-the-send-log", "tags": tags}, complaint={})
    runtime.publish_aws_event(complaint)

    assert all(v == "" for v in suppressed(runtime).values())
    [parked] = runtime.parked()
    assert parked.queue == "feedback-dlq"
    assert "does not map back" in parked.reason and next(iter(tags)) in parked.reason


def test_mail_sent_before_exact_tags_is_read_when_the_send_log_confirms_the_old_tag(
    runtime: LocalRuntime,
) -> None:
    """A complaint about mail tagged the old way (``user_id``) still counts when that exact id sent
    that SES message (an id the old cleaning left unchanged)."""
    shopper(runtime, "u-42")
    sent = SentTags(runtime)
    send_probe(runtime, "u-42")
    mail = sent.mail()
    mail["tags"] = {"user_id": ["u-42"], "campaign": ["probe"]}

    runtime.publish_aws_event(ses_event("Complaint", mail, complaint={}))

    assert "complained" in suppressed(runtime)["u-42"]
    assert runtime.parked() == []


def test_an_open_costs_one_dynamodb_request_and_a_complaint_two(runtime: LocalRuntime) -> None:
    """The cost per feedback event, whatever the shopper's history: the tags name the send-log item,
    so the engagement is one conditional update (no query of the shopper's whole send log)."""
    user_id = USER_IDS[0]
    shopper(runtime, user_id)
    sent = SentTags(runtime)
    for n in range(30):  # a long history: earlier sends the lookup must not read
        order = TriggerContext(event="Order Completed", message_id=f"o-{n}", timestamp=START)
        job = DeliveryJob.for_trigger("probe", user_id, order)
        runtime.invoke("deliver", runtime.sqs_event("delivery", [job.model_dump_json()]))
    calls: Counter[str] = Counter()
    runtime.client("dynamodb").meta.events.register(
        "before-call", lambda model, **_: calls.update([model.name])
    )

    runtime.publish_aws_event(ses_event("Open", sent.mail(), open={"timestamp": "2026-11-02T09:00:00Z"}))
    assert calls == Counter({"UpdateItem": 1})

    calls.clear()
    runtime.publish_aws_event(ses_event("Complaint", sent.mail(), complaint={}))
    assert calls == Counter({"UpdateItem": 2})  # the message's entry, then the ledger
    [entry] = [m for m in runtime.scan("messages") if m.get("provider_message_id") == sent.message_ids[-1]]
    assert "opened_at" in entry and "complained_at" in entry


@given(st.text(min_size=1, max_size=256))
def test_any_id_encodes_to_tags_ses_accepts_and_decodes_to_itself(user_id: str) -> None:
    tags = ses_tags.email_tags("probe", user_id, f"probe#o-1#{user_id}")
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,256}", t["Name"]) for t in tags)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,256}", t["Value"]) for t in tags)
    event_tags = ses_tags.as_event_tags(tags)
    assert ses_tags.read_tag(event_tags, ses_tags.SHOPPER) == user_id
    assert ses_tags.read_tag(event_tags, ses_tags.SEND_KEY) == f"probe#o-1#{user_id}"


@given(
    st.text(alphabet="abAB09-_", min_size=1, max_size=12) | st.from_regex(r"[a-z]{0,3}(_[0-9A-Fa-f]{2}){1,3}")
)
def test_a_tag_decodes_only_if_it_is_the_one_encoding_of_what_it_decodes_to(text: str) -> None:
    try:
        value = ses_tags.decode(text)
    except ses_tags.UnreadableTag:
        return
    assert ses_tags.encode(value) == text


def test_the_decision_feedback_writes_is_the_one_delivery_and_nudge_why_know() -> None:
    """Feedback names DecisionStatus.SUPPRESSED (tests/unit/test_vocabulary.py holds it to that)."""
    from shared.delivery.deliverer import SUPPRESSED

    assert SUPPRESSED == DecisionStatus.SUPPRESSED
