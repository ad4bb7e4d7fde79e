"""Template safety on moto: shopper and event values are data, never template code, never HTML in an
email body, never an extra email header. Checked on the raw MIME that SES v2 received."""

from __future__ import annotations

from typing import Any

import pytest
from factory import email_text, sent_emails
from fakes import CAMPAIGNS, START, catalog_without, triggered
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import escape
from moto.ses.models import ses_backends
from payloads import identify

from nudge.local.account import ACCOUNT, REGION
from nudge.local.runtime import LocalRuntime
from shared.campaigns.jobs import DeliveryJob, TriggerContext
from shared.campaigns.loader import Catalog, load_campaign_dir
from shared.campaigns.render import render_message
from shared.core.errors import TemplateProblem
from shared.profiles.profile import Profile

TEMPLATE_CODE = [
    "{{ 7*7 }}",
    "{% for x in range(3) %}loop{% endfor %}",
    "{{ ''.__class__.__mro__ }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{% raw %}",
    "{#",
]
HTML = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "</p><a href='javascript:x'>x</a>"]
HEADERS = [
    "Ann\r\nBcc: victim@example.com",
    "Ann\nBcc: victim@example.com",
    "Ann\rBcc: victim@example.com",
    "Ann\r\n\r\n<html>forged body</html>",
    "=?utf-8?q?Ann=0D=0ABcc=3A_victim=40example=2Ecom?=",
    "Ann\x00\x0bBcc: x",
]
PROBE = triggered(
    "probe",
    {
        "email": {
            "subject": "{{ campaign.name }} for {{ user.first_name }} {{ event.title }}",
            "html": '<p title="{{ event.title }}">Hi {{ user.first_name }}</p><img alt="{{ event.title }}">',
            "text": "Hi {{ user.first_name }} {{ event.title }}",
        },
        "push": {"title": "{{ user.first_name }}", "body": "{{ event.title }}"},
        "in_app": {"title": "{{ user.first_name }}", "body": "{{ event.title }}"},
    },
    name="Probe\r\nBcc: campaign@example.com",
)


@pytest.fixture
def catalog() -> Catalog:
    """The probe beside the shipped campaigns, less the welcome (it would email on the identify)."""
    shipped = load_campaign_dir(CAMPAIGNS)
    return Catalog([*(c for c in shipped if c.id != "welcome"), PROBE], shipped.policy, shipped.custom)


def context(first_name: str, title: str = "") -> dict[str, Any]:
    return {"user": {"first_name": first_name}, "event": {"title": title}, "campaign": {"name": PROBE.name}}


@pytest.mark.parametrize("value", TEMPLATE_CODE + HTML)
@pytest.mark.parametrize("channel", ["email", "push", "in_app"])
def test_profile_and_event_values_are_rendered_as_text_not_run(channel: str, value: str) -> None:
    message = render_message(PROBE, channel, "k", context(value, value))
    assert "49" not in message.title + message.body_text and "looploop" not in message.body_text
    if channel == "email":
        assert message.body_text == f"Hi {value} {value}"
        assert message.body_html == (
            f'<p title="{escape(value)}">Hi {escape(value)}</p><img alt="{escape(value)}">'
        )
    else:
        assert (message.title, message.body_text) == (value, value)


@settings(max_examples=400, deadline=None)
@given(value=st.text(st.characters(exclude_categories=("Cs",)), max_size=60))
def test_any_text_renders_as_itself_in_text_and_escaped_in_html(value: str) -> None:
    message = render_message(PROBE, "email", "k", context(value, value))
    assert message.body_text == f"Hi {value} {value}".strip()
    assert (
        message.body_html == f'<p title="{escape(value)}">Hi {escape(value)}</p><img alt="{escape(value)}">'
    )
    assert "<" not in message.body_html.replace("<p ", "").replace("</p>", "").replace("<img ", "")
    assert not any(c in message.title for c in "\r\n\x00")


def test_a_value_of_the_wrong_type_for_the_template_is_a_template_problem_not_a_crash() -> None:
    strict = PROBE.model_copy(
        update={
            "channels": PROBE.channels.model_copy(
                update={
                    "push": PROBE.channels.push.model_copy(  # type: ignore[union-attr]
                        update={"body": "{{ '%.2f' | format(event.price) }}"}
                    )
                }
            )
        }
    )
    with pytest.raises(TemplateProblem, match="template failed on a value: TypeError"):
        render_message(strict, "push", "k", {**context("Ann"), "event": {"price": "12.50"}})


def test_the_shipped_templates_read_prices_sent_as_text() -> None:
    [cart] = [c for c in catalog_without() if c.id == "abandoned-cart"]
    message = render_message(
        cart, "email", "k", {"user": {}, "campaign": {"id": "c"}, "event": {"name": "Shoe", "price": "12.50"}}
    )
    assert "USD 12.50" in (message.body_html or "")


def raw_emails() -> list[bytes]:
    backend = ses_backends[ACCOUNT][REGION]
    return [m.raw_data.encode() for m in backend.sent_messages if hasattr(m, "raw_data")]


def header_names(raw: bytes) -> list[str]:
    """The header names of a raw message: every unfolded line of the header block is ``Name: value``."""
    block = raw.split(b"\r\n\r\n", 1)[0].decode()
    names = []
    for line in block.split("\r\n"):
        if line[:1] in (" ", "\t"):
            continue  # a folded continuation of the previous header
        name, sep, _ = line.partition(":")
        assert sep, f"not a header line: {line!r}"
        names.append(name)
    return names


def shopper(runtime: LocalRuntime, user_id: str, first_name: str, email: str | None = None) -> None:
    details = identify(
        user_id,
        f"id-{user_id}",
        email=email or "shopper@example.com",
        firstName=first_name,
        consent={"email": True},
        timezone="UTC",
    )
    runtime.publish([details])
    runtime.drain()


def deliver_probe(runtime: LocalRuntime, user_id: str, title: str) -> dict[str, Any]:
    trigger = TriggerContext(
        event="Order Completed", message_id=f"o-{user_id}", timestamp=START, properties={"title": title}
    )
    job = DeliveryJob.for_trigger("probe", user_id, trigger)
    result: dict[str, Any] = runtime.invoke("deliver", runtime.sqs_event("delivery", [job.model_dump_json()]))
    return result


@pytest.mark.parametrize("value", HEADERS)
def test_cr_lf_in_names_event_values_and_campaign_titles_adds_no_email_header(
    runtime: LocalRuntime, value: str
) -> None:
    shopper(runtime, "u1", value)
    assert deliver_probe(runtime, "u1", value) == {"batchItemFailures": []}

    [raw] = raw_emails()
    names = header_names(raw)
    assert "Bcc" not in names and "bcc" not in [n.lower() for n in names]
    assert sorted(set(names)) == sorted(
        {"From", "To", "Subject", "List-Unsubscribe", "List-Unsubscribe-Post", "MIME-Version", "Content-Type"}
        & set(names)
        | {"From", "To", "Subject", "Content-Type"}
    ), names
    [sent] = sent_emails()
    assert sent["To"] == "shopper@example.com"
    assert "\r" not in str(sent["Subject"]) and "\n" not in str(sent["Subject"])
    assert str(sent["Subject"]).startswith("Probe Bcc: campaign@example.com for ")
    assert "forged body" not in email_text(sent) or "&lt;html&gt;forged body" in email_text(sent)


def test_html_in_a_name_or_an_event_value_is_escaped_in_the_sent_email(runtime: LocalRuntime) -> None:
    shopper(runtime, "u1", HTML[0])
    deliver_probe(runtime, "u1", HTML[1])

    [sent] = sent_emails()
    html = email_text(sent, "html")
    assert "<script" not in html and "<img src=x" not in html and '" onerror' not in html
    assert escape(HTML[0]) in html and f'alt="{escape(HTML[1])}"' in html
    assert HTML[0] in email_text(sent, "plain")  # plain text is not HTML: shown as typed


def test_an_address_with_cr_lf_is_refused_not_sent_to_a_second_recipient(runtime: LocalRuntime) -> None:
    shopper(runtime, "u1", "Ann", email="u1@example.com\r\nBcc: victim@example.com")
    assert deliver_probe(runtime, "u1", "x") == {"batchItemFailures": []}

    assert raw_emails() == []
    [parked] = runtime.parked()
    assert "cannot address the email" in parked.reason


def test_a_user_id_with_cr_lf_stays_inside_the_unsubscribe_header(runtime: LocalRuntime) -> None:
    """Ingest refuses such an id now (tests/security/test_unsubscribe_links.py); a profile stored
    before that still gets a well-formed email."""
    user_id = "u1\r\nBcc: victim@example.com"
    traits = {
        "email": "shopper@example.com",
        "firstName": "Ann",
        "consent": {"email": True},
        "timezone": "UTC",
    }
    assert runtime.profiles.save(Profile(user_id=user_id, traits=traits))
    assert deliver_probe(runtime, user_id, "x") == {"batchItemFailures": []}

    [raw] = raw_emails()
    assert "Bcc" not in header_names(raw)
    [sent] = sent_emails()
    assert "u=u1%0D%0ABcc%3A+victim%40example.com" in str(sent["List-Unsubscribe"])
