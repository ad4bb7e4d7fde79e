"""Findings 6 and 7 (issue 15): the public one-click unsubscribe route.

6. Threat: the link's signature joined its fields with ``\\n``, so a shopper whose id holds newlines
   (``victim\\nemail\\nprobe``) received a token that also signs (``victim``, ``email``,
   ``probe\\nemail\\nx``): one link unsubscribed someone else. Signed fields are now JSON-encoded,
   and ids with control characters or line breaks are refused at ingest.
7. Threat: a token that is not ASCII raised ``TypeError`` in ``hmac.compare_digest``: a 500, and the
   function's error alarm (threshold 0) pages the operator for every anonymous request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from moto import mock_aws

from nudge.local.runtime import LocalRuntime
from shared.campaigns.loader import Catalog
from shared.core.clock import SimulatedClock
from shared.delivery.links import InvalidLink, LinkSigner, UnsubscribeRequest
from shared.events.contract import EventRejected, parse_detail

KEY = b"k" * 32
START = datetime(2026, 11, 2, 8, tzinfo=UTC)


@pytest.fixture
def runtime() -> Iterator[LocalRuntime]:
    with mock_aws():
        yield LocalRuntime(Catalog([]), SimulatedClock(START), audience_segments=1, log_level="CRITICAL")


def old_token(key: bytes, user_id: str, channel: str, campaign_id: str) -> str:
    """How links in mail already sent were signed: the fields joined with newlines."""
    message = "\n".join(("unsubscribe", user_id, channel, campaign_id)).encode()
    return base64.urlsafe_b64encode(hmac.new(key, message, hashlib.sha256).digest()).rstrip(b"=").decode()


# -- 6: forged unsubscribe through a newline ----------------------------------------------------------


def test_a_token_for_an_id_with_newlines_does_not_sign_another_shoppers_link() -> None:
    signer = LinkSigner(KEY)
    attackers_link = UnsubscribeRequest("victim\nemail\nprobe", "email", "x")
    token = signer.token(attackers_link)

    with pytest.raises(InvalidLink):
        signer.verify({"u": "victim", "ch": "email", "c": "probe\nemail\nx", "t": token})
    assert signer.verify({"u": attackers_link.user_id, "ch": "email", "c": "x", "t": token}) == attackers_link


def test_the_forged_link_gets_403_and_suppresses_nobody(runtime: LocalRuntime) -> None:
    token = runtime.signer.token(UnsubscribeRequest("victim\nemail\nprobe", "email", "x"))
    forged = {"u": "victim", "ch": "email", "c": "probe\nemail\nx", "t": token}

    response = runtime.http("POST", "/unsubscribe", query=forged, body="List-Unsubscribe=One-Click")

    assert response["statusCode"] == 403
    assert runtime.ledgers.get("victim") is None


def test_links_in_mail_already_sent_keep_working_where_the_old_signature_is_unambiguous() -> None:
    """Decision: old links are accepted without a deadline, but only when no field holds a control
    character, the one case where newline-joined fields cannot be split another way."""
    signer = LinkSigner(KEY)
    clean = {
        "u": "auth0|5f7c",
        "ch": "email",
        "c": "probe",
        "t": old_token(KEY, "auth0|5f7c", "email", "probe"),
    }
    assert signer.verify(clean) == UnsubscribeRequest("auth0|5f7c", "email", "probe")

    forged = {"u": "victim", "ch": "email", "c": "probe\nemail\nx"}
    forged["t"] = old_token(KEY, "victim\nemail\nprobe", "email", "x")
    with pytest.raises(InvalidLink):
        signer.verify(forged)
    with pytest.raises(InvalidLink):
        signer.verify({**clean, "t": old_token(b"o" * 32, "auth0|5f7c", "email", "probe")})


BREAKS = ["\n", "\r", "\x00", "\x1b", "\x7f", "\x85", "\u2028", "\u2029"]


@pytest.mark.parametrize("field", ["userId", "anonymousId", "messageId"])
@pytest.mark.parametrize("char", BREAKS)
def test_ingest_refuses_an_id_with_a_control_character_naming_the_field(field: str, char: str) -> None:
    detail = {"type": "identify", "userId": "u1", "messageId": "m1", "timestamp": "2026-11-02T07:00:00Z"}
    detail[field] = f"victim{char}email"

    with pytest.raises(EventRejected) as refused:
        parse_detail(detail)
    assert f"detail.{field}" in refused.value.reason
    assert "control character" in refused.value.reason
    assert char not in refused.value.reason  # the reason is one printable line


def test_an_id_with_a_newline_is_parked_and_the_rest_of_the_batch_is_stored(runtime: LocalRuntime) -> None:
    events = [
        {"type": "identify", "userId": uid, "messageId": f"m-{n}", "timestamp": "2026-11-02T07:00:00Z"}
        for n, uid in enumerate(["victim\nemail\nprobe", "ann"])
    ]
    runtime.publish(events)
    runtime.drain()

    assert [p["user_id"] for p in runtime.scan("profiles")] == ["ann"]
    [parked] = runtime.parked()
    assert parked.queue == "ingest-dlq" and "detail.userId" in parked.reason


# -- 7: a non-ASCII token ------------------------------------------------------------------------------


MALFORMED = ["é" * 43, "\u2603", "\ud800", "A" * 10_000, " ", "=="]


@pytest.mark.parametrize("token", MALFORMED)
def test_a_malformed_token_is_an_invalid_link(token: str) -> None:
    with pytest.raises(InvalidLink):
        LinkSigner(KEY).verify({"u": "u1", "ch": "email", "c": "probe", "t": token})


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("token", MALFORMED)
def test_a_malformed_token_gets_403_from_the_public_route_not_an_error(
    runtime: LocalRuntime, method: str, token: str
) -> None:
    query = {"u": "u1", "ch": "email", "c": "probe", "t": token}
    response = runtime.http(method, "/unsubscribe", query=query)
    assert response["statusCode"] == 403
    assert runtime.ledgers.get("u1") is None


@pytest.mark.parametrize("field", ["u", "c"])
def test_non_ascii_and_surrogate_fields_are_403_too(runtime: LocalRuntime, field: str) -> None:
    query = {
        "u": "u1",
        "ch": "email",
        "c": "probe",
        "t": runtime.signer.token(UnsubscribeRequest("u1", "email", "probe")),
    }
    for value in ("ünï", "\ud800"):
        response = runtime.http("POST", "/unsubscribe", query={**query, field: value})
        assert response["statusCode"] == 403
