"""The tags Nudge puts on SES mail, and reading them back exactly.

SES repeats a message's tags in every sending event (delivery, open, click, bounce, complaint), which
is how feedback finds the shopper and the send-log entry without a lookup by address. A tag value
may only hold ``[A-Za-z0-9_-]`` and 256 characters, and user ids are anything an identity provider
issues (``auth0|5f7c…``, ``ann@example.com``, ``google-oauth2:1234``), so a value is *encoded*, not
cleaned: letters, digits and ``-`` stand for themselves, every other character is its UTF-8 bytes
as ``_XX`` (upper-case hex). ``auth0|5f7c`` is tagged ``auth0_7C5f7c``. The encoding is one-to-one,
and :func:`decode` refuses anything :func:`encode` would not have produced, so a value that does
not map back to exactly one id is never read as one. A value longer than one tag is split over
``name``, ``name-2``, ``name-3``… (a 256-character id of 4-byte characters needs 12).
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from typing import Any

# SES v2 MessageTag: name and value "can only contain ASCII letters, numbers, underscores or dashes"
# and "no more than 256 characters".
SES_TAG = re.compile(r"[A-Za-z0-9_-]{1,256}")
TAG_VALUE_LIMIT = 256
CAMPAIGN = "campaign"
SHOPPER = "shopper"
SEND_KEY = "send_key"
# Mail sent before exact tags carried the shopper as ``tag_safe(user_id)``: lossy, so feedback reads
# it only when the send log confirms that exact id sent that SES message.
LEGACY_USER_ID = "user_id"

_PLAIN = frozenset(string.ascii_letters + string.digits + "-")
_TOKENS = re.compile(r"_([0-9A-F]{2})|([A-Za-z0-9-]+)|(.)", re.DOTALL)


class UnreadableTag(ValueError):
    """A tag value that is not an encoding :func:`encode` produces."""


def encode(value: str) -> str:
    """``value`` as tag-safe text that :func:`decode` turns back into exactly ``value``."""
    if all(c in _PLAIN for c in value):
        return value
    return "".join(c if c in _PLAIN else "".join(f"_{b:02X}" for b in c.encode()) for c in value)


def decode(text: str) -> str:
    """The value :func:`encode` turned into ``text``; :class:`UnreadableTag` for any other text."""
    raw = bytearray()
    for escaped, plain, stray in _TOKENS.findall(text):
        if stray:
            raise UnreadableTag(f"{stray!r} is neither a letter, a digit, '-' nor an _XX escape")
        raw += bytes.fromhex(escaped) if escaped else plain.encode()
    try:
        value = raw.decode()
    except UnicodeDecodeError:
        raise UnreadableTag("its escapes are not UTF-8") from None
    if not value or encode(value) != text:  # e.g. "_41" for "A": another spelling is not ours
        raise UnreadableTag("not the one encoding of any id")
    return value


def _parts(name: str, value: str) -> list[dict[str, str]]:
    text = encode(value)
    chunks = [text[i : i + TAG_VALUE_LIMIT] for i in range(0, len(text), TAG_VALUE_LIMIT)] or [""]
    return [{"Name": name if i == 0 else f"{name}-{i + 1}", "Value": chunk} for i, chunk in enumerate(chunks)]


def email_tags(campaign_id: str, user_id: str, send_key: str | None = None) -> list[dict[str, str]]:
    """The ``EmailTags`` of one message (SES v2 ``SendEmail``): the campaign, the shopper and the
    send-log entry (its sort key), so feedback writes to that entry without searching for it."""
    tags = [*_parts(CAMPAIGN, campaign_id), *_parts(SHOPPER, user_id)]
    return tags + _parts(SEND_KEY, send_key) if send_key is not None else tags


def event_tag(tags: Mapping[str, Any], name: str) -> str | None:
    """A tag's raw value as an SES event carries it (``mail.tags``: name → list of values)."""
    values = tags.get(name)
    if isinstance(values, list) and values and isinstance(values[0], str):
        return values[0]
    return None


def read_tag(tags: Mapping[str, Any], name: str) -> str | None:
    """The exact value tagged ``name`` (joined from its parts); None if the mail has no such tag,
    :class:`UnreadableTag` naming the tag if it does not map back."""
    first = event_tag(tags, name)
    if first is None:
        return None
    text, part = [first], 2
    while (more := event_tag(tags, f"{name}-{part}")) is not None:
        text.append(more)
        part += 1
    try:
        return decode("".join(text))
    except UnreadableTag as error:  # the value is not repeated: it may be an address
        raise UnreadableTag(f"tag {name}: {error}") from None


def as_event_tags(email_tags: Sequence[Mapping[str, str]]) -> dict[str, list[str]]:
    """The ``mail.tags`` of SES events for a message sent with ``email_tags`` (what SES repeats)."""
    return {tag["Name"]: [tag["Value"]] for tag in email_tags}
