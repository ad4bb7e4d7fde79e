"""Rendering: escaping, fallbacks, header safety and the sandbox."""

from __future__ import annotations

from typing import Any

import pytest
from fakes import triggered

from shared.campaigns.model import Campaign
from shared.campaigns.render import check_template, render_message
from shared.core.errors import TemplateProblem


def campaign(channels: dict[str, Any]) -> Campaign:
    return triggered("c-1", channels, name="Test")


EMAIL = {
    "email": {
        "subject": "Hi {{ user.first_name }}",
        "html": "<p>{{ user.first_name }}</p>",
        "text": "Hello {{ user.first_name | default('there') }}",
    }
}


def test_html_is_escaped_but_text_is_not() -> None:
    message = render_message(campaign(EMAIL), "email", "k", {"user": {"first_name": "<b>Ann & Co</b>"}})
    assert message.body_html == "<p>&lt;b&gt;Ann &amp; Co&lt;/b&gt;</p>"
    assert message.body_text == "Hello <b>Ann & Co</b>"


def test_missing_attributes_fall_back_and_are_reported() -> None:
    message = render_message(campaign(EMAIL), "email", "k", {"user": {}})
    assert message.title == "Hi"
    assert message.body_text == "Hello there"
    assert message.missing == ["first_name"]


def test_subjects_cannot_carry_header_injection() -> None:
    payload = {"user": {"first_name": "Ann\r\nBcc: victim@example.com"}}
    message = render_message(campaign(EMAIL), "email", "k", payload)
    assert "\r" not in message.title and "\n" not in message.title
    assert message.title == "Hi Ann Bcc: victim@example.com"


@pytest.mark.parametrize(
    "body",
    [
        "{{ user.__class__.__mro__ }}",
        "{{ ''.__class__.__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
    ],
)
def test_templates_cannot_reach_python_internals(body: str) -> None:
    sneaky = {"push": {"title": "x", "body": body}}
    with pytest.raises(TemplateProblem, match=r"blocked by the sandbox|failed"):
        render_message(campaign(sneaky), "push", "k", {"user": {}})


def test_profile_values_are_data_not_template_code() -> None:
    payload = {"user": {"first_name": "{{ 7 * 7 }}{% raw %}"}}
    message = render_message(campaign(EMAIL), "email", "k", payload)
    assert message.body_text == "Hello {{ 7 * 7 }}{% raw %}"


def test_event_properties_render_in_push_and_in_app() -> None:
    channels = {
        "push": {
            "title": "Order {{ event.order_id }}",
            "body": "{{ event.products | length }} items",
            "deep_link": "shop://orders/{{ event.order_id }}",
        },
        "in_app": {
            "title": "Thanks",
            "body": "Total {{ '%.2f' | format(event.total) }}",
            "cta_label": "Open",
        },
    }
    context = {"event": {"order_id": "o-7", "products": [{}, {}], "total": 12.5}}
    push = render_message(campaign(channels), "push", "k", context)
    assert (push.title, push.body_text, push.deep_link) == ("Order o-7", "2 items", "shop://orders/o-7")
    in_app = render_message(campaign(channels), "in_app", "k", context)
    assert (in_app.body_text, in_app.cta_label) == ("Total 12.50", "Open")


def test_template_syntax_errors_name_where_and_the_line() -> None:
    with pytest.raises(TemplateProblem, match=r"campaign c-1 email.html: line 2: unexpected '\)'"):
        check_template("ok\n{{ user.name ) }}", "campaign c-1 email.html")
