"""One-click unsubscribe: a signed link turns into a suppression of that channel for that shopper."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from shared.guards import Suppression
from shared.links import LinkSigner, UnsubscribeRequest
from shared.ports import LedgerStore


def unsubscribe(
    params: Mapping[str, str | None], signer: LinkSigner, ledgers: LedgerStore, now: datetime
) -> UnsubscribeRequest:
    """Verify the link and suppress the channel; raises :class:`shared.links.InvalidLink`."""
    request = signer.verify(params)
    ledgers.suppress(
        request.user_id,
        request.channel,
        Suppression("unsubscribed", now.isoformat(), f"link:{request.campaign_id}"),
    )
    return request
