"""Signed unsubscribe links: only the holder of the link can unsubscribe that shopper.

The token is an HMAC-SHA256 over the user id, the channel and the campaign, with a key only the
stack knows (a Secrets Manager secret), so a link cannot be forged for someone else or edited to
another user. The fields are signed as a JSON array, so no id can make one link's fields read as
another's (links signed before joined them with newlines: ``victim\nemail\nx`` then signed a second
link; such a token is still accepted, forever, where no field holds a control character, the one
case where that joining is unambiguous, so the links in mail already sent keep working). Any
malformed token or field is an :class:`InvalidLink` (a 403), never an error. The same link serves
the visible "unsubscribe" link in the email body and the ``List-Unsubscribe`` header with
``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058), which mailbox providers POST to
directly.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from shared.core.keys import HmacKey
from shared.core.vocabulary import Channel

TOKEN_LENGTH = 43  # an unpadded base64url SHA-256
# Where the old newline-joined signature could be split another way (and what ingest now refuses).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


@dataclass(frozen=True)
class UnsubscribeRequest:
    user_id: str
    channel: str
    campaign_id: str


class InvalidLink(ValueError):
    """The link was altered, truncated or signed with another key."""


class LinkSigner:
    """Signs and verifies links with the stack's signing key (shared/core/keys.py); ``key`` may be
    the key, its bytes, or a loader called on first use (a cold start that sends no email never fetches
    the secret)."""

    def __init__(self, key: HmacKey | bytes | Callable[[], bytes]) -> None:
        self.key = key if isinstance(key, HmacKey) else HmacKey(key)

    def _mac(self, message: bytes) -> bytes:
        return self.key.mac(message)

    def token(self, request: UnsubscribeRequest) -> str:
        fields = ["unsubscribe", request.user_id, request.channel, request.campaign_id]
        return self.key.sign(fields)

    def _legacy_token(self, request: UnsubscribeRequest) -> bytes | None:
        """The signature of links sent before JSON-encoded fields; None where it is ambiguous."""
        fields = ("unsubscribe", request.user_id, request.channel, request.campaign_id)
        if any(_CONTROL.search(f) for f in fields):
            return None
        return self._mac("\n".join(fields).encode())

    def url(self, base_url: str, request: UnsubscribeRequest) -> str:
        token = self.token(request)
        query = {"u": request.user_id, "ch": request.channel, "c": request.campaign_id, "t": token}
        return f"{base_url}?{urlencode(query)}"

    def verify(self, params: Mapping[str, str | None]) -> UnsubscribeRequest:
        """The request a link's query stands for; :class:`InvalidLink` if it was tampered with."""
        user_id, channel, campaign_id, token = (params.get(k) for k in ("u", "ch", "c", "t"))
        if not (user_id and channel and campaign_id and token):
            raise InvalidLink("the link is incomplete")
        if channel not in tuple(Channel):
            raise InvalidLink(f"unknown channel {channel!r}")
        request = UnsubscribeRequest(user_id, channel, campaign_id)
        try:
            given = token.encode("ascii")
            for part in (user_id, campaign_id):
                part.encode("utf-8")  # a lone surrogate signs nothing
        except UnicodeEncodeError:
            raise InvalidLink("the link holds characters no link of ours has") from None
        if len(given) != TOKEN_LENGTH:
            raise InvalidLink("the link's signature is malformed")
        matches = hmac.compare_digest(self.token(request).encode(), given)
        legacy = self._legacy_token(request)
        if legacy is not None:
            matches |= hmac.compare_digest(legacy, given)
        if not matches:
            raise InvalidLink("the link's signature does not match")
        return request
