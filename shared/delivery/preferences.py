"""One-click unsubscribe: a signed link turns into a suppression of that channel for that shopper."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from shared.delivery.links import LinkSigner, UnsubscribeRequest
from shared.privacy.erasure import Erasures, suppress_unless_erased
from shared.profiles.ledger import Suppression
from shared.profiles.ports import LedgerStore


def unsubscribe(
    params: Mapping[str, str | None],
    signer: LinkSigner,
    ledgers: LedgerStore,
    now: datetime,
    erasures: Erasures | None = None,
) -> UnsubscribeRequest:
    """Verify the link and suppress the channel; raises :class:`shared.delivery.links.InvalidLink`. A link
    followed after its shopper was erased keeps the opt-out hashed instead of writing a ledger row."""
    request = signer.verify(params)
    suppression = Suppression("unsubscribed", now.isoformat(), f"link:{request.campaign_id}")
    suppress_unless_erased(ledgers, erasures, request.user_id, request.channel, suppression, None)
    return request
