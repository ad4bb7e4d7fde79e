"""A shopper's data across every store, for erasure and access requests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class ShopperFootprint:
    """What erasure reads before it deletes: the anonymous ids seen with the shopper, their traits
    (addresses) and the channels they are suppressed on (channel → reason)."""

    user_id: str
    anonymous_ids: Sequence[str]
    traits: Mapping[str, Any]
    suppressed: Mapping[str, str]


class UserData(Protocol):
    """Where a shopper's data lives, for erasure."""

    def footprint(self, user_id: str) -> ShopperFootprint: ...

    def erase(self, user_id: str) -> dict[str, int]:
        """Delete everything stored about ``user_id``; returns items deleted per store."""
        ...
