"""What measurement reads and writes: the decisions a shopper was sent, conversions, engagement."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol


class DecisionHistory(Protocol):
    def entries_since(self, user_id: str, since: datetime) -> list[dict[str, Any]]:
        """The send-log decisions for ``user_id`` at or after ``since``, in time order."""
        ...


class ConversionStore(Protocol):
    def record(self, conversions: Sequence[Any]) -> list[Any]:
        """Write the conversions not yet recorded (keyed per goal event and campaign); the new ones."""
        ...

    def refund(self, user_id: str, refund: Any) -> int:
        """Take ``refund`` (an attribution.OrderRefund) back from the shopper's conversions of its order,
        each once; how many conversions changed."""
        ...


class Engagement(Protocol):
    def engagement(
        self,
        user_id: str,
        provider_message_id: str,
        event: str,
        at: datetime,
        send_key: str | None = None,
        dropped: tuple[str, str] | None = None,
    ) -> bool:
        """Fold a delivery, open or click into the sent message's entry; False for an unknown message.

        ``send_key`` names the entry (one conditional write); without it the shopper's entries are
        searched. ``dropped`` (status, reason): the provider dropped the message instead of sending it.
        """
        ...

    def reconcile(
        self,
        user_id: str,
        send_key: str,
        provider_message_id: str,
        event: str,
        at: datetime,
        source: str,
        claim: Mapping[str, str] | None = None,
        dropped: tuple[str, str] | None = None,
    ) -> bool:
        """Record a send the provider's event proves went out where the log has no outcome for it
        (none, ``outcome_unknown``, ``failed``); ``claim``: the entry's fields from the ledger's claim,
        to create it. True if written."""
        ...
