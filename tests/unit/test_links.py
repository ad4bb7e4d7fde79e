"""Signed unsubscribe links (shared/delivery/links.py): each signed field, the key, and every refusal.

Each test pins one decision a one-line change could break (tests/mutation/catalog/links.yaml):
a link must name exactly one shopper, one channel and one campaign, and anything else is a 403.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from shared.core.keys import MIN_KEY_BYTES
from shared.delivery.links import TOKEN_LENGTH, InvalidLink, LinkSigner, UnsubscribeRequest

KEY = bytes(range(32))
LINK = UnsubscribeRequest("u-1", "email", "welcome")


def signed(request: UnsubscribeRequest = LINK, signer: LinkSigner | None = None) -> dict[str, str]:
    signer = signer or LinkSigner(KEY)
    return {"u": request.user_id, "ch": request.channel, "c": request.campaign_id, "t": signer.token(request)}


def test_the_token_is_hmac_sha256_over_the_json_encoded_purpose_user_channel_and_campaign() -> None:
    message = json.dumps(["unsubscribe", "u-1", "email", "welcome"], separators=(",", ":")).encode()
    expected = base64.urlsafe_b64encode(hmac.new(KEY, message, hashlib.sha256).digest()).rstrip(b"=").decode()
    assert LinkSigner(KEY).token(LINK) == expected
    assert len(expected) == TOKEN_LENGTH


def test_a_signed_link_verifies_to_exactly_its_request() -> None:
    assert LinkSigner(KEY).verify(signed()) == LINK


@pytest.mark.parametrize(
    ("field", "other"),
    [("u", "u-2"), ("ch", "push"), ("c", "winback")],
    ids=["another-shopper", "another-channel", "another-campaign"],
)
def test_editing_any_signed_field_invalidates_the_link(field: str, other: str) -> None:
    params = signed()
    params[field] = other
    with pytest.raises(InvalidLink, match="does not match"):
        LinkSigner(KEY).verify(params)


def test_another_keys_signature_is_refused() -> None:
    params = signed(signer=LinkSigner(b"x" * 32))
    with pytest.raises(InvalidLink, match="does not match"):
        LinkSigner(KEY).verify(params)


def test_the_key_needs_32_bytes_and_32_is_enough() -> None:
    assert MIN_KEY_BYTES == 32
    LinkSigner(b"k" * 32)  # the documented minimum is accepted
    for short in (b"k", b"k" * 31):
        with pytest.raises(ValueError, match="at least 32 bytes"):
            LinkSigner(short)


def test_a_lazy_key_is_loaded_once_on_first_use_and_checked() -> None:
    calls = []

    def load() -> bytes:
        calls.append(1)
        return KEY

    signer = LinkSigner(load)
    assert calls == []
    assert signer.verify(signed()) == LINK
    signer.token(LINK)
    assert calls == [1]
    with pytest.raises(ValueError, match="at least 32 bytes"):
        LinkSigner(lambda: b"short").token(LINK)


@pytest.mark.parametrize("missing", ["u", "ch", "c", "t"])
def test_a_link_missing_any_field_is_invalid_not_an_error(missing: str) -> None:
    params = signed()
    del params[missing]
    with pytest.raises(InvalidLink, match="incomplete"):
        LinkSigner(KEY).verify(params)
    params[missing] = ""
    with pytest.raises(InvalidLink, match="incomplete"):
        LinkSigner(KEY).verify(params)


@pytest.mark.parametrize("channel", ["email", "push", "in_app"])
def test_every_channel_of_ours_can_be_unsubscribed(channel: str) -> None:
    request = UnsubscribeRequest("u-1", channel, "welcome")
    assert LinkSigner(KEY).verify(signed(request)) == request


@pytest.mark.parametrize("channel", ["sms", "Email", "whatsapp"])
def test_a_channel_we_do_not_have_is_refused_even_when_signed(channel: str) -> None:
    with pytest.raises(InvalidLink, match="unknown channel"):
        LinkSigner(KEY).verify(signed(UnsubscribeRequest("u-1", channel, "welcome")))


def test_a_truncated_signature_is_refused() -> None:
    params = signed()
    params["t"] = params["t"][:-1]
    with pytest.raises(InvalidLink):
        LinkSigner(KEY).verify(params)


def legacy(user_id: str, channel: str, campaign_id: str, key: bytes = KEY) -> str:
    message = "\n".join(("unsubscribe", user_id, channel, campaign_id)).encode()
    return base64.urlsafe_b64encode(hmac.new(key, message, hashlib.sha256).digest()).rstrip(b"=").decode()


def test_a_legacy_newline_signed_link_still_verifies_but_only_its_own_fields() -> None:
    token = legacy("u-1", "email", "welcome")
    assert LinkSigner(KEY).verify({"u": "u-1", "ch": "email", "c": "welcome", "t": token}) == LINK
    for edited in ({"u": "u-2"}, {"ch": "push"}, {"c": "winback"}):
        with pytest.raises(InvalidLink, match="does not match"):
            LinkSigner(KEY).verify({"u": "u-1", "ch": "email", "c": "welcome", "t": token, **edited})


def test_a_legacy_link_with_fields_run_together_is_refused() -> None:
    """Joined without a separator, ("u-1", "email", "welcome") and ("u-1e", "mail"...) would collide."""
    run_together = (
        base64.urlsafe_b64encode(
            hmac.new(
                KEY, "".join(("unsubscribe", "u-1", "email", "welcome")).encode(), hashlib.sha256
            ).digest()
        )
        .rstrip(b"=")
        .decode()
    )
    with pytest.raises(InvalidLink):
        LinkSigner(KEY).verify({"u": "u-1", "ch": "email", "c": "welcome", "t": run_together})


def test_a_legacy_signature_is_never_accepted_where_a_field_holds_a_line_break() -> None:
    """The newline join is ambiguous there: the attacker's own link would sign the victim's."""
    token = legacy("victim", "email", "probe\nemail\nx")
    with pytest.raises(InvalidLink, match="does not match"):
        LinkSigner(KEY).verify({"u": "victim", "ch": "email", "c": "probe\nemail\nx", "t": token})


@pytest.mark.parametrize("field", ["u", "c"])
def test_a_lone_surrogate_in_a_field_is_invalid_not_an_error(field: str) -> None:
    params = signed()
    params[field] = "\ud800"
    with pytest.raises(InvalidLink, match="characters"):
        LinkSigner(KEY).verify(params)


def test_the_url_carries_every_field_and_its_signature() -> None:
    url = LinkSigner(KEY).url("https://x.example/unsubscribe", LINK)
    assert url == f"https://x.example/unsubscribe?u=u-1&ch=email&c=welcome&t={LinkSigner(KEY).token(LINK)}"
