"""The stack's signing key: an HMAC-SHA256 key that only the stack knows (a Secrets Manager secret).

It signs what must not be forged by whoever can reach Nudge: unsubscribe links (shared/delivery/links.py)
and the catalog's announcements of price drops and restocks (shared/catalog/announcements.py). Each use
signs a JSON array whose first element names the use, so a signature made for one is never valid for
another. The key may be a loader, called on first use: a cold start that signs nothing never fetches
the secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from typing import Any

MIN_KEY_BYTES = 32


class SigningKey:
    """Signs fields (a JSON array, its objects' keys sorted) with the stack's key."""

    def __init__(self, key: bytes | Callable[[], bytes]) -> None:
        self._loader = key if callable(key) else None
        self._loaded = None if callable(key) else self._checked(key)

    @staticmethod
    def _checked(key: bytes) -> bytes:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"the signing key needs at least {MIN_KEY_BYTES} bytes, got {len(key)}")
        return key

    @property
    def _key(self) -> bytes:
        if self._loaded is None:
            assert self._loader is not None
            self._loaded = self._checked(self._loader())
        return self._loaded

    def mac(self, message: bytes) -> bytes:
        """The unpadded base64url HMAC-SHA256 of ``message``."""
        return base64.urlsafe_b64encode(hmac.new(self._key, message, hashlib.sha256).digest()).rstrip(b"=")

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
