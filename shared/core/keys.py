"""The stack's HMAC-SHA256 keys, each known only to the stack (a Secrets Manager secret each).

They sign what must not be forged by whoever can reach Nudge — unsubscribe links
(shared/delivery/links.py), the catalog's announcements of price drops and restocks
(shared/catalog/announcements.py) — and hash shoppers' ids and addresses into the pseudonyms kept after
an erasure (shared/privacy/erasure.py). Each use signs a JSON array whose first element names the use,
so a signature made for one is never valid for another. A key may be a loader, called on first use: a
cold start that signs nothing never fetches the secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from typing import Any

MIN_KEY_BYTES = 32


class HmacKey:
    """One of the stack's keys (``purpose`` names it in errors); signs fields as a JSON array, its
    objects' keys sorted."""

    def __init__(self, key: bytes | Callable[[], bytes], purpose: str = "signing") -> None:
        self.purpose = purpose
        self._loader = key if callable(key) else None
        self._loaded = None if callable(key) else self._checked(key)

    def _checked(self, key: bytes) -> bytes:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"the {self.purpose} key needs at least {MIN_KEY_BYTES} bytes, got {len(key)}")
        return key

    @property
    def loaded(self) -> bool:
        """Whether the key was read (a loader is called on first use only)."""
        return self._loaded is not None

    @property
    def _key(self) -> bytes:
        if self._loaded is None:
            assert self._loader is not None
            self._loaded = self._checked(self._loader())
        return self._loaded

    def digest(self, message: bytes) -> bytes:
        """The HMAC-SHA256 of ``message``."""
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def mac(self, message: bytes) -> bytes:
        """The unpadded base64url HMAC-SHA256 of ``message``."""
        return base64.urlsafe_b64encode(self.digest(message)).rstrip(b"=")

    def sign(self, fields: Sequence[Any]) -> str:
        """The signature of ``fields`` (the first naming the use): JSON-encoded, so no field's text can
        make them read as other fields."""
        encoded = json.dumps(list(fields), ensure_ascii=True, separators=(",", ":"), sort_keys=True)
        return self.mac(encoded.encode()).decode()

    def matches(self, fields: Sequence[Any], signature: object) -> bool:
        """Whether ``signature`` is this key's signature of ``fields`` (in constant time)."""
        if not isinstance(signature, str):
            return False
        try:
            given = signature.encode("ascii")
        except UnicodeEncodeError:
            return False
        return hmac.compare_digest(self.sign(fields).encode(), given)
