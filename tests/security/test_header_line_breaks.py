"""Finding 10 (issue 15): Unicode line breaks in a subject.

Threat: U+2028 (line separator), U+2029 (paragraph separator) and U+0085 (next line) are line breaks
to Python's ``str.splitlines`` and so to the email package's header folding, but the subject was only
cleaned of CR, LF and ASCII controls. A shopper's first name (or an event value, or a campaign title)
holding one made every send of that campaign to that shopper fail to build and park, retried forever
by every redrive. They are now treated like CR/LF: replaced by a space.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default
from typing import Any

import pytest
from fakes import probe
from moto import mock_aws
from moto.ses.models import ses_backends
from payloads import identify

from nudge.local.account import ACCOUNT, REGION
from nudge.local.runtime import LocalRuntime
from shared.campaigns.jobs import DeliveryJob, TriggerContext
from shared.campaigns.loader import Catalog
from shared.campaigns.policy import DeliveryPolicy
from shared.campaigns.render import render_message
from shared.core.clock import SimulatedClock

START = datetime(2026, 11, 2, 8, tzinfo=UTC)
# Every character str.splitlines() breaks on that is not CR or LF.
UNICODE_BREAKS = ["\u2028", "\u2029", "\x85", "\x1c", "\x1d", "\x1e", "\x0b", "\x0c"]
PROBE = probe(
    {"email": {"subject": "Hi {{ user.first_name }}, {{ event.title }}", "html": "<p>Hi</p>", "text": "Hi"}}
)


@pytest.fixture
def runtime() -> Iterator[LocalRuntime]:
    with mock_aws():
        catalog = Catalog([PROBE], DeliveryPolicy())
        yield LocalRuntime(catalog, SimulatedClock(START), audience_segments=1, log_level="CRITICAL")


def deliver(runtime: LocalRuntime, first_name: str, title: str) -> Any:
    traits = {"email": "ann@example.com", "firstName": first_name, "timezone": "UTC"}
    runtime.publish([identify("u1", "id-u1", **traits, consent={"email": True})])
    runtime.drain()
    order = TriggerContext(
        event="Order Completed", message_id="o-1", timestamp=START, properties={"title": title}
    )
    job = DeliveryJob.for_trigger("probe", "u1", order)
    return runtime.invoke("deliver", runtime.sqs_event("delivery", [job.model_dump_json()]))


@pytest.mark.parametrize("char", UNICODE_BREAKS)
def test_a_unicode_line_break_in_a_subject_is_sent_as_a_space_not_parked(
    runtime: LocalRuntime, char: str
) -> None:
    assert deliver(runtime, f"Ann{char}Bcc: victim@example.com", f"shoes{char}{char}today") == {
        "batchItemFailures": []
    }

    assert runtime.parked() == []
    [raw] = [m.raw_data.encode() for m in ses_backends[ACCOUNT][REGION].sent_messages]
    sent = message_from_bytes(raw, policy=default)
    assert str(sent["Subject"]) == "Hi Ann Bcc: victim@example.com, shoes today"
    assert sent["Bcc"] is None and sent["To"] == "ann@example.com"


@pytest.mark.parametrize("char", ["=E2=80=A8", "=C2=85", "=0D=0A"])
def test_an_encoded_word_that_decodes_to_a_line_break_is_sent_as_typed(
    runtime: LocalRuntime, char: str
) -> None:
    """The email package decodes RFC 2047 words in a header value it is given."""
    word = f"=?utf-8?q?Ann{char}Bcc=3A_victim=40example=2Ecom?="
    assert deliver(runtime, word, "today") == {"batchItemFailures": []}

    assert runtime.parked() == []
    [raw] = [m.raw_data.encode() for m in ses_backends[ACCOUNT][REGION].sent_messages]
    sent = message_from_bytes(raw, policy=default)
    assert sent["Bcc"] is None
    assert str(sent["Subject"]).splitlines() == [str(sent["Subject"])]
    assert "Ann" in str(sent["Subject"])


@pytest.mark.parametrize("char", UNICODE_BREAKS)
def test_the_rendered_subject_holds_no_line_break_of_any_kind(char: str) -> None:
    message = render_message(
        PROBE, "email", "k", {"user": {"first_name": f"A{char}nn"}, "event": {"title": char}, "campaign": {}}
    )
    assert message.title == "Hi A nn,"
    assert len(message.title.splitlines()) == 1
